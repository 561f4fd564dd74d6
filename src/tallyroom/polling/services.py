"""Writes on election day. One function per use case, one transaction each, each with its audit entry.

Callers check access first (`polling.access`) and pass the `Reporter` it returns. Every function
that records a submission takes its client key: a key already recorded for the same station returns
the row recorded the first time and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils.timezone import now as timezone_now
from django.utils.translation import gettext as _

from tallyroom.audit.chain import PendingEntry, audit_append, audit_append_many, digest
from tallyroom.elections.models import Contest, Election, Municipality, PollingCentre, PollingStation, Round
from tallyroom.polling import audit as polling_audit
from tallyroom.polling import clock, config
from tallyroom.polling import state as sm
from tallyroom.polling import turnout as tr
from tallyroom.polling.access import Reporter
from tallyroom.polling.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    KeyReused,
    NotFound,
    TooLarge,
    UnsupportedMediaType,
)
from tallyroom.polling.labels import EVENT_LABELS, STATUS_LABELS
from tallyroom.polling.models import (
    Channel,
    Deployment,
    Incident,
    IncidentPhoto,
    Observer,
    ObserverOrganisation,
    PollingBatch,
    StationEvent,
    StationStatus,
    TurnoutFigure,
    TurnoutReport,
    Withdrawal,
)

MAX_VOTERS = 10_000_000
MAX_TEXT = 5000
# Later than every id the database has given: a new event sorts after events at the same minute.
_NEW = 2**62


def _text(value: str, field: str, *, required: bool, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(_("This field is required."), field)
    if len(value) > limit:
        raise InvalidInput(_("At most %(n)s characters.") % {"n": limit}, field)
    return value


def _lock_station(station: PollingStation) -> None:
    """Serialise writers of one station's day (PostgreSQL row lock; SQLite serialises all writers)."""
    list(PollingStation.objects.select_for_update().filter(pk=station.pk).values_list("pk", flat=True))


def _known(model: Any, election: Election, client_key: str, station: PollingStation | None) -> Any:
    """The row a client key already recorded, if any; the same key for another station is a reuse."""
    if not client_key:
        return None
    row = model.objects.filter(election=election, client_key=client_key).first()
    if row is not None and station is not None and row.station_id != station.pk:
        raise KeyReused(_("This client key was already used for another submission."), "client_key")
    return row


# --- station events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventOutcome:
    event: StationEvent
    status: StationStatus
    created: bool


def _logged(rows: Iterable[StationEvent]) -> list[sm.Logged]:
    return [
        sm.Logged(
            id=e.pk,
            event=sm.Event(sm.Kind(e.kind), e.occurred_at, e.origin_id or e.pk, e.reason),
            supersedes=e.supersedes_id,
        )
        for e in rows
    ]


def _transition_message(err: sm.TransitionError, election: Election, new_at: dt.datetime) -> str:
    when = clock.hhmm(err.at, election) if err.at else ""
    status = STATUS_LABELS[err.status]
    kind = EVENT_LABELS[err.kind]
    if err.at == new_at:
        allowed = ", ".join(str(EVENT_LABELS[k]) for k in sm.allowed(err.status)) or _("nothing: the day is over")
        return _("At %(time)s the station is %(status)s: it cannot be %(kind)s. Possible next: %(allowed)s.") % {
            "time": when,
            "status": status,
            "kind": kind,
            "allowed": allowed,
        }
    return _(
        "This would make the station's day impossible: at %(time)s it would be %(status)s and could not be %(kind)s."
    ) % {"time": when, "status": status, "kind": kind}


def _voting_municipalities(round_: Round) -> set[int] | None:
    """The municipalities that vote in a runoff or repeat round (those with a contest in it); None
    when every station votes (the first round, or a round whose contests are not set up yet)."""
    if round_.kind == Round.Kind.FIRST:
        return None
    ids = set(Contest.objects.filter(round=round_).values_list("municipality_id", flat=True))
    return ids or None


def _check_votes_in(round_: Round, stations: Iterable[PollingStation]) -> None:
    voting = _voting_municipalities(round_)
    if voting is None:
        return
    for station in stations:
        if station.municipality_id not in voting:
            raise InvalidInput(
                _("Station %(code)s does not vote on %(day)s: its municipality has no contest in this round.")
                % {"code": station.code, "day": round_.date.isoformat()},
                "occurred_at",
            )


def _check_schedule(kind: sm.Kind, at: dt.datetime, election: Election) -> None:
    closing = clock.at_local(clock.local(at, election).date(), election.polls_close, election)
    if kind == sm.Kind.CLOSED and at < closing:
        raise InvalidInput(
            _("Polls close at %(close)s: closing before then is an early closure; report it as closed early, with why.")
            % {"close": election.polls_close.strftime("%H:%M")},
            "kind",
        )
    if kind == sm.Kind.CLOSED_EARLY and at >= closing:
        raise InvalidInput(
            _("Polls close at %(close)s: a closure then or later is a normal closure.")
            % {"close": election.polls_close.strftime("%H:%M")},
            "kind",
        )


def _status_values(standing: sm.Standing) -> dict[str, Any]:
    return {
        "status": standing.status.value,
        "since": standing.since,
        "reason": standing.reason,
        "opened_at": standing.opened_at,
        "closed_at": standing.closed_at,
        "event_count": standing.events,
    }


def station_event_record(
    *,
    station: PollingStation,
    kind: str,
    occurred_at: dt.datetime,
    reporter: Reporter,
    reason: str = "",
    corrects: int | None = None,
    client_key: str = "",
    channel: str = Channel.API,
    round_: Round | None = None,
    now: dt.datetime | None = None,
) -> EventOutcome:
    """Record what happened at a station, or correct an earlier event (never edit it)."""
    election = clock.election_of(station)
    try:
        event_kind = sm.Kind(kind)
    except ValueError:
        raise InvalidInput(_("Unknown event %(kind)r.") % {"kind": kind}, "kind") from None
    if event_kind == sm.Kind.RETRACTED and corrects is None:
        raise InvalidInput(_("A retraction must name the event it retracts."), "corrects")
    reason = _text(reason, "reason", required=event_kind in sm.NEEDS_REASON)
    at = clock.aware(occurred_at, election)
    round_ = clock.resolve_round(
        election, at, round_=round_, device_round=reporter.device.round if reporter.device else None, now=now
    )
    if event_kind != sm.Kind.RETRACTED:
        _check_schedule(event_kind, at, election)
    _check_votes_in(round_, [station])
    with transaction.atomic():
        known = _known(StationEvent, election, client_key, station)
        if known is not None:
            status = StationStatus.objects.get(station=station, round=known.round)
            return EventOutcome(known, status, created=False)
        _lock_station(station)
        rows = list(StationEvent.objects.filter(station=station, round=round_).order_by("id"))
        log = _logged(rows)
        target = None
        if corrects is not None:
            target = next((e for e in rows if e.pk == corrects), None)
            if target is None:
                raise NotFound(
                    _("Station %(code)s has no event #%(id)s in this round.") % {"code": station.code, "id": corrects},
                    "corrects",
                )
            by = next((e for e in rows if e.supersedes_id == target.pk), None)
            if by is not None:
                raise Conflict(
                    _("Event #%(id)s was already corrected by #%(by)s: correct that one instead.")
                    % {"id": target.pk, "by": by.pk},
                    "corrects",
                )
        order = (target.origin_id or target.pk) if target is not None else _NEW
        log.append(sm.Logged(id=_NEW, event=sm.Event(event_kind, at, order, reason), supersedes=corrects))
        try:
            standing = sm.replay(sm.effective(log))
        except sm.TransitionError as err:
            raise InvalidTransition(_transition_message(err, election, at), "kind") from None
        event = StationEvent.objects.create(
            election=election,
            round=round_,
            station=station,
            kind=event_kind.value,
            occurred_at=at,
            reason=reason,
            supersedes=target,
            origin_id=(target.origin_id or target.pk) if target is not None else None,
            reported_by=reporter.user,
            reporter_role=reporter.role,
            device=reporter.device,
            channel=channel,
            client_key=client_key,
        )
        status, _created = StationStatus.objects.update_or_create(
            station=station,
            round=round_,
            defaults={"election": election, "municipality_id": station.municipality_id, **_status_values(standing)},
        )
        audit_append(
            "station_event.corrected" if target is not None else "station_event.recorded",
            "station_event",
            event.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={
                "station": station.code,
                "round": round_.code,
                "kind": event_kind.value,
                "occurred_at": at.isoformat(),
                "supersedes": corrects,
                "status": standing.status.value,
                "channel": channel,
            },
        )
    return EventOutcome(event, status, created=True)


@dataclass(frozen=True)
class BatchEvent:
    station_id: int
    kind: str
    at: dt.datetime
    reason: str
    client_key: str


@dataclass(frozen=True)
class BatchOutcome:
    batch: PollingBatch | None
    recorded: int
    skipped: int


def _new_keys(model: Any, election: Election, keys: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    for start in range(0, len(keys), 900):
        chunk = [k for k in keys[start : start + 900] if k]
        seen.update(model.objects.filter(election=election, client_key__in=chunk).values_list("client_key", flat=True))
    return seen


def _lock_stations(ids: Iterable[int]) -> None:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), 900):
        list(
            PollingStation.objects.select_for_update()
            .filter(pk__in=ordered[start : start + 900])
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def station_events_record_batch(
    *,
    election: Election,
    round_: Round,
    items: Sequence[BatchEvent],
    reporter: Reporter,
    label: str = "",
    now: dt.datetime | None = None,
) -> BatchOutcome:
    """Record many stations' events at once (an import, the demo's day): all or nothing, one audit
    entry for the batch whose state digest covers every row. Items whose client key is already
    recorded are skipped, so running the same batch twice records it once."""
    stations = {
        s.pk: s
        for s in PollingStation.objects.filter(election=election, pk__in={i.station_id for i in items}).select_related(
            "municipality"
        )
    }
    checked: list[tuple[BatchEvent, sm.Kind, dt.datetime]] = []
    for n, item in enumerate(items):
        if item.station_id not in stations:
            raise InvalidInput(_("Item %(n)s: no such station in this election.") % {"n": n}, f"items[{n}]")
        kind = sm.Kind(item.kind)
        if kind == sm.Kind.RETRACTED:
            raise InvalidInput(_("Item %(n)s: corrections are recorded one by one.") % {"n": n}, f"items[{n}]")
        _text(item.reason, f"items[{n}].reason", required=kind in sm.NEEDS_REASON)
        at = clock.aware(item.at, election)
        clock.resolve_round(election, at, round_=round_, now=now, field=f"items[{n}].at")
        _check_schedule(kind, at, election)
        checked.append((item, kind, at))
    _check_votes_in(round_, stations.values())
    with transaction.atomic():
        seen = _new_keys(StationEvent, election, [i.client_key for i in items])
        fresh = [c for c in checked if not (c[0].client_key and c[0].client_key in seen)]
        if not fresh:
            return BatchOutcome(None, 0, len(items))
        ids = sorted({c[0].station_id for c in fresh})
        _lock_stations(ids)
        logs: dict[int, list[sm.Logged]] = defaultdict(list)
        for start in range(0, len(ids), 900):
            rows = (
                StationEvent.objects.filter(round=round_, station_id__in=ids[start : start + 900])
                .order_by("id")
                .values_list("id", "station_id", "kind", "occurred_at", "reason", "supersedes_id", "origin_id")
            )
            for pk, station_id, stored_kind, occurred_at, reason, supersedes_id, origin_id in rows:
                event = sm.Event(sm.Kind(stored_kind), occurred_at, origin_id or pk, reason)
                logs[station_id].append(sm.Logged(id=pk, event=event, supersedes=supersedes_id))
        for n, (item, kind, at) in enumerate(fresh):
            logs[item.station_id].append(sm.Logged(id=_NEW + n, event=sm.Event(kind, at, _NEW + n, item.reason)))
        standings: dict[int, sm.Standing] = {}
        for station_id in ids:
            try:
                standings[station_id] = sm.replay(sm.effective(logs[station_id]))
            except sm.TransitionError as err:
                raise InvalidTransition(
                    _("Station %(code)s: %(problem)s")
                    % {
                        "code": stations[station_id].code,
                        "problem": _transition_message(err, election, dt.datetime.min.replace(tzinfo=dt.UTC)),
                    }
                ) from None
        batch = PollingBatch.objects.create(
            election=election,
            kind=PollingBatch.Kind.EVENTS,
            count=len(fresh),
            label=label[:200],
            recorded_by=reporter.user,
        )
        created = StationEvent.objects.bulk_create(
            [
                StationEvent(
                    election=election,
                    round=round_,
                    station_id=item.station_id,
                    kind=kind.value,
                    occurred_at=at,
                    reason=item.reason.strip(),
                    reported_by=reporter.user,
                    reporter_role=reporter.role,
                    channel=Channel.BATCH,
                    client_key=item.client_key,
                    batch=batch,
                )
                for item, kind, at in fresh
            ],
            batch_size=500,
        )
        _save_statuses(election, round_, {sid: standings[sid] for sid in ids}, stations)
        _audit_rows(
            "station_event.recorded",
            "station_event",
            StationEvent,
            polling_audit.STATION_EVENT_FIELDS,
            [e.pk for e in created],
            reporter,
            batch,
        )
        audit_append(
            "polling_batch.recorded",
            "polling_batch",
            batch.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"kind": batch.kind, "round": round_.code, "count": len(fresh), "label": label[:200]},
        )
    return BatchOutcome(batch, len(fresh), len(items) - len(fresh))


def _audit_rows(
    action: str,
    object_type: str,
    model: Any,
    fields: tuple[str, ...],
    ids: list[int],
    reporter: Reporter,
    batch: PollingBatch,
) -> None:
    """One chain entry per row of a batch, appended under one lock of the chain's head."""
    found = polling_audit.states(model, fields, ids)
    audit_append_many(
        [PendingEntry(action, object_type, str(pk), found[pk], {"batch": batch.pk}) for pk in ids],
        actor=reporter.actor,
        role=reporter.role,
    )


def _save_statuses(
    election: Election, round_: Round, standings: dict[int, sm.Standing], stations: dict[int, PollingStation]
) -> None:
    StationStatus.objects.bulk_create(
        [
            StationStatus(
                election=election,
                round=round_,
                station_id=sid,
                municipality_id=stations[sid].municipality_id,
                **_status_values(standing),
            )
            for sid, standing in standings.items()
        ],
        update_conflicts=True,
        unique_fields=["station", "round"],
        update_fields=["status", "since", "reason", "opened_at", "closed_at", "event_count", "updated_at"],
        batch_size=500,
    )


# --- turnout --------------------------------------------------------------------------------------


def _figures(rows: Iterable[TurnoutReport]) -> list[tr.Figure]:
    return [
        tr.Figure(
            id=r.pk,
            slot=r.slot,
            at=r.at,
            voters=r.voters,
            held=r.review == TurnoutReport.Review.HELD,
            superseded=r.superseded_by_id is not None,
            dismissed=r.review == TurnoutReport.Review.DISMISSED,
            late=r.late,
        )
        for r in rows
    ]


def _conflict_message(err: tr.TurnoutConflict, voters: int, election: Election) -> str:
    other = err.other
    when = other.slot or clock.hhmm(other.at, election)
    if err.reason == "duplicate_slot":
        return _(
            "The %(slot)s figure was already reported (%(other)s). To change it, send the new one as a correction."
        ) % {"slot": other.slot, "other": other.voters}
    if err.reason == "lower_than_earlier":
        return _(
            "Turnout only rises: %(voters)s is lower than %(other)s reported for %(when)s. "
            "If that figure was wrong, send this one as a correction."
        ) % {"voters": voters, "other": other.voters, "when": when}
    return _(
        "%(voters)s is higher than %(other)s reported for the later time %(when)s. Correct the later figure first."
    ) % {"voters": voters, "other": other.voters, "when": when}


def _held_reason(voters: int, station: PollingStation, allowance: float, most: int) -> str:
    return _(
        "%(voters)s voters is more than the %(registered)s registered plus %(share)s%% added on the day (%(most)s)."
    ) % {
        "voters": voters,
        "registered": station.registered_voters,
        "share": round(allowance * 100, 1),
        "most": most,
    }


def _slot_times(election: Election, round_: Round) -> list[tuple[str, dt.datetime]]:
    return [(s, clock.slot_time(round_, s, election)) for s in config.slots(election)]


FIGURE_FIELDS = ("pk", "station_id", "slot", "at", "voters", "review", "superseded_by_id", "late")


def _figure_rows(election: Election, round_: Round, ids: Sequence[int]) -> dict[int, list[tr.Figure]]:
    """The stations' reports as the turnout rules see them, read without building model objects."""
    out: dict[int, list[tr.Figure]] = defaultdict(list)
    for start in range(0, len(ids), 900):
        rows = (
            TurnoutReport.objects.filter(round=round_, station_id__in=ids[start : start + 900])
            .order_by("id")
            .values_list(*FIGURE_FIELDS)
        )
        for pk, station_id, slot, at, voters, review, superseded_by, late in rows:
            out[station_id].append(
                tr.Figure(
                    id=pk,
                    slot=slot,
                    at=at,
                    voters=voters,
                    held=review == TurnoutReport.Review.HELD,
                    superseded=superseded_by is not None,
                    dismissed=review == TurnoutReport.Review.DISMISSED,
                    late=late,
                )
            )
    return out


def _refresh_figures(
    election: Election,
    round_: Round,
    stations: Sequence[PollingStation],
    known: dict[int, list[tr.Figure]] | None = None,
    before: dict[int, list[tr.Figure]] | None = None,
) -> None:
    """Recompute the derived figures of these stations from their reports (a few rows each).
    `known` gives the reports when the caller holds them all; with `before` (the reports as they
    were) only the figures that changed are written."""
    ids = [s.pk for s in stations]
    by_station = known if known is not None else _figure_rows(election, round_, ids)
    slot_times = _slot_times(election, round_)
    changed: list[TurnoutFigure] = []
    gone: list[tuple[int, str]] = []
    for station in stations:
        new = {f.slot: f for f in tr.by_slot(by_station.get(station.pk, []), slot_times)}
        old = {f.slot: f for f in tr.by_slot(before.get(station.pk, []), slot_times)} if before is not None else {}
        gone.extend((station.pk, slot) for slot in old if slot not in new)
        changed.extend(
            TurnoutFigure(
                election_id=election.pk,
                round_id=round_.pk,
                municipality_id=station.municipality_id,
                station_id=station.pk,
                slot=f.slot,
                voters=f.voters,
                registered=station.registered_voters,
                reported=f.reported,
                late=f.late,
                held=f.held,
            )
            for slot, f in new.items()
            if before is None or old.get(slot) != f
        )
    if before is None:
        for start in range(0, len(ids), 900):
            TurnoutFigure.objects.filter(round=round_, station_id__in=ids[start : start + 900]).delete()
        TurnoutFigure.objects.bulk_create(changed, batch_size=1000)
        return
    for station_id, slot in gone:
        TurnoutFigure.objects.filter(round=round_, station_id=station_id, slot=slot).delete()
    TurnoutFigure.objects.bulk_create(
        changed,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["station", "round", "slot"],
        update_fields=["voters", "registered", "reported", "late", "held", "municipality"],
    )


def _turnout_time(
    election: Election,
    station: PollingStation,
    *,
    slot: str | None,
    at: dt.datetime | None,
    round_: Round | None,
    reporter: Reporter,
    now: dt.datetime | None,
) -> tuple[str, dt.datetime, Round]:
    device_round = reporter.device.round if reporter.device else None
    slot = (slot or "").strip()
    if slot:
        if slot not in config.slots(election):
            raise InvalidInput(
                _("%(slot)s is not a reporting time of this election (%(slots)s).")
                % {"slot": slot, "slots": ", ".join(config.slots(election))},
                "reporting_time",
            )
        base = round_ or device_round
        if base is None and at is not None:
            base = clock.round_on(election, clock.local(clock.aware(at, election), election).date())
        if base is None:
            base = clock.round_on(election, clock.today(election, now))
        if base is None:  # the station's latest day with anything recorded
            base = (
                Round.objects.filter(pk__in=StationStatus.objects.filter(station=station).values("round_id"))
                .order_by("-date")
                .first()
            )
        if base is None:
            raise InvalidInput(_("Say which day: give the time of the figure, or the round."), "at")
        slot_at = clock.slot_time(base, slot, election)
        if at is not None and clock.aware(at, election) != slot_at:
            raise InvalidInput(
                _("A figure for the %(slot)s reporting time is as of %(slot)s; leave the time out or send %(slot)s.")
                % {"slot": slot},
                "at",
            )
        at = slot_at
    if at is None:
        raise InvalidInput(_("Give the reporting time, or the time of an ad hoc figure."), "at")
    at = clock.aware(at, election)
    resolved = clock.resolve_round(
        election, at, round_=round_, device_round=device_round, field="at" if not slot else "reporting_time", now=now
    )
    return slot, at, resolved


def turnout_report_record(
    *,
    station: PollingStation,
    voters: int,
    reporter: Reporter,
    slot: str | None = None,
    at: dt.datetime | None = None,
    correction: bool = False,
    client_key: str = "",
    channel: str = Channel.API,
    round_: Round | None = None,
    now: dt.datetime | None = None,
    received_at: dt.datetime | None = None,
) -> TurnoutReport:
    """Record voters signed on the list so far, at a reporting time or ad hoc."""
    election = clock.election_of(station)
    if isinstance(voters, bool) or not isinstance(voters, int) or voters < 0:
        raise InvalidInput(_("The number of voters is a whole number, 0 or more."), "voters")
    if voters > MAX_VOTERS:
        raise InvalidInput(_("%(n)s voters at one station cannot be right.") % {"n": voters}, "voters")
    slot, at, round_ = _turnout_time(election, station, slot=slot, at=at, round_=round_, reporter=reporter, now=now)
    _check_votes_in(round_, [station])
    received = received_at or timezone_now()
    allowance = config.same_day_allowance(election)
    most = tr.limit(station.registered_voters, allowance)
    with transaction.atomic():
        known = _known(TurnoutReport, election, client_key, station)
        if known is not None:
            return known  # type: ignore[no-any-return]
        _lock_station(station)
        status = StationStatus.objects.filter(station=station, round=round_).first()
        if status is None or sm.Status(status.status) not in sm.HAS_OPENED:
            raise Conflict(
                _("Station %(code)s has not opened in this round: report its opening first.") % {"code": station.code}
            )
        if status.opened_at is not None and at < status.opened_at:
            raise Conflict(
                _("This figure is as of %(time)s, before the station opened at %(opened)s.")
                % {"time": clock.hhmm(at, election), "opened": clock.hhmm(status.opened_at, election)},
                "at",
            )
        rows = list(TurnoutReport.objects.filter(station=station, round=round_).order_by("id"))
        try:
            decision = tr.decide(_figures(rows), slot=slot, at=at, voters=voters, correction=correction, most=most)
        except tr.TurnoutConflict as err:
            raise Conflict(_conflict_message(err, voters, election), "voters") from None
        late = bool(slot) and received - at > dt.timedelta(minutes=config.late_minutes())
        report = TurnoutReport.objects.create(
            election=election,
            round=round_,
            station=station,
            slot=slot,
            at=at,
            voters=voters,
            correction=correction,
            received_at=received,
            late=late,
            review=TurnoutReport.Review.HELD if decision.held else TurnoutReport.Review.NONE,
            review_reason=_held_reason(voters, station, allowance, most) if decision.held else "",
            reported_by=reporter.user,
            reporter_role=reporter.role,
            device=reporter.device,
            channel=channel,
            client_key=client_key,
        )
        if decision.supersedes:
            TurnoutReport.objects.filter(pk__in=decision.supersedes).update(superseded_by=report)
            for old in decision.supersedes:
                audit_append(
                    "turnout_report.superseded",
                    "turnout_report",
                    old,
                    actor=reporter.actor,
                    role=reporter.role,
                    payload={"by": report.pk},
                )
        _refresh_figures(election, round_, [station])
        audit_append(
            "turnout_report.held" if decision.held else "turnout_report.recorded",
            "turnout_report",
            report.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={
                "station": station.code,
                "round": round_.code,
                "slot": slot,
                "at": at.isoformat(),
                "voters": voters,
                "correction": correction,
                "supersedes": decision.supersedes,
                "late": late,
                "channel": channel,
            },
        )
    return report


def turnout_review(*, report: TurnoutReport, accept: bool, note: str, reporter: Reporter) -> TurnoutReport:
    """An official's decision on a held figure: accept it (it counts) or dismiss it (it never will)."""
    note = _text(note, "note", required=True)
    election = clock.election_of(report)
    with transaction.atomic():
        _lock_station(report.station)
        report.refresh_from_db()
        if report.review != TurnoutReport.Review.HELD or report.superseded_by_id is not None:
            raise Conflict(_("Only a figure held for review, and not since corrected, can be reviewed."))
        if accept:
            others = [
                f
                for f in _figures(TurnoutReport.objects.filter(station=report.station, round=report.round))
                if f.id != report.pk
            ]
            try:
                tr.decide(others, slot="", at=report.at, voters=report.voters, correction=False, most=MAX_VOTERS)
            except tr.TurnoutConflict as err:
                raise Conflict(_conflict_message(err, report.voters, election), "voters") from None
        report.review = TurnoutReport.Review.ACCEPTED if accept else TurnoutReport.Review.DISMISSED
        report.reviewed_by = reporter.user
        report.reviewed_at = timezone_now()
        report.review_note = note
        report.save(update_fields=["review", "reviewed_by", "reviewed_at", "review_note"])
        _refresh_figures(election, report.round, [report.station])
        audit_append(
            "turnout_report.accepted" if accept else "turnout_report.dismissed",
            "turnout_report",
            report.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"note": note},
        )
    return report


@dataclass(frozen=True)
class BatchTurnout:
    station_id: int
    voters: int
    slot: str
    at: dt.datetime
    received_at: dt.datetime
    client_key: str


def turnout_reports_record_batch(
    *,
    election: Election,
    round_: Round,
    items: Sequence[BatchTurnout],
    reporter: Reporter,
    label: str = "",
    now: dt.datetime | None = None,
) -> BatchOutcome:
    """Many stations' figures at once, by the same rules as one by one (no corrections): all or
    nothing, one audit entry for the batch."""
    stations = {
        s.pk: s
        for s in PollingStation.objects.filter(election=election, pk__in={i.station_id for i in items}).select_related(
            "municipality"
        )
    }
    allowance = config.same_day_allowance(election)
    slots = set(config.slots(election))
    for n, item in enumerate(items):
        if item.station_id not in stations:
            raise InvalidInput(_("Item %(n)s: no such station in this election.") % {"n": n}, f"items[{n}]")
        if item.voters < 0 or item.voters > MAX_VOTERS:
            raise InvalidInput(_("The number of voters is a whole number, 0 or more."), f"items[{n}].voters")
        if item.slot and item.slot not in slots:
            raise InvalidInput(_("Item %(n)s: not a reporting time.") % {"n": n}, f"items[{n}].slot")
        clock.resolve_round(election, clock.aware(item.at, election), round_=round_, now=now, field=f"items[{n}].at")
    _check_votes_in(round_, stations.values())
    with transaction.atomic():
        seen = _new_keys(TurnoutReport, election, [i.client_key for i in items])
        fresh = [i for i in items if not (i.client_key and i.client_key in seen)]
        if not fresh:
            return BatchOutcome(None, 0, len(items))
        ids = sorted({i.station_id for i in fresh})
        _lock_stations(ids)
        opened: dict[int, dt.datetime] = {}
        for start in range(0, len(ids), 900):
            opened.update(
                StationStatus.objects.filter(
                    round=round_, station_id__in=ids[start : start + 900], opened_at__isnull=False
                ).values_list("station_id", "opened_at")  # type: ignore[arg-type]
            )
        existing = _figure_rows(election, round_, ids)
        before = {sid: list(figs) for sid, figs in existing.items()}
        rows = []
        for n, item in enumerate(fresh):
            station = stations[item.station_id]
            at = clock.aware(item.at, election)
            if item.station_id not in opened or at < opened[item.station_id]:
                raise Conflict(
                    _("Station %(code)s has not opened in this round: report its opening first.")
                    % {"code": station.code}
                )
            most = tr.limit(station.registered_voters, allowance)
            try:
                decision = tr.decide(
                    existing[item.station_id], slot=item.slot, at=at, voters=item.voters, correction=False, most=most
                )
            except tr.TurnoutConflict as err:
                raise Conflict(
                    _("Station %(code)s: %(problem)s")
                    % {"code": station.code, "problem": _conflict_message(err, item.voters, election)}
                ) from None
            late = bool(item.slot) and item.received_at - at > dt.timedelta(minutes=config.late_minutes())
            existing[item.station_id].append(
                tr.Figure(id=_NEW + n, slot=item.slot, at=at, voters=item.voters, held=decision.held, late=late)
            )
            rows.append(
                TurnoutReport(
                    election=election,
                    round=round_,
                    station=station,
                    slot=item.slot,
                    at=at,
                    voters=item.voters,
                    received_at=item.received_at,
                    late=late,
                    review=TurnoutReport.Review.HELD if decision.held else TurnoutReport.Review.NONE,
                    review_reason=_held_reason(item.voters, station, allowance, most) if decision.held else "",
                    reported_by=reporter.user,
                    reporter_role=reporter.role,
                    channel=Channel.BATCH,
                    client_key=item.client_key,
                )
            )
        batch = PollingBatch.objects.create(
            election=election,
            kind=PollingBatch.Kind.TURNOUT,
            count=len(rows),
            label=label[:200],
            recorded_by=reporter.user,
        )
        for row in rows:
            row.batch = batch
        created_reports = TurnoutReport.objects.bulk_create(rows, batch_size=500)
        _refresh_figures(election, round_, [stations[i] for i in ids], known=existing, before=before)
        _audit_rows(
            "turnout_report.recorded",
            "turnout_report",
            TurnoutReport,
            polling_audit.TURNOUT_REPORT_FIELDS,
            [r.pk for r in created_reports],
            reporter,
            batch,
        )
        audit_append(
            "polling_batch.recorded",
            "polling_batch",
            batch.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"kind": batch.kind, "round": round_.code, "count": len(rows), "label": label[:200]},
        )
    return BatchOutcome(batch, len(rows), len(items) - len(rows))


# --- incidents ------------------------------------------------------------------------------------


def incident_report(
    *,
    election: Election,
    municipality: Municipality,
    station: PollingStation | None,
    kind: str,
    severity: str,
    occurred_at: dt.datetime,
    description: str,
    reporter: Reporter,
    observer: Observer | None = None,
    place: str = "",
    client_key: str = "",
    channel: str = Channel.API,
    round_: Round | None = None,
    now: dt.datetime | None = None,
) -> Incident:
    """Record what happened, at a station or a described place. Not public until verified."""
    if kind not in Incident.Kind.values:
        raise InvalidInput(_("Unknown incident type %(kind)r.") % {"kind": kind}, "kind")
    if severity not in Incident.Severity.values:
        raise InvalidInput(_("Unknown severity %(severity)r.") % {"severity": severity}, "severity")
    description = _text(description, "description", required=True)
    place = _text(place, "place", required=station is None, limit=300)
    at = clock.aware(occurred_at, election)
    round_ = clock.resolve_round(
        election, at, round_=round_, device_round=reporter.device.round if reporter.device else None, now=now
    )
    with transaction.atomic():
        known = _known(Incident, election, client_key, None)
        if known is not None:
            if known.municipality_id != municipality.pk or known.station_id != (station.pk if station else None):
                raise KeyReused(_("This client key was already used for another submission."), "client_key")
            return known  # type: ignore[no-any-return]
        incident = Incident.objects.create(
            election=election,
            round=round_,
            municipality=municipality,
            station=station,
            place=place,
            kind=kind,
            severity=severity,
            occurred_at=at,
            description=description,
            reporter_kind=Incident.Reporter.OBSERVER if observer is not None else Incident.Reporter.OFFICIAL,
            observer=observer,
            reported_by=reporter.user,
            reporter_role=reporter.role,
            device=reporter.device,
            channel=channel,
            client_key=client_key,
        )
        audit_append(
            "incident.reported",
            "incident",
            incident.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={
                "kind": kind,
                "severity": severity,
                "station": station.code if station else None,
                "municipality": municipality.code,
                "occurred_at": at.isoformat(),
            },
        )
    return incident


def _incident_move(incident: Incident, target: sm.IncidentStatus) -> Incident:
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    current = sm.IncidentStatus(locked.status)
    if not sm.incident_may_move(current, target):
        raise InvalidTransition(
            _("Incident #%(id)s is %(status)s: it cannot become %(target)s.")
            % {
                "id": incident.pk,
                "status": Incident.Status(current.value).label,
                "target": Incident.Status(target.value).label,
            },
            "status",
        )
    return locked


def incident_verify(
    *, incident: Incident, reporter: Reporter, note: str = "", public_description: str = ""
) -> Incident:
    """The commission confirms it happened: from now on it is public (with the public description,
    if one is given, in place of the reporter's words)."""
    note = _text(note, "note", required=False)
    public_description = _text(public_description, "public_description", required=False)
    with transaction.atomic():
        locked = _incident_move(incident, sm.IncidentStatus.VERIFIED)
        locked.status = Incident.Status.VERIFIED
        locked.decided_by = reporter.user
        locked.decided_at = timezone_now()
        locked.decision_note = note
        locked.public_description = public_description
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "public_description"])
        audit_append(
            "incident.verified", "incident", locked.pk, actor=reporter.actor, role=reporter.role, payload={"note": note}
        )
    return locked


def incident_reject(*, incident: Incident, reporter: Reporter, reason: str) -> Incident:
    reason = _text(reason, "reason", required=True)
    with transaction.atomic():
        locked = _incident_move(incident, sm.IncidentStatus.REJECTED)
        locked.status = Incident.Status.REJECTED
        locked.decided_by = reporter.user
        locked.decided_at = timezone_now()
        locked.decision_note = reason
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_append(
            "incident.rejected",
            "incident",
            locked.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"reason": reason},
        )
    return locked


def incident_resolve(*, incident: Incident, reporter: Reporter, resolution: str) -> Incident:
    resolution = _text(resolution, "resolution", required=True)
    with transaction.atomic():
        locked = _incident_move(incident, sm.IncidentStatus.RESOLVED)
        locked.status = Incident.Status.RESOLVED
        locked.resolved_by = reporter.user
        locked.resolved_at = timezone_now()
        locked.resolution = resolution
        locked.save(update_fields=["status", "resolved_by", "resolved_at", "resolution"])
        audit_append(
            "incident.resolved",
            "incident",
            locked.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"resolution": resolution},
        )
    return locked


PHOTO_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


def sniff_image(head: bytes) -> str | None:
    """The image type from the file's first bytes; the name and the declared type are not trusted."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def photo_check(upload: UploadedFile) -> str:
    """The photo's type if it may be kept: a JPEG, PNG or WebP image (by its bytes), not too large."""
    size = upload.size or 0
    most = config.photo_max_bytes()
    if size > most:
        raise TooLarge(_("The photo is %(size)s bytes; the most is %(most)s.") % {"size": size, "most": most}, "photo")
    if size == 0:
        raise InvalidInput(_("The photo is empty."), "photo")
    upload.seek(0)
    content_type = sniff_image(upload.read(16))
    upload.seek(0)
    if content_type is None:
        raise UnsupportedMediaType(_("Photos must be JPEG, PNG or WebP images."), "photo")
    return content_type


def incident_photo_add(*, incident: Incident, upload: UploadedFile, reporter: Reporter) -> IncidentPhoto:
    """Keep a photo of an incident as a file under MEDIA_ROOT, with a random name."""
    content_type = photo_check(upload)
    size = upload.size or 0
    sha = hashlib.sha256()
    for chunk in upload.chunks():
        sha.update(chunk)
    upload.seek(0)
    if incident.status in {Incident.Status.REJECTED, Incident.Status.RESOLVED}:
        raise Conflict(_("Incident #%(id)s is closed: no more photos.") % {"id": incident.pk})
    if IncidentPhoto.objects.filter(incident=incident).count() >= config.photos_per_incident():
        raise Conflict(_("An incident has at most %(n)s photos.") % {"n": config.photos_per_incident()}, "photo")
    photo = IncidentPhoto(
        incident=incident, content_type=content_type, size=size, sha256=sha.hexdigest(), uploaded_by=reporter.user
    )
    photo.file.save(PHOTO_TYPES[content_type], upload, save=False)
    try:
        with transaction.atomic():
            photo.save()
            audit_append(
                "incident.photo_added",
                "incident_photo",
                photo.pk,
                actor=reporter.actor,
                role=reporter.role,
                payload={"incident": incident.pk, "sha256": photo.sha256, "size": size, "type": content_type},
            )
    except Exception:
        photo.file.delete(save=False)
        raise
    return photo


# --- observers ------------------------------------------------------------------------------------


def observer_organisation_create(
    *, election: Election, name: str, kind: str, reporter: Reporter, client_key: str = ""
) -> ObserverOrganisation:
    name = _text(name, "name", required=True, limit=200)
    if kind not in ObserverOrganisation.Kind.values:
        raise InvalidInput(_("Unknown kind of organisation %(kind)r.") % {"kind": kind}, "kind")
    with transaction.atomic():
        known = _known(ObserverOrganisation, election, client_key, None)
        if known is not None and (known.name, known.kind) != (name, kind):
            raise KeyReused(_("This client key was already used for another submission."), "client_key")
        existing = known or ObserverOrganisation.objects.filter(election=election, name=name).first()
        if existing is not None:
            if existing.kind != kind:
                raise Conflict(_("An organisation of that name is already recorded."), "name")
            return existing
        org = ObserverOrganisation.objects.create(election=election, name=name, kind=kind, client_key=client_key)
        audit_append(
            "observer_organisation.created",
            "observer_organisation",
            org.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"name": name, "kind": kind},
        )
    return org


def observer_apply(
    *,
    organisation: ObserverOrganisation,
    full_name: str,
    reporter: Reporter,
    user: Any = None,
    client_key: str = "",
) -> Observer:
    full_name = _text(full_name, "full_name", required=True, limit=200)
    election = clock.election_of(organisation)
    with transaction.atomic():
        if client_key:
            known = Observer.objects.filter(election=election, client_key=client_key).first()
            if known is not None:
                return known
        if (
            user is not None
            and Observer.objects.filter(
                election=election, user=user, status__in=[Observer.Status.APPLIED, Observer.Status.APPROVED]
            ).exists()
        ):
            raise Conflict(_("This person already has an application or an accreditation."), "user")
        observer = Observer.objects.create(
            election=election, organisation=organisation, full_name=full_name, user=user, client_key=client_key
        )
        audit_append(
            "observer.applied",
            "observer",
            observer.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"organisation": organisation.name, "full_name": full_name},
        )
    return observer


def _observer_move(observer: Observer, target: sm.AccreditationStatus) -> Observer:
    locked = Observer.objects.select_for_update().get(pk=observer.pk)
    current = sm.AccreditationStatus(locked.status)
    if target not in sm.ACCREDITATION_TRANSITIONS[current]:
        raise InvalidTransition(
            _("The accreditation of %(name)s is %(status)s: it cannot become %(target)s.")
            % {
                "name": locked.full_name,
                "status": Observer.Status(current.value).label,
                "target": Observer.Status(target.value).label,
            },
            "status",
        )
    return locked


def observer_approve(*, observer: Observer, reporter: Reporter, badge_number: str = "") -> Observer:
    badge = _text(badge_number, "badge_number", required=False, limit=40)
    with transaction.atomic():
        locked = _observer_move(observer, sm.AccreditationStatus.APPROVED)
        badge = badge or f"{clock.election_of(observer).code.upper()}-{locked.pk:06d}"
        if Observer.objects.filter(election_id=locked.election_id, badge_number=badge).exclude(pk=locked.pk).exists():
            raise Conflict(_("Badge number %(badge)s is already issued.") % {"badge": badge}, "badge_number")
        locked.status = Observer.Status.APPROVED
        locked.badge_number = badge
        locked.decided_by = reporter.user
        locked.decided_at = timezone_now()
        locked.save(update_fields=["status", "badge_number", "decided_by", "decided_at"])
        audit_append(
            "observer.approved",
            "observer",
            locked.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"badge_number": badge},
        )
    return locked


def observer_refuse(*, observer: Observer, reporter: Reporter, reason: str) -> Observer:
    reason = _text(reason, "reason", required=True)
    with transaction.atomic():
        locked = _observer_move(observer, sm.AccreditationStatus.REFUSED)
        locked.status = Observer.Status.REFUSED
        locked.reason = reason
        locked.decided_by = reporter.user
        locked.decided_at = timezone_now()
        locked.save(update_fields=["status", "reason", "decided_by", "decided_at"])
        audit_append(
            "observer.refused",
            "observer",
            locked.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"reason": reason},
        )
    return locked


def _end_deployments(
    deployments: Sequence[Deployment],
    *,
    at: dt.datetime,
    reason: str,
    reporter: Reporter,
    withdrawal: Withdrawal | None = None,
) -> int:
    ids = [d.pk for d in deployments]
    Deployment.objects.filter(pk__in=ids, ended_at__isnull=True).update(
        ended_at=at, end_reason=reason, withdrawal=withdrawal
    )
    for pk in ids:
        audit_append(
            "deployment.ended",
            "deployment",
            pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"reason": reason, "withdrawal": withdrawal.pk if withdrawal else None},
        )
    return len(ids)


def observer_revoke(*, observer: Observer, reporter: Reporter, reason: str, at: dt.datetime | None = None) -> Observer:
    """Withdraw an accreditation; the observer's open deployment ends with it."""
    reason = _text(reason, "reason", required=True)
    when = at or timezone_now()
    with transaction.atomic():
        locked = _observer_move(observer, sm.AccreditationStatus.REVOKED)
        locked.status = Observer.Status.REVOKED
        locked.reason = reason
        locked.revoked_at = when
        locked.save(update_fields=["status", "reason", "revoked_at"])
        current = list(Deployment.objects.filter(observer=locked, ended_at__isnull=True).order_by("pk"))
        ends = max([when, *(d.started_at for d in current)])
        _end_deployments(current, at=ends, reason=Deployment.End.REVOKED, reporter=reporter)
        audit_append(
            "observer.revoked",
            "observer",
            locked.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"reason": reason},
        )
    return locked


def deployment_create(
    *,
    observer: Observer,
    station: PollingStation,
    started_at: dt.datetime,
    reporter: Reporter,
    client_key: str = "",
    now: dt.datetime | None = None,
) -> Deployment:
    """An accredited observer arrives at a station; an open deployment elsewhere ends (moved)."""
    election = clock.election_of(observer)
    at = clock.aware(started_at, election)
    round_ = clock.resolve_round(election, at, field="started_at", now=now)
    with transaction.atomic():
        known = _known(Deployment, election, client_key, station)
        if known is not None:
            return known  # type: ignore[no-any-return]
        locked = Observer.objects.select_for_update().get(pk=observer.pk)
        if locked.status != Observer.Status.APPROVED:
            raise Conflict(
                _("%(name)s is not accredited (%(status)s): only approved observers are deployed.")
                % {"name": locked.full_name, "status": Observer.Status(locked.status).label},
                "observer",
            )
        current = list(Deployment.objects.filter(observer=locked, ended_at__isnull=True))
        if any(d.started_at > at for d in current):
            raise Conflict(
                _("This observer's current deployment started later than %(time)s.")
                % {"time": clock.hhmm(at, election)},
                "started_at",
            )
        if any(d.station_id == station.pk for d in current):
            raise Conflict(_("This observer is already at station %(code)s.") % {"code": station.code}, "station")
        _end_deployments(current, at=at, reason=Deployment.End.MOVED, reporter=reporter)
        deployment = Deployment.objects.create(
            election=election,
            round=round_,
            observer=locked,
            station=station,
            started_at=at,
            deployed_by=reporter.user,
            client_key=client_key,
        )
        audit_append(
            "deployment.created",
            "deployment",
            deployment.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={"observer": locked.pk, "station": station.code, "started_at": at.isoformat()},
        )
    return deployment


@dataclass(frozen=True)
class Area:
    """Where a withdrawal applies: exactly one of a municipality, an area name, a polling centre."""

    municipality: Municipality | None = None
    area: str = ""
    centre: PollingCentre | None = None

    def stations(self, election: Election) -> Q:
        if self.municipality is not None:
            return Q(station__municipality=self.municipality)
        if self.centre is not None:
            return Q(station__centre=self.centre)
        return Q(station__municipality__election=election, station__municipality__area=self.area)

    def municipality_ids(self, election: Election) -> set[int]:
        if self.municipality is not None:
            return {self.municipality.pk}
        if self.centre is not None:
            return {self.centre.municipality_id}
        return set(Municipality.objects.filter(election=election, area=self.area).values_list("pk", flat=True))


def organisation_withdraw_from_area(
    *,
    organisation: ObserverOrganisation,
    area: Area,
    occurred_at: dt.datetime,
    reason: str,
    reporter: Reporter,
    client_key: str = "",
    now: dt.datetime | None = None,
) -> Withdrawal:
    """An organisation pulls all its staff out of an area in one act: every open deployment of its
    observers at the area's stations ends, as withdrawn, at that time."""
    election = clock.election_of(organisation)
    scopes = sum([area.municipality is not None, bool(area.area), area.centre is not None])
    if scopes != 1:
        raise InvalidInput(_("Name exactly one of: a municipality, an area, a polling centre."), "municipality")
    if area.area and not area.municipality_ids(election):
        raise NotFound(_("No municipality of this election is in area %(area)r.") % {"area": area.area}, "area")
    reason = _text(reason, "reason", required=True)
    at = clock.aware(occurred_at, election)
    round_ = clock.resolve_round(election, at, now=now)
    with transaction.atomic():
        if client_key:
            known = Withdrawal.objects.filter(election=election, client_key=client_key).first()
            if known is not None:
                return known
        withdrawal = Withdrawal.objects.create(
            election=election,
            round=round_,
            organisation=organisation,
            municipality=area.municipality,
            area=area.area,
            centre=area.centre,
            occurred_at=at,
            reason=reason,
            recorded_by=reporter.user,
            client_key=client_key,
        )
        open_here = list(
            Deployment.objects.select_for_update()
            .filter(area.stations(election), observer__organisation=organisation, ended_at__isnull=True)
            .order_by("pk")
        )
        ended = _end_deployments(
            [d for d in open_here if d.started_at <= at],
            at=at,
            reason=Deployment.End.WITHDRAWN,
            reporter=reporter,
            withdrawal=withdrawal,
        )
        withdrawal.deployments_ended = ended
        withdrawal.save(update_fields=["deployments_ended"])
        audit_append(
            "withdrawal.recorded",
            "withdrawal",
            withdrawal.pk,
            actor=reporter.actor,
            role=reporter.role,
            payload={
                "organisation": organisation.name,
                "municipality": area.municipality.code if area.municipality else None,
                "area": area.area,
                "centre": area.centre.code if area.centre else None,
                "occurred_at": at.isoformat(),
                "deployments_ended": ended,
                "deployments": digest(sorted(d.pk for d in open_here if d.started_at <= at)),
            },
        )
    return withdrawal
