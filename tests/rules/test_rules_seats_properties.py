"""Properties of seat allocation that hold for any votes (hypothesis)."""

from __future__ import annotations

import math
import random
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tallyroom.rules import (
    AllocationError,
    Method,
    SeatAllocation,
    SeededDraw,
    allocate,
    resolve_ties,
)

HIGHEST_AVERAGES = [Method.SAINTE_LAGUE, Method.MODIFIED_SAINTE_LAGUE, Method.DHONDT]
ALL_METHODS = list(Method)
SETTINGS = settings(max_examples=250, deadline=None)

counts = st.one_of(st.integers(0, 40), st.integers(0, 2_000), st.integers(0, 1_000_000))
vote_maps = st.one_of(
    st.lists(counts, min_size=1, max_size=12),
    # one dominant entity and many small ones: first guesses far from the final seats
    st.tuples(st.integers(10_000, 10**6), st.lists(st.integers(0, 50), max_size=20)).map(lambda t: [t[0], *t[1]]),
).map(lambda values: {f"E{i}": v for i, v in enumerate(values)})
seat_counts = st.integers(1, 61)
thresholds = st.sampled_from([Fraction(0), Fraction(1, 100), Fraction(3, 100), Fraction(5, 100)])


def _allocate(
    votes: dict[str, int], seats: int, method: Method, threshold: Fraction = Fraction(0)
) -> SeatAllocation | None:
    try:
        return allocate(votes, seats, method, threshold)
    except AllocationError:
        return None


@SETTINGS
@given(vote_maps, seat_counts, st.sampled_from(ALL_METHODS), thresholds)
def test_seats_add_up_to_the_house(votes: dict[str, int], seats: int, method: Method, threshold: Fraction) -> None:
    result = _allocate(votes, seats, method, threshold)
    assume(result is not None)
    assert result is not None
    assert set(result.seats) == set(votes)
    contested = result.tie.seats_in_contention if result.tie else 0
    assert sum(result.seats.values()) + contested == seats
    assert all(result.seats[c] == 0 for c in votes if c not in result.qualified)
    assert all(result.seats[c] == 0 for c, v in votes.items() if v == 0)
    if result.tie:
        assert 0 < contested < len(result.tie.entities)
        resolved = resolve_ties(result, draw=SeededDraw("property"))
        assert sum(resolved.final_seats().values()) == seats
        assert set(resolved.award_order) <= set(votes)


@SETTINGS
@given(vote_maps, seat_counts, st.sampled_from([*HIGHEST_AVERAGES, Method.HARE]), thresholds, st.integers(2, 1000))
def test_scaling_all_votes_changes_nothing(
    votes: dict[str, int], seats: int, method: Method, threshold: Fraction, factor: int
) -> None:
    # (Droop's rounded quota, floor(V/(S+1)) + 1, is not scale-invariant, so it is left out.)
    base = _allocate(votes, seats, method, threshold)
    assume(base is not None)
    assert base is not None
    scaled = allocate({c: v * factor for c, v in votes.items()}, seats, method, threshold)
    assert scaled.seats == base.seats
    assert scaled.tie == (None if base.tie is None else scaled.tie)
    if base.tie and scaled.tie:
        assert scaled.tie.entities == base.tie.entities
        assert scaled.tie.seats_in_contention == base.tie.seats_in_contention


@SETTINGS
@given(vote_maps, seat_counts, st.sampled_from(HIGHEST_AVERAGES), st.data())
def test_more_votes_never_cost_a_seat(votes: dict[str, int], seats: int, method: Method, data: st.DataObject) -> None:
    before = _allocate(votes, seats, method)
    assume(before is not None)
    assert before is not None
    entity = data.draw(st.sampled_from(sorted(votes)))
    extra = data.draw(st.integers(1, 100_000))
    after = allocate({**votes, entity: votes[entity] + extra}, seats, method)
    # Seats held without a lot never fall; the best case (winning any lot) never falls either.
    assert after.seats[entity] >= before.seats[entity]
    assert _best(after, entity) >= _best(before, entity)
    # Rivals gaining nothing cannot gain seats at the entity's expense in the worst case.
    for other in votes:
        if other != entity:
            assert after.seats[other] <= _best(before, other)


def _best(result: SeatAllocation, code: str) -> int:
    tied = result.tie is not None and code in result.tie.entities
    return result.seats[code] + (1 if tied else 0)


@SETTINGS
@given(vote_maps, st.integers(1, 60), st.sampled_from(HIGHEST_AVERAGES))
def test_a_larger_house_never_costs_a_seat(votes: dict[str, int], seats: int, method: Method) -> None:
    # No Alabama paradox for divisor methods.
    small = _allocate(votes, seats, method)
    assume(small is not None)
    assert small is not None
    large = allocate(votes, seats + 1, method)
    for code in votes:
        assert _best(large, code) >= small.seats[code]


@SETTINGS
@given(vote_maps, seat_counts, st.sampled_from(ALL_METHODS), st.randoms(use_true_random=False))
def test_order_of_entities_does_not_matter(
    votes: dict[str, int], seats: int, method: Method, rnd: random.Random
) -> None:
    base = _allocate(votes, seats, method)
    assume(base is not None)
    assert base is not None
    items = list(votes.items())
    rnd.shuffle(items)
    again = allocate(dict(items), seats, method)
    assert again.seats == base.seats
    assert (again.tie is None) == (base.tie is None)
    if again.tie and base.tie:
        assert set(again.tie.entities) == set(base.tie.entities)


@SETTINGS
@given(vote_maps, seat_counts, st.sampled_from(ALL_METHODS))
def test_an_entity_without_votes_changes_nothing(votes: dict[str, int], seats: int, method: Method) -> None:
    base = _allocate(votes, seats, method)
    assume(base is not None and method is not Method.DROOP)
    assert base is not None
    more = allocate({**votes, "NOBODY": 0}, seats, method)
    assert more.seats["NOBODY"] == 0
    assert {c: s for c, s in more.seats.items() if c != "NOBODY"} == base.seats


@SETTINGS
@given(vote_maps, seat_counts)
def test_dhondt_never_gives_less_than_the_lower_quota(votes: dict[str, int], seats: int) -> None:
    result = _allocate(votes, seats, Method.DHONDT)
    assume(result is not None)
    assert result is not None
    total = sum(votes.values())
    for code, v in votes.items():
        assert _best(result, code) >= v * seats // total


@SETTINGS
@given(vote_maps, seat_counts)
def test_hare_stays_within_the_quota(votes: dict[str, int], seats: int) -> None:
    result = _allocate(votes, seats, Method.HARE)
    assume(result is not None)
    assert result is not None
    total = sum(votes.values())
    for code, v in votes.items():
        quota = Fraction(v * seats, total)
        assert math.floor(quota) <= result.seats[code]
        assert _best(result, code) <= math.ceil(quota)


@SETTINGS
@given(vote_maps, seat_counts, st.sampled_from(ALL_METHODS), st.data())
def test_caps_are_respected_and_seats_still_filled(
    votes: dict[str, int], seats: int, method: Method, data: st.DataObject
) -> None:
    caps = {c: data.draw(st.integers(0, seats)) for c in votes if data.draw(st.booleans())}
    try:
        result = allocate(votes, seats, method, max_seats=caps)
    except AllocationError:
        return
    contested = result.tie.seats_in_contention if result.tie else 0
    assert sum(result.seats.values()) + contested == seats
    for code, cap in caps.items():
        assert _best(result, code) <= cap


@SETTINGS
@given(vote_maps, seat_counts, st.sampled_from(HIGHEST_AVERAGES), thresholds)
def test_quotient_table_explains_the_result(
    votes: dict[str, int], seats: int, method: Method, threshold: Fraction
) -> None:
    result = _allocate(votes, seats, method, threshold)
    assume(result is not None)
    assert result is not None
    table = result.quotient_table
    won = [c for row in table.rows for c in row.cells if c.seat_number is not None]
    lost = [c for row in table.rows for c in row.cells if c.seat_number is None]
    assert sorted(c.seat_number for c in won if c.seat_number) == list(range(1, sum(result.seats.values()) + 1))
    for row in table.rows:
        assert sum(1 for c in row.cells if c.seat_number) == row.seats == result.seats[row.entity]
        for c in row.cells:
            assert c.quotient == row.votes / c.divisor
    if won and lost:
        assert min(c.quotient for c in won) >= max(c.quotient for c in lost)
        if result.tie is None:
            assert min(c.quotient for c in won) > max(c.quotient for c in lost)
    order = [c.quotient for c in sorted(won, key=lambda c: c.seat_number or 0)]
    assert order == sorted(order, reverse=True)
