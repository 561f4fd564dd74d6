"""What an overview shows of each contest (`contests_headlines`): the status, the stations counted of
all, the votes per entity, the seats or the mayor's decision. The live results feed's index, read
for every contest of a national election in a fraction of a second."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from django.db.models import Count

from tallyroom.elections.models import Candidate, Contest, Election, Round
from tallyroom.results.models import Certification
from tallyroom.results.tally_reads import ballots_of, rules_of, scope_totals, tallies_of, votes_of
from tallyroom.rules.assembly import AssemblyRules
from tallyroom.rules.errors import AllocationError, RulesErrorCode
from tallyroom.rules.mayor import decide_first_round, decide_runoff
from tallyroom.rules.seats import allocate


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
    tallies, votes = tallies_of(all_ids), votes_of(all_ids)
    _, mayors = ballots_of({pk: c.kind for pk, c in mains.items()})
    certified = set(
        Certification.objects.filter(contest_id__any=ids, revoked_at__isnull=True).values_list("contest_id", flat=True)
    )
    scopes = {pk: (c.municipality_id, c.round_kind == Round.Kind.REPEAT) for pk, c in mains.items()}
    totals = scope_totals(scopes, station_counts)
    rules = {
        pk: rules_of(settings)
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
