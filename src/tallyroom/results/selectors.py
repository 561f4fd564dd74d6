"""Reads of results: a contest's totals, stations, seats, elected members and outlook.

Every figure comes from the running tallies; the rules engine turns them into seats and winners.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from django.db.models import Q, QuerySet, Sum

from tallyroom.elections.models import Candidate, Contest, PollingStation, Round
from tallyroom.results.models import (
    Annulment,
    Certification,
    Complaint,
    ContestTally,
    FormKind,
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


def contest_scope(contest: Contest) -> QuerySet[PollingStation]:
    """The stations that vote in a contest: all of the municipality, or those a repeat vote covers."""
    if contest.round.kind == Round.Kind.REPEAT:
        return PollingStation.objects.filter(annulments__repeat_contest=contest).distinct()
    return PollingStation.objects.filter(municipality_id=contest.municipality_id)


def repeat_contests(contest: Contest) -> list[Contest]:
    return list(contest.continuations.filter(round__kind=Round.Kind.REPEAT))


def station_statuses(
    contest: Contest, family: list[Contest] | None = None, station_ids: Iterable[int] | None = None
) -> dict[int, str]:
    """Per station of the contest: counted-official, counted-preliminary, quarantined, annulled-repeat-
    pending, annulled, pending (nothing counted yet). Repeat votes count for their parent. `family`
    (the contest and its repeat votes) and `station_ids` (its scope), if the caller has read them."""
    family = family if family is not None else [contest, *repeat_contests(contest)]
    counted: dict[int, str] = {}
    held: set[int] = set()
    forms = ResultForm.objects.filter(contest__in=family).filter(Q(counted=True) | Q(state=FormState.QUARANTINED))
    for station_id, kind, is_counted in forms.values_list("station_id", "kind", "counted"):
        if is_counted:
            counted[station_id] = kind
        else:
            held.add(station_id)
    annulled: dict[int, bool] = {}  # station -> a repeat vote is called
    links = Annulment.stations.through.objects.filter(annulment__contest=contest)
    for station_id, repeat_id in links.values_list("pollingstation_id", "annulment__repeat_contest_id"):
        annulled[station_id] = annulled.get(station_id, False) or repeat_id is not None
    out: dict[int, str] = {}
    scope = station_ids if station_ids is not None else contest_scope(contest).values_list("pk", flat=True)
    for station_id in scope:
        if station_id in counted:
            out[station_id] = f"counted-{counted[station_id]}"
        elif station_id in annulled:
            out[station_id] = "annulled-repeat-pending" if annulled[station_id] else "annulled"
        elif station_id in held:
            out[station_id] = "quarantined"
        else:
            out[station_id] = "pending"
    return out


def contest_results(contest: Contest) -> dict[str, Any]:
    """Everything the results page and `GET /api/v1/results/...` show for one contest."""
    contests = [contest, *repeat_contests(contest)]
    ids = [c.pk for c in contests]
    totals = ContestTally.objects.filter(contest_id__in=ids).aggregate(
        **{n: Sum(n) for n in ("forms_counted", "official_counted", "ballots_used", "invalid", "blank", "valid")}
    )
    votes = _entity_votes(contest, ids)
    registered: dict[int, int] = {}
    kinds: dict[int, str] = {}
    for pk, voters, kind in contest_scope(contest).values_list("pk", "registered_voters", "kind"):
        registered[pk], kinds[pk] = voters, kind
    statuses = station_statuses(contest, contests, registered)
    status_counts = Counter(statuses.values())
    not_in = {"pending", "quarantined", "annulled-repeat-pending"}
    outstanding_ids = [s for s, st in statuses.items() if st in not_in]
    outstanding = sum(registered[s] for s in outstanding_ids)
    central_outstanding = sum(1 for s in outstanding_ids if kinds[s] == PollingStation.Kind.CENTRAL)
    valid = totals["valid"] or 0
    certification = Certification.objects.filter(contest=contest, revoked_at__isnull=True).first()
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
        "stations": {
            "total": len(statuses),
            "counted": status_counts["counted-official"] + status_counts["counted-preliminary"],
            "counted_official": status_counts["counted-official"],
            "quarantined": status_counts["quarantined"],
            "annulled": status_counts["annulled"],
            "annulled_repeat_pending": status_counts["annulled-repeat-pending"],
            "pending": status_counts["pending"],
        },
        "totals": {
            "valid": valid,
            "invalid": totals["invalid"] or 0,
            "blank": totals["blank"] or 0,
            "ballots_cast": totals["ballots_used"] or 0,
        },
        "choices": [{**row, "share": _share(row["votes"], valid)} for row in votes],
        "repeat_voting": [
            {"round": c.round.code, "date": c.round.date.isoformat(), "stations": contest_scope(c).count()}
            for c in contests[1:]
        ],
        "outstanding": {
            "registered_voters": outstanding,
            "central_units": central_outstanding,
            "bounded": central_outstanding == 0,
        },
    }
    if contest.kind == Contest.Kind.ASSEMBLY:
        result["assembly"] = _assembly(contest, ids, votes, outstanding)
    else:
        result["mayor"] = _mayor(contest, votes, outstanding)
    result["can_change"] = _can_change(result)
    return result


def _share(part: int, whole: int) -> str | None:
    """Percentage with two decimals, rounded half up in exact integers (no float drift)."""
    if whole == 0:
        return None
    hundredths = (part * 20000 + whole) // (2 * whole)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def _entity_votes(contest: Contest, ids: list[int]) -> list[dict[str, Any]]:
    rows = (
        TallyVote.objects.filter(contest_id__in=ids)
        .values("entity__code", "entity__name", "entity__short_name")
        .annotate(total=Sum("votes"))
    )
    names: dict[str, tuple[int, str]] = {}
    order: dict[str, int] = {}
    if contest.kind == Contest.Kind.MAYOR:  # names and ballot order in one read
        ballot = contest.candidates.values_list("pk", "name", "entity__code", "contestcandidate__ballot_position")
        for pk, name, code, position in ballot:
            names[code], order[code] = (pk, name), position
    else:
        order = dict(contest.entities.values_list("code", "contestentity__ballot_position"))
    out = []
    for row in rows:
        code = row["entity__code"]
        item: dict[str, Any] = {
            "entity": code,
            "entity_name": row["entity__short_name"] or row["entity__name"],
            "votes": row["total"] or 0,
        }
        if code in names:
            item["candidate_id"], item["candidate"] = names[code]
        out.append(item)
    out.sort(key=lambda r: order.get(r["entity"], 10**6))
    return out


def assembly_rules(contest: Contest) -> AssemblyRules:
    settings = contest.round.election.settings
    return AssemblyRules.of(
        settings.get("assembly_method", "sainte-lague"),
        Fraction(str(settings.get("assembly_threshold", 0))),
        gender=GenderRule.of(Fraction(str(settings.get("gender_quota", 0.3)))),
    )


def _assembly(contest: Contest, ids: list[int], votes: list[dict[str, Any]], outstanding: int) -> dict[str, Any]:
    entity_votes = {row["entity"]: row["votes"] for row in votes}
    candidates = list(
        Candidate.objects.filter(
            municipality_id=contest.municipality_id, office=Candidate.Office.ASSEMBLY, entity__code__in=entity_votes
        ).select_related("entity")
    )
    prefs = dict(
        TallyPreference.objects.filter(contest_id__in=ids)
        .values("candidate_id")
        .annotate(t=Sum("votes"))
        .values_list("candidate_id", "t")
    )
    lists: dict[str, list[ListCandidate]] = {}
    preferences: dict[str, dict[str, int]] = {}
    by_id = {str(c.pk): c for c in candidates}
    for c in candidates:
        gender = Gender.FEMALE if c.gender == "F" else Gender.MALE
        lists.setdefault(c.entity.code, []).append(ListCandidate(str(c.pk), c.position, gender))
        preferences.setdefault(c.entity.code, {})[str(c.pk)] = prefs.get(c.pk, 0)
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


def _mayor(contest: Contest, votes: list[dict[str, Any]], outstanding: int) -> dict[str, Any]:
    by_entity = {row["entity"]: row["votes"] for row in votes}
    names = {row["entity"]: row.get("candidate", row["entity"]) for row in votes}
    out: dict[str, Any] = {}
    if not by_entity:
        return out
    if contest.round.kind == Round.Kind.RUNOFF:
        runoff = decide_runoff(by_entity)
        out["status"] = str(runoff.status)
        out["elected"] = names.get(runoff.elected) if runoff.elected else None
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
    runoff_contest = contest.continuations.filter(round__kind=Round.Kind.RUNOFF).first()
    out["runoff_contest"] = runoff_contest.pk if runoff_contest else None
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


def open_complaints(contest: Contest) -> QuerySet[Complaint]:
    return Complaint.objects.filter(municipality_id=contest.municipality_id, state=Complaint.State.OPEN).filter(
        Q(contest__isnull=True) | Q(contest=contest)
    )


def counted_form_kinds(contest: Contest) -> dict[str, int]:
    return dict(Counter(ResultForm.objects.filter(contest=contest, counted=True).values_list("kind", flat=True)))


__all__ = ["FormKind", "contest_results", "contest_scope", "station_statuses"]
