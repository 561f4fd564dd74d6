"""Reads of election day, set-based: each figure of the dashboard is one grouped query, whatever the
number of stations (one row per station in the derived tables, never a loop over stations)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils.timezone import now as timezone_now

from tallyroom.elections.models import Election, Municipality, PollingStation, Round
from tallyroom.polling import clock, config
from tallyroom.polling import state as sm
from tallyroom.polling import turnout as tr
from tallyroom.polling.access import Viewer
from tallyroom.polling.models import (
    Deployment,
    Incident,
    Observer,
    ObserverOrganisation,
    StationEvent,
    StationStatus,
    TurnoutFigure,
    TurnoutReport,
)

# The dashboard's status columns, in the order of the day.
STATUS_COLUMNS = [
    sm.Status.OPEN,
    sm.Status.SUSPENDED,
    sm.Status.CLOSED,
    sm.Status.CLOSED_EARLY,
    sm.Status.DID_NOT_OPEN,
    sm.Status.NOT_OPENED,
]
PUBLIC_STATUSES = [s.value for s in sm.INCIDENT_PUBLIC]
FEED_LENGTH = 15
MISSED_SHOWN = 25


def physical_stations(election: Election) -> QuerySet[PollingStation]:
    """Stations where people vote: counting-centre batches (kind "central") never open or close."""
    return PollingStation.objects.filter(election=election).exclude(kind=PollingStation.Kind.CENTRAL)


def station_standing(station: PollingStation, round_: Round) -> StationStatus | None:
    return StationStatus.objects.filter(station=station, round=round_).first()


def station_events(station: PollingStation, round_: Round) -> list[StationEvent]:
    """Every event of the station's day, corrections and superseded ones too, in recorded order."""
    later = StationEvent.objects.filter(supersedes=OuterRef("pk")).values("pk")[:1]
    return list(
        StationEvent.objects.filter(station=station, round=round_)
        .select_related("reported_by", "station", "round")
        .annotate(superseded_by_pk=Subquery(later))
        .order_by("id")
    )


def station_turnout(station: PollingStation, round_: Round) -> list[TurnoutReport]:
    return list(
        TurnoutReport.objects.filter(station=station, round=round_).select_related("reported_by").order_by("at", "id")
    )


def incidents_visible(viewer: Viewer, election: Election) -> QuerySet[Incident]:
    qs = Incident.objects.filter(election=election)
    if viewer.internal:
        return qs
    own = Q(reported_by_id=viewer.user_id) if viewer.user_id is not None else Q(pk__in=[])
    return qs.filter(Q(status__in=PUBLIC_STATUSES) | own)


def public_incidents(election: Election) -> QuerySet[Incident]:
    return Incident.objects.filter(election=election, status__in=PUBLIC_STATUSES)


def public_incident_kinds_by_station(
    election: Election, station_ids: Iterable[int] | None = None
) -> dict[int, list[str]]:
    """Verified incident types per station, for the results pipeline and the public pages to say
    "a violent incident was reported here"."""
    qs = public_incidents(election).exclude(station=None)
    if station_ids is not None:
        qs = qs.filter(station_id__in=list(station_ids))
    out: dict[int, list[str]] = defaultdict(list)
    for station_id, kind in qs.values_list("station_id", "kind").distinct().order_by("station_id", "kind"):
        out[station_id].append(kind)
    return dict(out)


# --- the dashboard --------------------------------------------------------------------------------


@dataclass
class SlotShare:
    voters: int = 0
    registered: int = 0
    stations: int = 0
    previous: float | None = None

    @property
    def share(self) -> float | None:
        return self.voters / self.registered if self.registered else None


@dataclass
class Row:
    code: str
    name: str
    area: str = ""
    stations: int = 0
    registered: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    observed: int = 0
    incidents: int = 0
    turnout: dict[str, SlotShare] = field(default_factory=dict)

    def latest_share(self, slots: list[str]) -> tuple[str, float] | None:
        for slot in reversed(slots):
            share = self.turnout[slot].share if slot in self.turnout else None
            if share is not None:
                return slot, share
        return None


@dataclass
class Missed:
    slot: str
    count: int
    stations: list[str]


@dataclass
class FeedItem:
    id: int
    kind: str
    kind_label: str
    severity: str
    status: str
    time: str
    municipality: str
    station: str
    place: str
    text: str


@dataclass
class Dashboard:
    election: Election
    round: Round
    generated_at: dt.datetime
    slots: list[str]
    reached: list[str]
    due: list[str]
    rows: list[Row]
    total: Row
    feed: list[FeedItem]
    incident_counts: list[tuple[str, str, int]]
    missed: list[Missed]
    held: int
    previous: Election | None
    observers: dict[str, int]
    polls_opened: bool

    def data(self) -> dict[str, Any]:
        """Plain JSON-able data: the API's answer and what the live refresh compares."""

        def row(r: Row) -> dict[str, Any]:
            out = asdict(r)
            out["turnout"] = {
                slot: {**asdict(s), "share": None if s.share is None else round(s.share, 4)}
                for slot, s in r.turnout.items()
            }
            return out

        return {
            "election": self.election.code,
            "round": self.round.code,
            "date": self.round.date.isoformat(),
            "timezone": self.election.timezone,
            "slots": self.slots,
            "reached": self.reached,
            "due": self.due,
            "previous_election": self.previous.code if self.previous else None,
            "municipalities": [row(r) for r in self.rows],
            "total": row(self.total),
            "incidents": [asdict(i) for i in self.feed],
            "incident_counts": [{"kind": k, "label": label, "count": n} for k, label, n in self.incident_counts],
            "missed_reports": [asdict(m) for m in self.missed],
            "held_for_review": self.held,
            "observers": self.observers,
        }

    @property
    def version(self) -> str:
        blob = json.dumps(self.data(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def dashboard(election: Election, round_: Round, viewer: Viewer, now: dt.datetime | None = None) -> Dashboard:
    now = now or timezone_now()
    slots = config.slots(election)
    late = dt.timedelta(minutes=config.late_minutes())
    reached = [s for s in slots if now >= clock.slot_time(round_, s, election)]
    due = [s for s in reached if now >= clock.slot_time(round_, s, election) + late]
    munis = {m.pk: m for m in Municipality.objects.filter(election=election).order_by("code")}
    rows = {pk: Row(code=m.code, name=m.name, area=m.area) for pk, m in munis.items()}

    for r in (
        physical_stations(election).values("municipality_id").annotate(n=Count("id"), reg=Sum("registered_voters"))
    ):
        rows[r["municipality_id"]].stations = r["n"]
        rows[r["municipality_id"]].registered = r["reg"] or 0
    for r in StationStatus.objects.filter(round=round_).values("municipality_id", "status").annotate(n=Count("id")):
        rows[r["municipality_id"]].statuses[r["status"]] = r["n"]
    for row in rows.values():
        reported = sum(row.statuses.values())
        row.statuses[sm.Status.NOT_OPENED] = row.statuses.get(sm.Status.NOT_OPENED, 0) + row.stations - reported
        row.turnout = {slot: SlotShare() for slot in slots}
    for r in (
        TurnoutFigure.objects.filter(round=round_)
        .exclude(voters=None)
        .values("municipality_id", "slot")
        .annotate(voters=Sum("voters"), registered=Sum("registered"), n=Count("id"))
    ):
        if r["slot"] in reached:  # a later reporting time shows nothing until it comes
            rows[r["municipality_id"]].turnout[r["slot"]] = SlotShare(r["voters"], r["registered"], r["n"])
    for r in (
        Deployment.objects.filter(round=round_, ended_at__isnull=True, observer__status=Observer.Status.APPROVED)
        .values("station__municipality_id")
        .annotate(n=Count("station", distinct=True))
    ):
        rows[r["station__municipality_id"]].observed = r["n"]
    visible = incidents_visible(viewer, election).filter(round=round_)
    for r in visible.values("municipality_id").annotate(n=Count("id")):
        rows[r["municipality_id"]].incidents = r["n"]

    previous = previous_election(election)
    if previous is not None:
        _add_previous(previous, rows, munis, slots)

    total = Row(code="", name="", stations=0)
    total.turnout = {slot: SlotShare() for slot in slots}
    for row in rows.values():
        total.stations += row.stations
        total.registered += row.registered
        total.observed += row.observed
        total.incidents += row.incidents
        for status, n in row.statuses.items():
            total.statuses[status] = total.statuses.get(status, 0) + n
        for slot, s in row.turnout.items():
            t = total.turnout[slot]
            t.voters += s.voters
            t.registered += s.registered
            t.stations += s.stations
    if previous is not None:
        _add_previous_total(previous, total, slots)

    kinds = dict(Incident.Kind.choices)
    counts = dict(visible.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    feed = [_feed_item(i, viewer, election) for i in visible.select_related("station", "municipality")[:FEED_LENGTH]]
    return Dashboard(
        election=election,
        round=round_,
        generated_at=now,
        slots=slots,
        reached=reached,
        due=due,
        rows=[rows[pk] for pk in munis],
        total=total,
        feed=feed,
        incident_counts=[(k, str(label), counts[k]) for k, label in kinds.items() if counts.get(k)],
        missed=[_missed(election, round_, slot) for slot in due],
        held=TurnoutReport.objects.filter(
            round=round_, review=TurnoutReport.Review.HELD, superseded_by__isnull=True
        ).count(),
        previous=previous,
        observers=_observer_totals(election, round_),
        polls_opened=now >= clock.at_local(round_.date, election.polls_open, election),
    )


def _feed_item(incident: Incident, viewer: Viewer, election: Election) -> FeedItem:
    public_text = incident.public_description or incident.description
    text = incident.description if viewer.internal or not incident.is_public else public_text
    return FeedItem(
        id=incident.pk,
        kind=incident.kind,
        kind_label=str(incident.get_kind_display()),
        severity=incident.severity,
        status=incident.status,
        time=clock.hhmm(incident.occurred_at, election),
        municipality=incident.municipality.name,
        station=incident.station.code if incident.station else "",
        place=incident.place,
        text=text,
    )


def _missed(election: Election, round_: Round, slot: str) -> Missed:
    """Stations open at the reporting time that sent no report for it."""
    when = clock.slot_time(round_, slot, election)
    reported = TurnoutFigure.objects.filter(station=OuterRef("station"), round=round_, slot=slot, reported=True)
    qs = (
        StationStatus.objects.filter(round=round_, opened_at__lte=when)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=when))
        .exclude(Exists(reported))
    )
    codes = list(qs.order_by("station__code").values_list("station__code", flat=True)[:MISSED_SHOWN])
    return Missed(slot=slot, count=qs.count(), stations=codes)


def _observer_totals(election: Election, round_: Round) -> dict[str, int]:
    open_now = Deployment.objects.filter(round=round_, ended_at__isnull=True, observer__status=Observer.Status.APPROVED)
    return {
        "accredited": Observer.objects.filter(election=election, status=Observer.Status.APPROVED).count(),
        "deployed": open_now.values("observer").distinct().count(),
        "stations_observed": open_now.values("station").distinct().count(),
        "withdrawn": Deployment.objects.filter(round=round_, end_reason=Deployment.End.WITHDRAWN).count(),
    }


def previous_election(election: Election) -> Election | None:
    """The latest other election held before this one that has turnout recorded, if any."""
    first = Round.objects.filter(election=election).order_by("date").values_list("date", flat=True).first()
    if first is None:
        return None
    candidates = (
        Election.objects.exclude(pk=election.pk)
        .filter(rounds__date__lt=first)
        .filter(Exists(TurnoutFigure.objects.filter(election=OuterRef("pk"))))
        .distinct()
    )
    best = None
    best_date = None
    for other in candidates:
        d = Round.objects.filter(election=other).order_by("date").values_list("date", flat=True).first()
        if d is not None and (best_date is None or d > best_date):
            best, best_date = other, d
    return best


def _previous_round(previous: Election) -> Round | None:
    return Round.objects.filter(election=previous, kind=Round.Kind.FIRST).order_by("date").first()


def _add_previous(previous: Election, rows: dict[int, Row], munis: dict[int, Municipality], slots: list[str]) -> None:
    prev_round = _previous_round(previous)
    if prev_round is None:
        return
    by_code = {m.code: pk for pk, m in munis.items()}
    for r in (
        TurnoutFigure.objects.filter(round=prev_round)
        .exclude(voters=None)
        .values("municipality__code", "slot")
        .annotate(voters=Sum("voters"), registered=Sum("registered"))
    ):
        pk = by_code.get(r["municipality__code"])
        if pk is not None and r["slot"] in slots and r["registered"]:
            rows[pk].turnout[r["slot"]].previous = r["voters"] / r["registered"]


def _add_previous_total(previous: Election, total: Row, slots: list[str]) -> None:
    prev_round = _previous_round(previous)
    if prev_round is None:
        return
    for r in (
        TurnoutFigure.objects.filter(round=prev_round)
        .exclude(voters=None)
        .values("slot")
        .annotate(voters=Sum("voters"), registered=Sum("registered"))
    ):
        if r["slot"] in slots and r["registered"]:
            total.turnout[r["slot"]].previous = r["voters"] / r["registered"]


# --- observers ------------------------------------------------------------------------------------


@dataclass
class OrganisationRow:
    organisation: ObserverOrganisation
    applied: int
    approved: int
    revoked: int
    deployed: int


def organisations(election: Election, round_: Round | None) -> list[OrganisationRow]:
    orgs = list(ObserverOrganisation.objects.filter(election=election).order_by("name"))
    by_status: dict[tuple[int, str], int] = {
        (r["organisation_id"], r["status"]): r["n"]
        for r in Observer.objects.filter(election=election).values("organisation_id", "status").annotate(n=Count("id"))
    }
    deployed: dict[int, int] = {}
    if round_ is not None:
        deployed = dict(
            Deployment.objects.filter(round=round_, ended_at__isnull=True)
            .values("observer__organisation_id")
            .annotate(n=Count("id"))
            .values_list("observer__organisation_id", "n")
        )
    return [
        OrganisationRow(
            organisation=o,
            applied=by_status.get((o.pk, "applied"), 0),
            approved=by_status.get((o.pk, "approved"), 0),
            revoked=by_status.get((o.pk, "revoked"), 0),
            deployed=deployed.get(o.pk, 0),
        )
        for o in orgs
    ]


def observed_station_ids(round_: Round) -> set[int]:
    """The stations with an accredited observer there now."""
    return set(
        Deployment.objects.filter(round=round_, ended_at__isnull=True, observer__status=Observer.Status.APPROVED)
        .values_list("station_id", flat=True)
        .distinct()
    )


def coverage(election: Election, round_: Round) -> list[dict[str, Any]]:
    """Per municipality: stations, how many are observed now, by how many observers."""
    open_now = Deployment.objects.filter(round=round_, ended_at__isnull=True, observer__status=Observer.Status.APPROVED)
    observed = {
        r["station__municipality_id"]: r
        for r in open_now.values("station__municipality_id").annotate(
            stations=Count("station", distinct=True), observers=Count("observer", distinct=True)
        )
    }
    counts = dict(
        physical_stations(election)
        .values("municipality_id")
        .annotate(n=Count("id"))
        .values_list("municipality_id", "n")
    )
    return [
        {
            "municipality": m,
            "stations": counts.get(m.pk, 0),
            "observed": observed.get(m.pk, {}).get("stations", 0),
            "observers": observed.get(m.pk, {}).get("observers", 0),
        }
        for m in Municipality.objects.filter(election=election).order_by("code")
    ]


# --- consistency of the derived tables -----------------------------------------------------------


def derived_state_problems(round_: Round) -> list[str]:
    """Where the derived tables differ from what the logs say (empty when they agree)."""
    from tallyroom.polling.services import _figures, _logged, _slot_times

    election = clock.election_of(round_)
    problems: list[str] = []
    logs: dict[int, list[StationEvent]] = defaultdict(list)
    for e in StationEvent.objects.filter(round=round_).order_by("id").iterator(chunk_size=5000):
        logs[e.station_id].append(e)
    stored = {s.station_id: s for s in StationStatus.objects.filter(round=round_)}
    codes = dict(PollingStation.objects.filter(election=election).values_list("pk", "code"))
    for station_id in sorted(set(logs) | set(stored)):
        derived = sm.replay(sm.effective(_logged(logs.get(station_id, []))))
        row = stored.get(station_id)
        have = (
            (row.status, row.since, row.reason, row.opened_at, row.closed_at, row.event_count)
            if row
            else (sm.Status.NOT_OPENED.value, None, "", None, None, 0)
        )
        want = (
            derived.status.value,
            derived.since,
            derived.reason,
            derived.opened_at,
            derived.closed_at,
            derived.events,
        )
        if have != want:
            problems.append(f"station {codes.get(station_id)}: status table says {have}, events say {want}")
    reports: dict[int, list[TurnoutReport]] = defaultdict(list)
    for r in TurnoutReport.objects.filter(round=round_).order_by("id").iterator(chunk_size=5000):
        reports[r.station_id].append(r)
    figures: dict[int, dict[str, tuple[Any, ...]]] = defaultdict(dict)
    for f in TurnoutFigure.objects.filter(round=round_):
        figures[f.station_id][f.slot] = (f.voters, f.reported, f.late, f.held)
    slot_times = _slot_times(election, round_)
    for station_id in sorted(set(reports) | set(figures)):
        want_figures = {
            f.slot: (f.voters, f.reported, f.late, f.held)
            for f in tr.by_slot(_figures(reports.get(station_id, [])), slot_times)
        }
        if figures.get(station_id, {}) != want_figures:
            problems.append(
                f"station {codes.get(station_id)}: turnout figures {figures.get(station_id)} but reports say "
                f"{want_figures}"
            )
        if not tr.monotonic(_figures(reports.get(station_id, []))):
            problems.append(f"station {codes.get(station_id)}: effective turnout goes down")
    return problems
