"""Many contests' results in a fixed number of reads (`contests_results`).

A contest's figures come from the running tallies. Its stations are counted without reading a row
per station: each counted form is one counted station (a station has at most one counted form in a
contest and its repeat votes: an annulment uncounts the forms it annuls), and only the few stations
that are neither counted nor simply waiting are read one by one: the annulled, the held, and the
central counting units (which have no roll of their own in the tallies' registered voters). So the
results of every contest of a million-station election read in the time their contests take, which
is what the live results feed needs; the per-station truth (`selectors.station_statuses`) is the
oracle the tests hold this to. The outcome from the figures is `outcomes`; `headlines` reads less still.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, Sum

from tallyroom.elections.models import Candidate, Contest, PollingStation, Round
from tallyroom.results.models import Certification, FormState, ResultForm, TallyPreference
from tallyroom.results.outcomes import ListedCandidate, assembly_outcome, can_change, mayor_outcome, share
from tallyroom.results.tally_reads import LINKS, TOTALS, ballots_of, tallies_of, votes_of


@dataclass
class _Scope:
    """A contest's stations as far as its figures need them."""

    total: int = 0
    registered: int = 0
    central: set[int] = field(default_factory=set)  # central counting units in scope
    members: set[int] | None = None  # a repeat vote's stations (None: the whole municipality)


@dataclass
class _Reads:
    """Everything read for a set of contests, keyed by contest id."""

    family: dict[int, list[Contest]]  # the contest, then its repeat votes
    tallies: dict[int, dict[str, int]]
    votes: dict[int, list[tuple[str, str, str, int]]]  # (code, name, short name, votes)
    ballot: dict[int, dict[str, int]]  # entity code -> ballot position
    mayors: dict[int, dict[str, tuple[int, str]]]  # entity code -> (candidate id, name)
    stations: _Stations
    certified: dict[int, Certification]
    runoffs: dict[int, int]
    candidates: dict[int, list[ListedCandidate]]  # municipality -> its assembly candidates, in list order
    preferences: dict[int, dict[int, int]]  # contest -> candidate -> preference votes (family summed)


def contests_results(contest_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """`selectors.contest_results` of each contest, by contest id, in about fifteen reads in all."""
    ids = sorted(set(contest_ids))
    if not ids:
        return {}
    reads = _read(ids)
    return {pk: _assemble(pk, reads) for pk in ids}


def _family(ids: list[int]) -> tuple[dict[int, Contest], dict[int, list[Contest]], list[int]]:
    """The contests, each with its repeat votes after it, and all of their ids."""
    rows = Contest.objects.filter(pk__any=ids).select_related("round__election", "municipality")
    # The election's definition as loaded is a blob, and a join would repeat it on every contest's row.
    mains = {c.pk: c for c in rows.defer("round__election__definition_packed")}
    family: dict[int, list[Contest]] = {pk: [mains[pk]] for pk in ids}
    repeats = Contest.objects.filter(parent_id__any=ids, round__kind=Round.Kind.REPEAT).select_related("round")
    for rc in repeats:
        family[rc.parent_id or 0].append(rc)
    return mains, family, sorted({c.pk for fam in family.values() for c in fam})


def _read(ids: list[int]) -> _Reads:
    mains, family, all_ids = _family(ids)
    tallies, votes = tallies_of(all_ids), votes_of(all_ids)
    ballot, mayors = ballots_of({pk: c.kind for pk, c in mains.items()})
    stations = _Stations.read(mains, family, all_ids)
    certified: dict[int, Certification] = {}
    for cert in Certification.objects.filter(contest_id__any=ids, revoked_at__isnull=True):
        certified.setdefault(cert.contest_id, cert)
    runoffs: dict[int, int] = {}
    for parent, pk in Contest.objects.filter(parent_id__any=ids, round__kind=Round.Kind.RUNOFF).values_list(
        "parent_id", "pk"
    ):
        runoffs.setdefault(parent or 0, pk)
    candidates, preferences = _lists([c for c in mains.values() if c.kind == Contest.Kind.ASSEMBLY], family)
    return _Reads(family, tallies, votes, ballot, mayors, stations, certified, runoffs, candidates, preferences)


def _lists(
    assembly: list[Contest], family: dict[int, list[Contest]]
) -> tuple[dict[int, list[ListedCandidate]], dict[int, dict[int, int]]]:
    """The assembly candidates by municipality, and each contest's preference votes by candidate."""
    candidates: dict[int, list[ListedCandidate]] = defaultdict(list)
    preferences: dict[int, dict[int, int]] = defaultdict(dict)
    if not assembly:
        return candidates, preferences
    rows = Candidate.objects.filter(
        municipality_id__any={c.municipality_id for c in assembly}, office=Candidate.Office.ASSEMBLY
    ).values_list("municipality_id", "pk", "name", "gender", "position", "entity__code")
    for municipality_id, pk, name, gender, position, entity in rows:
        candidates[municipality_id].append(ListedCandidate(pk, name, gender, position, entity))
    of_family = {c.pk: a.pk for a in assembly for c in family[a.pk]}
    for cid, cand_id, n in TallyPreference.objects.filter(contest_id__any=sorted(of_family)).values_list(
        "contest_id", "candidate_id", "votes"
    ):
        prefs = preferences[of_family[cid]]
        prefs[cand_id] = prefs.get(cand_id, 0) + n
    return candidates, preferences


@dataclass
class _Stations:
    """Where the contests' stations stand, read in aggregate but for the few read one by one."""

    scopes: dict[int, _Scope]
    repeat_members: dict[int, set[int]]  # repeat vote -> its stations
    annulled: dict[int, dict[int, bool]]  # contest -> station -> a repeat vote is called
    held: dict[int, set[int]]  # contest -> stations with a quarantined form in its family
    counted_kind: dict[int, dict[int, str]]  # contest -> counted forms of the stations read one by one
    registered: dict[int, tuple[int, int, str]]  # station -> (municipality, registered, kind), those read

    @classmethod
    def read(cls, mains: dict[int, Contest], family: dict[int, list[Contest]], all_ids: list[int]) -> _Stations:
        repeat_ids = sorted({c.pk for fam in family.values() for c in fam if c.round.kind == Round.Kind.REPEAT})
        members: dict[int, set[int]] = defaultdict(set)
        for rc, station in LINKS.filter(annulment__repeat_contest_id__any=repeat_ids).values_list(
            "annulment__repeat_contest_id", "pollingstation_id"
        ):
            members[rc].add(station)
        annulled: dict[int, dict[int, bool]] = defaultdict(dict)
        for cid, station, repeat in LINKS.filter(annulment__contest_id__any=list(mains)).values_list(
            "annulment__contest_id", "pollingstation_id", "annulment__repeat_contest_id"
        ):
            annulled[cid][station] = annulled[cid].get(station, False) or repeat is not None
        held_by_contest: dict[int, set[int]] = defaultdict(set)
        held_forms = ResultForm.objects.filter(contest_id__any=all_ids, state=FormState.QUARANTINED)
        for cid, station in held_forms.values_list("contest_id", "station_id"):
            held_by_contest[cid].add(station)
        held = {pk: set().union(*(held_by_contest[c.pk] for c in fam)) for pk, fam in family.items()}
        repeat_mains = {pk for pk, c in mains.items() if c.round.kind == Round.Kind.REPEAT}
        municipalities = {c.municipality_id for pk, c in mains.items() if pk not in repeat_mains}
        one_by_one = set().union(*members.values(), *(a.keys() for a in annulled.values()), *held.values())
        registered: dict[int, tuple[int, int, str]] = {}
        central = Q(municipality_id__any=municipalities, kind=PollingStation.Kind.CENTRAL)
        for pk, muni, voters, kind in PollingStation.objects.filter(Q(pk__any=one_by_one) | central).values_list(
            "pk", "municipality_id", "registered_voters", "kind"
        ):
            registered[pk] = (muni, voters, kind)
        scopes = cls._scopes(mains, repeat_mains, members, registered, municipalities)
        special = set().union(one_by_one, *(s.central for s in scopes.values()))
        by_contest: dict[int, list[tuple[int, str]]] = defaultdict(list)
        counted = ResultForm.objects.filter(contest_id__any=all_ids, counted=True, station_id__any=special)
        for cid, station, kind in counted.order_by("contest_id", "station_id", "kind").values_list(
            "contest_id", "station_id", "kind"
        ):
            by_contest[cid].append((station, kind))
        counted_kind: dict[int, dict[int, str]] = defaultdict(dict)
        for pk, fam in family.items():
            for c in fam:
                for station, kind in by_contest[c.pk]:
                    counted_kind[pk][station] = kind
        return cls(scopes, members, annulled, held, counted_kind, registered)

    @staticmethod
    def _scopes(
        mains: dict[int, Contest],
        repeat_mains: set[int],
        members: dict[int, set[int]],
        registered: dict[int, tuple[int, int, str]],
        municipalities: set[int],
    ) -> dict[int, _Scope]:
        """A municipality's stations in aggregate; a repeat vote's, one by one (a handful)."""
        aggregates = {
            muni: (n, voters or 0)
            for muni, n, voters in PollingStation.objects.filter(municipality_id__any=municipalities)
            .values("municipality_id")
            .annotate(n=Count("pk"), voters=Sum("registered_voters"))
            .values_list("municipality_id", "n", "voters")
        }
        centrals: dict[int, set[int]] = defaultdict(set)
        for s, (muni, _, kind) in registered.items():
            if kind == PollingStation.Kind.CENTRAL:
                centrals[muni].add(s)
        scopes: dict[int, _Scope] = {}
        for pk, contest in mains.items():
            if pk in repeat_mains:
                stations = members.get(pk, set())
                scopes[pk] = _Scope(
                    len(stations),
                    sum(registered[s][1] for s in stations),
                    {s for s in stations if registered[s][2] == PollingStation.Kind.CENTRAL},
                    stations,
                )
            else:
                n, voters = aggregates.get(contest.municipality_id, (0, 0))
                scopes[pk] = _Scope(n, voters, centrals.get(contest.municipality_id, set()))
        return scopes


@dataclass(frozen=True)
class Figures:
    """A contest's totals and where its stations stand, as `contest_results` reports them."""

    totals: dict[str, int]
    stations: dict[str, int]
    outstanding_registered: int
    central_outstanding: int
    repeat_stations: dict[int, int]  # repeat vote -> its stations


def _figures(pk: int, reads: _Reads) -> Figures:
    fam = reads.family[pk]
    totals = dict.fromkeys(TOTALS, 0)
    for c in fam:
        row = reads.tallies.get(c.pk)
        for name in TOTALS:
            totals[name] += row[name] if row else 0
    st = reads.stations
    scope = st.scopes[pk]

    def in_scope(station: int) -> bool:
        if scope.members is not None:
            return station in scope.members
        return station in st.registered and st.registered[station][0] == fam[0].municipality_id

    counted = st.counted_kind[pk]
    annulled = {s: r for s, r in st.annulled[pk].items() if in_scope(s) and s not in counted}
    held = {s for s in st.held[pk] if in_scope(s) and s not in counted and s not in annulled}
    n_annulled = sum(1 for r in annulled.values() if not r)
    n_pending_repeat = len(annulled) - n_annulled
    stations = {
        "total": scope.total,
        "counted": totals["forms_counted"],
        "counted_official": totals["official_counted"],
        "quarantined": len(held),
        "annulled": n_annulled,
        "annulled_repeat_pending": n_pending_repeat,
        "pending": scope.total - totals["forms_counted"] - len(annulled) - len(held),
    }
    # Registered voters still to come: the scope's, less the counted stations' and the annulled ones'
    # (no repeat vote: they count for nothing). The tallies hold the counted stations' rolls but a
    # central unit's as none, so the central units are read one by one.
    central_counted = {s for s in scope.central if s in counted}
    counted_registered = totals["registered_counted"] + sum(st.registered[s][1] for s in central_counted)
    gone = sum(st.registered[s][1] for s, repeat in annulled.items() if not repeat)
    central_out = sum(1 for s in scope.central if s not in counted and not (s in annulled and not annulled[s]))
    repeat_stations = {c.pk: len(st.repeat_members.get(c.pk, ())) for c in fam[1:]}
    return Figures(
        totals={
            "valid": totals["valid"],
            "invalid": totals["invalid"],
            "blank": totals["blank"],
            "ballots_cast": totals["ballots_used"],
        },
        stations=stations,
        outstanding_registered=scope.registered - counted_registered - gone,
        central_outstanding=central_out,
        repeat_stations=repeat_stations,
    )


def _assemble(pk: int, reads: _Reads) -> dict[str, Any]:
    """One contest's results from what was read: the dict the API and the pages show."""
    contests = reads.family[pk]
    contest = contests[0]
    figures = _figures(pk, reads)
    votes = _entity_votes(pk, reads)
    valid = figures.totals["valid"]
    certification = reads.certified.get(pk)
    result: dict[str, Any] = {
        "contest": {
            "id": contest.pk,
            "kind": contest.kind,
            "round": contest.round.code,
            "round_kind": contest.round.kind,
            "seats": contest.seats,
            "municipality": contest.municipality.code,
        },
        "status": "certified" if certification else "preliminary",
        "certified_at": certification.certified_at.isoformat() if certification else None,
        "stations": figures.stations,
        "totals": figures.totals,
        "choices": [{**row, "share": share(row["votes"], valid)} for row in votes],
        "repeat_voting": [
            {"round": c.round.code, "date": c.round.date.isoformat(), "stations": figures.repeat_stations[c.pk]}
            for c in contests[1:]
        ],
        "outstanding": {
            "registered_voters": figures.outstanding_registered,
            "central_units": figures.central_outstanding,
            "bounded": figures.central_outstanding == 0,
        },
    }
    if contest.kind == Contest.Kind.ASSEMBLY:
        candidates = reads.candidates[contest.municipality_id]
        prefs = reads.preferences[pk]
        result["assembly"] = assembly_outcome(contest, votes, figures.outstanding_registered, candidates, prefs)
    else:
        result["mayor"] = mayor_outcome(contest, votes, figures.outstanding_registered, reads.runoffs.get(pk))
    result["can_change"] = can_change(result)
    return result


def _entity_votes(pk: int, reads: _Reads) -> list[dict[str, Any]]:
    """The contest's votes per entity, its repeat votes' added, in ballot order (a mayor's with the
    candidate's name)."""
    summed: dict[str, list[Any]] = {}
    for c in reads.family[pk]:
        for code, name, short, n in reads.votes.get(c.pk, ()):
            if code in summed:
                summed[code][1] += n
            else:
                summed[code] = [short or name, n]
    names = reads.mayors.get(pk, {})
    order = reads.ballot.get(pk, {})
    out = []
    for code, (entity_name, n) in summed.items():
        item: dict[str, Any] = {"entity": code, "entity_name": entity_name, "votes": n}
        if code in names:
            item["candidate_id"], item["candidate"] = names[code]
        out.append(item)
    out.sort(key=lambda r: (order.get(r["entity"], 10**6), r["entity"]))
    return out
