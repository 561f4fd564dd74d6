"""A contest's outcome from its votes: seats and elected members of an assembly, a mayor's decision,
the outlook given the registered voters still to come, and shares. Pure but for the rules' settings."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from tallyroom.elections.models import Contest, Round
from tallyroom.results.tally_reads import assembly_rules
from tallyroom.rules.assembly import elect_assembly
from tallyroom.rules.errors import AllocationError, RulesErrorCode
from tallyroom.rules.mayor import decide_first_round, decide_runoff
from tallyroom.rules.openlist import Gender, ListCandidate
from tallyroom.rules.outcome import assembly_outlook, mayor_outlook, runoff_outlook


class ListedCandidate(NamedTuple):
    """An assembly candidate as the results need one (a tuple: a national election has 170,000)."""

    pk: int
    name: str
    gender: str
    position: int
    entity: str  # the entity's code


def share(part: int, whole: int) -> str | None:
    """Percentage with two decimals, rounded half up in exact integers (no float drift)."""
    if whole == 0:
        return None
    hundredths = (part * 20000 + whole) // (2 * whole)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def assembly_outcome(
    contest: Contest,
    votes: list[dict[str, Any]],
    outstanding: int,
    municipality_candidates: list[ListedCandidate],
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


def mayor_outcome(
    contest: Contest, votes: list[dict[str, Any]], outstanding: int, runoff: int | None
) -> dict[str, Any]:
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


def can_change(result: dict[str, Any]) -> bool:
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
