"""Election day over HTTP: station devices report, the commission decides, everyone with a role reads.

Writes take a device token (Authorization: Bearer ...) or a signed-in session with its CSRF token,
and a client key (Idempotency-Key header or client_key field). Times are ISO 8601; a time without
an offset is the election's local time; answers give local times with their offset.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from ninja import Field, Router, Schema
from ninja.pagination import paginate
from pydantic import AfterValidator, ConfigDict

from tallyroom.accounts.models import DeviceToken
from tallyroom.accounts.tokens import TokenRefused, device_token_issue, device_token_revoke
from tallyroom.api.auth import device_or_session
from tallyroom.api.errors import ApiError, ErrorCode
from tallyroom.api.idempotency import client_key, idempotent
from tallyroom.api.pagination import Pages
from tallyroom.elections.models import Election, Municipality, PollingCentre, PollingStation, Round
from tallyroom.polling import access, clock, config, selectors, services
from tallyroom.polling import state as sm
from tallyroom.polling.errors import PollingError
from tallyroom.polling.models import (
    Deployment,
    Incident,
    IncidentPhoto,
    Observer,
    ObserverOrganisation,
    StationEvent,
    StationStatus,
    TurnoutReport,
    Withdrawal,
)

router = Router(tags=["election day"])
F = TypeVar("F", bound=Callable[..., Any])
Clock = Annotated[str, Field(pattern=r"^\d{2}:\d{2}$", examples=["11:00"])]
Text = Annotated[str, Field(max_length=5000)]
KeyField = Annotated[str | None, Field(default=None, max_length=200, description="client key (or the header)")]


def _plausible(value: dt.datetime) -> dt.datetime:
    # Far years overflow when moved between time zones (year 1 or 9999 with an offset).
    if not 1900 <= value.year <= 2999:
        raise ValueError("must be between the years 1900 and 2999")
    return value


When = Annotated[dt.datetime, AfterValidator(_plausible)]


def domain(view: F) -> F:
    """Render the domain's refusals in the API's one error format."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except PollingError as exc:
            raise ApiError(exc.status, ErrorCode(exc.code), exc.message, exc.field) from None
        except access.Unauthenticated:
            raise ApiError(401, ErrorCode.UNAUTHENTICATED, "Sign in or send a valid device token.") from None

    return wrapper  # type: ignore[return-value]


class In(Schema):
    model_config = ConfigDict(extra="forbid")


# --- helpers --------------------------------------------------------------------------------------


def _election(code: str) -> Election:
    election = clock.elections().filter(code=code).first()
    if election is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No election with code {code!r}.", "election")
    return election


def _station_election(request: HttpRequest, code: str, election: str | None) -> Election:
    """The election a station code belongs to: the device's, the one named, or the only one."""
    auth = request.auth  # type: ignore[attr-defined]
    if isinstance(auth, DeviceToken):
        own = clock.election_of(auth.station)
        if election and election != own.code:
            raise ApiError(403, ErrorCode.FORBIDDEN, f"This device reports for election {own.code} only.")
        return own
    if election:
        return _election(election)
    found = list(clock.elections().filter(pk__in=PollingStation.objects.filter(code=code).values("election_id"))[:2])
    if not found:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No polling station {code}.", "path.code")
    if len(found) > 1:
        raise ApiError(
            400, ErrorCode.AMBIGUOUS, f"Several elections have a station {code}; add ?election=CODE.", "query.election"
        )
    return found[0]


def _round(election: Election, code: str | None) -> Round | None:
    if not code:
        return None
    found = Round.objects.filter(election=election, code=code).first()
    if found is None:
        raise ApiError(422, ErrorCode.INVALID_INPUT, f"No round {code!r} in election {election.code}.", "round")
    return found


def _round_or_current(election: Election, code: str | None) -> Round:
    found = _round(election, code) or clock.current_round(election)
    if found is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"Election {election.code} has no rounds.", "round")
    return found


def _iso(value: dt.datetime | None, election: Election) -> str | None:
    return clock.local(value, election).isoformat() if value else None


def _name(user: Any) -> str:
    return user.get_username() if user is not None else ""


def _created(request: HttpRequest, reporter: access.Reporter, key: str, scope: str, data: Any, build: Any) -> Any:
    answer = idempotent(actor=reporter.key, key=key, scope=scope, data=data, run=build)
    response = JsonResponse(answer.body, status=answer.status)
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


# --- schemas --------------------------------------------------------------------------------------


class StatusOut(Schema):
    station: str
    round: str
    status: str
    since: str | None
    reason: str
    opened_at: str | None
    closed_at: str | None
    allowed_next: list[str]


class EventIn(In):
    kind: Literal["opened", "suspended", "resumed", "closed", "closed_early", "did_not_open", "retracted"]
    occurred_at: When = Field(description="ISO 8601; without an offset, the election's local time")
    reason: Text = ""
    corrects: int | None = Field(default=None, description="id of the event this one supersedes")
    round: str | None = None
    client_key: KeyField = None


class EventOut(Schema):
    id: int
    station: str
    round: str
    kind: str
    occurred_at: str
    reason: str
    supersedes: int | None
    superseded_by: int | None = None
    reported_by: str
    reporter_role: str
    channel: str
    recorded_at: str


class EventRecordedOut(EventOut):
    status: StatusOut


class TurnoutIn(In):
    voters: int = Field(ge=0, le=services.MAX_VOTERS, description="voters signed on the list so far")
    reporting_time: Clock | None = Field(default=None, description="one of the election's reporting times")
    at: When | None = Field(default=None, description="the time of an ad hoc figure")
    correction: bool = False
    round: str | None = None
    client_key: KeyField = None


class TurnoutOut(Schema):
    id: int
    station: str
    round: str
    reporting_time: str | None
    at: str
    voters: int
    correction: bool
    supersedes: list[int]
    superseded_by: int | None
    late: bool
    held: bool
    review: str
    review_reason: str
    received_at: str
    reported_by: str


class ReviewIn(In):
    accept: bool
    note: Text
    client_key: KeyField = None


class IncidentIn(In):
    election: str | None = Field(default=None, description="required unless a device token says it")
    kind: Literal[
        "violence",
        "intimidation",
        "ballot_box",
        "early_closure",
        "staff_withdrawn",
        "observers_obstructed",
        "procedural",
        "campaigning",
        "other",
    ]
    severity: Literal["low", "medium", "high", "critical"]
    occurred_at: When
    station: str | None = None
    municipality: str | None = Field(default=None, description="for a place that is not a station")
    place: Annotated[str, Field(max_length=300)] = ""
    description: Text
    client_key: KeyField = None


class PhotoOut(Schema):
    id: int
    url: str
    content_type: str
    size: int
    sha256: str


class IncidentOut(Schema):
    id: int
    election: str
    round: str
    kind: str
    kind_label: str
    severity: str
    status: str
    public: bool
    occurred_at: str
    station: str | None
    municipality: str
    place: str
    description: str
    public_description: str
    reporter_kind: str
    reported_by: str | None
    decided_at: str | None
    decision_note: str | None
    resolved_at: str | None
    resolution: str
    photos: list[PhotoOut]


class VerifyIn(In):
    note: Text = ""
    public_description: Text = ""
    client_key: KeyField = None


class RejectIn(In):
    reason: Text
    client_key: KeyField = None


class ResolveIn(In):
    resolution: Text
    client_key: KeyField = None


class OrganisationIn(In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["international", "domestic", "entity", "media"]
    client_key: KeyField = None


class OrganisationOut(Schema):
    id: int
    name: str
    kind: str
    applied: int = 0
    approved: int = 0
    revoked: int = 0
    deployed: int = 0


class ApplyIn(In):
    organisation: int
    full_name: Annotated[str, Field(min_length=1, max_length=200)]
    username: str | None = Field(default=None, description="the person's account, if they have one")
    client_key: KeyField = None


class ObserverOut(Schema):
    id: int
    organisation: str
    full_name: str
    username: str | None
    status: str
    badge_number: str
    reason: str


class ApproveIn(In):
    badge_number: Annotated[str, Field(max_length=40)] = ""
    client_key: KeyField = None


class ReasonIn(In):
    reason: Text
    client_key: KeyField = None


class DeploymentIn(In):
    station: str
    started_at: When
    client_key: KeyField = None


class DeploymentOut(Schema):
    id: int
    observer: int
    station: str
    started_at: str
    ended_at: str | None
    end_reason: str


class WithdrawalIn(In):
    municipality: str | None = None
    area: str | None = None
    centre: str | None = None
    occurred_at: When
    reason: Text
    client_key: KeyField = None


class WithdrawalOut(Schema):
    id: int
    organisation: str
    municipality: str | None
    area: str
    centre: str | None
    occurred_at: str
    reason: str
    deployments_ended: int


class CoverageOut(Schema):
    municipality: str
    name: str
    stations: int
    observed: int
    observers: int


class TokenIn(In):
    election: str
    station: str
    username: str
    round: str | None = None
    expires_at: When | None = None
    label: Annotated[str, Field(max_length=100)] = ""


class TokenOut(Schema):
    id: int
    token: str = Field(description="shown once: only its SHA-256 is kept")
    username: str
    station: str
    round: str
    expires_at: str


class StationDayOut(Schema):
    status: StatusOut
    events: list[EventOut]
    turnout: list[TurnoutOut]
    incidents: list[IncidentOut]
    reporting_times: list[str]


# --- converters -----------------------------------------------------------------------------------


def _status_out(station: PollingStation, round_: Round, row: StationStatus | None) -> StatusOut:
    election = clock.election_of(station)
    status = sm.Status(row.status) if row else sm.Status.NOT_OPENED
    return StatusOut(
        station=station.code,
        round=round_.code,
        status=status.value,
        since=_iso(row.since, election) if row else None,
        reason=row.reason if row else "",
        opened_at=_iso(row.opened_at, election) if row else None,
        closed_at=_iso(row.closed_at, election) if row else None,
        allowed_next=[k.value for k in sm.allowed(status)],
    )


def _event_out(e: StationEvent, election: Election) -> dict[str, Any]:
    return {
        "id": e.pk,
        "station": e.station.code,
        "round": e.round.code,
        "kind": e.kind,
        "occurred_at": _iso(e.occurred_at, election),
        "reason": e.reason,
        "supersedes": e.supersedes_id,
        "superseded_by": getattr(e, "superseded_by_pk", None),
        "reported_by": _name(e.reported_by),
        "reporter_role": e.reporter_role,
        "channel": e.channel,
        "recorded_at": _iso(e.recorded_at, election),
    }


def _turnout_out(r: TurnoutReport, election: Election) -> dict[str, Any]:
    return TurnoutOut(
        id=r.pk,
        station=r.station.code,
        round=r.round.code,
        reporting_time=r.slot or None,
        at=_iso(r.at, election) or "",
        voters=r.voters,
        correction=r.correction,
        supersedes=sorted(TurnoutReport.objects.filter(superseded_by=r).values_list("pk", flat=True)),
        superseded_by=r.superseded_by_id,
        late=r.late,
        held=r.review == TurnoutReport.Review.HELD,
        review=r.review,
        review_reason=r.review_reason,
        received_at=_iso(r.received_at, election) or "",
        reported_by=_name(r.reported_by),
    ).model_dump()


def _photo_url(photo: IncidentPhoto) -> str:
    return reverse("polling:photo", args=[photo.pk])


def _incident_out(i: Incident, viewer: access.Viewer | None) -> dict[str, Any]:
    election = clock.election_of(i)
    internal = viewer is not None and viewer.internal
    own = viewer is not None and viewer.user_id is not None and i.reported_by_id == viewer.user_id
    full = internal or own
    return IncidentOut(
        id=i.pk,
        election=election.code,
        round=i.round.code,
        kind=i.kind,
        kind_label=str(i.get_kind_display()),
        severity=i.severity,
        status=i.status,
        public=i.is_public,
        occurred_at=_iso(i.occurred_at, election) or "",
        station=i.station.code if i.station else None,
        municipality=i.municipality.code,
        place=i.place,
        description=i.description if full else (i.public_description or i.description),
        public_description=i.public_description,
        reporter_kind=i.reporter_kind,
        reported_by=_name(i.reported_by) if internal else None,
        decided_at=_iso(i.decided_at, election),
        decision_note=i.decision_note if internal else None,
        resolved_at=_iso(i.resolved_at, election),
        resolution=i.resolution,
        photos=[
            PhotoOut(id=p.pk, url=_photo_url(p), content_type=p.content_type, size=p.size, sha256=p.sha256)
            for p in i.photos.all()
        ]
        if full or i.is_public
        else [],
    ).model_dump()


def _observer_out(o: Observer) -> dict[str, Any]:
    return ObserverOut(
        id=o.pk,
        organisation=o.organisation.name,
        full_name=o.full_name,
        username=_name(o.user) or None,
        status=o.status,
        badge_number=o.badge_number,
        reason=o.reason,
    ).model_dump()


def _deployment_out(d: Deployment) -> dict[str, Any]:
    election = clock.election_of(d)
    return DeploymentOut(
        id=d.pk,
        observer=d.observer_id,
        station=d.station.code,
        started_at=_iso(d.started_at, election) or "",
        ended_at=_iso(d.ended_at, election),
        end_reason=d.end_reason,
    ).model_dump()


def _withdrawal_out(w: Withdrawal) -> dict[str, Any]:
    return WithdrawalOut(
        id=w.pk,
        organisation=w.organisation.name,
        municipality=w.municipality.code if w.municipality else None,
        area=w.area,
        centre=w.centre.code if w.centre else None,
        occurred_at=_iso(w.occurred_at, clock.election_of(w)) or "",
        reason=w.reason,
        deployments_ended=w.deployments_ended,
    ).model_dump()


# --- station devices: events and turnout ----------------------------------------------------------


@router.post(
    "/stations/{path:code}/events",
    auth=device_or_session,
    response={201: EventRecordedOut},
    summary="Record a station event (or correct one)",
    description="opened, suspended (reason), resumed, closed, closed_early (reason), did_not_open (reason); "
    "`corrects` names an earlier event this one supersedes (kind `retracted` withdraws it). "
    "An impossible sequence is refused with 409 invalid_transition.",
)
@domain
def post_station_event(request: HttpRequest, code: str, payload: EventIn, election: str | None = None) -> Any:
    elec = _station_election(request, code, election)
    station, reporter = access.access_station_for_report(request.auth, elec, code)  # type: ignore[attr-defined]
    if station.kind == PollingStation.Kind.CENTRAL:
        raise ApiError(422, ErrorCode.INVALID_INPUT, f"{code} is a counting-centre batch, not a polling station.")
    key = client_key(request, payload.client_key)
    round_ = _round(elec, payload.round)
    data = payload.model_dump(exclude={"client_key"}) | {"station": station.pk}

    def run() -> tuple[int, Any]:
        outcome = services.station_event_record(
            station=station,
            kind=payload.kind,
            occurred_at=payload.occurred_at,
            reason=payload.reason,
            corrects=payload.corrects,
            reporter=reporter,
            client_key=key,
            round_=round_,
        )
        body = _event_out(outcome.event, elec) | {
            "status": _status_out(station, outcome.event.round, outcome.status).model_dump()
        }
        return 201, body

    return _created(request, reporter, key, "station_event", data, run)


@router.post(
    "/stations/{path:code}/turnout",
    auth=device_or_session,
    response={201: TurnoutOut},
    summary="Report turnout (voters signed so far)",
    description="At a reporting time (`reporting_time`, e.g. 11:00) or ad hoc (`at`). Cumulative: a figure lower "
    "than an earlier one is refused with 409 unless `correction` is true. A figure above the registered voters "
    "plus the same-day allowance is stored but held for review; one received more than the configured minutes "
    "after its reporting time is marked late.",
)
@domain
def post_turnout(request: HttpRequest, code: str, payload: TurnoutIn, election: str | None = None) -> Any:
    elec = _station_election(request, code, election)
    station, reporter = access.access_station_for_report(request.auth, elec, code)  # type: ignore[attr-defined]
    if station.kind == PollingStation.Kind.CENTRAL:
        raise ApiError(422, ErrorCode.INVALID_INPUT, f"{code} is a counting-centre batch, not a polling station.")
    key = client_key(request, payload.client_key)
    round_ = _round(elec, payload.round)
    data = payload.model_dump(exclude={"client_key"}) | {"station": station.pk}

    def run() -> tuple[int, Any]:
        report = services.turnout_report_record(
            station=station,
            voters=payload.voters,
            slot=payload.reporting_time,
            at=payload.at,
            correction=payload.correction,
            reporter=reporter,
            client_key=key,
            round_=round_,
        )
        return 201, _turnout_out(report, elec)

    return _created(request, reporter, key, "turnout_report", data, run)


@router.get(
    "/stations/{path:code}/day",
    auth=device_or_session,
    response=StationDayOut,
    summary="A station's day: status, events, turnout, incidents",
)
@domain
def get_station_day(request: HttpRequest, code: str, election: str | None = None, round: str | None = None) -> Any:
    elec = _station_election(request, code, election)
    station, viewer = access.access_station_for_view(request.auth, elec, code)  # type: ignore[attr-defined]
    round_ = _round_or_current(elec, round)
    visible = selectors.incidents_visible(viewer, elec).filter(station=station, round=round_)
    return {
        "status": _status_out(station, round_, selectors.station_standing(station, round_)),
        "events": [_event_out(e, elec) for e in selectors.station_events(station, round_)],
        "turnout": [_turnout_out(r, elec) for r in selectors.station_turnout(station, round_)],
        "incidents": [
            _incident_out(i, viewer)
            for i in visible.select_related("election", "round", "municipality").defer("election__definition_packed")
        ],
        "reporting_times": config.slots(elec),
    }


@router.post(
    "/turnout/{int:report_id}/review",
    auth=device_or_session,
    response=TurnoutOut,
    summary="Accept or dismiss a turnout figure held for review",
)
@domain
def post_turnout_review(request: HttpRequest, report_id: int, payload: ReviewIn) -> Any:
    report, reporter = access.access_turnout_for_review(request.auth, report_id)  # type: ignore[attr-defined]
    reviewed = services.turnout_review(report=report, accept=payload.accept, note=payload.note, reporter=reporter)
    return _turnout_out(reviewed, clock.election_of(report))


# --- incidents ------------------------------------------------------------------------------------


@router.post(
    "/incidents",
    auth=device_or_session,
    response={201: IncidentOut},
    summary="Report an incident",
    description="At a station, or at a described `place` in a `municipality`. Public once the commission "
    "verifies it. Photos are added with POST /incidents/{id}/photos.",
)
@domain
def post_incident(request: HttpRequest, payload: IncidentIn) -> Any:
    auth = request.auth  # type: ignore[attr-defined]
    if isinstance(auth, DeviceToken):
        elec = clock.election_of(auth.station)
        if payload.election and payload.election != elec.code:
            raise ApiError(403, ErrorCode.FORBIDDEN, f"This device reports for election {elec.code} only.")
    elif payload.election:
        elec = _election(payload.election)
    else:
        raise ApiError(422, ErrorCode.INVALID_INPUT, "Name the election.", "election")
    station_code = payload.station or (auth.station.code if isinstance(auth, DeviceToken) else None)
    station, municipality, reporter, observer = access.access_place_for_incident(
        auth, elec, station_code=station_code, municipality_code=payload.municipality
    )
    if station is not None and payload.municipality and payload.municipality != municipality.code:
        raise ApiError(
            422,
            ErrorCode.INVALID_INPUT,
            f"Station {station.code} is in municipality {municipality.code}.",
            "municipality",
        )
    key = client_key(request, payload.client_key)
    data = payload.model_dump(exclude={"client_key"}) | {"station": station_code, "election": elec.code}

    def run() -> tuple[int, Any]:
        incident = services.incident_report(
            election=elec,
            municipality=municipality,
            station=station,
            kind=payload.kind,
            severity=payload.severity,
            occurred_at=payload.occurred_at,
            description=payload.description,
            place=payload.place,
            reporter=reporter,
            observer=observer,
            client_key=key,
        )
        return 201, _incident_out(incident, access.Viewer(reporter.user, frozenset({reporter.role})))

    return _created(request, reporter, key, "incident", data, run)


@router.get(
    "/incidents",
    auth=device_or_session,
    response=list[IncidentOut],
    summary="Incidents this caller may see, newest first",
)
@domain
@paginate(Pages)
def list_incidents(
    request: HttpRequest,
    election: str,
    round: str | None = None,
    status: str | None = None,
    station: str | None = None,
    municipality: str | None = None,
    kind: str | None = None,
) -> Any:
    elec = _election(election)
    viewer = access.access_viewer(request.auth, elec)  # type: ignore[attr-defined]
    qs = (
        selectors.incidents_visible(viewer, elec)
        .select_related("election", "round", "station", "municipality")
        .defer("election__definition_packed")
    )
    if round:
        qs = qs.filter(round__code=round)
    if status:
        qs = qs.filter(status=status)
    if station:
        qs = qs.filter(station__code=station)
    if municipality:
        qs = qs.filter(municipality__code=municipality)
    if kind:
        qs = qs.filter(kind=kind)
    return [_incident_out(i, viewer) for i in qs.prefetch_related("photos")]


@router.get("/incidents/{int:incident_id}", auth=device_or_session, response=IncidentOut, summary="One incident")
@domain
def get_incident(request: HttpRequest, incident_id: int) -> Any:
    incident, viewer = access.access_incident_for_view(request.auth, incident_id)  # type: ignore[attr-defined]
    return _incident_out(incident, viewer)


def _decide(
    request: HttpRequest, incident_id: int, key: str | None, scope: str, data: Any, act: Callable[..., Incident]
) -> Any:
    incident, reporter = access.access_incident_for_decision(request.auth, incident_id)  # type: ignore[attr-defined]
    viewer = access.Viewer(reporter.user, frozenset({reporter.role}))

    def run() -> tuple[int, Any]:
        return 200, _incident_out(act(incident=incident, reporter=reporter), viewer)

    the_key = client_key(request, key, required=False)
    if not the_key:
        status, body = run()
        return JsonResponse(body, status=status)
    return _created(request, reporter, the_key, scope, data | {"incident": incident_id}, run)


@router.post(
    "/incidents/{int:incident_id}/verify",
    auth=device_or_session,
    response=IncidentOut,
    summary="Verify an incident (it becomes public)",
)
@domain
def verify_incident(request: HttpRequest, incident_id: int, payload: VerifyIn) -> Any:
    return _decide(
        request,
        incident_id,
        payload.client_key,
        "incident.verify",
        payload.model_dump(exclude={"client_key"}),
        functools.partial(services.incident_verify, note=payload.note, public_description=payload.public_description),
    )


@router.post(
    "/incidents/{int:incident_id}/reject", auth=device_or_session, response=IncidentOut, summary="Reject an incident"
)
@domain
def reject_incident(request: HttpRequest, incident_id: int, payload: RejectIn) -> Any:
    return _decide(
        request,
        incident_id,
        payload.client_key,
        "incident.reject",
        payload.model_dump(exclude={"client_key"}),
        functools.partial(services.incident_reject, reason=payload.reason),
    )


@router.post(
    "/incidents/{int:incident_id}/resolve",
    auth=device_or_session,
    response=IncidentOut,
    summary="Resolve a verified incident",
)
@domain
def resolve_incident(request: HttpRequest, incident_id: int, payload: ResolveIn) -> Any:
    return _decide(
        request,
        incident_id,
        payload.client_key,
        "incident.resolve",
        payload.model_dump(exclude={"client_key"}),
        functools.partial(services.incident_resolve, resolution=payload.resolution),
    )


@router.post(
    "/incidents/{int:incident_id}/photos",
    auth=device_or_session,
    response={201: PhotoOut},
    summary="Add a photo to an incident",
    description="multipart/form-data with one file in the field `photo`: JPEG, PNG or WebP (checked by content), "
    "at most TALLYROOM_PHOTO_MAX_BYTES (5 MB by default): 413 if larger, 415 if not an image of those types.",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"photo": {"type": "string", "format": "binary"}},
                        "required": ["photo"],
                    }
                }
            }
        }
    },
)
@domain
def post_incident_photo(request: HttpRequest, incident_id: int) -> Any:
    most = config.photo_max_bytes()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > most + 64 * 1024:  # refuse before reading the body; the allowance is for the form's framing
        raise ApiError(
            413, ErrorCode.TOO_LARGE, f"The upload is {length} bytes; a photo may be at most {most}.", "photo"
        )
    incident, reporter = access.access_incident_for_photos(request.auth, incident_id)  # type: ignore[attr-defined]
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise ApiError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send the photo as multipart/form-data.", "photo")
    upload = request.FILES.get("photo")
    if upload is None:
        raise ApiError(422, ErrorCode.INVALID_INPUT, "Send the photo in the form field `photo`.", "photo")
    key = client_key(request, request.POST.get("client_key"), required=False)

    def run() -> tuple[int, Any]:
        photo = services.incident_photo_add(incident=incident, upload=upload, reporter=reporter)
        body = PhotoOut(
            id=photo.pk, url=_photo_url(photo), content_type=photo.content_type, size=photo.size, sha256=photo.sha256
        ).model_dump()
        return 201, body

    if not key:
        status, body = run()
        return JsonResponse(body, status=status)
    sha = hashlib.sha256()
    for chunk in upload.chunks():
        sha.update(chunk)
    upload.seek(0)
    return _created(request, reporter, key, "incident_photo", {"incident": incident_id, "sha256": sha.hexdigest()}, run)


@router.get(
    "/elections/{code}/public-incidents",
    auth=None,
    response=list[IncidentOut],
    summary="Verified incidents (public)",
    description="What the public pages and the results pipeline show: verified and resolved incidents only.",
)
@paginate(Pages)
def public_incidents(request: HttpRequest, code: str, station: str | None = None) -> Any:
    elec = _election(code)
    qs = (
        selectors.public_incidents(elec)
        .select_related("election", "round", "station", "municipality")
        .defer("election__definition_packed")
    )
    if station:
        qs = qs.filter(station__code=station)
    return [_incident_out(i, None) for i in qs.prefetch_related("photos")]


# --- the dashboard --------------------------------------------------------------------------------


@router.get(
    "/elections/{code}/election-day",
    auth=device_or_session,
    summary="The election day's picture: stations, turnout, incidents, missed reports",
    description="By municipality: stations by status (`not_opened` = nothing reported yet), observed stations, "
    "incidents; turnout at each reporting time as voters over the registered voters of the stations that "
    "reported (with the previous election's figure where one is loaded); the incident feed with counts by type; "
    "stations that missed a reporting time.",
)
@domain
def get_election_day(request: HttpRequest, code: str, round: str | None = None) -> Any:
    elec = _election(code)
    viewer = access.access_viewer(request.auth, elec)  # type: ignore[attr-defined]
    board = selectors.dashboard(elec, _round_or_current(elec, round), viewer)
    return {**board.data(), "version": board.version, "generated_at": _iso(board.generated_at, elec)}


# --- observers ------------------------------------------------------------------------------------


@router.get(
    "/elections/{code}/observer-organisations",
    auth=device_or_session,
    response=list[OrganisationOut],
    summary="Observer organisations, with accreditation and deployment counts",
)
@domain
def list_organisations(request: HttpRequest, code: str) -> Any:
    elec = _election(code)
    access.access_viewer(request.auth, elec)  # type: ignore[attr-defined]
    return [
        OrganisationOut(
            id=r.organisation.pk,
            name=r.organisation.name,
            kind=r.organisation.kind,
            applied=r.applied,
            approved=r.approved,
            revoked=r.revoked,
            deployed=r.deployed,
        )
        for r in selectors.organisations(elec, clock.current_round(elec))
    ]


@router.post(
    "/elections/{code}/observer-organisations",
    auth=device_or_session,
    response={201: OrganisationOut},
    summary="Register an observer organisation",
)
@domain
def post_organisation(request: HttpRequest, code: str, payload: OrganisationIn) -> Any:
    elec = _election(code)
    reporter = access.access_commission(request.auth, elec)  # type: ignore[attr-defined]
    org = services.observer_organisation_create(
        election=elec,
        name=payload.name,
        kind=payload.kind,
        reporter=reporter,
        client_key=client_key(request, payload.client_key, required=False),
    )
    return JsonResponse(OrganisationOut(id=org.pk, name=org.name, kind=org.kind).model_dump(), status=201)


@router.post(
    "/elections/{code}/observers",
    auth=device_or_session,
    response={201: ObserverOut},
    summary="Apply for an observer's accreditation",
    description="The commission records anyone's application; an observer applies for themselves "
    "(`username` their own).",
)
@domain
def post_observer(request: HttpRequest, code: str, payload: ApplyIn) -> Any:
    elec = _election(code)
    auth = request.auth  # type: ignore[attr-defined]
    me = auth.user if isinstance(auth, DeviceToken) else auth
    for_self = payload.username is not None and payload.username == me.get_username()
    reporter = access.access_observer_application(auth, elec, for_self=for_self)
    org = ObserverOrganisation.objects.filter(election=elec, pk=payload.organisation).first()
    if org is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No organisation #{payload.organisation}.", "organisation")
    user = None
    if payload.username:
        user = get_user_model().objects.filter(username=payload.username).first()
        if user is None:
            raise ApiError(404, ErrorCode.NOT_FOUND, f"No user {payload.username!r}.", "username")
    key = client_key(request, payload.client_key)
    data = payload.model_dump(exclude={"client_key"}) | {"election": elec.code}

    def run() -> tuple[int, Any]:
        observer = services.observer_apply(
            organisation=org, full_name=payload.full_name, user=user, reporter=reporter, client_key=key
        )
        return 201, _observer_out(observer)

    return _created(request, reporter, key, "observer.apply", data, run)


def _observer_act(request: HttpRequest, observer_id: int, act: Callable[..., Observer]) -> Any:
    observer = (
        Observer.objects.select_related("election").defer("election__definition_packed").filter(pk=observer_id).first()
    )
    if observer is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No observer #{observer_id}.", "path.observer_id")
    reporter = access.access_commission(request.auth, observer.election)  # type: ignore[attr-defined]
    return _observer_out(act(observer=observer, reporter=reporter))


@router.post(
    "/observers/{int:observer_id}/approve",
    auth=device_or_session,
    response=ObserverOut,
    summary="Approve an accreditation (issues the badge number)",
)
@domain
def approve_observer(request: HttpRequest, observer_id: int, payload: ApproveIn) -> Any:
    return _observer_act(
        request, observer_id, functools.partial(services.observer_approve, badge_number=payload.badge_number)
    )


@router.post(
    "/observers/{int:observer_id}/refuse", auth=device_or_session, response=ObserverOut, summary="Refuse an application"
)
@domain
def refuse_observer(request: HttpRequest, observer_id: int, payload: ReasonIn) -> Any:
    return _observer_act(request, observer_id, functools.partial(services.observer_refuse, reason=payload.reason))


@router.post(
    "/observers/{int:observer_id}/revoke",
    auth=device_or_session,
    response=ObserverOut,
    summary="Revoke an accreditation (ends the observer's deployment)",
)
@domain
def revoke_observer(request: HttpRequest, observer_id: int, payload: ReasonIn) -> Any:
    return _observer_act(request, observer_id, functools.partial(services.observer_revoke, reason=payload.reason))


@router.post(
    "/observers/{int:observer_id}/deployments",
    auth=device_or_session,
    response={201: DeploymentOut},
    summary="Deploy an accredited observer to a station",
)
@domain
def post_deployment(request: HttpRequest, observer_id: int, payload: DeploymentIn) -> Any:
    observer = (
        Observer.objects.select_related("election").defer("election__definition_packed").filter(pk=observer_id).first()
    )
    if observer is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No observer #{observer_id}.", "path.observer_id")
    station = access.station_by_code(clock.election_of(observer), payload.station)
    reporter = access.access_deployment(request.auth, observer, station)  # type: ignore[attr-defined]
    key = client_key(request, payload.client_key)
    data = payload.model_dump(exclude={"client_key"}) | {"observer": observer_id}

    def run() -> tuple[int, Any]:
        deployment = services.deployment_create(
            observer=observer, station=station, started_at=payload.started_at, reporter=reporter, client_key=key
        )
        return 201, _deployment_out(deployment)

    return _created(request, reporter, key, "deployment", data, run)


@router.post(
    "/observer-organisations/{int:organisation_id}/withdrawals",
    auth=device_or_session,
    response={201: WithdrawalOut},
    summary="Withdraw an organisation's staff from an area in one act",
    description="Exactly one of `municipality` (code), `area` (e.g. north) or `centre` (polling centre code). "
    "Every open deployment of the organisation's observers there ends, as withdrawn.",
)
@domain
def post_withdrawal(request: HttpRequest, organisation_id: int, payload: WithdrawalIn) -> Any:
    org = (
        ObserverOrganisation.objects.select_related("election")
        .defer("election__definition_packed")
        .filter(pk=organisation_id)
        .first()
    )
    if org is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No organisation #{organisation_id}.", "path.organisation_id")
    elec = org.election
    area = services.Area(
        municipality=_find(Municipality, elec, payload.municipality, "municipality"),
        area=(payload.area or "").strip(),
        centre=_find(PollingCentre, elec, payload.centre, "centre"),
    )
    reporter = access.access_area(request.auth, elec, area.municipality_ids(elec))  # type: ignore[attr-defined]
    key = client_key(request, payload.client_key)
    data = payload.model_dump(exclude={"client_key"}) | {"organisation": organisation_id}

    def run() -> tuple[int, Any]:
        withdrawal = services.organisation_withdraw_from_area(
            organisation=org,
            area=area,
            occurred_at=payload.occurred_at,
            reason=payload.reason,
            reporter=reporter,
            client_key=key,
        )
        return 201, _withdrawal_out(withdrawal)

    return _created(request, reporter, key, "withdrawal", data, run)


def _find(model: Any, election: Election, code: str | None, field: str) -> Any:
    if not code:
        return None
    row = model.objects.filter(election=election, code=code).first()
    if row is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No {field} {code!r} in election {election.code}.", field)
    return row


@router.get(
    "/elections/{code}/observer-coverage",
    auth=device_or_session,
    response=list[CoverageOut],
    summary="Which stations are observed now, by municipality",
)
@domain
def get_coverage(request: HttpRequest, code: str, round: str | None = None) -> Any:
    elec = _election(code)
    access.access_viewer(request.auth, elec)  # type: ignore[attr-defined]
    return [
        CoverageOut(
            municipality=r["municipality"].code,
            name=r["municipality"].name,
            stations=r["stations"],
            observed=r["observed"],
            observers=r["observers"],
        )
        for r in selectors.coverage(elec, _round_or_current(elec, round))
    ]


# --- device tokens --------------------------------------------------------------------------------


@router.post(
    "/device-tokens",
    auth=device_or_session,
    response={201: TokenOut},
    summary="Issue a station device token to a chair (shown once)",
)
@domain
def post_device_token(request: HttpRequest, payload: TokenIn) -> Any:
    elec = _election(payload.election)
    station = access.station_by_code(elec, payload.station)
    reporter = access.access_area(request.auth, elec, {station.municipality_id})  # type: ignore[attr-defined]
    user = get_user_model().objects.filter(username=payload.username).first()
    if user is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No user {payload.username!r}.", "username")
    round_ = _round_or_current(elec, payload.round)
    expires = (
        clock.aware(payload.expires_at, elec)
        if payload.expires_at
        else (dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=config.device_token_hours()))
    )
    try:
        row, token = device_token_issue(
            user=user,
            station=station,
            round_=round_,
            expires_at=expires,
            label=payload.label,
            actor=reporter.actor,
            role=reporter.role,
            issued_by=reporter.user,
        )
    except TokenRefused as exc:
        raise ApiError(422, ErrorCode.INVALID_INPUT, f"Cannot issue the token: {exc}.", "username") from None
    body = TokenOut(
        id=row.pk,
        token=token,
        username=user.get_username(),
        station=station.code,
        round=round_.code,
        expires_at=_iso(row.expires_at, elec) or "",
    ).model_dump()
    return JsonResponse(body, status=201)


@router.post(
    "/device-tokens/{int:token_id}/revoke", auth=device_or_session, response=TokenOut, summary="Revoke a device token"
)
@domain
def revoke_device_token(request: HttpRequest, token_id: int) -> Any:
    row = (
        DeviceToken.objects.select_related("station__election", "user", "round")
        .defer("station__election__definition_packed")
        .filter(pk=token_id)
        .first()
    )
    if row is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No device token #{token_id}.", "path.token_id")
    elec = row.station.election
    reporter = access.access_area(request.auth, elec, {row.station.municipality_id})  # type: ignore[attr-defined]
    row = device_token_revoke(device=row, actor=reporter.actor, role=reporter.role, revoked_by=reporter.user)
    return TokenOut(
        id=row.pk,
        token="",
        username=row.user.get_username(),
        station=row.station.code,
        round=row.round.code,
        expires_at=_iso(row.expires_at, elec) or "",
    ).model_dump()
