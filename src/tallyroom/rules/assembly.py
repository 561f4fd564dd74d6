"""A whole municipal assembly: seats between entities, then candidates within each entity."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from tallyroom.rules.common import ShareLike, as_share
from tallyroom.rules.errors import InvalidInputError, RulesErrorCode
from tallyroom.rules.openlist import (
    KOSOVO_GENDER_RULE,
    GenderRule,
    ListCandidate,
    OpenListResult,
    elect_candidates,
)
from tallyroom.rules.seats import Method, MethodLike, SeatAllocation, allocate, as_method


@dataclass(frozen=True, slots=True)
class AssemblyRules:
    """The rules of one assembly race."""

    method: Method = Method.SAINTE_LAGUE
    threshold: Fraction = Fraction(0)
    threshold_inclusive: bool = True
    gender: GenderRule = KOSOVO_GENDER_RULE
    #: An entity cannot win more seats than it has eligible candidates; the surplus goes to the
    #: next quotient (kosovo-rules.md §1.2 [B]).
    cap_at_list_length: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", as_method(self.method))
        object.__setattr__(self, "threshold", as_share(self.threshold, "threshold"))

    @classmethod
    def of(
        cls,
        method: MethodLike = Method.SAINTE_LAGUE,
        threshold: ShareLike = 0,
        *,
        threshold_inclusive: bool = True,
        gender: GenderRule = KOSOVO_GENDER_RULE,
        cap_at_list_length: bool = True,
    ) -> AssemblyRules:
        """Build rules from configuration values (method name, threshold as exact text)."""
        return cls(
            as_method(method),
            as_share(threshold, "threshold"),
            threshold_inclusive,
            gender,
            cap_at_list_length,
        )


#: Kosovo municipal assemblies, 2013: Sainte-Laguë, no threshold, 30 % gender correction.
KOSOVO_ASSEMBLY = AssemblyRules()


@dataclass(frozen=True, slots=True)
class AssemblyResult:
    allocation: SeatAllocation
    #: Per entity with seats: who is elected (empty until the allocation is decided).
    lists: Mapping[str, OpenListResult]

    @property
    def elected(self) -> dict[str, tuple[str, ...]]:
        return {code: result.elected for code, result in self.lists.items()}


def elect_assembly(
    votes: Mapping[str, int],
    seats: int,
    candidates: Mapping[str, Sequence[ListCandidate]],
    preferences: Mapping[str, Mapping[str, int]],
    *,
    rules: AssemblyRules = KOSOVO_ASSEMBLY,
    excluded: Collection[str] = (),
) -> AssemblyResult:
    """Allocate the seats and fill them from the open lists.

    ``excluded`` names candidates who cannot take a seat (e.g. the elected mayor, LLE 9.3, or a
    candidate who died or withdrew); they are skipped and the next ranked candidate moves up.
    If the allocation has an open tie, ``lists`` is empty: resolve it with
    :func:`tallyroom.rules.seats.resolve_ties`, then call :func:`fill_seats`.
    """
    unknown = set(candidates) - set(votes)
    if unknown:
        raise InvalidInputError(
            RulesErrorCode.INVALID_VOTES,
            f"candidate lists for entities without votes: {', '.join(sorted(unknown))}",
        )
    excluded_set = frozenset(excluded)
    caps = None
    if rules.cap_at_list_length:
        caps = {
            code: sum(1 for c in candidates.get(code, ()) if c.id not in excluded_set)
            if excluded_set
            else len(candidates.get(code, ()))
            for code in votes
        }
    allocation = allocate(
        votes,
        seats,
        rules.method,
        rules.threshold,
        threshold_inclusive=rules.threshold_inclusive,
        max_seats=caps,
    )
    if not allocation.is_decided:
        return AssemblyResult(allocation, {})
    return AssemblyResult(
        allocation, fill_seats(allocation, candidates, preferences, rules=rules, excluded=excluded_set)
    )


def fill_seats(
    allocation: SeatAllocation,
    candidates: Mapping[str, Sequence[ListCandidate]],
    preferences: Mapping[str, Mapping[str, int]],
    *,
    rules: AssemblyRules = KOSOVO_ASSEMBLY,
    excluded: Collection[str] = (),
) -> dict[str, OpenListResult]:
    """Fill each entity's seats from its open list (the allocation must be decided)."""
    seats = allocation.final_seats()  # refuses an allocation with an open tie
    return {
        code: elect_candidates(
            won,
            candidates.get(code, ()),
            preferences.get(code, {}),
            rule=rules.gender,
            excluded=excluded,
        )
        for code, won in seats.items()
        if won
    }
