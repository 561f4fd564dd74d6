"""Seat allocation between political entities (highest averages and largest remainder).

Kosovo's municipal assemblies use Sainte-Laguë (divisors 1, 3, 5, ...) with no threshold
(kosovo-rules.md §1.2). The other methods are here for other countries and for comparison.

All arithmetic is exact. Highest-averages quotients ``votes / divisor`` are compared as
integers: every divisor is scaled to an integer ``D_k`` and each quotient is represented by
``votes * (L // D_k)`` where ``L`` is the least common multiple of the divisors in use, which
preserves order and equality exactly. The quotient table shown to people is built on demand
from the same numbers, as :class:`fractions.Fraction` values.

A tie for the last seat(s) is reported in :attr:`SeatAllocation.tie` and never broken here; see
:func:`resolve_ties`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import Literal

from tallyroom.rules.common import ShareLike, as_share, check_count, check_vote_map
from tallyroom.rules.errors import (
    AllocationError,
    InvalidInputError,
    RulesErrorCode,
    TieResolutionError,
    UnresolvedTieError,
)
from tallyroom.rules.ties import DrawRecord, ExplicitOrder, SeededDraw, choose_breaker


class Method(StrEnum):
    """Seat allocation methods."""

    SAINTE_LAGUE = "sainte-lague"
    MODIFIED_SAINTE_LAGUE = "modified-sainte-lague"
    DHONDT = "dhondt"
    HARE = "hare"
    DROOP = "droop"

    @property
    def is_highest_averages(self) -> bool:
        return self in _DIVISOR_SCALE


MethodLike = Method | Literal["sainte-lague", "modified-sainte-lague", "dhondt", "hare", "droop"]

# Divisors are scaled to integers: modified Sainte-Laguë's 1.4, 3, 5, ... becomes 7, 15, 25, ...
_DIVISOR_SCALE: dict[Method, int] = {
    Method.SAINTE_LAGUE: 1,
    Method.MODIFIED_SAINTE_LAGUE: 5,
    Method.DHONDT: 1,
}


def scaled_divisor(method: Method, k: int) -> int:
    """The divisor for an entity already holding ``k`` seats, times the method's scale.

    The scale (5 for modified Sainte-Laguë, else 1) makes every divisor an integer; comparisons
    of quotients are unaffected because all divisors share it.
    """
    if method is Method.SAINTE_LAGUE:
        return 2 * k + 1
    if method is Method.MODIFIED_SAINTE_LAGUE:
        return 7 if k == 0 else 5 * (2 * k + 1)
    return k + 1


def divisor(method: MethodLike, k: int) -> Fraction:
    """The divisor applied to an entity that already holds ``k`` seats (highest averages only)."""
    m = as_method(method)
    if not m.is_highest_averages:
        raise InvalidInputError(RulesErrorCode.UNKNOWN_METHOD, f"{m} has no divisors")
    return Fraction(scaled_divisor(m, k), _DIVISOR_SCALE[m])


@lru_cache(maxsize=512)
def _weights(method: Method, count: int) -> tuple[int, ...]:
    """``L // D_k`` for k < count: integer keys ``votes * w[k]`` order quotients exactly."""
    scaled = [scaled_divisor(method, k) for k in range(count)]
    lcm = math.lcm(*scaled)
    return tuple(lcm // d for d in scaled)


def as_method(method: MethodLike | str) -> Method:
    if type(method) is Method:
        return method
    try:
        return Method(method)
    except ValueError:
        raise InvalidInputError(
            RulesErrorCode.UNKNOWN_METHOD,
            f"unknown allocation method {method!r}; use one of {', '.join(Method)}",
        ) from None


@dataclass(frozen=True, slots=True)
class SeatTie:
    """A tie for the last seat(s): more entities share the cut-off value than seats remain."""

    entities: tuple[str, ...]
    seats_in_contention: int
    #: The tied quotient (highest averages) or remainder in seats (largest remainder).
    value: Fraction
    kind: Literal["quotient", "remainder"]


@dataclass(frozen=True, slots=True)
class TieResolution:
    """How a :class:`SeatTie` was resolved, for the audit log."""

    tie: SeatTie
    record: DrawRecord


@dataclass(frozen=True, slots=True)
class QuotientCell:
    """One quotient ``votes / divisor`` of the highest-averages table."""

    divisor: Fraction
    quotient: Fraction
    #: The seat (1-based, in award order) won by this quotient, or None.
    seat_number: int | None
    #: Part of an unresolved (or resolved-by-lot) tie for the last seat(s).
    contested: bool


@dataclass(frozen=True, slots=True)
class EntityRow:
    """One entity's line of the quotient table."""

    entity: str
    votes: int
    qualified: bool
    seats: int
    #: Highest averages: quotients for 0..seats divisors (the winning ones and the first loser).
    cells: tuple[QuotientCell, ...] = ()
    #: Largest remainder: votes / quota, the whole seats, the remainder and its rank.
    quota_quotient: Fraction | None = None
    automatic_seats: int | None = None
    remainder: Fraction | None = None
    remainder_rank: int | None = None
    remainder_seat: bool = False
    contested: bool = False


@dataclass(frozen=True, slots=True)
class QuotientTable:
    """The full working used to allocate the seats."""

    method: Method
    house_size: int
    valid_votes: int
    threshold_votes: Fraction
    qualified_votes: int
    quota: Fraction | None
    rows: tuple[EntityRow, ...]


@dataclass(frozen=True)
class SeatAllocation:
    """The outcome of :func:`allocate`.

    ``seats`` holds every entity (zero included). If ``tie`` is set and not yet resolved, the
    contested seats are *not* in ``seats`` (their sum is then below ``house_size``); use
    :func:`resolve_ties` or :meth:`final_seats`.
    """

    method: Method
    house_size: int
    votes: Mapping[str, int]
    threshold: Fraction
    threshold_inclusive: bool
    qualified: tuple[str, ...]
    seats: Mapping[str, int]
    tie: SeatTie | None
    resolution: TieResolution | None = None
    max_seats: Mapping[str, int] | None = None

    @property
    def is_decided(self) -> bool:
        """True when every seat has an owner (no tie, or the tie was resolved)."""
        return self.tie is None or self.resolution is not None

    @property
    def valid_votes(self) -> int:
        return sum(self.votes.values())

    @property
    def allocated(self) -> int:
        return sum(self.seats.values())

    def final_seats(self) -> dict[str, int]:
        """The seats, refusing to answer while a tie is unresolved."""
        tie = self.tie
        if tie is not None and self.resolution is None:
            raise UnresolvedTieError(
                RulesErrorCode.UNRESOLVED_TIE,
                f"{tie.seats_in_contention} seat(s) tied between {', '.join(tie.entities)}; resolve the tie first",
                {"entities": list(tie.entities)},
            )
        return dict(self.seats)

    @cached_property
    def award_order(self) -> tuple[str, ...]:
        """Highest averages: the entity winning each seat, in order. Largest remainder: the
        entities given a remainder seat, best remainder first. Seats still contested are left
        out; seats given by a tie resolution come last, in the order drawn."""
        return _award_order(self)

    @cached_property
    def quotient_table(self) -> QuotientTable:
        """The quotients (or quota and remainders) behind every seat, built on first use."""
        return _build_table(self)


def allocate(
    votes: Mapping[str, int],
    seats: int,
    method: MethodLike = Method.SAINTE_LAGUE,
    threshold: ShareLike = 0,
    *,
    threshold_inclusive: bool = True,
    max_seats: Mapping[str, int] | None = None,
) -> SeatAllocation:
    """Allocate ``seats`` between entities by ``method``.

    ``votes`` maps entity code to valid votes. ``threshold`` is a share of all valid votes (the
    sum of ``votes``); an entity exactly at the threshold qualifies unless
    ``threshold_inclusive=False``. ``max_seats`` caps entities (e.g. at the number of eligible
    candidates on their list); a capped entity's further quotients are passed over.

    An entity needs at least one vote to win a seat.
    """
    check_vote_map(votes)
    check_count(seats, "seats")
    if seats < 1:
        raise InvalidInputError(RulesErrorCode.INVALID_SEATS, "at least one seat is needed")
    m = as_method(method)
    share = as_share(threshold, "threshold")
    codes = list(votes)
    vs = list(votes.values())
    total = sum(vs)
    caps = _caps(codes, max_seats, seats)

    num, den = share.numerator, share.denominator
    everyone = num == 0 and threshold_inclusive
    if everyone:
        qualified = [True] * len(vs)
    elif threshold_inclusive:
        qualified = [v * den >= num * total for v in vs]
    else:
        qualified = [v * den > num * total for v in vs]
    if not (total if everyone else any(v and q for q, v in zip(qualified, vs, strict=True))):
        raise AllocationError(
            RulesErrorCode.NO_VOTES_TO_ALLOCATE,
            "no entity with votes reaches the threshold; there is nothing to allocate",
        )

    if m.is_highest_averages:
        counts, tie = _highest_averages(m, codes, vs, qualified, caps, seats)
    else:
        counts, tie = _largest_remainder(m, codes, vs, qualified, caps, seats)

    return SeatAllocation(
        method=m,
        house_size=seats,
        votes=MappingProxyType(dict(votes)),
        threshold=share,
        threshold_inclusive=threshold_inclusive,
        qualified=tuple(codes) if everyone else tuple(c for c, q in zip(codes, qualified, strict=True) if q),
        seats=MappingProxyType(dict(zip(codes, counts, strict=True))),
        tie=tie,
        max_seats=None if max_seats is None else MappingProxyType(dict(max_seats)),
    )


def _caps(codes: Sequence[str], max_seats: Mapping[str, int] | None, seats: int) -> list[int]:
    if max_seats is None:
        return [seats] * len(codes)
    unknown = set(max_seats) - set(codes)
    if unknown:
        raise InvalidInputError(
            RulesErrorCode.INVALID_SEATS,
            f"max_seats names entities without votes: {', '.join(sorted(unknown))}",
        )
    return [min(seats, check_count(max_seats.get(c, seats), f"max_seats[{c!r}]")) for c in codes]


_Outcome = tuple[list[int], SeatTie | None]


def _estimate(method: Method, vs: Sequence[int], active: Sequence[int], caps: Sequence[int], seats: int) -> list[int]:
    """A first guess of the seats: for a value ``lam``, each entity's quotients ``>= lam``.

    Whatever ``lam`` is, those quotients form the top of the global ranking (every quotient
    ``>= lam`` is counted), so the exact result is reached from the guess by adding the
    largest next quotients or removing the smallest winning ones. ``lam`` is the usual
    rounding divisor (``V/(2S)`` for Sainte-Laguë, ``V/(S + n/2)`` for D'Hondt), which makes the
    guess off by a few seats at most, instead of one step per seat.
    """
    counts = [0] * len(vs)
    total = sum(vs[i] for i in active)
    if method is Method.DHONDT:
        # x = floor(v / lam) with lam = 2V / (2S + n)
        f, d = 2 * seats + len(active), 2 * total
        for i in active:
            counts[i] = vs[i] * f // d
    elif method is Method.SAINTE_LAGUE:
        # divisors 1, 3, 5, ... <= x: (x + 1) // 2 of them, x = floor(v / lam), lam = V / (2S)
        f = 2 * seats
        for i in active:
            counts[i] = (vs[i] * f // total + 1) // 2
    else:
        # scaled divisors 7, 15, 25, 35, ... <= x: 1 + (x // 5 - 1) // 2 of them when x >= 7,
        # x = floor(5 v / lam)
        f = 10 * seats
        for i in active:
            x = vs[i] * f // total
            counts[i] = 0 if x < 7 else 1 + max(0, (x // 5 - 1) // 2)
    # Sainte-Laguë guesses never exceed the house; D'Hondt's can (by up to n/2), and lists with
    # too few candidates have caps below it.
    if method is Method.DHONDT or min(caps) < seats:
        for i in active:
            counts[i] = min(counts[i], caps[i])
    return counts


def _highest_averages(
    method: Method,
    codes: Sequence[str],
    vs: Sequence[int],
    qualified: Sequence[bool],
    caps: Sequence[int],
    seats: int,
) -> _Outcome:
    w = _weights(method, seats + 1)
    active = [i for i, v in enumerate(vs) if v and qualified[i] and caps[i]]
    if not active:
        raise AllocationError(
            RulesErrorCode.INSUFFICIENT_CAPACITY,
            "no entity with votes can take a seat (every one is capped at zero)",
        )
    counts = _estimate(method, vs, active, caps, seats)
    positions = range(len(active))
    diff = seats - sum(counts)
    # Find the smallest winning quotient (`cutoff`) and the largest losing one (`loser`) on the
    # way: a tie exists exactly when they are equal. Keys are -1 for "none" (all keys are >= 0).
    if diff > 0:
        # Add the largest next quotients, in decreasing order: the last one added is the
        # smallest winner (every guessed winner is larger).
        nxt = [vs[i] * w[counts[i]] if counts[i] < caps[i] else -1 for i in active]
        cutoff = -1
        for _ in range(diff):
            j = max(positions, key=nxt.__getitem__)
            cutoff = nxt[j]
            if cutoff < 0:
                raise AllocationError(
                    RulesErrorCode.INSUFFICIENT_CAPACITY,
                    f"only {sum(counts)} of {seats} seats can be filled: every entity with "
                    "votes has reached its maximum number of seats",
                    {"filled": sum(counts)},
                )
            i = active[j]
            c = counts[i] + 1
            counts[i] = c
            nxt[j] = vs[i] * w[c] if c < caps[i] else -1
        loser = max(nxt)
    elif diff < 0:
        # Remove the smallest winning quotients, in increasing order: the last one removed is
        # the largest loser (every quotient never guessed is smaller). `top` marks no seat.
        top = max(vs) * w[0] + 1
        last = [vs[i] * w[counts[i] - 1] if counts[i] else top for i in active]
        loser = -1
        for _ in range(-diff):
            j = min(positions, key=last.__getitem__)
            loser = last[j]
            i = active[j]
            c = counts[i] - 1
            counts[i] = c
            last[j] = vs[i] * w[c - 1] if c else top
        cutoff = min(last)
    else:
        cutoff = min(vs[i] * w[counts[i] - 1] for i in active if counts[i])
        loser = max((vs[i] * w[counts[i]] for i in active if counts[i] < caps[i]), default=-1)
    if loser != cutoff:
        return counts, None

    left_out = [i for i in active if counts[i] < caps[i] and vs[i] * w[counts[i]] == cutoff]
    tied_in = [i for i in active if counts[i] and vs[i] * w[counts[i] - 1] == cutoff]
    for i in tied_in:
        counts[i] -= 1
    tied = sorted(tied_in + left_out)
    i0 = tied[0]
    value = Fraction(vs[i0] * _DIVISOR_SCALE[method], scaled_divisor(method, counts[i0]))
    return counts, SeatTie(tuple(codes[i] for i in tied), len(tied_in), value, "quotient")


@dataclass(frozen=True, slots=True)
class _QuotaRound:
    """The last round of a largest-remainder allocation (earlier rounds only fix capped ones)."""

    seats: int  # seats shared in this round
    numerator: int  # whole seats = votes * numerator // denominator
    denominator: int
    active: tuple[int, ...]  # entities sharing the seats
    capped: dict[int, int]  # entities set aside at their cap in earlier rounds


def _quota_rounds(
    method: Method, vs: Sequence[int], qualified: Sequence[bool], caps: Sequence[int], seats: int
) -> _QuotaRound:
    """Set aside entities whose whole quotas reach their cap, then recompute without them.

    A capped entity keeps its cap and the remaining seats are shared among the others with a
    new quota, so that the surplus follows the same rule as every other seat.
    """
    active = [i for i, q in enumerate(qualified) if q]
    capped: dict[int, int] = {}
    while True:
        total = sum(vs[i] for i in active)
        # Remainders stay integer numerators over a common denominator:
        # Hare: votes*S = whole*Vq + r; Droop: votes = whole*Q + r, Q = floor(Vq/(S+1)) + 1.
        if method is Method.HARE:
            numerator, denominator = seats, max(total, 1)
        else:
            numerator, denominator = 1, total // (seats + 1) + 1
        over = [i for i in active if vs[i] * numerator // denominator >= caps[i]]
        if not over or seats == 0:
            return _QuotaRound(seats, numerator, denominator, tuple(active), capped)
        for i in over:
            capped[i] = caps[i]
            seats -= caps[i]
            active.remove(i)


def _largest_remainder(
    method: Method,
    codes: Sequence[str],
    vs: Sequence[int],
    qualified: Sequence[bool],
    caps: Sequence[int],
    seats: int,
) -> _Outcome:
    rnd = _quota_rounds(method, vs, qualified, caps, seats)
    counts = [0] * len(vs)
    for i, cap in rnd.capped.items():
        counts[i] = cap
    rems: list[tuple[int, int]] = []
    for i in rnd.active:
        whole, r = divmod(vs[i] * rnd.numerator, rnd.denominator)
        counts[i] = whole
        if vs[i]:
            rems.append((-r, i))
    left = seats - sum(counts)
    if left == 0:
        return counts, None
    if left > len(rems):
        if sum(caps[i] - counts[i] for i in rnd.active if vs[i]) < left:
            raise AllocationError(
                RulesErrorCode.INSUFFICIENT_CAPACITY,
                f"{left} seats remain but the entities with votes have no more candidates",
                {"remaining": left},
            )
        raise AllocationError(
            RulesErrorCode.REMAINDER_SEATS_EXCEED_ENTITIES,
            f"{left} seats remain after the quota stage but only {len(rems)} entities can take a "
            "remainder seat; the largest-remainder method is not defined for this input",
            {"remaining": left, "entities": len(rems)},
        )
    rems.sort()
    cutoff = rems[left - 1][0]
    above = [i for r, i in rems if r < cutoff]
    at = [i for r, i in rems if r == cutoff]
    for i in above:
        counts[i] += 1
    if len(above) + len(at) == left:
        for i in at:
            counts[i] += 1
        return counts, None
    tie = SeatTie(
        tuple(codes[i] for i in sorted(at)),
        left - len(above),
        Fraction(-cutoff, rnd.denominator),
        "remainder",
    )
    return counts, tie


def resolve_ties(
    result: SeatAllocation,
    *,
    draw: SeededDraw | None = None,
    order: ExplicitOrder | Sequence[str] | None = None,
) -> SeatAllocation:
    """Give the contested seats by a recorded draw of lots or an explicit order.

    Returns a new allocation whose ``resolution`` holds the :class:`DrawRecord` (seed, order,
    winners) to store in the audit log.
    """
    if result.tie is None or result.resolution is not None:
        raise TieResolutionError(RulesErrorCode.NO_TIE_TO_RESOLVE, "the allocation has no open tie")
    breaker = choose_breaker(draw, order)
    record = breaker.rank(result.tie.entities, result.tie.seats_in_contention, f"seats:{result.method}:last-seat")
    seats = dict(result.seats)
    for code in record.winners:
        seats[code] += 1
    return replace(result, seats=MappingProxyType(seats), resolution=TieResolution(result.tie, record))


def _settled(result: SeatAllocation) -> dict[str, int]:
    """Seats won outright, i.e. without the seats given by a tie resolution."""
    settled = dict(result.seats)
    if result.resolution is not None:
        for code in result.resolution.record.winners:
            settled[code] -= 1
    return settled


def _award_order(result: SeatAllocation) -> tuple[str, ...]:
    drawn = result.resolution.record.winners if result.resolution else ()
    settled = _settled(result)
    codes = list(result.votes)
    won: list[tuple[Fraction | int, int, str]]
    if result.method.is_highest_averages:
        w = _weights(result.method, result.house_size)
        won = [(-result.votes[code] * w[k], idx, code) for idx, code in enumerate(codes) for k in range(settled[code])]
    else:
        table = result.quotient_table
        won = [
            (-(row.remainder or 0), idx, row.entity)
            for idx, row in enumerate(table.rows)
            if row.remainder_seat and row.entity not in drawn
        ]
    won.sort()
    return tuple(code for _, _, code in won) + drawn


def _build_table(result: SeatAllocation) -> QuotientTable:
    method = result.method
    total = result.valid_votes
    qualified = set(result.qualified)
    qtotal = sum(result.votes[c] for c in result.qualified)
    tie = result.tie
    tied = set(tie.entities) if tie else set()
    rows: list[EntityRow] = []
    if method.is_highest_averages:
        scale = _DIVISOR_SCALE[method]
        seat_numbers: dict[tuple[str, int], int] = {}
        held: dict[str, int] = {}
        for n, code in enumerate(result.award_order, start=1):
            k = held.get(code, 0)
            seat_numbers[code, k] = n
            held[code] = k + 1
        for code, v in result.votes.items():
            won = result.seats[code]
            cells: list[QuotientCell] = []
            if code in qualified and v > 0:
                cap = result.max_seats.get(code) if result.max_seats else None
                depth = won + 1 if cap is None else min(won + 1, cap)
                for k in range(depth):
                    d = scaled_divisor(method, k)
                    q = Fraction(v * scale, d)
                    contested = tie is not None and code in tied and q == tie.value
                    cells.append(QuotientCell(Fraction(d, scale), q, seat_numbers.get((code, k)), contested))
            rows.append(EntityRow(code, v, code in qualified, won, tuple(cells)))
        return QuotientTable(method, result.house_size, total, result.threshold * total, qtotal, None, tuple(rows))

    seats = result.house_size
    codes = list(result.votes)
    vs = list(result.votes.values())
    caps = _caps(codes, result.max_seats, seats)
    rnd = _quota_rounds(method, vs, [c in qualified for c in codes], caps, seats)
    quota = Fraction(rnd.denominator, rnd.numerator)
    remainder_rows = sorted(
        (-Fraction(vs[i] * rnd.numerator % rnd.denominator, rnd.denominator), i) for i in rnd.active if vs[i]
    )
    ranks = {codes[i]: n for n, (_, i) in enumerate(remainder_rows, start=1)}
    for i, (code, v) in enumerate(result.votes.items()):
        if code not in qualified:
            rows.append(EntityRow(code, v, False, 0))
            continue
        if i in rnd.capped:
            rows.append(EntityRow(code, v, True, result.seats[code], automatic_seats=rnd.capped[i]))
            continue
        qq = Fraction(v) / quota
        whole = math.floor(qq)
        rows.append(
            EntityRow(
                entity=code,
                votes=v,
                qualified=True,
                seats=result.seats[code],
                quota_quotient=qq,
                automatic_seats=whole,
                remainder=qq - whole,
                remainder_rank=ranks.get(code),
                remainder_seat=result.seats[code] > whole,
                contested=code in tied,
            )
        )
    return QuotientTable(method, seats, total, result.threshold * total, qtotal, quota, tuple(rows))
