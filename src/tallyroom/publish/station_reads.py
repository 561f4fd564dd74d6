"""The station pages' data: every station of a municipality (or a few of them) in one pass.

A form shows its numbers once accepted; before that (or when quarantined, excluded or annulled) the
public sees only its state. Events and turnout reports are the effective ones (corrections replace
what they correct); incidents are those the commission verified.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.functional import Promise

from tallyroom.elections.models import (
    Candidate,
    Contest,
    ContestCandidate,
    ContestEntity,
    Election,
    Municipality,
    PoliticalEntity,
    PollingStation,
)
from tallyroom.polling import state as sm
from tallyroom.polling.labels import EVENT_LABELS
from tallyroom.polling.models import Incident, StationEvent, TurnoutReport
from tallyroom.polling.selectors import public_incidents
from tallyroom.publish import standings as st
from tallyroom.publish.slugs import station_slug
from tallyroom.publish.turnout_reads import rounds_of
from tallyroom.results.models import COUNT_FIELDS, FormKind, FormState, ResultForm, ResultPreference, ResultVote

# A form's numbers in the order of the paper form: the ballots, then how they were cast.
_FIRST = ("signatures", "ballots_received", "ballots_used", "ballots_unused", "ballots_spoiled", "valid", "invalid")
NUMBERS: tuple[str, ...] = _FIRST + tuple(f for f in COUNT_FIELDS if f not in _FIRST)

StrOrPromise = str | Promise  # a label translated when the page is rendered


@dataclass(frozen=True)
class FormView:
    id: int
    contest: st.ContestRef  # the form's own contest: the main one, or a repeat vote of it
    kind: str
    state: str
    counted: bool
    numbers: list[tuple[str, StrOrPromise, int | None]]  # (field, label: translated when rendered, value)
    votes: list[tuple[str, str, int]]  # (entity code, label, votes) in ballot order
    preferences: list[tuple[str, list[tuple[int, str, int]]]]  # entity label -> (position, name, votes)

    @property
    def shown(self) -> bool:
        return self.state == FormState.ACCEPTED

    @property
    def kind_label(self) -> str:
        return str(FormKind(self.kind).label)

    @property
    def state_label(self) -> str:
        return str(FormState(self.state).label)


@dataclass
class StationContest:
    contest: st.ContestRef
    standing: st.Standing
    certified_at: dt.datetime | None
    forms: list[FormView]


@dataclass(frozen=True)
class EventRow:
    round: st.RoundInfo
    kind: str
    occurred_at: dt.datetime
    reason: str

    @property
    def label(self) -> str:
        return str(EVENT_LABELS[sm.Kind(self.kind)])


@dataclass(frozen=True)
class ReportRow:
    round: st.RoundInfo
    slot: str
    at: dt.datetime
    voters: int
    share: Decimal | None
    late: bool
    correction: bool


@dataclass(frozen=True)
class IncidentRow:
    id: int
    round: st.RoundInfo
    kind: str
    severity: str
    status: str
    occurred_at: dt.datetime
    station_id: int | None
    station_code: str
    station_slug: str
    place: str
    text: str

    @property
    def kind_label(self) -> str:
        return str(Incident.Kind(self.kind).label)

    @property
    def severity_label(self) -> str:
        return str(Incident.Severity(self.severity).label)

    @property
    def status_label(self) -> str:
        return str(Incident.Status(self.status).label)


@dataclass
class StationPage:
    election: Election
    municipality: Municipality
    id: int
    code: str
    slug: str
    kind: str
    registered: int
    registered_estimated: bool
    centre: str
    centre_name: str
    contests: list[StationContest]
    events: list[EventRow]
    turnout: list[ReportRow]
    incidents: list[IncidentRow]
    progress: list[tuple[st.RoundInfo, st.Progress]]  # the municipality's
    updated: dt.datetime | None
    colours: dict[str, str]

    @property
    def kind_label(self) -> str:
        return str(PollingStation.Kind(self.kind).label)


def incidents_of(election: Election, codes: dict[int, str], *, municipality_id: int | None = None) -> list[IncidentRow]:
    """Verified incidents at the stations in `codes` (id -> code), or anywhere in a municipality."""
    rounds = rounds_of(election)
    qs = public_incidents(election)
    qs = qs.filter(municipality_id=municipality_id) if municipality_id else qs.filter(station_id__in=list(codes))
    rows = qs.order_by("occurred_at", "pk").values_list(
        "pk", "round_id", "kind", "severity", "status", "occurred_at", "station_id", "place", "public_description"
    )
    descriptions = dict(qs.values_list("pk", "description"))
    out = []
    for pk, round_id, kind, severity, status, at, station_id, place, public in rows:
        code = codes.get(station_id, "") if station_id else ""
        text = public or descriptions[pk]
        out.append(
            IncidentRow(
                pk, rounds[round_id], kind, severity, status, at, station_id, code, station_slug(code), place, text
            )
        )
    return out


def _ballots(contest_ids: list[int]) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, str]]]:
    """Per contest: each entity's ballot position, and on mayoral ballots its candidate's name."""
    order: dict[int, dict[str, int]] = defaultdict(dict)
    names: dict[int, dict[str, str]] = defaultdict(dict)
    for contest_id, code, position in ContestEntity.objects.filter(contest_id__in=contest_ids).values_list(
        "contest_id", "entity__code", "ballot_position"
    ):
        order[contest_id][code] = position
    for contest_id, code, position, name in ContestCandidate.objects.filter(contest_id__in=contest_ids).values_list(
        "contest_id", "candidate__entity__code", "ballot_position", "candidate__name"
    ):
        order[contest_id][code] = position
        names[contest_id][code] = name
    return order, names


def _forms(
    contests: dict[int, st.ContestRef], station_ids: Collection[int] | None, municipality: Municipality
) -> dict[int, list[FormView]]:
    """Each station's forms, with the votes and preferences of the accepted ones."""
    election_id = municipality.election_id
    entities = {
        pk: (code, short or name)
        for pk, code, short, name in PoliticalEntity.objects.filter(election_id=election_id).values_list(
            "pk", "code", "short_name", "name"
        )
    }
    candidates = {
        pk: (name, entity_id, position)
        for pk, name, entity_id, position in Candidate.objects.filter(
            municipality=municipality, office=Candidate.Office.ASSEMBLY
        ).values_list("pk", "name", "entity_id", "position")
    }
    where: dict[str, Any] = {"contest_id__in": list(contests)}
    if station_ids is not None:
        where["station_id__in"] = list(station_ids)
    accepted = {f"form__{k}": v for k, v in where.items()} | {"form__state": FormState.ACCEPTED}
    votes: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
    for form_id, entity_id, n in ResultVote.objects.filter(**accepted).values_list("form_id", "entity_id", "votes"):
        votes[form_id].append((*entities[entity_id], n))
    prefs: dict[int, dict[str, list[tuple[int, str, int]]]] = defaultdict(lambda: defaultdict(list))
    for form_id, candidate_id, n in ResultPreference.objects.filter(**accepted).values_list(
        "form_id", "candidate_id", "votes"
    ):
        name, entity_id, position = candidates[candidate_id]
        prefs[form_id][entities[entity_id][1]].append((position, name, n))
    main = st.main_of(contests)
    order, names = _ballots(sorted(set(main.values())))
    fields = ("pk", "station_id", "contest_id", "kind", "state", "counted", *NUMBERS)
    labels: dict[str, StrOrPromise] = {f: getattr(ResultForm._meta.get_field(f), "verbose_name", f) for f in NUMBERS}
    out: dict[int, list[FormView]] = defaultdict(list)
    for row in ResultForm.objects.filter(**where).order_by("contest_id", "kind").values_list(*fields):
        pk, station_id, contest_id, kind, state, counted, *numbers = row
        ballot, who = order.get(main[contest_id], {}), names.get(main[contest_id], {})
        shown = state == FormState.ACCEPTED
        out[station_id].append(
            FormView(
                id=pk,
                contest=contests[contest_id],
                kind=kind,
                state=state,
                counted=counted,
                numbers=[(f, labels[f], v) for f, v in zip(NUMBERS, numbers, strict=True)] if shown else [],
                votes=[
                    (code, f"{who[code]} ({label})" if code in who else label, n)
                    for code, label, n in sorted(votes.get(pk, []), key=lambda v: ballot.get(v[0], 10**6))
                ],
                preferences=[
                    (label, sorted(items)) for label, items in sorted(prefs.get(pk, {}).items(), key=lambda i: i[0])
                ],
            )
        )
    return out


def _events(
    station_ids: Collection[int] | None, municipality: Municipality, rounds: dict[int, st.RoundInfo]
) -> dict[int, list[EventRow]]:
    qs = StationEvent.objects.filter(station__municipality=municipality)
    if station_ids is not None:
        qs = qs.filter(station_id__in=list(station_ids))
    rows = list(
        qs.order_by("occurred_at", "origin_id", "pk").values_list(
            "pk", "station_id", "round_id", "kind", "occurred_at", "reason", "supersedes_id"
        )
    )
    replaced = {r[6] for r in rows if r[6] is not None}
    out: dict[int, list[EventRow]] = defaultdict(list)
    for pk, station_id, round_id, kind, at, reason, _supersedes in rows:
        if pk not in replaced and kind != sm.Kind.RETRACTED:
            out[station_id].append(EventRow(rounds[round_id], kind, at, reason))
    return out


def _turnout(
    station_ids: Collection[int] | None,
    municipality: Municipality,
    rounds: dict[int, st.RoundInfo],
    registered: dict[int, int],
) -> dict[int, list[ReportRow]]:
    qs = TurnoutReport.objects.filter(
        station__municipality=municipality,
        superseded_by__isnull=True,
        review__in=[TurnoutReport.Review.NONE, TurnoutReport.Review.ACCEPTED],
    )
    if station_ids is not None:
        qs = qs.filter(station_id__in=list(station_ids))
    out: dict[int, list[ReportRow]] = defaultdict(list)
    for station_id, round_id, slot, at, voters, late, correction in qs.order_by("at", "pk").values_list(
        "station_id", "round_id", "slot", "at", "voters", "late", "correction"
    ):
        share = st.percent(voters, registered.get(station_id, 0))
        out[station_id].append(ReportRow(rounds[round_id], slot, at, voters, share, late, correction))
    return out


def station_pages_build(
    election: Election,
    municipality: Municipality,
    contests: dict[int, st.ContestRef],
    table: dict[int, dict[int, st.Standing]],
    certified: dict[int, dt.datetime],
    progress: list[tuple[st.RoundInfo, st.Progress]],
    updated: dt.datetime | None,
    colours: dict[str, str],
    station_ids: Collection[int] | None = None,
) -> dict[int, StationPage]:
    rounds = rounds_of(election)
    stations = PollingStation.objects.filter(municipality=municipality).select_related("centre").order_by("code")
    if station_ids is not None:
        stations = stations.filter(pk__in=list(station_ids))
    stations = stations.only(
        "pk", "code", "kind", "registered_voters", "registered_estimated", "centre__code", "centre__name"
    )
    registered = {s.pk: s.registered_voters for s in stations}
    forms = _forms(contests, station_ids, municipality)
    events = _events(station_ids, municipality, rounds)
    turnout = _turnout(station_ids, municipality, rounds, registered)
    codes = {s.pk: s.code for s in stations}
    incidents: dict[int | None, list[IncidentRow]] = defaultdict(list)
    for row in incidents_of(election, codes):
        incidents[row.station_id].append(row)
    main = st.main_of(contests)
    columns = sorted(
        (c for c in contests.values() if not c.is_repeat),
        key=lambda c: (c.round.date, 0 if c.kind == Contest.Kind.MAYOR else 1),
    )
    pages = {}
    for s in stations:
        own = forms.get(s.pk, [])
        sections = [
            StationContest(
                c,
                table[c.id].get(s.pk, st.Standing()),
                certified.get(c.id),
                [f for f in own if main[f.contest.id] == c.id],
            )
            for c in columns
        ]
        pages[s.pk] = StationPage(
            election=election,
            municipality=municipality,
            id=s.pk,
            code=s.code,
            slug=station_slug(s.code),
            kind=s.kind,
            registered=s.registered_voters,
            registered_estimated=s.registered_estimated,
            centre=s.centre.code,
            centre_name=s.centre.name,
            contests=sections,
            events=events.get(s.pk, []),
            turnout=turnout.get(s.pk, []),
            incidents=incidents.get(s.pk, []),
            progress=progress,
            updated=updated,
            colours=colours,
        )
    return pages
