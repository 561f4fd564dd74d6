"""Cross-checks of :func:`allocate` against two independent libraries on random elections.

Oracles: votelib 0.4.0 (``HighestAverages``, ``LargestRemainder``) and apportionment 1.0
(``compute``). Where our result reports a tie the oracles settle it their own way (votelib
returns a ``Tie`` key, apportionment breaks it by position), so those cases are compared on the
settled seats only. Thresholds are applied by us before calling the oracles: both mishandle an
entity exactly at the threshold (votelib compares the vote count, not the share, with the
threshold; apportionment multiplies by a float), which is tested by hand in test_rules_seats.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction

import pytest
import votelib.component.divisor
import votelib.evaluate.core
import votelib.evaluate.proportional
import votelib.evaluate.threshold
from apportionment import methods as apportionment

from tallyroom.rules import AllocationError, Method, SeatAllocation, allocate

VOTELIB = {
    Method.SAINTE_LAGUE: votelib.evaluate.proportional.HighestAverages("sainte_lague"),
    Method.DHONDT: votelib.evaluate.proportional.HighestAverages("d_hondt"),
    Method.MODIFIED_SAINTE_LAGUE: votelib.evaluate.proportional.HighestAverages(
        votelib.component.divisor.modified_first_coef(votelib.component.divisor.sainte_lague, Fraction(7, 5))
    ),
    Method.HARE: votelib.evaluate.proportional.LargestRemainder("hare"),
    Method.DROOP: votelib.evaluate.proportional.LargestRemainder("droop"),
}
APPORTIONMENT = {
    Method.SAINTE_LAGUE: "saintelague",
    Method.DHONDT: "dhondt",
    Method.HARE: "largest_remainder",
}

ELECTIONS_PER_METHOD = 2500
# apportionment builds a seats x parties table of Fractions: slower, so fewer elections.
APPORTIONMENT_ELECTIONS = 500


def _elections(seed: int, count: int) -> list[tuple[dict[str, int], int, Fraction]]:
    """Random elections shaped like municipal ones, plus small ones where ties are common."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    out = []
    for _ in range(count):
        n = rng.randint(1, 30)
        scale = rng.choice([12, 60, 3_000, 40_000, 1_000_000])
        votes = {f"E{i}": rng.randint(0, scale) for i in range(n)}
        seats = rng.choice([rng.randint(1, 12), rng.randint(15, 51), 120])
        threshold = rng.choice([Fraction(0), Fraction(0), Fraction(3, 100), Fraction(5, 100)])
        out.append((votes, seats, threshold))
    return out


def _ours(votes: dict[str, int], seats: int, method: Method, threshold: Fraction) -> SeatAllocation | None:
    try:
        return allocate(votes, seats, method, threshold)
    except AllocationError:
        return None


def _qualified_votes(result: SeatAllocation) -> dict[str, int]:
    """What the oracles are given: the qualified entities with votes."""
    return {c: result.votes[c] for c in result.qualified if result.votes[c] > 0}


def _compare(result: SeatAllocation, oracle: dict[str, int], tied_in_oracle: bool) -> None:
    ours = {c: s for c, s in result.seats.items() if s}
    if result.tie is None:
        assert not tied_in_oracle
        assert oracle == ours
        return
    # A tie: every settled seat must match; the oracle's handling of the contested ones differs.
    tied = set(result.tie.entities)
    for code, seats in result.seats.items():
        assert oracle.get(code, 0) >= seats
        if code not in tied:
            assert oracle.get(code, 0) == seats
    assert sum(oracle.values()) <= result.house_size


@pytest.mark.parametrize("method", list(VOTELIB))
def test_matches_votelib(method: Method) -> None:
    evaluator = VOTELIB[method]
    compared = ties = 0
    for votes, seats, threshold in _elections(2013 + len(method), ELECTIONS_PER_METHOD):
        result = _ours(votes, seats, method, threshold)
        if result is None:
            continue
        raw = evaluator.evaluate(_qualified_votes(result), seats)
        tied_in_oracle = any(isinstance(k, votelib.evaluate.core.Tie) for k in raw)
        oracle = {k: v for k, v in raw.items() if isinstance(k, str)}
        _compare(result, oracle, tied_in_oracle)
        compared += 1
        ties += result.tie is not None
    assert compared > ELECTIONS_PER_METHOD * 0.8
    assert ties > 0  # the generator does produce ties, so the tie branch is exercised


@pytest.mark.parametrize("method", list(APPORTIONMENT))
def test_matches_apportionment(method: Method) -> None:
    compute: Callable[..., list[int]] = apportionment.compute
    compared = skipped = 0
    for votes, seats, threshold in _elections(1999 + len(method), APPORTIONMENT_ELECTIONS):
        result = _ours(votes, seats, method, threshold)
        if result is None:
            continue
        if result.tie is not None:
            # apportionment hands contested seats out in list order before it has given every
            # uncontested remainder seat (largest_remainder), so a tie makes it unreliable.
            skipped += 1
            continue
        given = _qualified_votes(result)
        codes = list(given)
        raw = compute(APPORTIONMENT[method], [given[c] for c in codes], seats, fractions=True)
        oracle = {c: int(s) for c, s in zip(codes, raw, strict=True) if s}
        _compare(result, oracle, tied_in_oracle=False)
        compared += 1
    assert compared > APPORTIONMENT_ELECTIONS * 0.7
    assert skipped < APPORTIONMENT_ELECTIONS * 0.2


def test_apportionment_modified_sainte_lague_without_near_ties() -> None:
    # apportionment computes modified Sainte-Laguë with float divisors (1.4): compare only where
    # no two quotients around the cut-off are within a relative 1e-9 of each other.
    compared = 0
    for votes, seats, _ in _elections(77, 600):
        result = _ours(votes, seats, Method.MODIFIED_SAINTE_LAGUE, Fraction(0))
        if result is None or result.tie is not None or _near_tie(result):
            continue
        codes = [c for c, v in votes.items() if v]
        raw = apportionment.compute("modified_saintelague", [votes[c] for c in codes], seats, fractions=True)
        assert {c: int(s) for c, s in zip(codes, raw, strict=True) if s} == {c: s for c, s in result.seats.items() if s}
        compared += 1
    assert compared > 300


def _near_tie(result: SeatAllocation) -> bool:
    table = result.quotient_table
    won = [c.quotient for row in table.rows for c in row.cells if c.seat_number]
    lost = [c.quotient for row in table.rows for c in row.cells if c.seat_number is None]
    if not won or not lost:
        return False
    low, high = min(won), max(lost)
    return (low - high) / low < Fraction(1, 10**9)


def test_oracles_fail_exactly_at_the_threshold() -> None:
    # Why thresholds are applied by us: 7 of 100 votes is exactly 7 %.
    votes = {"A": 7, "B": 93}
    ours = allocate(votes, 10, "sainte-lague", Fraction(7, 100))
    assert "A" in ours.qualified
    assert ours.seats["A"] == 1
    # apportionment: 100 * 0.07 == 7.000000000000001 > 7, so A is dropped.
    assert apportionment.compute("saintelague", [7, 93], 10, threshold=0.07) == [0, 10]
    # votelib's RelativeThreshold compares the vote count with the share when equal.
    selector = votelib.evaluate.threshold.RelativeThreshold(Fraction(7, 100))
    assert "A" not in selector.evaluate(votes)
