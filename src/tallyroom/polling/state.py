"""The polling station's day as a state machine, and the incident workflow. Pure Python: no Django.

A station's status is never stored as a fact: it is what its events say when replayed in the order
they happened. Corrections supersede events (they never edit them), so the events that count are
the ones no later event supersedes; `replay` folds those, and any sequence that breaks the table
below is refused as a whole.

    status         event          -> status
    not_opened     opened         -> open
    not_opened     did_not_open   -> did_not_open
    open           suspended      -> suspended
    open           closed         -> closed
    open           closed_early   -> closed_early
    suspended      resumed        -> open
    suspended      closed_early   -> closed_early
    closed, closed_early, did_not_open: final
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    NOT_OPENED = "not_opened"
    OPEN = "open"
    SUSPENDED = "suspended"
    CLOSED = "closed"
    CLOSED_EARLY = "closed_early"
    DID_NOT_OPEN = "did_not_open"


class Kind(StrEnum):
    OPENED = "opened"
    SUSPENDED = "suspended"
    RESUMED = "resumed"
    CLOSED = "closed"
    CLOSED_EARLY = "closed_early"
    DID_NOT_OPEN = "did_not_open"
    # Only as a correction: the superseded event did not happen, and nothing replaces it.
    RETRACTED = "retracted"


TRANSITIONS: dict[Status, dict[Kind, Status]] = {
    Status.NOT_OPENED: {Kind.OPENED: Status.OPEN, Kind.DID_NOT_OPEN: Status.DID_NOT_OPEN},
    Status.OPEN: {Kind.SUSPENDED: Status.SUSPENDED, Kind.CLOSED: Status.CLOSED, Kind.CLOSED_EARLY: Status.CLOSED_EARLY},
    Status.SUSPENDED: {Kind.RESUMED: Status.OPEN, Kind.CLOSED_EARLY: Status.CLOSED_EARLY},
    Status.CLOSED: {},
    Status.CLOSED_EARLY: {},
    Status.DID_NOT_OPEN: {},
}
FINAL = frozenset(s for s, moves in TRANSITIONS.items() if not moves)
# Events that must say why.
NEEDS_REASON = frozenset({Kind.SUSPENDED, Kind.CLOSED_EARLY, Kind.DID_NOT_OPEN})
# Statuses in which the station has received voters at some point today.
HAS_OPENED = frozenset({Status.OPEN, Status.SUSPENDED, Status.CLOSED, Status.CLOSED_EARLY})


@dataclass(frozen=True)
class Event:
    """One event as the machine sees it. `order` breaks ties between events at the same time: the
    position of the first report in the event's correction chain."""

    kind: Kind
    at: dt.datetime
    order: int
    reason: str = ""


@dataclass(frozen=True)
class Standing:
    status: Status
    since: dt.datetime | None = None
    reason: str = ""
    opened_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    events: int = 0


INITIAL = Standing(Status.NOT_OPENED)


class TransitionError(ValueError):
    """`kind` cannot happen to a station whose status is `status`."""

    def __init__(self, status: Status, kind: Kind, at: dt.datetime | None = None) -> None:
        self.status = status
        self.kind = kind
        self.at = at
        super().__init__(f"a station that is {status.value} cannot be {kind.value}")


def allowed(status: Status) -> list[Kind]:
    """The events that may come next, in the table's order."""
    return list(TRANSITIONS[status])


def step(standing: Standing, event: Event) -> Standing:
    target = TRANSITIONS[standing.status].get(event.kind)
    if target is None:
        raise TransitionError(standing.status, event.kind, event.at)
    return Standing(
        status=target,
        since=event.at,
        reason=event.reason if event.kind in NEEDS_REASON else "",
        opened_at=event.at if event.kind == Kind.OPENED else standing.opened_at,
        closed_at=event.at if target in {Status.CLOSED, Status.CLOSED_EARLY} else standing.closed_at,
        events=standing.events + 1,
    )


def ordered(events: Iterable[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.at, e.order))


def replay(events: Iterable[Event]) -> Standing:
    """The standing after the effective events, taken in the order they happened."""
    standing = INITIAL
    for event in ordered(events):
        if event.kind == Kind.RETRACTED:
            raise ValueError("a retraction is not an effective event")
        standing = step(standing, event)
    return standing


@dataclass(frozen=True)
class Logged:
    """An event as stored: an id, and the id of the event it supersedes, if it is a correction."""

    id: int
    event: Event
    supersedes: int | None = None


def effective(log: Sequence[Logged]) -> list[Event]:
    """The events that count: neither superseded by a later event nor retractions themselves."""
    superseded = {item.supersedes for item in log if item.supersedes is not None}
    return [item.event for item in log if item.id not in superseded and item.event.kind != Kind.RETRACTED]


# The incident workflow: reported -> verified or rejected; verified -> resolved.
class IncidentStatus(StrEnum):
    REPORTED = "reported"
    VERIFIED = "verified"
    REJECTED = "rejected"
    RESOLVED = "resolved"


INCIDENT_TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    IncidentStatus.REPORTED: frozenset({IncidentStatus.VERIFIED, IncidentStatus.REJECTED}),
    IncidentStatus.VERIFIED: frozenset({IncidentStatus.RESOLVED}),
    IncidentStatus.REJECTED: frozenset(),
    IncidentStatus.RESOLVED: frozenset(),
}
# Seen by the public and every role once the commission has verified it.
INCIDENT_PUBLIC = frozenset({IncidentStatus.VERIFIED, IncidentStatus.RESOLVED})


def incident_may_move(current: IncidentStatus, target: IncidentStatus) -> bool:
    return target in INCIDENT_TRANSITIONS[current]


# Observer accreditation: applied -> approved (with a badge) -> revoked; or applied -> refused.
class AccreditationStatus(StrEnum):
    APPLIED = "applied"
    APPROVED = "approved"
    REFUSED = "refused"
    REVOKED = "revoked"


ACCREDITATION_TRANSITIONS: dict[AccreditationStatus, frozenset[AccreditationStatus]] = {
    AccreditationStatus.APPLIED: frozenset({AccreditationStatus.APPROVED, AccreditationStatus.REFUSED}),
    AccreditationStatus.APPROVED: frozenset({AccreditationStatus.REVOKED}),
    AccreditationStatus.REFUSED: frozenset(),
    AccreditationStatus.REVOKED: frozenset(),
}
