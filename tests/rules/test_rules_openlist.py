"""Open lists: reordering by preference votes and the gender correction (LLE Art. 8.4)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tallyroom.rules import (
    KOSOVO_GENDER_RULE,
    NO_GENDER_RULE,
    Gender,
    GenderRule,
    InvalidInputError,
    ListCandidate,
    QuotaRounding,
    RulesErrorCode,
    elect_candidates,
    rank_candidates,
)

F, M = Gender.FEMALE, Gender.MALE


def slate(genders: str) -> list[ListCandidate]:
    """Candidates c1, c2, ... in list order with genders from a string such as "MMFM"."""
    return [ListCandidate(f"c{i}", i, Gender(g)) for i, g in enumerate(genders, start=1)]


def test_ranking_by_preference_votes_then_list_position() -> None:
    candidates = slate("MMFM")
    votes = {"c1": 10, "c2": 40, "c3": 40, "c4": 0}
    # c2 and c3 tie on 40: the better list position (c2) ranks first; c4 has none.
    assert rank_candidates(candidates, votes) == ("c2", "c3", "c1", "c4")
    assert rank_candidates(candidates, {}) == ("c1", "c2", "c3", "c4")


def test_no_correction_needed() -> None:
    result = elect_candidates(3, slate("MFMF"), {"c1": 5, "c2": 4, "c3": 3, "c4": 2})
    assert result.elected == ("c1", "c2", "c3")
    assert result.replacements == ()
    assert result.minority_gender is F
    assert result.required_minority_seats == 1  # ceil(0.3 x 3)
    assert result.quota_met


def test_kosovo_correction_replaces_last_elected_of_the_majority_gender() -> None:
    # 5 seats: ceil(30 % of 5) = 2 women required. Voters elected 5 men (c1..c5).
    candidates = slate("MMMMMFMF")
    votes = {"c1": 90, "c2": 80, "c3": 70, "c4": 60, "c5": 50, "c6": 40, "c7": 30, "c8": 20}
    result = elect_candidates(5, candidates, votes)
    assert result.elected_by_votes == ("c1", "c2", "c3", "c4", "c5")
    # c5 (last elected man) gives way to c6 (next woman), then c4 gives way to c8 (c7 is a man).
    assert [(r.removed, r.added) for r in result.replacements] == [("c5", "c6"), ("c4", "c8")]
    assert [r.minority_seats_after for r in result.replacements] == [1, 2]
    assert result.elected == ("c1", "c2", "c3", "c6", "c8")
    assert result.minority_gender is F
    assert result.minority_seats == 2
    assert result.quota_met


def test_correction_works_for_men_too() -> None:
    result = elect_candidates(4, slate("FFFFM"), {"c5": 0})
    assert result.minority_gender is M
    assert result.required_minority_seats == 2  # ceil(1.2)
    # Only one man on the list: the quota cannot be met, and that is reported.
    assert [(r.removed, r.added) for r in result.replacements] == [("c4", "c5")]
    assert not result.quota_met
    assert result.minority_seats == 1


@pytest.mark.parametrize(
    ("rounding", "seats", "required"),
    [
        (QuotaRounding.CEIL, 4, 2),  # 1.2 -> 2
        (QuotaRounding.FLOOR, 4, 1),
        (QuotaRounding.HALF_UP, 4, 1),
        (QuotaRounding.HALF_UP, 5, 2),  # 1.5 -> 2
        (QuotaRounding.CEIL, 10, 3),  # exactly 3
        (QuotaRounding.FLOOR, 10, 3),
    ],
)
def test_rounding_of_at_least_thirty_percent(rounding: QuotaRounding, seats: int, required: int) -> None:
    assert GenderRule(rounding=rounding).required(seats) == required


def test_one_seat_entity_is_not_corrected_by_default() -> None:
    assert KOSOVO_GENDER_RULE.required(1) == 0
    result = elect_candidates(1, slate("MF"), {"c1": 5})
    assert result.elected == ("c1",)
    assert result.replacements == ()
    assert result.quota_met
    # Configurable: correct one-seat entities too (the seat then goes to the other gender).
    strict = GenderRule(min_seats=1)
    result = elect_candidates(1, slate("MF"), {"c1": 5}, rule=strict)
    assert result.elected == ("c2",)


def test_other_countries_quota() -> None:
    # A 40 % rule, rounded down: 5 seats -> 2.
    rule = GenderRule.of("2/5", "floor")
    assert rule.share == Fraction(2, 5)
    result = elect_candidates(5, slate("MMMMMFF"), {}, rule=rule)
    assert result.elected == ("c1", "c2", "c3", "c6", "c7")
    assert elect_candidates(5, slate("MMMMMFF"), {}, rule=NO_GENDER_RULE).replacements == ()


def test_rule_refuses_shares_above_half() -> None:
    with pytest.raises(InvalidInputError):
        GenderRule(share=Fraction(3, 5))


def test_excluded_candidates_are_skipped() -> None:
    # c1 was elected mayor (LLE 9.3): the next candidate takes the seat.
    result = elect_candidates(2, slate("MFM"), {"c1": 100, "c2": 50, "c3": 10}, excluded={"c1"})
    assert result.elected == ("c2", "c3")
    assert result.excluded == ("c1",)


def test_too_few_candidates_leaves_seats_unfilled_and_says_so() -> None:
    result = elect_candidates(4, slate("MF"), {})
    assert result.elected == ("c1", "c2")
    assert result.unfilled_seats == 2


@pytest.mark.parametrize(
    ("candidates", "votes", "code"),
    [
        ([*slate("MM"), ListCandidate("c1", 9, M)], {}, RulesErrorCode.DUPLICATE_CANDIDATE),
        ([ListCandidate("a", 1, M), ListCandidate("b", 1, F)], {}, RulesErrorCode.DUPLICATE_LIST_POSITION),
        (slate("MF"), {"zz": 1}, RulesErrorCode.UNKNOWN_CANDIDATE),
        (slate("MF"), {"c1": -1}, RulesErrorCode.INVALID_VOTES),
    ],
)
def test_bad_input(candidates: list[ListCandidate], votes: dict[str, int], code: RulesErrorCode) -> None:
    with pytest.raises(InvalidInputError) as err:
        elect_candidates(1, candidates, votes)
    assert err.value.code is code


@st.composite
def lists(draw: st.DrawFn) -> tuple[int, list[ListCandidate], dict[str, int], GenderRule]:
    genders = draw(st.text(alphabet="MF", min_size=1, max_size=30))
    candidates = slate(genders)
    votes = {c.id: draw(st.integers(0, 50)) for c in candidates if draw(st.booleans())}
    seats = draw(st.integers(0, len(candidates) + 2))
    rule = GenderRule(
        share=draw(st.sampled_from([Fraction(3, 10), Fraction(1, 3), Fraction(2, 5), Fraction(1, 2)])),
        rounding=draw(st.sampled_from(list(QuotaRounding))),
        min_seats=draw(st.integers(1, 3)),
    )
    return seats, candidates, votes, rule


@settings(max_examples=400, deadline=None)
@given(lists())
def test_gender_rule_never_leaves_a_list_below_quota_when_candidates_exist(
    case: tuple[int, list[ListCandidate], dict[str, int], GenderRule],
) -> None:
    seats, candidates, votes, rule = case
    result = elect_candidates(seats, candidates, votes, rule=rule)
    gender = {c.id: c.gender for c in candidates}
    assert len(result.elected) == min(seats, len(candidates))
    assert len(set(result.elected)) == len(result.elected)
    assert result.unfilled_seats == seats - len(result.elected)
    required = result.required_minority_seats
    if result.minority_gender is None:
        return
    held = sum(1 for c in result.elected if gender[c] is result.minority_gender)
    assert held == result.minority_seats
    available = sum(1 for c in candidates if gender[c.id] is result.minority_gender)
    # The quota is met whenever the list has enough candidates of the minority gender...
    assert held >= min(required, available)
    assert result.quota_met == (held >= required)
    # ...and the correction makes no more swaps than needed.
    before = sum(1 for c in result.elected_by_votes if gender[c] is result.minority_gender)
    assert len(result.replacements) == max(0, min(required, available) - before)
    # Every swap takes out the lowest-ranked elected candidate of the majority gender and brings
    # in the best-ranked waiting candidate of the minority gender.
    rank = {c: n for n, c in enumerate(result.ranking)}
    for r in result.replacements:
        assert gender[r.removed] is not result.minority_gender
        assert gender[r.added] is result.minority_gender
    removed = [r.removed for r in result.replacements]
    assert removed == sorted(removed, key=rank.__getitem__, reverse=True)
    # Elected candidates of each gender are the best ranked of that gender.
    for g in (F, M):
        mine = [c for c in result.ranking if gender[c] is g]
        chosen = [c for c in result.elected if gender[c] is g]
        assert chosen == mine[: len(chosen)]
