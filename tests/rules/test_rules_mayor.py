"""Mayor: majority, runoff, ties, withdrawals, single- and two-candidate races (LLE Art. 9)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tallyroom.rules import (
    FinalistTie,
    FirstRoundStatus,
    InvalidInputError,
    MajorityReading,
    MayorConfig,
    RulesErrorCode,
    RunoffStatus,
    SeededDraw,
    TieResolutionError,
    TwoCandidateRule,
    WithdrawalRule,
    decide_first_round,
    decide_runoff,
    finalists_after_withdrawal,
    majority_threshold,
    resolve_first_round_tie,
)


@pytest.mark.parametrize(
    ("valid", "reading", "needed"),
    [
        (100, MajorityReading.FLOOR_HALF_PLUS_ONE, 51),
        (101, MajorityReading.FLOOR_HALF_PLUS_ONE, 51),  # 51 > 50.5
        (100, MajorityReading.HALF_PLUS_ONE, 51),  # 50 + 1
        (101, MajorityReading.HALF_PLUS_ONE, 52),  # 50.5 + 1 = 51.5 -> 52
        (100, MajorityReading.MORE_THAN_HALF_PLUS_ONE, 52),  # > 51
        (101, MajorityReading.MORE_THAN_HALF_PLUS_ONE, 52),  # > 51.5
        (0, MajorityReading.FLOOR_HALF_PLUS_ONE, 1),
    ],
)
def test_majority_readings(valid: int, reading: MajorityReading, needed: int) -> None:
    assert majority_threshold(valid, reading) == needed


def test_majority_elects() -> None:
    result = decide_first_round({"A": 51, "B": 30, "C": 19})
    assert result.status is FirstRoundStatus.ELECTED
    assert result.elected == "A"
    assert result.basis == "majority"
    assert result.majority_threshold == 51


def test_exactly_half_is_not_a_majority() -> None:
    result = decide_first_round({"A": 50, "B": 30, "C": 20})
    assert result.status is FirstRoundStatus.RUNOFF
    assert result.finalists == ("A", "B")
    assert result.elected is None


def test_literal_reading_can_force_a_runoff() -> None:
    votes = {"A": 51, "B": 30, "C": 20}  # 51 of 101: a majority, but not 50.5 + 1
    assert decide_first_round(votes).status is FirstRoundStatus.ELECTED
    literal = MayorConfig(majority=MajorityReading.HALF_PLUS_ONE)
    assert decide_first_round(votes, config=literal).status is FirstRoundStatus.RUNOFF


def test_tie_for_second_place_is_reported() -> None:
    result = decide_first_round({"A": 40, "B": 30, "C": 30})
    assert result.status is FirstRoundStatus.TIE
    assert result.finalists == ("A",)
    assert result.tie is not None
    assert result.tie.candidates == ("B", "C")
    assert result.tie.places == 1
    assert result.tie.decides == "runoff"
    assert result.runoff_needed
    drawn = resolve_first_round_tie(result, draw=SeededDraw("dice 6-2"))
    assert drawn.status is FirstRoundStatus.RUNOFF
    assert drawn.finalists[0] == "A"
    assert drawn.resolution is not None
    assert drawn.finalists[1] == drawn.resolution.winners[0]
    decided = resolve_first_round_tie(result, order=["C", "B"])
    assert decided.finalists == ("A", "C")


def test_tie_for_first_between_two_is_no_problem() -> None:
    result = decide_first_round({"A": 40, "B": 40, "C": 20})
    assert result.status is FirstRoundStatus.RUNOFF
    assert result.finalists == ("A", "B")


def test_three_way_tie_for_first() -> None:
    result = decide_first_round({"A": 30, "B": 30, "C": 30, "D": 10})
    assert result.status is FirstRoundStatus.TIE
    assert result.finalists == ()
    assert result.tie is not None
    assert result.tie.candidates == ("A", "B", "C")
    assert result.tie.places == 2


def test_all_tied_advance_when_configured() -> None:
    config = MayorConfig(finalist_tie=FinalistTie.ALL_ADVANCE)
    result = decide_first_round({"A": 40, "B": 30, "C": 30}, config=config)
    assert result.status is FirstRoundStatus.RUNOFF
    assert result.finalists == ("A", "B", "C")
    assert result.notes


def test_single_candidate() -> None:
    result = decide_first_round({"A": 7})
    assert result.status is FirstRoundStatus.ELECTED
    assert result.basis == "single-candidate"
    assert decide_first_round({"A": 0}).status is FirstRoundStatus.NO_VALID_VOTES


def test_two_candidates_plurality_without_runoff() -> None:
    result = decide_first_round({"A": 501, "B": 499})
    assert result.status is FirstRoundStatus.ELECTED
    assert result.basis == "two-candidate-plurality"
    tie = decide_first_round({"A": 500, "B": 500})
    assert tie.status is FirstRoundStatus.TIE
    assert tie.tie is not None
    assert tie.tie.decides == "election"
    assert not tie.runoff_needed
    won = resolve_first_round_tie(tie, order=["B", "A"])
    assert won.status is FirstRoundStatus.ELECTED
    assert won.elected == "B"


def test_two_candidates_under_the_majority_rule() -> None:
    config = MayorConfig(majority=MajorityReading.HALF_PLUS_ONE, two_candidates=TwoCandidateRule.MAJORITY)
    result = decide_first_round({"A": 51, "B": 50}, config=config)
    assert result.status is FirstRoundStatus.RUNOFF
    assert result.finalists == ("A", "B")


def test_no_valid_votes() -> None:
    assert decide_first_round({"A": 0, "B": 0}).status is FirstRoundStatus.NO_VALID_VOTES
    with pytest.raises(InvalidInputError) as err:
        decide_first_round({})
    assert err.value.code is RulesErrorCode.NO_CANDIDATES


class TestWithdrawal:
    VOTES = {"A": 45, "B": 30, "C": 15, "D": 10}

    def test_third_placed_moves_up(self) -> None:
        first = decide_first_round(self.VOTES)
        assert first.finalists == ("A", "B")
        after = finalists_after_withdrawal(first, ["B"])
        assert after.status is FirstRoundStatus.RUNOFF
        assert after.finalists == ("A", "C")
        assert after.withdrawn == ("B",)
        assert after.basis == "withdrawal"
        again = finalists_after_withdrawal(after, ["A"])
        assert again.finalists == ("C", "D")
        assert again.withdrawn == ("A", "B")

    def test_no_replacement(self) -> None:
        first = decide_first_round(self.VOTES)
        after = finalists_after_withdrawal(first, ["B"], rule=WithdrawalRule.NO_REPLACEMENT)
        assert after.status is FirstRoundStatus.SINGLE_FINALIST
        assert after.finalists == ("A",)
        assert after.elected is None

    def test_tie_on_moving_up(self) -> None:
        first = decide_first_round({"A": 45, "B": 25, "C": 15, "D": 15})
        after = finalists_after_withdrawal(first, ["B"])
        assert after.status is FirstRoundStatus.TIE
        assert after.tie is not None
        assert after.tie.candidates == ("C", "D")

    def test_withdrawal_settles_an_open_tie(self) -> None:
        first = decide_first_round({"A": 40, "B": 30, "C": 30})
        after = finalists_after_withdrawal(first, ["C"])
        assert after.status is FirstRoundStatus.RUNOFF
        assert after.finalists == ("A", "B")

    def test_everyone_withdraws(self) -> None:
        first = decide_first_round({"A": 45, "B": 30, "C": 25})
        after = finalists_after_withdrawal(first, ["A", "B", "C"])
        assert after.status is FirstRoundStatus.NO_FINALISTS

    def test_errors(self) -> None:
        elected = decide_first_round({"A": 60, "B": 40, "C": 1})
        with pytest.raises(InvalidInputError) as err:
            finalists_after_withdrawal(elected, ["A"])
        assert err.value.code is RulesErrorCode.NOT_A_RUNOFF
        with pytest.raises(InvalidInputError) as err:
            finalists_after_withdrawal(decide_first_round(self.VOTES), ["Z"])
        assert err.value.code is RulesErrorCode.UNKNOWN_CANDIDATE
        with pytest.raises(TieResolutionError):
            resolve_first_round_tie(elected, order=["A"])


class TestRunoff:
    def test_plurality_of_the_two(self) -> None:
        result = decide_runoff({"A": 10_001, "B": 10_000}, finalists=["A", "B"])
        assert result.status is RunoffStatus.ELECTED
        assert result.elected == "A"

    def test_tie_is_reported_never_decided(self) -> None:
        result = decide_runoff({"A": 10_000, "B": 10_000})
        assert result.status is RunoffStatus.TIE
        assert result.elected is None
        assert result.tie is not None
        assert result.tie.candidates == ("A", "B")

    def test_votes_must_match_the_finalists(self) -> None:
        with pytest.raises(InvalidInputError) as err:
            decide_runoff({"A": 1, "C": 2}, finalists=["A", "B"])
        assert err.value.code is RulesErrorCode.UNKNOWN_FINALIST

    def test_no_votes(self) -> None:
        assert decide_runoff({"A": 0, "B": 0}).status is RunoffStatus.NO_VALID_VOTES


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=7),
    st.sampled_from(list(MajorityReading)),
    st.sampled_from(list(FinalistTie)),
)
def test_first_round_properties(values: list[int], reading: MajorityReading, tie_rule: FinalistTie) -> None:
    votes = {f"K{i}": v for i, v in enumerate(values)}
    config = MayorConfig(majority=reading, finalist_tie=tie_rule)
    result = decide_first_round(votes, config=config)
    valid = sum(values)
    top = max(values)
    if valid == 0:
        assert result.status is FirstRoundStatus.NO_VALID_VOTES
        return
    if result.status is FirstRoundStatus.ELECTED:
        assert result.elected is not None
        winner = votes[result.elected]
        assert all(winner > v for c, v in votes.items() if c != result.elected)
        if len(votes) > 2:
            assert winner >= majority_threshold(valid, reading)
    elif len(votes) > 2:
        assert top < majority_threshold(valid, reading)
    if result.status is FirstRoundStatus.RUNOFF:
        finalists = set(result.finalists)
        assert len(finalists) >= 2
        # No one left out has more votes than a finalist...
        assert min(votes[c] for c in finalists) >= max((v for c, v in votes.items() if c not in finalists), default=-1)
        # ...and nobody with the same votes as a finalist is left out (ties are never decided).
        low = min(votes[c] for c in finalists)
        assert all(c in finalists for c, v in votes.items() if v == low)
        if tie_rule is FinalistTie.REPORT:
            assert len(finalists) == 2
    if result.status is FirstRoundStatus.TIE:
        assert result.tie is not None
        assert len(result.tie.candidates) > result.tie.places
        assert len({votes[c] for c in result.tie.candidates}) == 1
