"""Turnout rules as pure functions: no Django, so they can be tested on their own.

A station's turnout is cumulative: voters who have signed the voter list so far. The effective
figures (not superseded, not held, not dismissed), taken in time order, never go down. A new figure
that would make them go down is refused, unless it is sent as a correction: then every earlier
figure above it, and any figure for the same reporting time, are superseded by it. A figure above
the registered voters plus the allowance for voters added on the day is kept but held for review,
and takes no part in the ordering until an official accepts it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    id: int
    slot: str  # "" for an ad hoc report
    at: dt.datetime
    voters: int
    held: bool = False
    superseded: bool = False
    dismissed: bool = False
    late: bool = False

    @property
    def counts(self) -> bool:
        return not (self.held or self.superseded or self.dismissed)

    @property
    def standing(self) -> bool:
        """Still on the record for its reporting time (held ones too)."""
        return not (self.superseded or self.dismissed)


class TurnoutConflict(ValueError):  # noqa: N818 - a refusal, named as the domain says it
    """`reason` is one of: duplicate_slot, lower_than_earlier, higher_than_later."""

    def __init__(self, reason: str, other: Figure) -> None:
        self.reason = reason
        self.other = other
        super().__init__(f"{reason}: {other.voters} at {other.at.isoformat()}")


@dataclass(frozen=True)
class Decision:
    held: bool
    supersedes: list[int] = field(default_factory=list)


def limit(registered: int, allowance: float) -> int:
    """The most voters a station can have: its list plus those added on the day."""
    return math.floor(registered * (1 + allowance) + 1e-9)


def decide(
    existing: Sequence[Figure], *, slot: str, at: dt.datetime, voters: int, correction: bool, most: int
) -> Decision:
    held = voters > most
    standing = [f for f in existing if f.standing]
    counting = [f for f in standing if f.counts]
    same_slot = [f for f in standing if slot and f.slot == slot]
    if not correction:
        if same_slot:
            raise TurnoutConflict("duplicate_slot", same_slot[0])
        if not held:
            _check_order(counting, at, voters, ignore=())
        return Decision(held=held)
    supersedes = {f.id for f in same_slot}
    if not held:
        supersedes |= {f.id for f in counting if f.at <= at and f.voters > voters}
        _check_order(counting, at, voters, ignore=supersedes)
    return Decision(held=held, supersedes=sorted(supersedes))


def _check_order(counting: Iterable[Figure], at: dt.datetime, voters: int, ignore: Iterable[int]) -> None:
    skip = set(ignore)
    rest = [f for f in counting if f.id not in skip]
    earlier_higher = [f for f in rest if f.at <= at and f.voters > voters]
    if earlier_higher:
        raise TurnoutConflict("lower_than_earlier", max(earlier_higher, key=lambda f: f.voters))
    later_lower = [f for f in rest if f.at > at and f.voters < voters]
    if later_lower:
        raise TurnoutConflict("higher_than_later", min(later_lower, key=lambda f: f.voters))


def monotonic(figures: Iterable[Figure]) -> bool:
    """True if the figures that count never go down in time order."""
    ordered = sorted((f for f in figures if f.counts), key=lambda f: (f.at, f.id))
    return all(a.voters <= b.voters for a, b in itertools.pairwise(ordered))


@dataclass(frozen=True)
class SlotFigure:
    slot: str
    voters: int | None
    reported: bool
    late: bool
    held: bool


def by_slot(figures: Sequence[Figure], slots: Sequence[tuple[str, dt.datetime]]) -> list[SlotFigure]:
    """For each reporting time: the latest figure that counts at or before it, and whether the
    station sent a report for that time itself. Slots with neither are left out."""
    counting = sorted((f for f in figures if f.counts), key=lambda f: (f.at, f.id))
    out = []
    for slot, when in slots:
        upto = [f for f in counting if f.at <= when]
        own = [f for f in figures if f.standing and f.slot == slot]
        if not upto and not own:
            continue
        out.append(
            SlotFigure(
                slot=slot,
                voters=upto[-1].voters if upto else None,
                reported=bool(own),
                late=any(f.late for f in own),
                held=any(f.held for f in own),
            )
        )
    return out
