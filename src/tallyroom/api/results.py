"""The count over HTTP: forms in (single, bulk, blind entry), the auditors' queue, decisions, and
every contest's results out. Writes take a device token or a signed-in session with its CSRF token;
the chair's submission carries a client key (Idempotency-Key header or client_key field)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from django.db.models import Prefetch
from django.http import HttpRequest, JsonResponse
from ninja import Field, Router, Schema
from pydantic import ConfigDict

from tallyroom.accounts.models import Role
from tallyroom.api.auth import device_or_session
from tallyroom.api.errors import ApiError, ErrorCode
from tallyroom.api.idempotency import client_key, idempotent
from tallyroom.api.pagination import MAX_LIMIT, MAX_OFFSET
from tallyroom.elections.models import Contest, Election, Municipality, PollingStation, Round
from tallyroom.polling import access as polling_access
from tallyroom.polling.errors import PollingError
from tallyroom.results import decisions, selectors, services
from tallyroom.results.access import access_role
from tallyroom.results.bulk import MAX_BATCH, BulkItem, result_forms_submit_bulk
from tallyroom.results.content import ballot_of, parse_content
from tallyroom.results.errors import ResultsError, ResultsErrorCode
from tallyroom.results.models import AuditorDecision, Complaint, FormKind, FormState, QuarantineFlag, ResultForm

router = Router(tags=["results"])
F = TypeVar("F", bound=Callable[..., Any])
Count = Annotated[int, Field(strict=True, ge=0, le=10_000_000)]
Text = Annotated[str, Field(max_length=5000)]


def domain(view: F) -> F:
    """Render the results' and polling's refusals in the API's one error format."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ResultsError as exc:
            first = exc.problems[0] if exc.problems else None
            details = [{"field": p.path, "message": p.message} for p in exc.problems]
            raise ApiError(
                exc.status, ErrorCode(str(exc.code)), exc.message, first.path if first else None, details
            ) from None
        except PollingError as exc:
            raise ApiError(exc.status, ErrorCode(exc.code), exc.message, exc.field) from None
        except polling_access.Unauthenticated:
            raise ApiError(401, ErrorCode.UNAUTHENTICATED, "Sign in or send a valid device token.") from None

    return wrapper  # type: ignore[return-value]


class In(Schema):
    model_config = ConfigDict(extra="forbid")


class Content(In):
    votes: dict[str, Count] = Field(description="entity code -> votes (mayor: the candidate's entity)")
    invalid: Count = Field(description="every invalid ballot, blank ones included")
    blank: Count = 0
    conditional: Count = 0
    signatures: Count | None = None
    ballots_received: Count | None = None
    ballots_used: Count | None = None
    ballots_unused: Count | None = None
    ballots_spoiled: Count | None = None
    committee_signed: bool | None = None
    preferences: dict[str, dict[str, Count]] = Field(
        default_factory=dict, description="entity code -> {list position: votes}"
    )


class FormIn(Content):
    station: Annotated[str, Field(max_length=40)]
    contest: Literal["mayor", "assembly"]
    round: Annotated[str | None, Field(max_length=40)] = None
    election: Annotated[str | None, Field(max_length=40)] = None
    client_key: Annotated[str | None, Field(max_length=200)] = None
    replace: bool = False
    reason: Text = ""


class EntryIn(Content):
    station: Annotated[str, Field(max_length=40)]
    contest: Literal["mayor", "assembly"]
    round: Annotated[str | None, Field(max_length=40)] = None
    election: Annotated[str | None, Field(max_length=40)] = None


class BulkForm(In):
    station: Annotated[str, Field(max_length=40)]
    contest: Literal["mayor", "assembly"]
    round: Annotated[str | None, Field(max_length=40)] = None
    kind: Literal["preliminary", "official"] = "preliminary"
    form: dict[str, Any]


class BulkIn(In):
    election: Annotated[str, Field(max_length=40)]
    forms: Annotated[list[BulkForm], Field(max_length=MAX_BATCH)]


class DecisionIn(In):
    decision: Literal["accept", "correct", "exclude"]
    reason: Annotated[str, Field(min_length=1, max_length=5000)]
    version: int | None = None
    corrected: Content | None = None
    recount: dict[str, Any] | None = None


class ComplaintIn(In):
    election: Annotated[str, Field(max_length=40)]
    municipality: Annotated[str, Field(max_length=40)]
    station: Annotated[str | None, Field(max_length=40)] = None
    contest: Literal["mayor", "assembly"] | None = None
    complainant: Annotated[str, Field(min_length=1, max_length=200)]
    subject: Annotated[str, Field(min_length=1, max_length=5000)]


class ComplaintDecisionIn(In):
    decision: Literal["rejected", "recount", "annulment"]
    reasoning: Annotated[str, Field(min_length=1, max_length=5000)]
    legal_basis: Text = ""
    repeat_round: Annotated[str | None, Field(max_length=40)] = None


class AnnulmentIn(In):
    election: Annotated[str, Field(max_length=40)]
    municipality: Annotated[str, Field(max_length=40)]
    contest: Literal["mayor", "assembly"]
    round: Annotated[str | None, Field(max_length=40)] = None
    stations: Annotated[list[str], Field(min_length=1, max_length=5000)]
    legal_basis: Annotated[str, Field(min_length=1, max_length=300)]
    reason: Annotated[str, Field(min_length=1, max_length=5000)]
    incidents: list[str] = Field(default_factory=list)
    repeat_round: Annotated[str | None, Field(max_length=40)] = None


# --- helpers --------------------------------------------------------------------------------------


def _election(code: str | None, station: str | None = None) -> Election:
    qs = Election.objects.defer("definition_packed")
    if code or station is None:
        found = qs.filter(code=code).first()
        if found is None:
            raise ApiError(404, ErrorCode.NOT_FOUND, f"No election with code {code!r}.", "election")
        return found
    matches = list(qs.filter(pk__in=PollingStation.objects.filter(code=station).values("election_id"))[:2])
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No polling station {station!r}.", "station")
    raise ApiError(
        400, ErrorCode.AMBIGUOUS, f"Several elections have a station {station}; name the election.", "election"
    )


def _contest(election: Election, station: PollingStation, kind: str, round_code: str | None) -> Contest:
    rounds = Round.objects.filter(election=election)
    rnd = rounds.filter(code=round_code).first() if round_code else rounds.filter(kind=Round.Kind.FIRST).first()
    if rnd is None:
        raise ApiError(422, ErrorCode.INVALID_INPUT, f"No round {round_code!r} in election {election.code}.", "round")
    contest = (
        Contest.objects.select_related("round__election", "municipality")
        .defer("round__election__definition_packed")
        .filter(round=rnd, municipality_id=station.municipality_id, kind=kind)
        .first()
    )
    if contest is None:
        raise ApiError(
            404, ErrorCode.NOT_FOUND, f"Station {station.code} has no {kind} contest in round {rnd.code}.", "contest"
        )
    return contest


def _station(election: Election, code: str) -> PollingStation:
    station = PollingStation.objects.select_related("municipality").filter(election=election, code=code).first()
    if station is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No polling station {code!r} in election {election.code}.", "station")
    return station


def _content(data: dict[str, Any], contest: Contest, at: str = "") -> Any:
    content, problems = parse_content(data, ballot_of(contest), at)
    if content is None:
        raise ResultsError(
            ResultsErrorCode.INVALID_FORM, f"The form does not fit this contest: {problems[0]}", problems
        )
    return content


def _form_out(outcome: services.FormOutcome) -> dict[str, Any]:
    form = outcome.form
    return {
        "id": form.pk,
        "station": form.station.code,
        "contest": form.contest.kind,
        "contest_id": form.contest_id,
        "round": form.contest.round.code,
        "kind": form.kind,
        "state": form.state,
        "counted": form.counted,
        "version": form.version,
        "outcome": outcome.status,
        "flags": [{"check": f["check"], "message": f["message"]} for f in outcome.flags],
        "differences": outcome.differences,
    }


def _form(form_id: int) -> ResultForm:
    form = (
        ResultForm.objects.select_related("station", "contest__round__election", "contest__municipality")
        .defer("contest__round__election__definition_packed")
        .filter(pk=form_id)
        .first()
    )
    if form is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No result form {form_id}.", "path.form_id")
    return form


# --- forms in -------------------------------------------------------------------------------------


@router.post(
    "/result-forms",
    auth=device_or_session,
    summary="A station's preliminary result form",
    response={200: dict[str, Any], 201: dict[str, Any]},
)
@domain
def submit_form(request: HttpRequest, payload: FormIn) -> JsonResponse:
    election = _election(payload.election, payload.station)
    station, reporter = polling_access.access_station_for_report(request.auth, election, payload.station)  # type: ignore[attr-defined]
    contest = _contest(election, station, payload.contest, payload.round)
    key = client_key(request, payload.client_key)
    data = payload.model_dump(exclude={"client_key"})
    content = _content(payload.model_dump(include=set(Content.model_fields)), contest)

    def run() -> tuple[int, Any]:
        outcome = services.result_form_submit(
            station=station,
            contest=contest,
            content=content,
            actor=reporter.actor,
            role=reporter.role,
            replace=payload.replace,
            reason=payload.reason,
        )
        return (200 if outcome.status == "duplicate" else 201), _form_out(outcome)

    answer = idempotent(actor=reporter.key, key=key, scope="result-form", data=data, run=run)
    response = JsonResponse(answer.body, status=answer.status)
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


@router.post("/result-forms/bulk", auth=device_or_session, summary="Up to 10,000 forms; an outcome for each")
@domain
def submit_bulk(request: HttpRequest, payload: BulkIn) -> dict[str, Any]:
    election = _election(payload.election)
    reporter = access_role(request.auth, election, (Role.ADMIN,))  # type: ignore[attr-defined]
    items = [BulkItem(f.station, f.contest, f.form, f.round, FormKind(f.kind)) for f in payload.forms]
    outcomes = result_forms_submit_bulk(election, items, actor=reporter.actor, role=reporter.role)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return {
        "count": len(outcomes),
        "outcomes": counts,
        "items": [
            {"index": o.index, "status": o.status, "form_id": o.form_id, "problems": o.problems, "flags": o.flags}
            for o in outcomes
        ],
    }


@router.post(
    "/result-forms/entries",
    auth=device_or_session,
    summary="One clerk's blind entry of a paper form",
    response={200: dict[str, Any], 201: dict[str, Any]},
)
@domain
def enter_form(request: HttpRequest, payload: EntryIn) -> JsonResponse:
    election = _election(payload.election, payload.station)
    reporter = access_role(request.auth, election, (Role.CLERK, Role.ADMIN))  # type: ignore[attr-defined]
    station = _station(election, payload.station)
    contest = _contest(election, station, payload.contest, payload.round)
    content = _content(payload.model_dump(include=set(Content.model_fields)), contest)
    assert reporter.user is not None  # noqa: S101 - devices are refused above
    outcome = services.data_entry_record(
        clerk=reporter.user, station=station, contest=contest, content=content, role=reporter.role
    )
    body = _form_out(outcome)
    if outcome.status == "entered":
        body["message"] = "First entry recorded. A second clerk must type the same paper form blind."
    return JsonResponse(body, status=201)


@router.post(
    "/result-forms/{form_id}/resolve",
    auth=device_or_session,
    summary="A supervisor's third entry of a form whose two entries differ",
)
@domain
def resolve_form(request: HttpRequest, form_id: int, payload: Content) -> dict[str, Any]:
    form = _form(form_id)
    reporter = access_role(request.auth, form.contest.round.election, (Role.AUDITOR, Role.ADMIN))  # type: ignore[attr-defined]
    content = _content(payload.model_dump(), form.contest)
    assert reporter.user is not None  # noqa: S101
    return _form_out(
        services.data_entry_resolve(supervisor=reporter.user, form=form, content=content, role=reporter.role)
    )


@router.get("/quarantine", auth=device_or_session, summary="The auditors' queue of held forms")
@domain
def quarantine_queue(
    request: HttpRequest,
    election: str,
    municipality: str | None = None,
    check: str | None = None,
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    found = _election(election)
    muni = Municipality.objects.filter(election=found, code=municipality).first() if municipality else None
    roles = (Role.AUDITOR, Role.ADMIN, Role.OFFICIAL)
    access_role(request.auth, found, roles, municipality_id=muni.pk if muni else None)  # type: ignore[attr-defined]
    forms = ResultForm.objects.filter(contest__round__election=found, state=FormState.QUARANTINED)
    if muni is not None:
        forms = forms.filter(contest__municipality=muni)
    if check:
        forms = forms.filter(flags__check_code=check, flags__cleared_at__isnull=True).distinct()
    total = forms.count()
    page = (
        forms.select_related("station", "contest__round", "contest__municipality")
        .prefetch_related(Prefetch("flags", queryset=QuarantineFlag.objects.filter(cleared_at__isnull=True)))
        .order_by("pk")[offset : offset + limit]
    )
    return {
        "count": total,
        "items": [
            {
                "id": f.pk,
                "station": f.station.code,
                "municipality": f.contest.municipality.code,
                "contest": f.contest.kind,
                "round": f.contest.round.code,
                "kind": f.kind,
                "version": f.version,
                "flags": [{"check": q.check_code, "message": q.message} for q in f.flags.all()],
            }
            for f in page
        ],
    }


@router.post("/result-forms/{form_id}/decision", auth=device_or_session, summary="An auditor's decision")
@domain
def decide_form(request: HttpRequest, form_id: int, payload: DecisionIn) -> dict[str, Any]:
    form = _form(form_id)
    reporter = access_role(request.auth, form.contest.round.election, (Role.AUDITOR, Role.ADMIN))  # type: ignore[attr-defined]
    corrected = _content(payload.corrected.model_dump(), form.contest, "corrected") if payload.corrected else None
    assert reporter.user is not None  # noqa: S101
    outcome = services.quarantine_decide(
        auditor=reporter.user,
        form=form,
        decision=AuditorDecision.Decision(payload.decision),
        reason=payload.reason,
        expected_version=payload.version,
        corrected=corrected,
        recount=payload.recount,
        role=reporter.role,
    )
    return _form_out(outcome)


# --- decisions ------------------------------------------------------------------------------------


@router.post(
    "/complaints",
    auth=device_or_session,
    response={201: dict[str, Any]},
    summary="Record a complaint filed with the complaints panel",
)
@domain
def file_complaint(request: HttpRequest, payload: ComplaintIn) -> tuple[int, dict[str, Any]]:
    election = _election(payload.election)
    reporter = access_role(request.auth, election, (Role.PANEL, Role.ADMIN))  # type: ignore[attr-defined]
    muni = Municipality.objects.filter(election=election, code=payload.municipality).first()
    if muni is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No municipality {payload.municipality!r}.", "municipality")
    station = _station(election, payload.station) if payload.station else None
    contest = (
        _contest(election, station, payload.contest, None)
        if station and payload.contest
        else (
            Contest.objects.filter(municipality=muni, kind=payload.contest, round__kind=Round.Kind.FIRST).first()
            if payload.contest
            else None
        )
    )
    complaint = decisions.complaint_file(
        municipality=muni,
        complainant=payload.complainant,
        subject=payload.subject,
        actor=reporter.actor,
        role=reporter.role,
        station=station,
        contest=contest,
    )
    return 201, _complaint_out(complaint)


def _complaint_out(c: Complaint) -> dict[str, Any]:
    return {
        "id": c.pk,
        "municipality": c.municipality.code,
        "station": c.station.code if c.station else None,
        "contest_id": c.contest_id,
        "state": c.state,
        "decision": c.decision or None,
        "late": c.late,
        "filed_at": c.filed_at.isoformat(),
        "decide_by": c.decide_by.isoformat(),
    }


@router.post("/complaints/{complaint_id}/decision", auth=device_or_session, summary="The panel's decision")
@domain
def decide_complaint(request: HttpRequest, complaint_id: int, payload: ComplaintDecisionIn) -> dict[str, Any]:
    complaint = Complaint.objects.select_related("municipality__election").filter(pk=complaint_id).first()
    if complaint is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No complaint {complaint_id}.", "path.complaint_id")
    election = complaint.municipality.election
    reporter = access_role(request.auth, election, (Role.PANEL, Role.ADMIN))  # type: ignore[attr-defined]
    repeat = (
        Round.objects.filter(election=election, code=payload.repeat_round).first() if payload.repeat_round else None
    )
    done = decisions.complaint_decide(
        complaint,
        decision=Complaint.Decision(payload.decision),
        reasoning=payload.reasoning,
        actor=reporter.actor,
        role=reporter.role,
        legal_basis=payload.legal_basis,
        repeat_round=repeat,
    )
    return _complaint_out(done)


@router.post(
    "/annulments",
    auth=device_or_session,
    response={201: dict[str, Any]},
    summary="Annul stations' forms for a contest; optionally order repeat voting",
)
@domain
def annul(request: HttpRequest, payload: AnnulmentIn) -> tuple[int, dict[str, Any]]:
    election = _election(payload.election)
    reporter = access_role(request.auth, election, (Role.ADMIN,))  # type: ignore[attr-defined]
    stations = [_station(election, code) for code in payload.stations]
    contest = _contest(election, stations[0], payload.contest, payload.round)
    repeat = None
    if payload.repeat_round:
        repeat = Round.objects.filter(election=election, code=payload.repeat_round).first()
        if repeat is None:
            raise ApiError(422, ErrorCode.INVALID_INPUT, f"No round {payload.repeat_round!r}.", "repeat_round")
    annulment = decisions.annulment_decide(
        contest=contest,
        stations=stations,
        legal_basis=payload.legal_basis,
        reason=payload.reason,
        actor=reporter.actor,
        role=reporter.role,
        incident_refs=payload.incidents,
        repeat_round=repeat,
    )
    return 201, {
        "id": annulment.pk,
        "contest_id": contest.pk,
        "stations": sorted(payload.stations),
        "repeat_contest_id": annulment.repeat_contest_id,
    }


@router.post(
    "/contests/{contest_id}/certification",
    auth=device_or_session,
    response={201: dict[str, Any]},
    summary="Certify and lock a contest's results",
)
@domain
def certify(request: HttpRequest, contest_id: int) -> tuple[int, dict[str, Any]]:
    contest = Contest.objects.select_related("round__election", "municipality").filter(pk=contest_id).first()
    if contest is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No contest {contest_id}.", "path.contest_id")
    reporter = access_role(request.auth, contest.round.election, (Role.ADMIN,))  # type: ignore[attr-defined]
    cert = decisions.contest_certify(contest, actor=reporter.actor, role=reporter.role)
    return 201, {
        "contest_id": contest.pk,
        "certified_at": cert.certified_at.isoformat(),
        "results_sha256": cert.results_sha256,
    }


# --- results out ----------------------------------------------------------------------------------


@router.get("/results/{municipality_code}", summary="A municipality's results, every contest and round")
def municipality_results(request: HttpRequest, municipality_code: str, election: str | None = None) -> dict[str, Any]:
    munis = (
        Municipality.objects.select_related("election")
        .defer("election__definition_packed")
        .filter(code=municipality_code)
    )
    if election:
        munis = munis.filter(election__code=election)
    found = list(munis[:2])
    if not found:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No municipality {municipality_code!r}.", "path.municipality_code")
    if len(found) > 1:
        raise ApiError(
            400, ErrorCode.AMBIGUOUS, "Several elections have this municipality; add ?election=CODE.", "query.election"
        )
    muni = found[0]
    # A repeat vote's results are part of the contest it repeats (see "repeat_voting" there).
    contests = (
        Contest.objects.filter(municipality=muni)
        .exclude(round__kind=Round.Kind.REPEAT)
        .select_related("round__election", "municipality")
        .defer("round__election__definition_packed")
        .order_by("round__date", "kind")
    )
    ordered = list(contests)
    results = selectors.contests_results(c.pk for c in ordered)  # one read for all of them
    return {
        "election": muni.election.code,
        "municipality": {"code": muni.code, "name": {"en": muni.name_en, "sq": muni.name_sq, "sr": muni.name_sr}},
        "contests": [results[c.pk] for c in ordered],
    }
