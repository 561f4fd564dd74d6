"""Many contests' results in a fixed number of reads (`contests_results`).

A contest's figures come from the running tallies. Its stations are counted without reading a row
per station: each counted form is one counted station (a station has at most one counted form in a
contest and its repeat votes: an annulment uncounts the forms it annuls), and only the few stations
that are neither counted nor simply waiting are read one by one: the annulled, the held, and the
central counting units (which have no roll of their own in the tallies' registered voters). So the
results of every contest of a million-station election read in the time their contests take, which
is what the live results feed needs; the per-station truth (`selectors.station_statuses`) is the
oracle the tests hold this to.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, NamedTuple

from django.db.models import Count, Q, Sum

from tallyroom.elections.models import (
    Candidate,
    Contest,
    ContestCandidate,
    ContestEntity,
    Election,
    PollingStation,
    Round,
)
from tallyroom.results.models import (
    Annulment,
    Certification,
    ContestTally,
    FormState,
    ResultForm,
    TallyPreference,
    TallyVote,
)
from tallyroom.rules.assembly import AssemblyRules, elect_assembly
from tallyroom.rules.errors import AllocationError, RulesErrorCode
from tallyroom.rules.mayor import decide_first_round, decide_runoff
from tallyroom.rules.openlist import Gender, GenderRule, ListCandidate
from tallyroom.rules.outcome import assembly_outlook, mayor_outlook, runoff_outlook
from tallyroom.rules.seats import allocate

_TOTALS = ("forms_counted", "official_counted", "registered_counted", "ballots_used", "invalid", "blank", "valid")
_LINKS = Annulment.stations.through.objects


@dataclass
class _Scope:
    """A contest's stations as far as its figures need them."""

    total: int = 0
    registered: int = 0
    central: set[int] = field(default_factory=set)  # central counting units in scope
    members: set[int] | None = None  # a repeat vote's stations (None: the whole municipality)


class _Candidate(NamedTuple):
    """An assembly candidate as the results need one (a tuple: a national election has 170,000)."""

    pk: int
    name: str
    gender: str
    position: int
    entity: str  # the entity's code


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
    candidates: dict[int, list[_Candidate]]  # municipality -> its assembly candidates, in list order
    preferences: dict[int, dict[int, int]]  # contest -> candidate -> preference votes (family summed)


def contests_results(contest_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """`selectors.contest_results` of each contest, by contest id, in about fifteen reads in all."""
    ids = sorted(set(contest_ids))
    if not ids:
        return {}
    reads = _read(ids)
    return {pk: _assemble(pk, reads) for pk in ids}


class _Light(NamedTuple):
    """A contest as its headline needs it (a tuple: model instances of thousands cost a tenth of a second)."""

    pk: int
    kind: str
    seats: int
    municipality_id: int
    round_code: str
    round_kind: str
    election_id: int


def contests_headlines(
    contest_ids: Iterable[int], station_counts: Mapping[int, int] | None = None
) -> dict[int, dict[str, Any]]:
    """What an overview shows of each contest, as `headline_of(contests_results(...)[pk])` gives it:
    the status, the stations counted of all, the votes per entity, the seats or the mayor's decision.
    Without the outlook, the elected members and the exceptional stations, it is a few reads and an
    allocation per contest: the live feed's index at national scale. `station_counts` (stations per
    municipality), if the caller keeps them: they change only when an election is loaded."""
    ids = sorted(set(contest_ids))
    if not ids:
        return {}
    fields = ("pk", "kind", "seats", "municipality_id", "round__code", "round__kind", "round__election_id")
    mains = {row[0]: _Light(*row) for row in Contest.objects.filter(pk__any=ids).values_list(*fields)}
    family: dict[int, list[int]] = {pk: [pk] for pk in ids}
    for pk, parent in Contest.objects.filter(parent_id__any=ids, round__kind=Round.Kind.REPEAT).values_list(
        "pk", "parent_id"
    ):
        family[parent or 0].append(pk)
    all_ids = sorted({c for fam in family.values() for c in fam})
    tallies, votes = _tallies(all_ids), _votes(all_ids)
    _, mayors = _ballots({pk: c.kind for pk, c in mains.items()})
    certified = set(
        Certification.objects.filter(contest_id__any=ids, revoked_at__isnull=True).values_list("contest_id", flat=True)
    )
    scopes = {pk: (c.municipality_id, c.round_kind == Round.Kind.REPEAT) for pk, c in mains.items()}
    totals = _scope_totals(scopes, station_counts)
    rules = {
        pk: _rules(settings)
        for pk, settings in Election.objects.filter(pk__any={c.election_id for c in mains.values()}).values_list(
            "pk", "settings"
        )
    }
    lengths: dict[int, Counter[str]] = defaultdict(Counter)
    for municipality_id, code, n in (
        Candidate.objects.filter(
            municipality_id__any={c.municipality_id for c in mains.values() if c.kind == Contest.Kind.ASSEMBLY},
            office=Candidate.Office.ASSEMBLY,
        )
        .values("municipality_id", "entity__code")
        .annotate(n=Count("pk"))
        .values_list("municipality_id", "entity__code", "n")
    ):
        lengths[municipality_id][code] = n
    out: dict[int, dict[str, Any]] = {}
    for pk in ids:
        c = mains[pk]
        by_entity: dict[str, int] = {}
        for member in family[pk]:
            for code, _, _, n in votes.get(member, ()):
                by_entity[code] = by_entity.get(code, 0) + n
        headline = {
            "contest": pk,
            "kind": c.kind,
            "round": c.round_code,
            "status": "certified" if pk in certified else "preliminary",
            "stations": {
                "counted": sum(tallies.get(member, {}).get("forms_counted", 0) for member in family[pk]),
                "total": totals[pk],
            },
            "votes": by_entity,
        }
        if c.kind == Contest.Kind.ASSEMBLY:
            headline["seats"] = _seats(c.seats, rules[c.election_id], by_entity, lengths[c.municipality_id])
        else:
            names = {code: name for code, (_, name) in mayors.get(pk, {}).items()}
            headline["mayor"] = _mayor_decision(c.round_kind == Round.Kind.RUNOFF, by_entity, names)
        out[pk] = headline
    return out


def headline_of(result: dict[str, Any]) -> dict[str, Any]:
    """A contest's headline (`contests_headlines`) read off its full results (`contests_results`)."""
    out: dict[str, Any] = {
        "contest": result["contest"]["id"],
        "kind": result["contest"]["kind"],
        "round": result["contest"]["round"],
        "status": result["status"],
        "stations": {k: result["stations"][k] for k in ("counted", "total")},
        "votes": {c["entity"]: c["votes"] for c in result["choices"]},
    }
    if "assembly" in result:
        out["seats"] = result["assembly"]["seats"]
    else:
        out["mayor"] = {"status": result["mayor"].get("status"), "elected": result["mayor"].get("elected")}
    return out


def _seats(seats: int, rules: AssemblyRules, entity_votes: dict[str, int], lengths: Counter[str]) -> dict[str, int]:
    """The seats as `elect_assembly` allocates them (capped at the lists' lengths unless the lists
    are too short for the seats)."""
    if sum(entity_votes.values()) == 0:
        return {}
    caps = {code: lengths[code] for code in entity_votes} if rules.cap_at_list_length else None
    try:
        allocation = allocate(
            entity_votes,
            seats,
            rules.method,
            rules.threshold,
            threshold_inclusive=rules.threshold_inclusive,
            max_seats=caps,
        )
    except AllocationError as exc:
        if exc.code is not RulesErrorCode.INSUFFICIENT_CAPACITY:
            raise
        allocation = allocate(
            entity_votes, seats, rules.method, rules.threshold, threshold_inclusive=rules.threshold_inclusive
        )
    return dict(allocation.seats)


def _mayor_decision(runoff: bool, by_entity: dict[str, int], names: dict[str, str]) -> dict[str, Any]:
    if not by_entity:
        return {"status": None, "elected": None}
    decided = decide_runoff(by_entity) if runoff else decide_first_round(by_entity)
    return {
        "status": str(decided.status),
        "elected": names.get(decided.elected, decided.elected) if decided.elected else None,
    }


def station_counts(municipality_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Stations per municipality (all of them, or these)."""
    rows = PollingStation.objects.all()
    if municipality_ids is not None:
        rows = rows.filter(municipality_id__any=list(municipality_ids))
    return dict(rows.values("municipality_id").annotate(n=Count("pk")).values_list("municipality_id", "n"))


def _scope_totals(contests: dict[int, tuple[int, bool]], counts: Mapping[int, int] | None) -> dict[int, int]:
    """Each contest's stations (contest -> (municipality, a repeat vote)): its municipality's, or a
    repeat vote's own."""
    repeat = [pk for pk, (_, is_repeat) in contests.items() if is_repeat]
    members: dict[int, set[int]] = defaultdict(set)
    for rc, station in _LINKS.filter(annulment__repeat_contest_id__any=repeat).values_list(
        "annulment__repeat_contest_id", "pollingstation_id"
    ):
        members[rc].add(station)
    if counts is None:
        counts = station_counts({muni for pk, (muni, _) in contests.items() if pk not in repeat})
    return {pk: len(members[pk]) if pk in repeat else counts.get(muni, 0) for pk, (muni, _) in contests.items()}


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


def _tallies(all_ids: list[int]) -> dict[int, dict[str, int]]:
    return {
        cid: dict(zip(_TOTALS, row, strict=True))
        for cid, *row in ContestTally.objects.filter(contest_id__any=all_ids).values_list("contest_id", *_TOTALS)
    }


def _votes(all_ids: list[int]) -> dict[int, list[tuple[str, str, str, int]]]:
    votes: dict[int, list[tuple[str, str, str, int]]] = defaultdict(list)
    vote_rows = TallyVote.objects.filter(contest_id__any=all_ids).order_by("contest_id", "entity_id")
    for cid, code, name, short, n in vote_rows.values_list(
        "contest_id", "entity__code", "entity__name", "entity__short_name", "votes"
    ):
        votes[cid].append((code, name, short, n))
    return votes


def _read(ids: list[int]) -> _Reads:
    mains, family, all_ids = _family(ids)
    tallies, votes = _tallies(all_ids), _votes(all_ids)
    ballot, mayors = _ballots({pk: c.kind for pk, c in mains.items()})
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


def _ballots(kinds: dict[int, str]) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, tuple[int, str]]]]:
    """Each contest's ballot order by entity code, and a mayor contest's candidates by entity code."""
    ballot: dict[int, dict[str, int]] = defaultdict(dict)
    mayors: dict[int, dict[str, tuple[int, str]]] = defaultdict(dict)
    mayor_ids = [pk for pk, kind in kinds.items() if kind == Contest.Kind.MAYOR]
    assembly_ids = [pk for pk, kind in kinds.items() if kind == Contest.Kind.ASSEMBLY]
    for cid, cand, name, code, position in ContestCandidate.objects.filter(contest_id__any=mayor_ids).values_list(
        "contest_id", "candidate_id", "candidate__name", "candidate__entity__code", "ballot_position"
    ):
        mayors[cid][code], ballot[cid][code] = (cand, name), position
    for cid, code, position in ContestEntity.objects.filter(contest_id__any=assembly_ids).values_list(
        "contest_id", "entity__code", "ballot_position"
    ):
        ballot[cid][code] = position
    return ballot, mayors


def _lists(
    assembly: list[Contest], family: dict[int, list[Contest]]
) -> tuple[dict[int, list[_Candidate]], dict[int, dict[int, int]]]:
    """The assembly candidates by municipality, and each contest's preference votes by candidate."""
    candidates: dict[int, list[_Candidate]] = defaultdict(list)
    preferences: dict[int, dict[int, int]] = defaultdict(dict)
    if not assembly:
        return candidates, preferences
    rows = Candidate.objects.filter(
        municipality_id__any={c.municipality_id for c in assembly}, office=Candidate.Office.ASSEMBLY
    ).values_list("municipality_id", "pk", "name", "gender", "position", "entity__code")
    for municipality_id, pk, name, gender, position, entity in rows:
        candidates[municipality_id].append(_Candidate(pk, name, gender, position, entity))
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
        for rc, station in _LINKS.filter(annulment__repeat_contest_id__any=repeat_ids).values_list(
            "annulment__repeat_contest_id", "pollingstation_id"
        ):
            members[rc].add(station)
        annulled: dict[int, dict[int, bool]] = defaultdict(dict)
        for cid, station, repeat in _LINKS.filter(annulment__contest_id__any=list(mains)).values_list(
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
    totals = dict.fromkeys(_TOTALS, 0)
    for c in fam:
        row = reads.tallies.get(c.pk)
        for name in _TOTALS:
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
        "choices": [{**row, "share": _share(row["votes"], valid)} for row in votes],
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
        result["assembly"] = _assembly(contest, votes, figures.outstanding_registered, candidates, prefs)
    else:
        result["mayor"] = _mayor(contest, votes, figures.outstanding_registered, reads.runoffs.get(pk))
    result["can_change"] = _can_change(result)
    return result


def _share(part: int, whole: int) -> str | None:
    """Percentage with two decimals, rounded half up in exact integers (no float drift)."""
    if whole == 0:
        return None
    hundredths = (part * 20000 + whole) // (2 * whole)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


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


def assembly_rules(contest: Contest) -> AssemblyRules:
    return _rules(contest.round.election.settings)


def _rules(settings: dict[str, Any]) -> AssemblyRules:
    """The assembly rules an election's settings give."""
    return AssemblyRules.of(
        settings.get("assembly_method", "sainte-lague"),
        Fraction(str(settings.get("assembly_threshold", 0))),
        gender=GenderRule.of(Fraction(str(settings.get("gender_quota", 0.3)))),
    )


def _assembly(
    contest: Contest,
    votes: list[dict[str, Any]],
    outstanding: int,
    municipality_candidates: list[_Candidate],
    prefs: dict[int, int],
) -> dict[str, Any]:
    entity_votes = {row["entity"]: row["votes"] for row in votes}
    candidates = [c for c in municipality_candidates if c.entity in entity_votes]
    lists: dict[str, list[ListCandidate]] = {}
    preferences: dict[str, dict[str, int]] = {}
    by_id = {str(c.pk): c for c in candidates}
    for c in candidates:
        gender = Gender.FEMALE if c.gender == "F" else Gender.MALE
        lists.setdefault(c.entity, []).append(ListCandidate(str(c.pk), c.position, gender))
        preferences.setdefault(c.entity, {})[str(c.pk)] = prefs.get(c.pk, 0)
    rules = assembly_rules(contest)
    out: dict[str, Any] = {"method": str(rules.method), "seats": {}, "elected": [], "tie": None}
    if sum(entity_votes.values()) == 0:
        return out
    try:
        outcome = elect_assembly(entity_votes, contest.seats, lists, preferences, rules=rules)
    except AllocationError as exc:
        if exc.code is not RulesErrorCode.INSUFFICIENT_CAPACITY:
            raise
        # The lists hold fewer candidates than the seats the votes give: allocate by votes and
        # report the seats no candidate can fill (the law leaves them vacant).
        rules = dataclasses.replace(rules, cap_at_list_length=False)
        outcome = elect_assembly(entity_votes, contest.seats, lists, preferences, rules=rules)
    allocation = outcome.allocation
    out["seats"] = dict(allocation.seats)
    if allocation.tie is not None:
        out["tie"] = {"entities": list(allocation.tie.entities), "seats": allocation.tie.seats_in_contention}
    for code, listed in outcome.lists.items():
        replaced_in = {r.added for r in listed.replacements}
        replaced_out = {r.removed for r in listed.replacements}
        for cid in listed.elected:
            cand = by_id[cid]
            out["elected"].append(
                {
                    "candidate_id": cand.pk,
                    "name": cand.name,
                    "gender": cand.gender,
                    "entity": code,
                    "position": cand.position,
                    "preference_votes": listed.preference_votes.get(cid, 0),
                    "gender_correction": cid in replaced_in,
                }
            )
        if listed.unfilled_seats:
            out.setdefault("unfilled_seats", {})[code] = listed.unfilled_seats
        for cid in replaced_out:
            cand = by_id[cid]
            out.setdefault("replaced_by_gender_correction", []).append(
                {"candidate_id": cand.pk, "name": cand.name, "entity": code}
            )
    outlook = assembly_outlook(entity_votes, contest.seats, outstanding, rules.method, rules.threshold)
    out["outlook"] = {
        code: {"min_seats": b.min_seats, "max_seats": b.max_seats, "certain": b.certain}
        for code, b in outlook.bounds.items()
    }
    out["decided"] = outlook.decided
    return out


def _mayor(contest: Contest, votes: list[dict[str, Any]], outstanding: int, runoff: int | None) -> dict[str, Any]:
    by_entity = {row["entity"]: row["votes"] for row in votes}
    names = {row["entity"]: row.get("candidate", row["entity"]) for row in votes}
    out: dict[str, Any] = {}
    if not by_entity:
        return out
    if contest.round.kind == Round.Kind.RUNOFF:
        decided = decide_runoff(by_entity)
        out["status"] = str(decided.status)
        out["elected"] = names.get(decided.elected) if decided.elected else None
        settled = runoff_outlook(by_entity, outstanding)
        out["outlook"] = {"winner_certain": names[settled.leader] if settled.leader_certain else None}
        return out
    first = decide_first_round(by_entity)
    out["status"] = str(first.status)
    out["majority_threshold"] = first.majority_threshold
    out["elected"] = names.get(first.elected) if first.elected else None
    out["finalists"] = [names[f] for f in first.finalists]
    out["tie"] = (
        {"candidates": [names[c] for c in first.tie.candidates], "decides": first.tie.decides} if first.tie else None
    )
    look = mayor_outlook(by_entity, outstanding)
    out["outlook"] = {
        "winner_certain": names[look.winner_certain] if look.winner_certain else None,
        "runoff_certain": look.runoff_certain,
        "runoff_possible": look.runoff_possible,
        "certain_finalists": [names[c] for c in look.certain_finalists],
        "out_of_runoff": [names[c] for c in look.out_of_runoff],
    }
    out["runoff_contest"] = runoff
    return out


def _can_change(result: dict[str, Any]) -> bool:
    if not result["outstanding"]["bounded"]:
        return True
    if result["outstanding"]["registered_voters"] == 0:
        return False
    if "assembly" in result:
        return not result["assembly"].get("decided", False)
    look = result["mayor"].get("outlook", {})
    if result["contest"]["round_kind"] == Round.Kind.RUNOFF:
        return look.get("winner_certain") is None
    return look.get("winner_certain") is None and not look.get("runoff_certain", False)
