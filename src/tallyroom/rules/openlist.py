"""Open lists: who takes an entity's seats, and the gender correction.

Kosovo (kosovo-rules.md §1.3-1.4): the list is "reordered" by preference votes [C]; ties in
preference votes go to the better original list position [B]. Then the Law on Local Elections,
Art. 8.4 [C]: "If, after the allocation of seats, the candidates of minority gender within a
political entity have not been allocated at least 30% of the total seats for that political
entity, the last elected candidate of the majority gender will be replaced by the next eligible
candidate of the opposite gender on the reordered candidate list until the total number of seats
allocated to the minority gender is at least 30%."

What the law leaves open is configurable in :class:`GenderRule` and defaults to the readings in
kosovo-rules.md [B]: "at least 30%" rounds up (ceil), and a one-seat entity is not corrected.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from operator import itemgetter

from tallyroom.rules.common import ShareLike, as_share, check_count
from tallyroom.rules.errors import InvalidInputError, RulesErrorCode


class Gender(StrEnum):
    FEMALE = "F"
    MALE = "M"

    @property
    def other(self) -> Gender:
        return Gender.MALE if self is Gender.FEMALE else Gender.FEMALE


class QuotaRounding(StrEnum):
    """How "at least <share> of the seats" becomes a whole number of seats."""

    CEIL = "ceil"  # at least 30% literally: 30% of 4 seats = 1.2 -> 2
    FLOOR = "floor"  # 1.2 -> 1
    HALF_UP = "half-up"  # 1.2 -> 1, 1.5 -> 2


@dataclass(frozen=True, slots=True)
class GenderRule:
    """A gender correction rule. The defaults are Kosovo's (LLE Art. 8.4, readings [B])."""

    share: Fraction = Fraction(3, 10)
    rounding: QuotaRounding = QuotaRounding.CEIL
    #: Entities with fewer seats than this are not corrected (default: a one-seat entity is not).
    min_seats: int = 2
    enabled: bool = True

    def __post_init__(self) -> None:
        share = as_share(self.share, "GenderRule.share", upper=Fraction(1, 2))
        object.__setattr__(self, "share", share)
        object.__setattr__(self, "rounding", QuotaRounding(self.rounding))
        check_count(self.min_seats, "GenderRule.min_seats")

    @classmethod
    def of(
        cls,
        share: ShareLike = Fraction(3, 10),
        rounding: QuotaRounding | str = QuotaRounding.CEIL,
        min_seats: int = 2,
        *,
        enabled: bool = True,
    ) -> GenderRule:
        """Build a rule from configuration values (shares as exact strings or Fractions)."""
        return cls(as_share(share, "share", upper=Fraction(1, 2)), QuotaRounding(rounding), min_seats, enabled)

    def required(self, seats: int) -> int:
        """Seats the less represented gender must hold among ``seats`` (0: no correction)."""
        if not self.enabled or seats < max(1, self.min_seats):
            return 0
        exact = self.share * seats
        if self.rounding is QuotaRounding.CEIL:
            return math.ceil(exact)
        if self.rounding is QuotaRounding.FLOOR:
            return math.floor(exact)
        return math.floor(exact + Fraction(1, 2))


#: Kosovo's municipal assembly rule (LLE Art. 8.4 [C]; rounding and one-seat readings [B]).
KOSOVO_GENDER_RULE = GenderRule()
NO_GENDER_RULE = GenderRule(enabled=False)


@dataclass(frozen=True, slots=True)
class ListCandidate:
    """A candidate on a certified list."""

    id: str
    position: int  # 1-based position on the certified list
    gender: Gender


@dataclass(frozen=True, slots=True)
class Replacement:
    """One step of the gender correction."""

    step: int
    removed: str  # last elected candidate of the majority gender
    added: str  # next ranked candidate of the minority gender
    minority_seats_after: int


@dataclass(frozen=True, slots=True)
class OpenListResult:
    """Who takes an entity's seats, and why."""

    seats: int
    #: Eligible candidate ids, reordered: preference votes (descending), then list position.
    ranking: tuple[str, ...]
    #: The top ``seats`` of the ranking, before any gender correction.
    elected_by_votes: tuple[str, ...]
    #: The final elected candidates, in ranking order.
    elected: tuple[str, ...]
    replacements: tuple[Replacement, ...]
    #: The gender with fewer seats before the correction (None when equal or no seats).
    minority_gender: Gender | None
    #: Seats the minority gender must hold (0 when the rule does not apply).
    required_minority_seats: int
    minority_seats: int
    #: False when the rule applies but the list has too few minority-gender candidates.
    quota_met: bool
    #: Seats left empty because the list has too few eligible candidates.
    unfilled_seats: int
    #: Candidates skipped as ineligible (e.g. elected mayor, withdrawn, deceased).
    excluded: tuple[str, ...]
    preference_votes: Mapping[str, int]


_Entry = tuple[int, int, str, Gender]  # (-preference votes, list position, id, gender)
_ID = itemgetter(2)


def rank_candidates(
    candidates: Sequence[ListCandidate],
    preference_votes: Mapping[str, int],
    excluded: Collection[str] = (),
) -> tuple[str, ...]:
    """The reordered list: preference votes descending, ties by original list position."""
    return tuple(map(_ID, _ranked(candidates, preference_votes, frozenset(excluded))))


def _ranked(
    candidates: Sequence[ListCandidate], preference_votes: Mapping[str, int], excluded: frozenset[str]
) -> list[_Entry]:
    """Validate the list and the votes, and sort the eligible candidates."""
    get = preference_votes.get
    if excluded:
        ranked = [(-get(c.id, 0), c.position, c.id, c.gender) for c in candidates if c.id not in excluded]
    else:
        ranked = [(-get(c.id, 0), c.position, c.id, c.gender) for c in candidates]
    ids = {c.id for c in candidates}
    positions = {c.position for c in candidates}
    if len(ids) != len(candidates):
        raise InvalidInputError(RulesErrorCode.DUPLICATE_CANDIDATE, "a candidate is listed twice")
    if len(positions) != len(candidates):
        raise InvalidInputError(RulesErrorCode.DUPLICATE_LIST_POSITION, "two candidates share a list position")
    if not preference_votes.keys() <= ids:
        unknown = sorted(set(preference_votes) - ids)
        raise InvalidInputError(
            RulesErrorCode.UNKNOWN_CANDIDATE,
            f"preference votes for {', '.join(map(repr, unknown))}, not on this list",
            {"candidates": unknown},
        )
    values = preference_votes.values()
    if not (set(map(type, values)) <= {int} and (not values or min(values) >= 0)):
        for cid, count in preference_votes.items():
            check_count(count, f"preference_votes[{cid!r}]")
    ranked.sort()  # positions are unique, so ids and genders are never compared
    return ranked


def elect_candidates(
    seats: int,
    candidates: Sequence[ListCandidate],
    preference_votes: Mapping[str, int],
    *,
    rule: GenderRule = KOSOVO_GENDER_RULE,
    excluded: Collection[str] = (),
) -> OpenListResult:
    """Fill an entity's ``seats`` from its open list, then apply the gender correction.

    The minority gender is the one holding fewer of the seats won on preference votes; while it
    holds fewer than ``rule.required(seats)``, the lowest-ranked elected candidate of the other
    gender gives way to the best-ranked unelected candidate of the minority gender. Each swap is
    reported. If the list runs out of minority-gender candidates, ``quota_met`` is False.
    """
    check_count(seats, "seats")
    excluded_set = frozenset(excluded)
    ranked = _ranked(candidates, preference_votes, excluded_set)
    ranking = tuple(map(_ID, ranked))
    top = ranked[:seats]
    by_votes = ranking[:seats]
    unfilled = seats - len(by_votes)

    required = rule.required(seats)
    women = sum(1 for entry in top if entry[3] is Gender.FEMALE)
    men = len(top) - women
    minority: Gender | None = None
    if women != men:
        minority = Gender.FEMALE if women < men else Gender.MALE
    held = min(women, men)

    elected = by_votes
    replacements: list[Replacement] = []
    if minority is not None and held < required:
        chosen = list(top)
        # Candidates of the minority gender not yet elected, best ranked first.
        waiting = [entry for entry in ranked[seats:] if entry[3] is minority]
        waiting.reverse()  # pop() from the end takes the best ranked
        while held < required and waiting:
            # "the last elected candidate of the majority gender"
            out = next((e for e in reversed(chosen) if e[3] is not minority), None)
            if out is None:  # unreachable while seats are filled; keeps the loop total anyway
                break
            incoming = waiting.pop()
            chosen.remove(out)
            chosen.append(incoming)
            held += 1
            replacements.append(Replacement(len(replacements) + 1, out[2], incoming[2], held))
        chosen.sort()
        elected = tuple(entry[2] for entry in chosen)

    return OpenListResult(
        seats=seats,
        ranking=ranking,
        elected_by_votes=by_votes,
        elected=elected,
        replacements=tuple(replacements),
        minority_gender=minority,
        required_minority_seats=required,
        minority_seats=held,
        quota_met=held >= required,
        unfilled_seats=unfilled,
        excluded=tuple(c.id for c in candidates if c.id in excluded_set) if excluded_set else (),
        preference_votes=preference_votes,
    )
