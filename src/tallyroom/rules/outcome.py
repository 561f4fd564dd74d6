"""Can the outcome still change? Seat and mayoral outcomes under votes still to come.

Input: the accepted totals and ``outstanding``, the largest number of valid votes that can still
be added (registered voters of stations not yet counted, quarantined, or annulled and awaiting a
repeat vote). Any distribution of at most ``outstanding`` extra votes over the choices is
considered possible, including fewer votes than that. Votes already accepted never decrease.

Certainty is claimed only when it is proven. For each entity the answer is a seat range
``[min_seats, max_seats]`` that always contains every reachable outcome; a seat that could be
decided by lot counts as reachable for both sides. Each end carries ``*_exact``: True when a
concrete distribution of the outstanding votes (the witness, kept in the result) reaches it, as
checked by running :func:`tallyroom.rules.seats.allocate` on it.

Highest averages (the Kosovo case):

* ``max_seats``: every outstanding vote goes to the entity. Under a divisor method an entity's
  seats never fall when only its own votes rise, and never rise when others' do (a larger
  total only disqualifies rivals under a threshold), so this is the maximum.
* ``min_seats``: the entity keeps its ``t``-th seat unless rivals reach ``S - t + 1`` quotients
  at or above its ``t``-th quotient ``v / d(t-1)``. The cheapest way for rivals to get there is a
  separable integer minimisation: a convex lower bound (greedy, exact for convex costs), a
  greedy feasible solution (upper bound, the witness), and an exact dynamic programme only when
  ``outstanding`` falls between the two. Without a threshold this is exact. With a threshold
  the rivals' qualification is relaxed in the adversary's favour (a rival that could qualify is
  treated as qualified), which can only lower ``min_seats``: a safe bound, flagged by
  ``min_exact`` when no witness reaches it. The entity's own disqualification is exact.

Largest remainder: the bounds come from the quota (Hare: within one seat of the exact quota;
Droop: the whole quotas plus at most one remainder seat) and are tightened to exact values when a
witness (all votes to the entity, or all to one rival) reaches them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from tallyroom.rules.common import ShareLike, as_share, check_count, check_vote_map
from tallyroom.rules.errors import AllocationError, RulesErrorCode
from tallyroom.rules.mayor import (
    KOSOVO_MAYOR,
    FinalistTie,
    MayorConfig,
    TwoCandidateRule,
    majority_threshold,
)
from tallyroom.rules.seats import (
    Method,
    MethodLike,
    SeatAllocation,
    allocate,
    as_method,
    scaled_divisor,
)

_Room = Callable[[int], int]
_Cost = Callable[[int, int], int]


@dataclass(frozen=True, slots=True)
class SeatBounds:
    entity: str
    votes: int
    #: Seats held now without the help of a lot (a seat in an open tie is not counted).
    current: int
    min_seats: int
    max_seats: int
    min_exact: bool
    max_exact: bool
    #: Outstanding votes per entity that realise min_seats / max_seats (when exact).
    min_witness: Mapping[str, int] | None
    max_witness: Mapping[str, int] | None

    @property
    def certain(self) -> bool:
        """The entity's number of seats can no longer change."""
        return self.min_seats == self.max_seats


@dataclass(frozen=True, slots=True)
class AssemblyOutlook:
    method: Method
    house_size: int
    outstanding: int
    #: The allocation on the accepted totals (None when no accepted votes allocate anything).
    current: SeatAllocation | None
    bounds: Mapping[str, SeatBounds]

    @property
    def decided(self) -> bool:
        """No distribution of the outstanding votes can change any entity's seats."""
        return all(b.certain for b in self.bounds.values())

    @property
    def exact(self) -> bool:
        return all(b.min_exact and b.max_exact for b in self.bounds.values())

    @property
    def certain_entities(self) -> tuple[str, ...]:
        return tuple(code for code, b in self.bounds.items() if b.certain)

    @property
    def open_entities(self) -> tuple[str, ...]:
        return tuple(code for code, b in self.bounds.items() if not b.certain)


@dataclass(frozen=True, slots=True)
class _Contest:
    votes: Mapping[str, int]
    seats: int
    method: Method
    threshold: Fraction
    inclusive: bool
    caps: Mapping[str, int]

    def allocate(self, extra: Mapping[str, int]) -> SeatAllocation | None:
        votes = {c: v + extra.get(c, 0) for c, v in self.votes.items()}
        try:
            return allocate(
                votes,
                self.seats,
                self.method,
                self.threshold,
                threshold_inclusive=self.inclusive,
                max_seats=self.caps,
            )
        except AllocationError:
            return None

    def qualifies(self, votes: int, total: int) -> bool:
        num, den = self.threshold.numerator, self.threshold.denominator
        return votes * den >= num * total if self.inclusive else votes * den > num * total


def _pessimistic(result: SeatAllocation | None, code: str) -> int:
    """Seats held without the help of a lot (none when nothing could be allocated)."""
    return 0 if result is None else result.seats[code]


def _optimistic(result: SeatAllocation, code: str) -> int:
    """Seats held if every lot the entity is in goes its way."""
    tied = result.tie is not None and result.resolution is None and code in result.tie.entities
    return result.seats[code] + (1 if tied else 0)


def assembly_outlook(
    votes: Mapping[str, int],
    seats: int,
    outstanding: int,
    method: MethodLike = Method.SAINTE_LAGUE,
    threshold: ShareLike = 0,
    *,
    threshold_inclusive: bool = True,
    max_seats: Mapping[str, int] | None = None,
) -> AssemblyOutlook:
    """For each entity, the fewest and most seats it can still end with."""
    check_vote_map(votes)
    check_count(outstanding, "outstanding")
    check_count(seats, "seats")
    m = as_method(method)
    caps = {c: min(seats, (max_seats or {}).get(c, seats)) for c in votes}
    contest = _Contest(dict(votes), seats, m, as_share(threshold, "threshold"), threshold_inclusive, caps)
    try:
        current: SeatAllocation | None = allocate(
            votes,
            seats,
            m,
            contest.threshold,
            threshold_inclusive=threshold_inclusive,
            max_seats=max_seats,
        )
    except AllocationError as exc:
        if exc.code is not RulesErrorCode.NO_VOTES_TO_ALLOCATE:
            raise
        current = None
    bounds = {code: _bounds(contest, current, code, outstanding) for code in contest.votes}
    return AssemblyOutlook(m, seats, outstanding, current, bounds)


def _bounds(contest: _Contest, current: SeatAllocation | None, code: str, outstanding: int) -> SeatBounds:
    v = contest.votes[code]
    now = _pessimistic(current, code)
    if current is None and outstanding == 0:
        # Nothing is allocated and nothing more can come.
        return SeatBounds(code, v, 0, 0, 0, True, True, {}, {})
    max_witness = {code: outstanding} if outstanding else {}
    scenario = contest.allocate(max_witness)  # None: that scenario cannot be allocated at all
    best = None if scenario is None else _optimistic(scenario, code)

    if contest.method.is_highest_averages:
        if best is None:
            max_seats, max_exact = min(contest.caps[code], contest.seats), False
        else:
            max_seats, max_exact = best, True
        lo, lo_exact, lo_witness = _ha_min(contest, current, code, outstanding)
    else:
        max_seats = _lr_upper(contest, code, outstanding)
        max_exact = best == max_seats
        lo, lo_exact, lo_witness = _lr_min(contest, current, code, outstanding)
    return SeatBounds(
        entity=code,
        votes=v,
        current=now,
        min_seats=lo,
        max_seats=max_seats,
        min_exact=lo_exact,
        max_exact=max_exact,
        min_witness=lo_witness if lo_exact else None,
        max_witness=max_witness if max_exact else None,
    )


def _disqualifiable(contest: _Contest, code: str, outstanding: int) -> dict[str, int] | None:
    """A distribution that pushes ``code`` under the threshold, if one exists."""
    rivals = [c for c in contest.votes if c != code]
    if (contest.threshold == 0 and contest.inclusive) or not rivals:
        return None
    total = sum(contest.votes.values())
    if contest.qualifies(contest.votes[code], total + outstanding):
        return None
    strongest = max(rivals, key=lambda c: contest.votes[c])
    return {strongest: outstanding} if outstanding else {}


def _ha_min(
    contest: _Contest, current: SeatAllocation | None, code: str, outstanding: int
) -> tuple[int, bool, dict[str, int]]:
    disq = _disqualifiable(contest, code, outstanding)
    if disq is not None:
        return 0, True, disq
    held = _pessimistic(current, code)
    if held == 0:
        return 0, True, {}
    # Smallest t in [1, held] such that rivals can push the entity below t seats.
    lo, hi = 1, held + 1
    witness: dict[str, int] = {}
    while lo < hi:
        mid = (lo + hi) // 2
        found = _push_below(contest, code, mid, outstanding)
        if found is not None:
            hi, witness = mid, found
        else:
            lo = mid + 1
    if lo == held + 1:
        return held, True, {}
    minimum = lo - 1
    scenario = contest.allocate(witness)
    reached = scenario is not None and scenario.seats[code] <= minimum
    return minimum, reached, witness


def _rivals(contest: _Contest, code: str, outstanding: int) -> list[str]:
    """Rivals that can hold seats in some scenario (qualification relaxed in their favour)."""
    total = sum(contest.votes.values())
    return [
        c
        for c in contest.votes
        if c != code
        and contest.caps[c] > 0
        and (contest.threshold == 0 or contest.qualifies(contest.votes[c] + outstanding, total + outstanding))
    ]


def _push_below(contest: _Contest, code: str, t: int, outstanding: int) -> dict[str, int] | None:
    """Extra rival votes (at most ``outstanding``) that cost ``code`` its ``t``-th seat.

    Rivals need ``S - t + 1`` quotients at or above the entity's ``t``-th quotient
    ``a = v / d(t-1)``. Rival j has c such quotients once its votes reach
    ``T(c) = ceil(v * D(c-1) / D(t-1))`` (scaled integer divisors). Returns None if impossible.
    """
    method, vx = contest.method, contest.votes[code]
    dt = scaled_divisor(method, t - 1)
    need = contest.seats - t + 1
    state: list[tuple[str, int, int]] = []  # (rival, votes, quotients held for free)
    for c in _rivals(contest, code, outstanding):
        vj, cap = contest.votes[c], contest.caps[c]
        free = 0
        while free < cap and vx * scaled_divisor(method, free) <= vj * dt:
            free += 1
        need -= free
        state.append((c, vj, free))
    if need <= 0:
        return {}

    def cost(j: int, extra: int) -> int:
        """Votes rival j needs for ``extra`` quotients beyond its free ones."""
        if extra == 0:
            return 0
        _, vj, free = state[j]
        return -(-vx * scaled_divisor(method, free + extra - 1) // dt) - vj

    def room(j: int) -> int:
        name, _, free = state[j]
        return min(contest.caps[name] - free, need)

    if sum(room(j) for j in range(len(state))) < need:
        return None

    # Lower bound: costs without rounding up, vx*D(c-1)/dt - vj, are convex in c, so taking the
    # cheapest increments greedily is optimal for them; they never exceed the true costs.
    def relaxed(j: int, extra: int) -> int:  # scaled by dt
        _, vj, free = state[j]
        return max(0, vx * scaled_divisor(method, free + extra - 1) - vj * dt) if extra else 0

    lower_scaled = _greedy(len(state), need, room, relaxed)[0]
    if -(-lower_scaled // dt) > outstanding:
        return None
    total, taken = _greedy(len(state), need, room, cost)
    if total > outstanding:
        total, taken = _exact(len(state), need, room, cost)
        if total > outstanding:
            return None
    return {state[j][0]: cost(j, e) for j, e in enumerate(taken) if e}


def _greedy(n: int, need: int, room: _Room, cost: _Cost) -> tuple[int, list[int]]:
    """Take ``need`` increments, always the cheapest next one (optimal for convex costs)."""
    taken = [0] * n
    heap = [(cost(j, 1), j) for j in range(n) if room(j) > 0]
    heapq.heapify(heap)
    total = 0
    for _ in range(need):
        price, j = heapq.heappop(heap)
        total += price
        taken[j] += 1
        e = taken[j]
        if e < room(j):
            heapq.heappush(heap, (cost(j, e + 1) - cost(j, e), j))
    return total, taken


def _exact(n: int, need: int, room: _Room, cost: _Cost) -> tuple[int, list[int]]:
    """Exact minimum by dynamic programming over rivals (used only near the budget).

    Costs grow with the number of increments, so an optimum takes exactly ``need`` of them.
    """
    best: list[int | None] = [0] + [None] * need
    choices: list[list[int]] = []
    for j in range(n):
        nxt = list(best)
        step = [0] * (need + 1)
        prices = [cost(j, e) for e in range(room(j) + 1)]
        for have in range(need):
            base = best[have]
            if base is None:
                continue
            for e in range(1, min(room(j), need - have) + 1):
                value = base + prices[e]
                current = nxt[have + e]
                if current is None or value < current:
                    nxt[have + e] = value
                    step[have + e] = e
        choices.append(step)
        best = nxt
    final = best[need]
    taken = [0] * n
    if final is None:
        return 0, taken
    have = need
    for j in range(n - 1, -1, -1):
        taken[j] = choices[j][have]
        have -= taken[j]
    return final, taken


def _lr_upper(contest: _Contest, code: str, outstanding: int) -> int:
    """Most seats under largest remainder: the entity's best quota, plus one remainder seat.

    The quota base is kept as low as it can get: the entity with every outstanding vote, plus
    only the rivals that qualify whatever happens and can never be set aside at a cap (a capped
    rival leaves with its seats and its votes, which can only raise the others' quotas).
    """
    v = contest.votes[code] + outstanding
    total = sum(contest.votes.values()) + outstanding
    seats = contest.seats
    cap = contest.caps[code]
    if v == 0 or not contest.qualifies(v, total):
        return 0
    rivals = sum(
        vj for c, vj in contest.votes.items() if c != code and contest.caps[c] >= seats and contest.qualifies(vj, total)
    )
    base = v + rivals
    capped = any(contest.caps[c] < seats for c in contest.votes)
    if contest.method is Method.HARE:
        quota = Fraction(v * seats, base)
        bound = math.floor(quota) + 1 if capped else math.ceil(quota)
    else:
        bound = math.floor(Fraction(v * (seats + 1), base)) + 1
    return min(bound, cap, seats)


def _lr_min(
    contest: _Contest, current: SeatAllocation | None, code: str, outstanding: int
) -> tuple[int, bool, dict[str, int]]:
    """Fewest seats under largest remainder: whole quotas at the largest possible quota."""
    disq = _disqualifiable(contest, code, outstanding)
    if disq is not None:
        return 0, True, disq
    v = contest.votes[code]
    total = sum(contest.votes.values()) + outstanding
    if contest.method is Method.HARE:
        bound = v * contest.seats // total if total else 0
    else:
        bound = v // (total // (contest.seats + 1) + 1)
    bound = min(bound, contest.caps[code], _pessimistic(current, code))
    witnesses: list[dict[str, int]] = [{}]
    if outstanding:
        witnesses += [{c: outstanding} for c in contest.votes if c != code]
    seen = [(r.seats[code], w) for w in witnesses if (r := contest.allocate(w)) is not None]
    if not seen:
        return bound, False, {}
    lowest, witness = min(seen, key=lambda item: item[0])
    return bound, lowest == bound, witness


@dataclass(frozen=True, slots=True)
class CandidateOutlook:
    candidate: str
    votes: int
    #: Some distribution elects the candidate in the first round (majority, or plurality in a
    #: two-candidate race).
    can_win_outright: bool
    #: Every distribution elects the candidate in the first round.
    certain_outright: bool
    #: Can finish first (a tie for first counts as possible).
    can_finish_first: bool
    #: Finishes strictly first in every distribution.
    certain_first: bool
    #: Can finish in the top two (a tie that might be won by lot counts as possible).
    can_reach_runoff: bool
    #: In the top two in every distribution, without needing a lot.
    certain_top_two: bool


@dataclass(frozen=True, slots=True)
class MayorOutlook:
    outstanding: int
    candidates: Mapping[str, CandidateOutlook]
    #: The candidate certainly elected in the first round, if any.
    winner_certain: str | None
    #: Some distribution leaves nobody elected in the first round.
    runoff_possible: bool
    #: No distribution elects anyone in the first round.
    runoff_certain: bool
    #: Some candidate can still reach the majority.
    majority_can_be_won: bool
    #: The current leader can still be caught (tied or overtaken).
    leader_can_be_caught: bool
    #: Candidates certainly in the top two (finalists if there is a runoff).
    certain_finalists: tuple[str, ...]
    #: Candidates who can no longer reach the top two.
    out_of_runoff: tuple[str, ...]


def mayor_outlook(votes: Mapping[str, int], outstanding: int, *, config: MayorConfig = KOSOVO_MAYOR) -> MayorOutlook:
    """What the outstanding votes can still change in the first round of a mayoral race."""
    check_vote_map(votes)
    check_count(outstanding, "outstanding")
    if not votes:
        raise AllocationError(RulesErrorCode.NO_CANDIDATES, "a mayoral race needs candidates")
    m = outstanding
    valid = sum(votes.values())
    n = len(votes)
    reading = config.majority
    plurality_pair = n == 2 and config.two_candidates is TwoCandidateRule.PLURALITY
    ranked = sorted(votes.values(), reverse=True)
    leader = max(votes, key=lambda c: votes[c])
    out: dict[str, CandidateOutlook] = {}
    for c, v in votes.items():
        others = sorted((votes[o] for o in votes if o != c), reverse=True)
        top_other = others[0] if others else None
        if top_other is None:
            can_win, certain_win = v + m > 0, v > 0
        elif plurality_pair:
            can_win, certain_win = v + m > top_other, v > top_other + m
        else:
            can_win = v + m >= majority_threshold(valid + m, reading)
            certain_win = v >= majority_threshold(valid + m, reading)
        can_first = top_other is None or v + m >= top_other
        certain_first = top_other is None or v > top_other + m
        ahead_now = sum(1 for o in others if o > v + m)
        can_top_two = ahead_now <= 1
        if len(others) < 2:
            certain_two = True
        elif config.finalist_tie is FinalistTie.ALL_ADVANCE:
            # Excluded only if two rivals end strictly ahead.
            certain_two = max(0, v + 1 - others[0]) + max(0, v + 1 - others[1]) > m
        else:
            # Excluded, or left in an open tie, once two rivals reach the candidate's votes.
            certain_two = max(0, v - others[0]) + max(0, v - others[1]) > m
        out[c] = CandidateOutlook(c, v, can_win, certain_win, can_first, certain_first, can_top_two, certain_two)

    winner = next((c for c, o in out.items() if o.certain_outright), None)
    runoff_possible = n > 1 and not plurality_pair and _no_majority_possible(list(votes.values()), m, config)
    majority_possible = any(o.can_win_outright for o in out.values())
    leader_caught = len(ranked) > 1 and not out[leader].certain_first
    return MayorOutlook(
        outstanding=m,
        candidates=out,
        winner_certain=winner,
        runoff_possible=runoff_possible,
        # With no valid vote yet, "no valid votes at all" (no runoff) stays possible.
        runoff_certain=runoff_possible and not majority_possible and valid > 0,
        majority_can_be_won=majority_possible,
        leader_can_be_caught=leader_caught,
        certain_finalists=tuple(c for c, o in out.items() if o.certain_top_two),
        out_of_runoff=tuple(c for c, o in out.items() if not o.can_reach_runoff),
    )


def _no_majority_possible(values: list[int], m: int, config: MayorConfig) -> bool:
    """Is there a final total T in [V, V+m] where nobody has a majority?

    With final votes ``u_i >= v_i`` adding up to ``T``, nobody reaches ``thr(T)`` iff
    ``max v_i <= thr(T) - 1`` and ``T <= n * (thr(T) - 1)``. The first condition only gets
    easier as ``T`` grows; the second changes with the parity of ``T`` and grows with it for
    three or more candidates, so checking the first few and the last few totals is enough.
    """
    n, valid, top = len(values), sum(values), max(values)
    first = max(valid, 1)  # a runoff needs at least one valid vote in the first round
    while first <= valid + m and majority_threshold(first, config.majority) - 1 < top:
        first += 1
    last = valid + m
    if first > last:
        return False
    candidates = set(range(first, min(last, first + 3) + 1)) | set(range(max(first, last - 3), last + 1))
    for total in sorted(candidates):
        room = majority_threshold(total, config.majority) - 1
        if top <= room and total <= n * room:
            return True
    return False


@dataclass(frozen=True, slots=True)
class RunoffOutlook:
    outstanding: int
    leader: str
    #: The leader wins whatever the outstanding votes (strictly more votes).
    leader_certain: bool
    #: Some distribution ends in a tie at the top (a tie is reported, never decided).
    tie_possible: bool
    #: Candidates who can still finish strictly first.
    can_win: tuple[str, ...]


def runoff_outlook(votes: Mapping[str, int], outstanding: int) -> RunoffOutlook:
    """What the outstanding votes can still change in a runoff (plurality of the finalists)."""
    check_vote_map(votes)
    check_count(outstanding, "outstanding")
    if not votes:
        raise AllocationError(RulesErrorCode.NO_CANDIDATES, "a runoff needs candidates")
    leader = max(votes, key=lambda c: votes[c])
    top = votes[leader]
    others = [votes[c] for c in votes if c != leader]
    second = max(others) if others else None
    certain = second is None or top > second + outstanding
    tie_possible = second is not None and top - second <= outstanding
    can_win = tuple(c for c, v in votes.items() if all(v + outstanding > votes[o] for o in votes if o != c))
    return RunoffOutlook(outstanding, leader, certain, tie_possible, can_win)
