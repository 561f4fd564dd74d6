"""Seat allocation: hand-checked examples, a real election, thresholds, caps, ties, errors."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tallyroom.rules import (
    AllocationError,
    ExplicitOrder,
    InvalidInputError,
    Method,
    RulesErrorCode,
    SeededDraw,
    TieResolutionError,
    UnresolvedTieError,
    allocate,
    divisor,
    resolve_ties,
)

THREE = {"A": 53_000, "B": 24_000, "C": 23_000}


# 53,000 / 24,000 / 23,000 votes, 7 seats, worked by hand.
#
# D'Hondt (divisors 1, 2, 3, ...):
#   A 53000, 26500, 17666.7, 13250, 10600 | B 24000, 12000, 8000 | C 23000, 11500
#   ranked: 53000 A, 26500 A, 24000 B, 23000 C, 17666.7 A, 13250 A, 12000 B | next 11500 C
#   -> A 4, B 2, C 1
# Sainte-Laguë (1, 3, 5, ...):
#   A 53000, 17666.7, 10600, 7571.4 | B 24000, 8000, 4800 | C 23000, 7666.7, 4600
#   ranked: 53000 A, 24000 B, 23000 C, 17666.7 A, 10600 A, 8000 B, 7666.7 C | next 7571.4 A
#   -> A 3, B 2, C 2
# Modified Sainte-Laguë (1.4, 3, 5, ...):
#   A 37857.1, 17666.7, 10600, 7571.4 | B 17142.9, 8000 | C 16428.6, 7666.7
#   ranked: 37857.1 A, 17666.7 A, 17142.9 B, 16428.6 C, 10600 A, 8000 B, 7666.7 C | next 7571.4
#   -> A 3, B 2, C 2
# Hare (quota 100000/7 = 14285.71):
#   A 3.71 -> 3 (.71), B 1.68 -> 1 (.68), C 1.61 -> 1 (.61); 5 whole seats, 2 by remainder: A, B
#   -> A 4, B 2, C 1
# Droop (quota floor(100000/8) + 1 = 12501):
#   A 53000 = 4 x 12501 + 2996, B = 1 x 12501 + 11499, C = 1 x 12501 + 10499
#   6 whole seats, 1 by remainder: B (11499) -> A 4, B 2, C 1
@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (Method.DHONDT, {"A": 4, "B": 2, "C": 1}),
        (Method.SAINTE_LAGUE, {"A": 3, "B": 2, "C": 2}),
        (Method.MODIFIED_SAINTE_LAGUE, {"A": 3, "B": 2, "C": 2}),
        (Method.HARE, {"A": 4, "B": 2, "C": 1}),
        (Method.DROOP, {"A": 4, "B": 2, "C": 1}),
    ],
)
def test_three_parties_seven_seats_by_hand(method: Method, expected: dict[str, int]) -> None:
    result = allocate(THREE, 7, method)
    assert result.seats == expected
    assert result.tie is None
    assert result.is_decided
    assert result.final_seats() == expected


def test_award_order_and_quotient_table_explain_each_seat() -> None:
    result = allocate(THREE, 7, "sainte-lague")
    assert result.award_order == ("A", "B", "C", "A", "A", "B", "C")
    table = result.quotient_table
    rows = {row.entity: row for row in table.rows}
    a_cells = [(c.divisor, c.quotient, c.seat_number) for c in rows["A"].cells]
    assert a_cells == [
        (Fraction(1), Fraction(53000), 1),
        (Fraction(3), Fraction(53000, 3), 4),
        (Fraction(5), Fraction(10600), 5),
        (Fraction(7), Fraction(53000, 7), None),  # first loser: 7571.4 < 7666.7 (C's 2nd)
    ]
    assert [c.seat_number for c in rows["C"].cells] == [3, 7, None]
    winners = [c.quotient for row in table.rows for c in row.cells if c.seat_number]
    losers = [c.quotient for row in table.rows for c in row.cells if c.seat_number is None]
    assert len(winners) == 7
    assert min(winners) > max(losers)


def test_largest_remainder_table() -> None:
    table = allocate(THREE, 7, "droop").quotient_table
    assert table.quota == 12501
    rows = {row.entity: row for row in table.rows}
    assert rows["A"].automatic_seats == 4
    assert rows["A"].remainder == Fraction(2996, 12501)
    assert rows["B"].remainder_rank == 1
    assert rows["B"].remainder_seat
    assert not rows["C"].remainder_seat
    assert allocate(THREE, 7, "droop").award_order == ("B",)


# Known-answer table (Arlo style): votes, seats, method -> seats.
# 100,000 / 80,000 / 30,000 / 20,000 with 8 seats (the standard textbook example):
#   D'Hondt: 100 A, 80 B, 50 A, 40 B, 33.3 A, 30 C, 26.7 B, 25 A          -> 4 3 1 0
#   Sainte-Laguë: 100 A, 80 B, 33.3 A, 30 C, 26.7 B, 20 A, 20 D, 16 B     -> 3 3 1 1
#   Hare, quota 28,750: 3.48, 2.78, 1.04, 0.70; 6 whole, remainders B, D  -> 3 3 1 1
#   Droop, quota 25,556: remainders A 23,332, D 20,000, C 4,444, B 3,332  -> 4 3 1 0
FOUR = {"A": 100_000, "B": 80_000, "C": 30_000, "D": 20_000}
KNOWN_ANSWERS = [
    (FOUR, 8, Method.DHONDT, {"A": 4, "B": 3, "C": 1, "D": 0}),
    (FOUR, 8, Method.SAINTE_LAGUE, {"A": 3, "B": 3, "C": 1, "D": 1}),
    (FOUR, 8, Method.HARE, {"A": 3, "B": 3, "C": 1, "D": 1}),
    (FOUR, 8, Method.DROOP, {"A": 4, "B": 3, "C": 1, "D": 0}),
    # One seat: the plurality winner, whatever the method.
    (FOUR, 1, Method.SAINTE_LAGUE, {"A": 1, "B": 0, "C": 0, "D": 0}),
    (FOUR, 1, Method.HARE, {"A": 1, "B": 0, "C": 0, "D": 0}),
    # A lone entity takes every seat.
    ({"A": 5}, 15, Method.SAINTE_LAGUE, {"A": 15}),
    ({"A": 5, "B": 0}, 15, Method.DHONDT, {"A": 15, "B": 0}),
]


@pytest.mark.parametrize(("votes", "seats", "method", "expected"), KNOWN_ANSWERS)
def test_known_answers(votes: dict[str, int], seats: int, method: Method, expected: dict[str, int]) -> None:
    assert allocate(votes, seats, method).seats == expected


# New Zealand general election 2014, party votes of the parties entitled to list seats (over the
# 5 % threshold or holding an electorate). Sources: Electoral Commission final results as
# reported by ABC (Antony Green, "New Zealand Election Results Declared", 4 Oct 2014,
# abc.net.au/news/2014-10-04/new-zealand-election-results-declared/9388500) and the Wikipedia
# infobox (2014 New Zealand general election): National 1,131,501; Labour 604,534; Green
# 257,356; NZ First 208,300; Māori 31,850; ACT 16,689; United Future 5,286. Some tables give
# Labour 604,535 and Green 257,359; both variants are tested.
NZ_2014 = {
    "National": 1_131_501,
    "Labour": 604_534,
    "Green": 257_356,
    "NZ First": 208_300,
    "Māori": 31_850,
    "ACT": 16_689,
    "United Future": 5_286,
}
# Electorate seats won by parties whose entitlement could fall short (Electoral Act 1993
# s 191(4): a party keeps electorate seats beyond its entitlement, as overhang).
NZ_2014_ELECTORATES = {"Māori": 1, "ACT": 1, "United Future": 1}


@pytest.mark.parametrize("variant", [{}, {"Labour": 604_535, "Green": 257_359}])
def test_new_zealand_2014(variant: dict[str, int]) -> None:
    votes = {**NZ_2014, **variant}
    entitlement = allocate(votes, 120, "sainte-lague").final_seats()
    # United Future's 0.22 % is entitled to no list seat...
    assert entitlement == {
        "National": 60,
        "Labour": 32,
        "Green": 14,
        "NZ First": 11,
        "Māori": 2,
        "ACT": 1,
        "United Future": 0,
    }
    # ...so its electorate seat is an overhang and the House has 121 members, as published:
    # National 60, Labour 32, Green 14, NZ First 11, Māori 2, ACT 1, United Future 1.
    house = {p: max(s, NZ_2014_ELECTORATES.get(p, 0)) for p, s in entitlement.items()}
    assert house == {
        "National": 60,
        "Labour": 32,
        "Green": 14,
        "NZ First": 11,
        "Māori": 2,
        "ACT": 1,
        "United Future": 1,
    }
    assert sum(house.values()) == 121


def test_divisors() -> None:
    assert [divisor("sainte-lague", k) for k in range(4)] == [1, 3, 5, 7]
    assert [divisor("modified-sainte-lague", k) for k in range(3)] == [Fraction(7, 5), 3, 5]
    assert [divisor("dhondt", k) for k in range(3)] == [1, 2, 3]
    with pytest.raises(InvalidInputError) as err:
        divisor("hare", 0)
    assert err.value.code is RulesErrorCode.UNKNOWN_METHOD


class TestThreshold:
    # 5 % of 1000 valid votes is exactly 50 votes.
    VOTES = {"A": 600, "B": 300, "C": 50, "D": 49, "E": 1}

    def test_entity_exactly_at_threshold_qualifies(self) -> None:
        result = allocate(self.VOTES, 10, "sainte-lague", Fraction(5, 100))
        assert "C" in result.qualified
        assert "D" not in result.qualified
        assert result.seats["D"] == 0
        assert result.quotient_table.threshold_votes == 50

    def test_flag_excludes_entity_exactly_at_threshold(self) -> None:
        result = allocate(self.VOTES, 10, "sainte-lague", Fraction(5, 100), threshold_inclusive=False)
        assert "C" not in result.qualified
        assert result.seats["C"] == 0
        assert sum(result.seats.values()) == 10

    @pytest.mark.parametrize("share", ["5/100", "0.05", Fraction(1, 20)])
    def test_exact_threshold_forms(self, share: str | Fraction) -> None:
        assert "C" in allocate(self.VOTES, 10, "dhondt", share).qualified

    def test_float_threshold_refused(self) -> None:
        with pytest.raises(InvalidInputError) as err:
            allocate(self.VOTES, 10, "dhondt", 0.05)  # type: ignore[arg-type]
        assert err.value.code is RulesErrorCode.FLOAT_NOT_ALLOWED

    def test_exact_case_that_floats_get_wrong(self) -> None:
        # 0.07 * 100 == 7.000000000000001 in binary floating point: a float comparison would
        # exclude an entity holding exactly 7 % of the votes.
        votes = {"A": 7, "B": 93}
        assert 0.07 * 100 > 7  # the float trap this test guards against
        assert "A" in allocate(votes, 5, "sainte-lague", "0.07").qualified

    def test_no_qualified_entity(self) -> None:
        with pytest.raises(AllocationError) as err:
            allocate({"A": 0, "B": 0}, 3)
        assert err.value.code is RulesErrorCode.NO_VOTES_TO_ALLOCATE


class TestCaps:
    def test_surplus_seat_goes_to_next_quotient(self) -> None:
        # A would win 4 of 7 under D'Hondt but has only 3 candidates.
        capped = allocate(THREE, 7, "dhondt", max_seats={"A": 3})
        # A's 4th quotient (13250) is passed over; the next quotient is C's 11500.
        assert capped.seats == {"A": 3, "B": 2, "C": 2}

    def test_largest_remainder_surplus(self) -> None:
        # A's whole quota (3.71 -> 3) exceeds its 2 candidates: A keeps 2 and the other 5 seats
        # are shared again between B and C, quota 47000/5 = 9400: B 2.55, C 2.45 -> 2 + 2, and
        # the last seat to B's remainder.
        capped = allocate(THREE, 7, "hare", max_seats={"A": 2})
        rows = {row.entity: row for row in capped.quotient_table.rows}
        assert capped.quotient_table.quota == 9400
        assert rows["A"].automatic_seats == 2
        assert rows["B"].remainder_seat
        assert capped.seats == {"A": 2, "B": 3, "C": 2}

    def test_not_enough_candidates(self) -> None:
        with pytest.raises(AllocationError) as err:
            allocate(THREE, 7, "sainte-lague", max_seats={"A": 1, "B": 1, "C": 1})
        assert err.value.code is RulesErrorCode.INSUFFICIENT_CAPACITY

    def test_unknown_entity_in_caps(self) -> None:
        with pytest.raises(InvalidInputError):
            allocate(THREE, 7, max_seats={"Z": 1})


class TestTies:
    # D'Hondt, 3 seats: A 10, 5 | B 10, 5 | C 5. Seats 1-2 go to A and B; the third is a
    # three-way tie at quotient 5.
    VOTES = {"A": 10, "B": 10, "C": 5}

    def test_tie_is_reported_not_decided(self) -> None:
        result = allocate(self.VOTES, 3, "dhondt")
        assert result.tie is not None
        assert result.tie.entities == ("A", "B", "C")
        assert result.tie.seats_in_contention == 1
        assert result.tie.value == 5
        assert result.seats == {"A": 1, "B": 1, "C": 0}
        assert not result.is_decided
        with pytest.raises(UnresolvedTieError) as err:
            result.final_seats()
        assert err.value.code is RulesErrorCode.UNRESOLVED_TIE
        contested = [(row.entity, c.quotient) for row in result.quotient_table.rows for c in row.cells if c.contested]
        assert contested == [("A", Fraction(5)), ("B", Fraction(5)), ("C", Fraction(5))]

    def test_two_seats_in_contention(self) -> None:
        result = allocate({"A": 6, "B": 6, "C": 6, "D": 1}, 2, "sainte-lague")
        assert result.tie is not None
        assert result.tie.entities == ("A", "B", "C")
        assert result.tie.seats_in_contention == 2
        resolved = resolve_ties(result, draw=SeededDraw("2013-11-03 dice 4-1-6"))
        assert sum(resolved.final_seats().values()) == 2
        assert resolved.resolution is not None
        assert len(resolved.resolution.record.winners) == 2

    def test_seeded_draw_is_recorded_and_reproducible(self) -> None:
        result = allocate(self.VOTES, 3, "dhondt")
        first = resolve_ties(result, draw=SeededDraw("public dice 3-5-2"))
        again = resolve_ties(result, draw=SeededDraw("public dice 3-5-2"))
        assert first.seats == again.seats
        assert first.resolution is not None
        record = first.resolution.record
        assert record.seed == "public dice 3-5-2"
        assert record.contenders == ("A", "B", "C")
        assert record.places == 1
        assert set(record.order) == {"A", "B", "C"}
        assert first.final_seats()[record.winners[0]] == 2
        assert sum(first.final_seats().values()) == 3
        assert first.award_order[-1] == record.winners[0]
        assert record.as_dict()["seed"] == "public dice 3-5-2"

    def test_explicit_order(self) -> None:
        result = allocate(self.VOTES, 3, "dhondt")
        resolved = resolve_ties(result, order=["C", "B", "A"])
        assert resolved.final_seats() == {"A": 1, "B": 1, "C": 1}
        assert resolved.resolution is not None
        assert resolved.resolution.record.method == "explicit-order"
        decision = ExplicitOrder(("B", "A", "C", "Z"), reference="CEC decision 123/2013")
        assert resolve_ties(result, order=decision).final_seats() == {"A": 1, "B": 2, "C": 0}

    def test_explicit_order_must_place_every_contender(self) -> None:
        result = allocate(self.VOTES, 3, "dhondt")
        with pytest.raises(TieResolutionError) as err:
            resolve_ties(result, order=["A", "B"])
        assert err.value.code is RulesErrorCode.INVALID_TIE_ORDER

    def test_resolution_needs_an_open_tie_and_one_method(self) -> None:
        with pytest.raises(TieResolutionError) as err:
            resolve_ties(allocate(THREE, 7), draw=SeededDraw("x"))
        assert err.value.code is RulesErrorCode.NO_TIE_TO_RESOLVE
        tied = allocate(self.VOTES, 3, "dhondt")
        with pytest.raises(TieResolutionError):
            resolve_ties(tied)
        with pytest.raises(TieResolutionError):
            resolve_ties(tied, draw=SeededDraw("x"), order=["A", "B", "C"])
        resolved = resolve_ties(tied, order=["A", "B", "C"])
        with pytest.raises(TieResolutionError):
            resolve_ties(resolved, order=["A", "B", "C"])

    def test_largest_remainder_tie(self) -> None:
        # Hare, 3 seats, 25 votes: quota 25/3; A 1.2, B 1.2, C 0.6 -> 2 whole seats, and the
        # remainders are 0.2, 0.2, 0.6: C takes the last seat, no tie.
        assert allocate(self.VOTES, 3, "hare").seats == {"A": 1, "B": 1, "C": 1}
        # Hare, 2 seats, 30 votes: A 1.0, B 0.5, C 0.5 -> B and C tie for one seat.
        result = allocate({"A": 15, "B": 7, "C": 8}, 2, "hare")
        assert result.tie is None
        result = allocate({"A": 15, "B": 7, "C": 7, "D": 1}, 2, "hare")
        assert result.tie is not None
        assert result.tie.kind == "remainder"
        assert result.tie.entities == ("B", "C")
        assert result.tie.value == Fraction(7 * 2, 30)

    def test_tie_inside_the_seats_is_no_tie(self) -> None:
        # Equal quotients that all win are not a tie.
        result = allocate({"A": 10, "B": 10, "C": 1}, 2, "dhondt")
        assert result.tie is None
        assert result.seats == {"A": 1, "B": 1, "C": 0}


class TestInputErrors:
    @pytest.mark.parametrize(
        "votes",
        [
            {"A": -1},
            {"A": 1.5},
            {"A": True},
            {"": 3},
            {3: 3},
        ],
    )
    def test_bad_votes(self, votes: dict[object, object]) -> None:
        with pytest.raises(InvalidInputError) as err:
            allocate(votes, 3)  # type: ignore[arg-type]
        assert err.value.code in {RulesErrorCode.INVALID_VOTES, RulesErrorCode.FLOAT_NOT_ALLOWED}

    @pytest.mark.parametrize("seats", [0, -1, 2.0, True])
    def test_bad_seats(self, seats: object) -> None:
        with pytest.raises(InvalidInputError):
            allocate(THREE, seats)  # type: ignore[arg-type]

    def test_unknown_method(self) -> None:
        with pytest.raises(InvalidInputError) as err:
            allocate(THREE, 3, "imperiali")  # type: ignore[arg-type]
        assert err.value.code is RulesErrorCode.UNKNOWN_METHOD
        assert "imperiali" in str(err.value)

    @pytest.mark.parametrize("share", [-1, 2, "abc", Fraction(3, 2)])
    def test_bad_threshold(self, share: object) -> None:
        with pytest.raises(InvalidInputError) as err:
            allocate(THREE, 3, "dhondt", share)  # type: ignore[arg-type]
        assert err.value.code is RulesErrorCode.INVALID_SHARE

    def test_droop_with_too_few_votes_refuses_rather_than_guesses(self) -> None:
        # 3 votes, 10 seats: Droop quota 1 gives 3 whole seats; 7 remain for 2 entities.
        with pytest.raises(AllocationError) as err:
            allocate({"A": 2, "B": 1}, 10, "droop")
        assert err.value.code is RulesErrorCode.REMAINDER_SEATS_EXCEED_ENTITIES


@pytest.mark.parametrize("method", list(Method))
def test_one_dominant_entity_and_many_small_ones(method: Method) -> None:
    # The first guess for the dominant entity can exceed the house (D'Hondt: by up to n/2).
    votes = {"A": 9_900, **{f"B{i}": 10 for i in range(10)}}
    assert allocate(votes, 5, method).seats["A"] == 5
    assert allocate(votes, 1, method).seats["A"] == 1


def test_every_entity_is_present_and_input_order_kept() -> None:
    result = allocate({"Z": 0, "B": 10, "A": 1}, 3)
    assert list(result.seats) == ["Z", "B", "A"]
    assert result.seats["Z"] == 0
    assert result.valid_votes == 11
