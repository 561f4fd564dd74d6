"""A result form's content, checked at the edge against its contest before anything is stored.

Well-formed but suspicious numbers are not rejected here: they are stored and held by the
quarantine checks. Here we reject only what cannot be a form of this contest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from tallyroom.elections.definition import Problem
from tallyroom.elections.models import Candidate, Contest, PollingStation
from tallyroom.rules.checks import StationForm

OPTIONAL_COUNTS = ("signatures", "ballots_received", "ballots_used", "ballots_unused", "ballots_spoiled")
REQUIRED_COUNTS = ("invalid",)
DEFAULT_ZERO = ("blank", "conditional")


@dataclass(frozen=True)
class FormContent:
    """What a paper form says. `votes` by entity code; `preferences` by entity code and list position."""

    votes: Mapping[str, int]
    invalid: int
    blank: int = 0
    conditional: int = 0
    signatures: int | None = None
    ballots_received: int | None = None
    ballots_used: int | None = None
    ballots_unused: int | None = None
    ballots_spoiled: int | None = None
    committee_signed: bool | None = None
    preferences: Mapping[str, Mapping[int, int]] = field(default_factory=dict)

    @property
    def valid(self) -> int:
        return sum(self.votes.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "signatures": self.signatures,
            "ballots_received": self.ballots_received,
            "ballots_used": self.ballots_used,
            "ballots_unused": self.ballots_unused,
            "ballots_spoiled": self.ballots_spoiled,
            "invalid": self.invalid,
            "blank": self.blank,
            "conditional": self.conditional,
            "committee_signed": self.committee_signed,
            "votes": dict(sorted(self.votes.items())),
            "preferences": {
                e: {str(p): v for p, v in sorted(c.items())} for e, c in sorted(self.preferences.items()) if c
            },
        }

    def sha256(self) -> str:
        return self._digest

    @cached_property
    def _digest(self) -> str:  # the bulk path asks twice per form; the content never changes
        blob = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def station_form(self, registered: int | None) -> StationForm:
        return StationForm(
            registered=registered,
            signatures=self.signatures,
            ballots_received=self.ballots_received,
            ballots_used=self.ballots_used,
            ballots_unused=self.ballots_unused,
            ballots_spoiled=self.ballots_spoiled,
            conditional=self.conditional,
            valid=self.valid,
            invalid=self.invalid,
            blank=self.blank,
            votes=dict(self.votes),
            preferences={e: {str(p): v for p, v in c.items()} for e, c in self.preferences.items()},
            signed=self.committee_signed,
        )


@dataclass(frozen=True)
class Ballot:
    """What may appear on a form of one contest: entity codes, and for assembly their lists."""

    contest: Contest
    entities: tuple[str, ...]
    positions: Mapping[str, frozenset[int]]  # entity -> list positions (assembly only)


def ballot_of(contest: Contest) -> Ballot:
    if contest.kind == Contest.Kind.MAYOR:
        entities = tuple(
            contest.candidates.order_by("contestcandidate__ballot_position").values_list("entity__code", flat=True)
        )
        return Ballot(contest, entities, {})
    entities = tuple(contest.entities.order_by("contestentity__ballot_position").values_list("code", flat=True))
    positions: dict[str, set[int]] = {e: set() for e in entities}
    rows = Candidate.objects.filter(
        municipality_id=contest.municipality_id, office=Candidate.Office.ASSEMBLY, entity__code__in=entities
    ).values_list("entity__code", "position")
    for entity, position in rows:
        positions[entity].add(position)
    return Ballot(contest, entities, {e: frozenset(p) for e, p in positions.items()})


def parse_content(data: Mapping[str, Any], ballot: Ballot, at: str = "") -> tuple[FormContent | None, list[Problem]]:
    """A FormContent, or every problem with its field path. Types are whole numbers >= 0."""
    problems: list[Problem] = []
    prefix = f"{at}." if at else ""

    def count(name: str, *, required: bool = False, default: int | None = None) -> int | None:
        value: object = data.get(name, default)
        if value is None:
            if required:
                problems.append(Problem(f"{prefix}{name}", "is required"))
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(Problem(f"{prefix}{name}", f"must be a whole number (got {value!r})"))
            return None
        if value < 0:
            problems.append(Problem(f"{prefix}{name}", f"must be >= 0 (got {value})"))
            return None
        return value

    counts = {name: count(name) for name in OPTIONAL_COUNTS}
    invalid = count("invalid", required=True)
    blank = count("blank", default=0)
    conditional = count("conditional", default=0)
    signed = data.get("committee_signed")
    if signed is not None and not isinstance(signed, bool):
        problems.append(Problem(f"{prefix}committee_signed", "must be true, false or null"))
    votes = _votes(data.get("votes"), ballot, prefix, problems)
    preferences = _preferences(data.get("preferences") or {}, ballot, votes, prefix, problems)
    if problems or invalid is None or votes is None:
        return None, problems
    content = FormContent(
        votes=votes,
        invalid=invalid,
        blank=blank or 0,
        conditional=conditional or 0,
        committee_signed=signed,
        preferences=preferences,
        **counts,
    )
    return content, []


def _votes(raw: Any, ballot: Ballot, prefix: str, problems: list[Problem]) -> dict[str, int] | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem(f"{prefix}votes", "is required: an object of entity code -> votes"))
        return None
    votes: dict[str, int] = {}
    for code, value in raw.items():
        if code not in ballot.entities:
            on_ballot = ", ".join(ballot.entities)
            problems.append(Problem(f"{prefix}votes.{code}", f"is not on this contest's ballot (on it: {on_ballot})"))
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(Problem(f"{prefix}votes.{code}", f"must be a whole number >= 0 (got {value!r})"))
        else:
            votes[code] = value
    for code in ballot.entities:
        if code not in raw:
            problems.append(Problem(f"{prefix}votes.{code}", "is required (enter 0 for no votes)"))
    return votes


def _preferences(
    raw: Any, ballot: Ballot, votes: Mapping[str, int] | None, prefix: str, problems: list[Problem]
) -> dict[str, dict[int, int]]:
    out: dict[str, dict[int, int]] = {}
    if not isinstance(raw, Mapping):
        problems.append(Problem(f"{prefix}preferences", "must be an object of entity -> {list position: votes}"))
        return out
    if raw and ballot.contest.kind == Contest.Kind.MAYOR:
        problems.append(Problem(f"{prefix}preferences", "a mayoral form has no preference votes"))
        return out
    for entity, by_position in raw.items():
        at = f"{prefix}preferences.{entity}"
        if entity not in ballot.positions:
            problems.append(Problem(at, "is not on this contest's ballot"))
            continue
        if not isinstance(by_position, Mapping):
            problems.append(Problem(at, "must be an object of list position -> votes"))
            continue
        for position, value in by_position.items():
            number = int(position) if str(position).isdigit() else None
            if number is None or number not in ballot.positions[entity]:
                problems.append(Problem(f"{at}.{position}", f"no candidate at position {position} on {entity}'s list"))
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append(Problem(f"{at}.{position}", f"must be a whole number >= 0 (got {value!r})"))
            elif value:
                out.setdefault(entity, {})[number] = value
    return out


def station_registered(station: PollingStation) -> int | None:
    """Central counting units have no voter list of their own: no turnout check applies."""
    return None if station.kind == PollingStation.Kind.CENTRAL else station.registered_voters
