""" "Can the outcome still change?" must never be wrong.

Three kinds of evidence:
* brute force: small contests where every distribution of the outstanding votes is tried, so the
  true minimum and maximum are known and compared with the claimed bounds (and must be equal
  where a bound claims to be exact);
* random sampling: Kosovo-sized contests with thousands of random (and extreme) distributions,
  none of which may leave the claimed range or move an entity declared certain;
* worked examples.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tallyroom.rules import (
    AllocationError,
    FinalistTie,
    FirstRoundStatus,
    MajorityReading,
    MayorConfig,
    Method,
    SeatAllocation,
    TwoCandidateRule,
    allocate,
    assembly_outlook,
    decide_first_round,
    mayor_outlook,
    runoff_outlook,
)


def distributions(n: int, most: int) -> Iterator[tuple[int, ...]]:
    """Every way to add at most ``most`` votes to ``n`` choices."""
    for total in range(most + 1):
        for cuts in itertools.combinations(range(total + n - 1), n - 1):
            parts, last = [], -1
            for cut in cuts:
                parts.append(cut - last - 1)
                last = cut
            parts.append(total + n - 2 - last)
            yield tuple(parts)


def test_distributions_helper() -> None:
    assert sorted(distributions(2, 2)) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)]


def _seats(result: SeatAllocation | None, code: str) -> tuple[int, int]:
    """(fewest, most) seats for ``code`` in one scenario; a lot can go either way."""
    if result is None:
        return 0, 0
    tied = result.tie is not None and code in result.tie.entities
    return result.seats[code], result.seats[code] + (1 if tied else 0)


def _try(
    votes: dict[str, int], seats: int, method: Method, threshold: Fraction, caps: dict[str, int] | None
) -> SeatAllocation | None:
    try:
        return allocate(votes, seats, method, threshold, max_seats=caps)
    except AllocationError:
        return None


SMALL = st.tuples(
    st.lists(st.integers(0, 40), min_size=1, max_size=4),
    st.integers(1, 8),
    st.integers(0, 7),
    st.sampled_from(list(Method)),
    st.sampled_from([Fraction(0), Fraction(0), Fraction(1, 10), Fraction(1, 4)]),
    st.booleans(),
)


def _check_against_brute_force(
    values: list[int],
    seats: int,
    outstanding: int,
    method: Method,
    threshold: Fraction,
    capped: bool,
) -> bool:
    """Compare the outlook with every scenario; False if the contest is not allocatable."""
    votes = {f"E{i}": v for i, v in enumerate(values)}
    caps = {"E0": 1} if capped and seats > 1 else None
    scenarios = [
        _try(
            {c: v + d for (c, v), d in zip(votes.items(), extra, strict=True)},
            seats,
            method,
            threshold,
            caps,
        )
        for extra in distributions(len(votes), outstanding)
    ]
    if any(s is None for s in scenarios):
        return False  # some scenario cannot be allocated (no votes, too few candidates)
    outlook = assembly_outlook(votes, seats, outstanding, method, threshold, max_seats=caps)
    exact_expected = method.is_highest_averages and threshold == 0
    for code, b in outlook.bounds.items():
        true_min = min(_seats(s, code)[0] for s in scenarios)
        true_max = max(_seats(s, code)[1] for s in scenarios)
        # Never claims certainty wrongly: the range always holds every reachable outcome.
        assert b.min_seats <= true_min, (code, b, true_min)
        assert b.max_seats >= true_max, (code, b, true_max)
        if b.min_exact:
            assert b.min_seats == true_min, (code, b, true_min)
        if b.max_exact:
            assert b.max_seats == true_max, (code, b, true_max)
        if exact_expected:
            assert b.min_exact and b.max_exact, (code, b)
        for witness in (b.min_witness, b.max_witness):
            if witness is not None:
                assert sum(witness.values()) <= outstanding
                assert set(witness) <= set(votes)
    if outlook.decided:
        first = {c: _seats(scenarios[0], c) for c in votes}
        assert all({c: _seats(s, c) for c in votes} == first for s in scenarios)
    return True


@settings(max_examples=300, deadline=None)
@given(SMALL)
def test_bounds_against_brute_force(
    case: tuple[list[int], int, int, Method, Fraction, bool],
) -> None:
    _check_against_brute_force(*case)


@pytest.mark.parametrize("method", list(Method))
def test_bounds_against_brute_force_seeded(method: Method) -> None:
    rng = random.Random(f"outlook-{method}")  # noqa: S311 - reproducible test data
    checked = 0
    for _ in range(150):
        values = [rng.randint(0, 60) for _ in range(rng.randint(2, 4))]
        seats = rng.randint(2, 9)
        outstanding = rng.randint(1, 9)
        threshold = rng.choice([Fraction(0), Fraction(0), Fraction(1, 10)])
        checked += _check_against_brute_force(values, seats, outstanding, method, threshold, rng.random() < 0.2)
    assert checked >= 110


def _random_split(rng: random.Random, votes: dict[str, int], outstanding: int) -> dict[str, int]:
    codes = list(votes)
    style = rng.random()
    used = outstanding if style < 0.7 else rng.randint(0, outstanding)
    if style < 0.2:  # everything to one entity
        return {rng.choice(codes): used}
    if style < 0.4:  # split between two
        a, b = rng.sample(codes, 2) if len(codes) > 1 else (codes[0], codes[0])
        cut = rng.randint(0, used)
        return {a: cut, b: used - cut} if a != b else {a: used}
    weights = [rng.random() ** 3 for _ in codes]
    total = sum(weights)
    extra = {c: int(used * w / total) for c, w in zip(codes, weights, strict=True)}
    return extra


@pytest.mark.parametrize("method", [Method.SAINTE_LAGUE, Method.DHONDT, Method.HARE])
def test_random_distributions_never_leave_the_bounds(method: Method) -> None:
    rng = random.Random(20131103)  # noqa: S311 - reproducible test data
    contests = 0
    for _ in range(12):
        n = rng.randint(3, 14)
        votes = {f"E{i}": int(rng.paretovariate(1.2) * 500) for i in range(n)}
        seats = rng.choice([15, 19, 21, 27, 31, 41, 51])
        outstanding = int(sum(votes.values()) * rng.choice([0.005, 0.02, 0.1]))
        threshold = rng.choice([Fraction(0), Fraction(0), Fraction(5, 100)])
        try:
            outlook = assembly_outlook(votes, seats, outstanding, method, threshold)
        except AllocationError:
            continue
        contests += 1
        for _ in range(120):
            extra = _random_split(rng, votes, outstanding)
            result = _try({c: v + extra.get(c, 0) for c, v in votes.items()}, seats, method, threshold, None)
            for code, b in outlook.bounds.items():
                low, high = _seats(result, code)
                assert b.min_seats <= low <= high <= b.max_seats, (code, b, extra)
                if b.certain:
                    assert low == high == b.min_seats
    assert contests >= 10


def test_worked_example() -> None:
    # Sainte-Laguë, 7 seats, 53,000 / 24,000 / 23,000 (A 3, B 2, C 2) with 1,000 votes to come.
    outlook = assembly_outlook({"A": 53_000, "B": 24_000, "C": 23_000}, 7, 1_000)
    a, b, c = (outlook.bounds[x] for x in "ABC")
    # B's 2nd seat rests on 8,000 (24,000/3); rivals would need far more than 1,000 votes.
    assert (b.min_seats, b.max_seats) == (2, 2)
    assert b.certain
    # C's 2nd seat rests on 7,666.67 (23,000/3), A's next quotient is 53,000/7 = 7,571.43:
    # A needs 7 x 7,666.67 = 53,666.67, i.e. 667 more votes, to take it.
    assert (c.min_seats, c.max_seats) == (1, 2)
    assert c.min_witness == {"A": 667}
    assert (a.min_seats, a.max_seats) == (3, 4)
    assert a.max_witness == {"A": 1_000}
    assert outlook.open_entities == ("A", "C")
    assert not outlook.decided
    # With 666 votes to come, nothing can change any more.
    assert assembly_outlook({"A": 53_000, "B": 24_000, "C": 23_000}, 7, 666).decided


def test_nothing_outstanding_means_decided_unless_tied() -> None:
    assert assembly_outlook({"A": 53_000, "B": 24_000, "C": 23_000}, 7, 0).decided
    tied = assembly_outlook({"A": 10, "B": 10, "C": 5}, 3, 0, "dhondt")
    assert not tied.decided
    assert (tied.bounds["C"].min_seats, tied.bounds["C"].max_seats) == (0, 1)


def test_threshold_can_still_exclude() -> None:
    # 5 %: C holds 60 of 1,000 votes and 6 of 100 seats. 201 more votes elsewhere push it under
    # the threshold (60 < 5 % of 1,201); with 200 it stays exactly at 5 % and qualifies.
    votes = {"A": 600, "B": 340, "C": 60}
    outlook = assembly_outlook(votes, 100, 201, "sainte-lague", Fraction(5, 100))
    assert outlook.bounds["C"].min_seats == 0
    assert outlook.bounds["C"].min_exact
    assert outlook.bounds["C"].min_witness == {"A": 201}
    kept = assembly_outlook(votes, 100, 200, "sainte-lague", "5/100").bounds["C"]
    assert kept.min_seats >= 5


def test_no_votes_yet() -> None:
    outlook = assembly_outlook({"A": 0, "B": 0}, 5, 100)
    assert outlook.current is None
    assert outlook.bounds["A"].max_seats == 5
    assert outlook.bounds["A"].min_seats == 0


# --- Mayor -----------------------------------------------------------------------------------

MAYOR_SMALL = st.tuples(
    st.lists(st.integers(0, 12), min_size=1, max_size=4),
    st.integers(0, 6),
    st.sampled_from(list(MajorityReading)),
    st.sampled_from(list(FinalistTie)),
    st.sampled_from(list(TwoCandidateRule)),
)


@settings(max_examples=250, deadline=None)
@given(MAYOR_SMALL)
def test_mayor_outlook_against_brute_force(
    case: tuple[list[int], int, MajorityReading, FinalistTie, TwoCandidateRule],
) -> None:
    values, outstanding, reading, tie_rule, two = case
    config = MayorConfig(majority=reading, finalist_tie=tie_rule, two_candidates=two)
    votes = {f"K{i}": v for i, v in enumerate(values)}
    results = [
        decide_first_round({c: v + d for (c, v), d in zip(votes.items(), extra, strict=True)}, config=config)
        for extra in distributions(len(votes), outstanding)
    ]
    finals = [
        {c: v + d for (c, v), d in zip(votes.items(), extra, strict=True)}
        for extra in distributions(len(votes), outstanding)
    ]
    outlook = mayor_outlook(votes, outstanding, config=config)
    elected = [r.elected if r.status is FirstRoundStatus.ELECTED else None for r in results]
    for c, o in outlook.candidates.items():
        assert o.can_win_outright == any(e == c for e in elected)
        assert o.certain_outright == all(e == c for e in elected)
        assert o.can_finish_first == any(f[c] >= max(f.values()) for f in finals)
        assert o.certain_first == all(all(f[c] > v for k, v in f.items() if k != c) for f in finals)
        assert o.can_reach_runoff == any(sum(1 for k, v in f.items() if k != c and v > f[c]) <= 1 for f in finals)
        if tie_rule is FinalistTie.REPORT:
            assert o.certain_top_two == all(sum(1 for k, v in f.items() if k != c and v >= f[c]) <= 1 for f in finals)
        else:
            assert o.certain_top_two == all(sum(1 for k, v in f.items() if k != c and v > f[c]) <= 1 for f in finals)
    no_majority = [r.status in (FirstRoundStatus.RUNOFF, FirstRoundStatus.TIE) and r.runoff_needed for r in results]
    assert outlook.runoff_possible == any(no_majority)
    assert outlook.runoff_certain == all(no_majority)
    assert outlook.winner_certain == (
        elected[0] if all(e == elected[0] for e in elected) and elected[0] is not None else None
    )


def test_mayor_worked_example() -> None:
    # 500 / 300 / 150 with 100 votes outstanding: A cannot be caught, B cannot lose second
    # place, C cannot reach the runoff; A could still reach the majority (600 of 1,050).
    outlook = mayor_outlook({"A": 500, "B": 300, "C": 150}, 100)
    assert not outlook.leader_can_be_caught
    assert outlook.certain_finalists == ("A", "B")
    assert outlook.out_of_runoff == ("C",)
    assert outlook.majority_can_be_won
    assert outlook.runoff_possible
    assert not outlook.runoff_certain
    assert outlook.winner_certain is None
    # With 1,000 counted votes final, A is 500 of 950: 476 needed, so A is elected for sure
    # only if no more than 49 votes are outstanding (500 >= 999 // 2 + 1 = 500).
    assert mayor_outlook({"A": 500, "B": 300, "C": 150}, 49).winner_certain == "A"
    assert mayor_outlook({"A": 500, "B": 300, "C": 150}, 50).winner_certain is None


def test_runoff_outlook() -> None:
    out = runoff_outlook({"A": 10_500, "B": 10_000}, 499)
    assert out.leader == "A"
    assert out.leader_certain
    assert not out.tie_possible
    assert out.can_win == ("A",)
    out = runoff_outlook({"A": 10_500, "B": 10_000}, 500)
    assert not out.leader_certain
    assert out.tie_possible
    assert out.can_win == ("A",)
    out = runoff_outlook({"A": 10_500, "B": 10_000}, 501)
    assert out.can_win == ("A", "B")
