"""A whole municipal assembly: seats, open lists, gender correction, ineligible candidates."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tallyroom.rules import (
    KOSOVO_ASSEMBLY,
    AssemblyRules,
    Gender,
    InvalidInputError,
    ListCandidate,
    Method,
    UnresolvedTieError,
    elect_assembly,
    fill_seats,
    resolve_ties,
)


def slate(prefix: str, genders: str) -> list[ListCandidate]:
    return [ListCandidate(f"{prefix}{i}", i, Gender(g)) for i, g in enumerate(genders, start=1)]


CANDIDATES = {
    "A": slate("a", "MMMMMFF"),
    "B": slate("b", "FMMF"),
    "C": slate("c", "MM"),
}
PREFERENCES = {
    "A": {"a1": 900, "a2": 800, "a3": 700, "a4": 600, "a5": 10, "a6": 300, "a7": 5},
    "B": {"b2": 100},
}
VOTES = {"A": 53_000, "B": 24_000, "C": 23_000}


def test_kosovo_assembly() -> None:
    result = elect_assembly(VOTES, 7, CANDIDATES, PREFERENCES)
    assert result.allocation.final_seats() == {"A": 3, "B": 2, "C": 2}
    # A: a1, a2, a3 by votes; 1 woman needed (ceil 0.9): a3 gives way to a6.
    assert result.lists["A"].elected == ("a1", "a2", "a6")
    assert [(r.removed, r.added) for r in result.lists["A"].replacements] == [("a3", "a6")]
    # B: b2 (100 votes) then b1 by list position: one woman, one man - no correction.
    assert result.elected["B"] == ("b2", "b1")
    # C: two men, 1 woman required but the list has none: reported, not invented.
    assert result.elected["C"] == ("c1", "c2")
    assert not result.lists["C"].quota_met


def test_seats_beyond_the_list_go_to_the_next_quotient() -> None:
    short = {**CANDIDATES, "C": slate("c", "M")}
    result = elect_assembly(VOTES, 7, short, PREFERENCES)
    assert result.allocation.final_seats() == {"A": 4, "B": 2, "C": 1}
    unlimited = AssemblyRules(cap_at_list_length=False)
    again = elect_assembly(VOTES, 7, short, PREFERENCES, rules=unlimited)
    assert again.lists["C"].unfilled_seats == 1


def test_elected_mayor_gives_up_the_assembly_seat() -> None:
    result = elect_assembly(VOTES, 7, CANDIDATES, PREFERENCES, excluded={"a1"})
    assert "a1" not in result.elected["A"]
    assert result.lists["A"].excluded == ("a1",)
    assert result.elected["A"] == ("a2", "a3", "a6")


def test_open_tie_leaves_the_lists_empty_until_resolved() -> None:
    votes = {"A": 10, "B": 10, "C": 5}
    candidates = {code: slate(code.lower(), "MF") for code in votes}
    rules = AssemblyRules.of("dhondt")
    result = elect_assembly(votes, 3, candidates, {}, rules=rules)
    assert result.lists == {}
    with pytest.raises(UnresolvedTieError):
        fill_seats(result.allocation, candidates, {}, rules=rules)
    resolved = resolve_ties(result.allocation, order=["C", "A", "B"])
    lists = fill_seats(resolved, candidates, {}, rules=rules)
    assert {code: r.elected for code, r in lists.items()} == {
        "A": ("a1",),
        "B": ("b1",),
        "C": ("c1",),
    }


def test_rules_of() -> None:
    rules = AssemblyRules.of("dhondt", "5/100")
    assert rules.method is Method.DHONDT
    assert rules.threshold == Fraction(1, 20)
    assert KOSOVO_ASSEMBLY.method is Method.SAINTE_LAGUE


def test_lists_for_unknown_entities() -> None:
    with pytest.raises(InvalidInputError):
        elect_assembly(VOTES, 7, {**CANDIDATES, "Z": slate("z", "M")}, {})
