"""Reads for the public results pages: a whole page's worth of data at a time.

Each function answers in a constant number of queries whatever the number of stations;
`station_pages` gives every station page of a municipality at once (the snapshotter renders
thousands). A municipality's contests come from `contest_results`, exactly as the API gives them;
the overview recomputes the mayoral standings in bulk with the same rules functions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from tallyroom.audit.models import AuditEntry
from tallyroom.elections.models import (
    Contest,
    ContestCandidate,
    ContestEntity,
    Election,
    Municipality,
    PoliticalEntity,
    PollingStation,
    Round,
)
from tallyroom.elections.selectors import station_rows
from tallyroom.publish import standings as st
from tallyroom.publish.changes import PRIVATE
from tallyroom.publish.charts import colour_map
from tallyroom.publish.memo import contests_results, remembered
from tallyroom.publish.models import MunicipalityChange
from tallyroom.publish.slugs import station_slug
from tallyroom.publish.station_reads import StationPage, incidents_of, station_pages_build
from tallyroom.publish.turnout_reads import Activity, TurnoutDay, TurnoutPoint, activity, rounds_of, turnout_days
from tallyroom.results.models import ContestTally, TallyVote
from tallyroom.rules.mayor import decide_first_round, decide_runoff


def election_get(code: str) -> Election | None:
    """Read once per snapshot, not once per page (callers only read it)."""
    return remembered(
        ("election", code), lambda: Election.objects.defer("definition_packed").filter(code=code).first(), "rows"
    )


def last_updated(municipality_id: int | None = None) -> dt.datetime | None:
    """When the page's figures last changed: the municipality's latest public change as the publisher
    recorded it, else the latest public entry of the audit chain."""
    if municipality_id is not None:
        seen = MunicipalityChange.objects.filter(municipality_id=municipality_id).values_list("changed_at", flat=True)
        if (when := seen.first()) is not None:
            return when
    latest = AuditEntry.objects.exclude(object_type__in=PRIVATE).order_by("-seq").values_list("created_at", flat=True)
    return latest.first()


# --- choices and mayoral races ------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    entity: str
    name: str  # the entity's short name, else its name
    candidate: str  # a mayoral candidate's name; "" on assembly ballots
    votes: int
    share: Decimal | None
    seats: int | None = None
    unfilled: int = 0

    @property
    def label(self) -> str:
        return f"{self.candidate} ({self.name})" if self.candidate else self.name


def choices_of(data: dict[str, Any]) -> list[Choice]:
    """A contest's choices as the API gives them, largest first (ties in ballot order)."""
    seats = data.get("assembly", {}).get("seats", {})
    unfilled = data.get("assembly", {}).get("unfilled_seats", {})
    rows = [
        Choice(
            c["entity"],
            c["entity_name"],
            c.get("candidate", ""),
            c["votes"],
            Decimal(c["share"]) if c["share"] is not None else None,
            seats.get(c["entity"], 0) if "assembly" in data else None,
            unfilled.get(c["entity"], 0),
        )
        for c in data["choices"]
    ]
    return sorted(rows, key=lambda c: -c.votes)


@dataclass
class MayorRace:
    contest: st.ContestRef
    status: str  # the rules' answer: elected, runoff, tie, no-valid-votes; "" before any vote
    choices: list[Choice]
    leader: Choice | None
    elected: str | None
    finalists: list[str]
    progress: st.Progress
    certified_at: dt.datetime | None
    runoff: MayorRace | None = None

    @property
    def certified(self) -> bool:
        return self.certified_at is not None

    @property
    def state(self) -> str:
        """What the page says: elected (certified), leading, runoff, tie, or none (no votes yet)."""
        if self.leader is None or self.status == "no-valid-votes":
            return "none"
        if self.status == "elected":
            return "elected" if self.certified else "leading"
        return self.status


def _mayor_races(
    election: Election,
    contests: dict[int, st.ContestRef],
    counts: st.Counts,
    certified: dict[int, dt.datetime],
) -> dict[int, MayorRace]:
    """Every mayoral race of the election (first rounds and runoffs) by contest id, as `contest_results`
    would decide it, from one read of the running tallies."""
    main = st.main_of(contests)
    ids = [pk for pk, c in contests.items() if c.kind == Contest.Kind.MAYOR]
    entities = {
        pk: (code, short or name)
        for pk, code, short, name in PoliticalEntity.objects.filter(election=election).values_list(
            "pk", "code", "short_name", "name"
        )
    }
    votes: dict[int, dict[str, int]] = defaultdict(dict)
    for contest_id, entity_id, n in TallyVote.objects.filter(contest_id__in=ids).values_list(
        "contest_id", "entity_id", "votes"
    ):
        code = entities[entity_id][0]
        by_entity = votes[main[contest_id]]
        by_entity[code] = by_entity.get(code, 0) + n
    valid: dict[int, int] = defaultdict(int)
    for contest_id, n in ContestTally.objects.filter(contest_id__in=ids).values_list("contest_id", "valid"):
        valid[main[contest_id]] += n
    names: dict[int, dict[str, tuple[int, str]]] = defaultdict(dict)
    for contest_id, name, entity_id, position in ContestCandidate.objects.filter(contest_id__in=ids).values_list(
        "contest_id", "candidate__name", "candidate__entity_id", "ballot_position"
    ):
        names[contest_id][entities[entity_id][0]] = (position, name)
    short = dict(entities.values())
    races: dict[int, MayorRace] = {}
    for pk in ids:
        if main[pk] != pk:
            continue
        c = contests[pk]
        by_entity = votes.get(pk, {})
        ballot = names.get(pk, {})
        order = sorted(by_entity, key=lambda code: ballot.get(code, (10**6, ""))[0])
        by_entity = {code: by_entity[code] for code in order}
        rows = [
            Choice(code, short[code], ballot.get(code, (0, code))[1], n, st.percent(n, valid[pk]))
            for code, n in by_entity.items()
        ]
        race = MayorRace(c, "", sorted(rows, key=lambda r: -r.votes), None, None, [], st.Progress(), None)
        race.progress = st.contest_progress_of(c, counts, certified)
        race.certified_at = certified.get(pk)
        if by_entity:
            candidate = {r.entity: r.candidate for r in rows}
            if c.round.kind == Round.Kind.RUNOFF:
                runoff = decide_runoff(by_entity)
                race.status, leader = str(runoff.status), runoff.standings[0]
                race.elected = candidate[runoff.elected] if runoff.elected else None
            else:
                first = decide_first_round(by_entity)
                race.status, leader = str(first.status), first.standings[0]
                race.elected = candidate[first.elected] if first.elected else None
                race.finalists = [candidate[f] for f in first.finalists]
            race.leader = next(r for r in rows if r.entity == leader)
        races[pk] = race
    for race in races.values():
        parent = race.contest.parent_id
        if race.contest.round.kind == Round.Kind.RUNOFF and parent in races:
            races[parent].runoff = race
    return races


# --- the election overview ----------------------------------------------------------------------


@dataclass
class MunicipalityLine:
    code: str
    name: str
    area: str
    stations: int
    registered: int
    mayor: MayorRace | None
    turnout: TurnoutPoint | None  # the first round's latest
    repeat_rounds: list[st.RoundInfo]


@dataclass
class ElectionOverview:
    election: Election
    progress: list[tuple[st.RoundInfo, st.Progress]]
    turnout: list[TurnoutDay]
    activity: list[Activity]
    municipalities: list[MunicipalityLine]
    stations: int
    registered: int
    updated: dt.datetime | None

    @property
    def runoffs_called(self) -> int:
        return sum(1 for m in self.municipalities if m.mayor and m.mayor.runoff is not None)


@dataclass
class _Election:
    """What the election's pages share: its contests and where every station stands in them."""

    contests: dict[int, st.ContestRef]
    stations: dict[int, list[int]]  # municipality id -> station ids
    table: dict[int, dict[int, st.Standing]]
    certified: dict[int, dt.datetime]
    decisions: list[st.Decision]


def _election_load(election: Election, municipality_id: int | None = None) -> _Election:
    """The standings of a municipality's (else the election's) stations; read once per snapshot."""
    key = ("election_load", election.pk, municipality_id)
    return remembered(key, lambda: _election_read(election, municipality_id))


def _election_read(election: Election, municipality_id: int | None) -> _Election:
    where: dict[str, Any] = {"municipality_id": municipality_id} if municipality_id else {"round__election": election}
    contests = st.contests_load(**where)
    stations: dict[int, list[int]] = defaultdict(list)
    scope = PollingStation.objects.filter(**({"municipality_id": municipality_id} if municipality_id else {}))
    for pk, muni in scope.filter(election=election).order_by("code").values_list("pk", "municipality_id"):
        stations[muni].append(pk)
    decisions = st.decisions_load(contests)
    certified = st.certified_load(contests)
    table = st.standings(contests, stations, st.forms_load(contests), decisions)
    return _Election(contests, stations, table, certified, decisions)


@dataclass
class _Counted:
    """What the election-wide pages need: counts, never a row per station."""

    contests: dict[int, st.ContestRef]
    counts: st.Counts
    certified: dict[int, dt.datetime]


def _counted_load(election: Election) -> _Counted:
    """Read once per snapshot: the home page and the election page ask for it in every language, and at
    a million stations each read takes seconds."""
    return remembered(("counted", election.pk), lambda: _counted_read(election), shelf="counts")


def _counted_read(election: Election) -> _Counted:
    contests = st.contests_load(round__election=election)
    return _Counted(contests, st.counts_load(election, contests), st.certified_load(contests))


def election_progress(election: Election) -> list[tuple[st.RoundInfo, st.Progress]]:
    loaded = _counted_load(election)
    return st.progress_of(loaded.contests, loaded.counts, loaded.certified)


def election_overview(election: Election) -> ElectionOverview:
    loaded = _counted_load(election)
    rounds = rounds_of(election)
    races = _mayor_races(election, loaded.contests, loaded.counts, loaded.certified)
    first_round = {
        c.municipality_id: races[pk]
        for pk, c in loaded.contests.items()
        if pk in races and c.round.kind == Round.Kind.FIRST
    }
    repeats: dict[int, set[st.RoundInfo]] = defaultdict(set)
    for c in loaded.contests.values():
        if c.is_repeat:
            repeats[c.municipality_id].add(c.round)
    turnout = turnout_days(rounds, election=election)
    stations = PollingStation.objects.filter(election=election)
    registered: dict[int, int] = dict(
        stations.values("municipality_id").annotate(n=Sum("registered_voters")).values_list("municipality_id", "n")
    )
    lines = []
    for m in Municipality.objects.filter(election=election).order_by("code"):
        days = [d for d in turnout.get(m.pk, []) if d.round.kind == Round.Kind.FIRST]
        lines.append(
            MunicipalityLine(
                code=m.code,
                name=m.name,
                area=m.area,
                stations=loaded.counts.stations.get(m.pk, 0),
                registered=registered.get(m.pk, 0),
                mayor=first_round.get(m.pk),
                turnout=days[0].latest if days else None,
                repeat_rounds=sorted(repeats.get(m.pk, set()), key=lambda r: r.date),
            )
        )
    physical = stations.exclude(kind=PollingStation.Kind.CENTRAL).count()
    return ElectionOverview(
        election=election,
        progress=st.progress_of(loaded.contests, loaded.counts, loaded.certified),
        turnout=turnout.get(None, []),
        activity=activity(rounds, physical, election=election),
        municipalities=lines,
        stations=sum(loaded.counts.stations.values()),
        registered=sum(registered.values()),
        updated=last_updated(),
    )


# --- the municipality page ----------------------------------------------------------------------


@dataclass
class ContestResult:
    contest: st.ContestRef
    data: dict[str, Any]  # contest_results(contest): what the API answers for it
    choices: list[Choice]
    progress: st.Progress
    certified_at: dt.datetime | None
    runoff_round: st.RoundInfo | None = None  # a first round that goes to a runoff: when

    @property
    def elected(self) -> list[dict[str, Any]]:
        names = {c.entity: c.name for c in self.choices}
        rows = self.data.get("assembly", {}).get("elected", [])
        order = {c.entity: n for n, c in enumerate(self.choices)}
        rows = sorted(rows, key=lambda e: (order.get(e["entity"], 10**6), -e["preference_votes"], e["position"]))
        return [{**e, "entity_name": names.get(e["entity"], e["entity"])} for e in rows]


@dataclass
class StationLine:
    id: int
    code: str
    slug: str
    centre: str
    centre_name: str
    kind: str
    registered: int
    cells: list[st.Standing]  # one per contest column


@dataclass
class MunicipalityPage:
    election: Election
    municipality: Municipality
    contests: list[ContestResult]
    columns: list[st.ContestRef]
    stations: list[StationLine]
    turnout: list[TurnoutDay]
    activity: list[Activity]
    incidents: list[Any]
    decisions: list[tuple[st.Decision, st.ContestRef, list[str]]]
    repeat_voting: list[tuple[st.RoundInfo, int]]
    progress: list[tuple[st.RoundInfo, st.Progress]]
    updated: dt.datetime | None
    colours: dict[str, str]


def entity_colours(municipality: Municipality) -> dict[str, str]:
    """The colours of every entity standing in the municipality, distinct from each other."""
    codes = set(ContestEntity.objects.filter(contest__municipality=municipality).values_list("entity__code", flat=True))
    codes |= set(
        ContestCandidate.objects.filter(contest__municipality=municipality).values_list(
            "candidate__entity__code", flat=True
        )
    )
    return colour_map(codes)


def _page_order(c: st.ContestRef) -> tuple[dt.date, int]:
    return c.round.date, 0 if c.kind == Contest.Kind.MAYOR else 1


def municipality_get(election: Election, code: str) -> Municipality | None:
    """Read once for a municipality's pages in every language of a snapshot (callers only read it)."""
    return remembered(
        ("municipality", election.pk, code),
        lambda: Municipality.objects.filter(election=election, code=code).first(),
        "rows",
    )


def municipality_page(election: Election, municipality: Municipality) -> MunicipalityPage:
    """The page's content; the language only enters when it is rendered, so a snapshot builds it once
    for its three languages."""
    return remembered(("page", municipality.pk), lambda: _municipality_page(election, municipality), shelf="pages")


def _municipality_page(election: Election, municipality: Municipality) -> MunicipalityPage:
    loaded = _election_load(election, municipality.pk)
    rounds = rounds_of(election)
    columns = sorted((c for c in loaded.contests.values() if not c.is_repeat), key=_page_order)
    runoff_rounds = {c.parent_id: c.round for c in columns if c.round.kind == Round.Kind.RUNOFF}
    fallback_runoff = next((r for r in rounds.values() if r.kind == Round.Kind.RUNOFF), None)
    results = []
    read = contests_results(c.id for c in columns)
    for c in columns:
        data = read[c.id]
        result = ContestResult(
            c, data, choices_of(data), st.contest_progress(c.id, loaded.table, loaded.certified), None
        )
        result.certified_at = loaded.certified.get(c.id)
        if data.get("mayor", {}).get("status") == "runoff" or data.get("mayor", {}).get("runoff_contest"):
            result.runoff_round = runoff_rounds.get(c.id, fallback_runoff)
        results.append(result)
    codes: dict[int, str] = {}
    lines = []
    tables = [loaded.table[c.id] for c in columns]
    for pk, code, kind, registered, centre, centre_name in station_rows(
        municipality.pk, "pk", "code", "kind", "registered_voters"
    ):
        codes[pk] = code
        cells = [table.get(pk) or st.Standing() for table in tables]
        lines.append(StationLine(pk, code, station_slug(code), centre, centre_name, kind, registered, cells))
    decisions = [
        (d, loaded.contests[d.contest_id], sorted(codes[sid] for sid in d.station_ids if sid in codes))
        for d in loaded.decisions
    ]
    repeat_counts: dict[st.RoundInfo, set[int]] = defaultdict(set)
    for d in loaded.decisions:
        if d.repeat_round is not None:
            repeat_counts[d.repeat_round].update(d.station_ids)
    physical = sum(1 for line in lines if line.kind != PollingStation.Kind.CENTRAL)
    return MunicipalityPage(
        election=election,
        municipality=municipality,
        contests=results,
        columns=columns,
        stations=lines,
        turnout=turnout_days(rounds, municipality=municipality).get(municipality.pk, []),
        activity=activity(rounds, physical, municipality=municipality),
        incidents=incidents_of(election, codes, municipality_id=municipality.pk),
        decisions=sorted(decisions, key=lambda item: (item[0].decided_at, item[0].id)),
        repeat_voting=sorted(((r, len(s)) for r, s in repeat_counts.items()), key=lambda i: i[0].date),
        progress=st.progress_by_round(loaded.contests, loaded.table, loaded.certified),
        updated=last_updated(municipality.pk),
        colours=entity_colours(municipality),
    )


# --- station pages ------------------------------------------------------------------------------


def station_pages(
    election: Election, municipality: Municipality, station_ids: Collection[int] | None = None
) -> dict[int, StationPage]:
    """Every station page of a municipality (or those of `station_ids`), by station id, in a constant
    number of queries. Where the others stand is read anyway: the pages say how many are counted.
    Like the municipality's page, built once for the three languages in a snapshot."""
    key = ("stations", municipality.pk, None if station_ids is None else frozenset(station_ids))
    return remembered(key, lambda: _station_pages(election, municipality, station_ids), shelf="station pages")


def _station_pages(
    election: Election, municipality: Municipality, station_ids: Collection[int] | None
) -> dict[int, StationPage]:
    loaded = _election_load(election, municipality.pk)
    return station_pages_build(
        election,
        municipality,
        loaded.contests,
        loaded.table,
        loaded.certified,
        st.progress_by_round(loaded.contests, loaded.table, loaded.certified),
        last_updated(municipality.pk),
        entity_colours(municipality),
        station_ids,
    )


def station_get(election: Election, code: str) -> PollingStation | None:
    return PollingStation.objects.select_related("municipality").filter(election=election, code=code).first()


def station_page(election: Election, station: PollingStation) -> StationPage:
    return station_pages(election, station.municipality, [station.pk])[station.pk]


# --- the home page ------------------------------------------------------------------------------


@dataclass
class ElectionLink:
    code: str
    name: str
    municipalities: int
    progress: list[tuple[st.RoundInfo, st.Progress]]


@dataclass
class HomePage:
    elections: list[ElectionLink]
    timezone: str
    updated: dt.datetime | None


def home_page() -> HomePage:
    elections = list(Election.objects.defer("definition_packed").annotate(n=Count("municipalities")).order_by("code"))
    links = [ElectionLink(e.code, e.name, e.n, election_progress(e)) for e in elections]
    return HomePage(links, elections[0].timezone if elections else "UTC", last_updated())
