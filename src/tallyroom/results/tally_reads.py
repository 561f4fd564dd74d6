"""The raw reads that a contest's results and its headline share: running totals, votes, ballot
order, stations in scope, the assembly rules. Each reads many contests at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from django.db.models import Count

from tallyroom.elections.models import Contest, ContestCandidate, ContestEntity, PollingStation
from tallyroom.results.models import Annulment, ContestTally, TallyVote
from tallyroom.rules.assembly import AssemblyRules
from tallyroom.rules.openlist import GenderRule

TOTALS = ("forms_counted", "official_counted", "registered_counted", "ballots_used", "invalid", "blank", "valid")
LINKS = Annulment.stations.through.objects


def tallies_of(all_ids: list[int]) -> dict[int, dict[str, int]]:
    return {
        cid: dict(zip(TOTALS, row, strict=True))
        for cid, *row in ContestTally.objects.filter(contest_id__any=all_ids).values_list("contest_id", *TOTALS)
    }


def votes_of(all_ids: list[int]) -> dict[int, list[tuple[str, str, str, int]]]:
    votes: dict[int, list[tuple[str, str, str, int]]] = defaultdict(list)
    vote_rows = TallyVote.objects.filter(contest_id__any=all_ids).order_by("contest_id", "entity_id")
    for cid, code, name, short, n in vote_rows.values_list(
        "contest_id", "entity__code", "entity__name", "entity__short_name", "votes"
    ):
        votes[cid].append((code, name, short, n))
    return votes


def ballots_of(kinds: dict[int, str]) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, tuple[int, str]]]]:
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


def station_counts(municipality_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Stations per municipality (all of them, or these)."""
    rows = PollingStation.objects.all()
    if municipality_ids is not None:
        rows = rows.filter(municipality_id__any=list(municipality_ids))
    return dict(rows.values("municipality_id").annotate(n=Count("pk")).values_list("municipality_id", "n"))


def scope_totals(contests: dict[int, tuple[int, bool]], counts: Mapping[int, int] | None) -> dict[int, int]:
    """Each contest's stations (contest -> (municipality, a repeat vote)): its municipality's, or a
    repeat vote's own."""
    repeat = [pk for pk, (_, is_repeat) in contests.items() if is_repeat]
    members: dict[int, set[int]] = defaultdict(set)
    for rc, station in LINKS.filter(annulment__repeat_contest_id__any=repeat).values_list(
        "annulment__repeat_contest_id", "pollingstation_id"
    ):
        members[rc].add(station)
    if counts is None:
        counts = station_counts({muni for pk, (muni, _) in contests.items() if pk not in repeat})
    return {pk: len(members[pk]) if pk in repeat else counts.get(muni, 0) for pk, (muni, _) in contests.items()}


def assembly_rules(contest: Contest) -> AssemblyRules:
    return rules_of(contest.round.election.settings)


def rules_of(settings: dict[str, Any]) -> AssemblyRules:
    """The assembly rules an election's settings give."""
    return AssemblyRules.of(
        settings.get("assembly_method", "sainte-lague"),
        Fraction(str(settings.get("assembly_threshold", 0))),
        gender=GenderRule.of(Fraction(str(settings.get("gender_quota", 0.3)))),
    )
