"""Station-level results as numpy arrays: the one input of every forensic method.

A :class:`StationTable` is what the results pipeline (``tallyroom.results.forensics_source``) and
the CSV reader (:mod:`tallyroom.rules.forensics.csvsource`) both produce. Counts are whole numbers
(``int64``); one row per polling station.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
StrArray = NDArray[np.str_]

TurnoutFrom = Literal["ballots", "cast"]
ShareOf = Literal["valid", "cast"]


class ForensicsInputError(ValueError):
    """The station table (or a request about it) is not usable; the message says why."""


def _as_strings(values: Any) -> StrArray:
    array = np.asarray(values)
    return array if array.dtype.kind == "U" else array.astype(np.str_)


def _as_counts(name: str, values: Any, size: int | None) -> IntArray:
    array = np.asarray(values)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ForensicsInputError(f"{name}: counts must be whole numbers")
    elif array.dtype.kind not in "iub":
        raise ForensicsInputError(f"{name}: counts must be whole numbers, not {array.dtype}")
    counts = array if array.dtype == np.int64 else array.astype(np.int64)
    if size is not None and counts.shape[0] != size:
        raise ForensicsInputError(f"{name}: {counts.shape[0]} values for {size} stations")
    if np.any(counts < 0):
        raise ForensicsInputError(f"{name}: counts cannot be negative")
    return counts


@dataclass(frozen=True)
class StationTable:
    """Results by polling station.

    ``votes`` has one row per station and one column per entity (party, list or candidate) in
    ``entity_names`` order; ``leader`` is the column of the entity whose share is examined (the
    winner, usually). ``registered``, ``ballots`` (ballots issued to voters) and ``invalid`` may
    be unknown (``None``): the methods that need them are then skipped with a reason. ``links``
    optionally gives each station's page (a URL or path) for reports.
    """

    station_ids: StrArray
    municipality_ids: StrArray
    registered: IntArray | None
    ballots: IntArray | None
    valid: IntArray
    invalid: IntArray | None
    votes: IntArray
    entity_names: tuple[str, ...]
    leader: int
    links: Sequence[str] | None = None

    def __post_init__(self) -> None:
        ids = _as_strings(self.station_ids)
        if ids.ndim != 1:
            raise ForensicsInputError("station_ids must be one-dimensional")
        size = ids.shape[0]
        object.__setattr__(self, "station_ids", ids)
        municipalities = _as_strings(self.municipality_ids)
        if municipalities.shape != (size,):
            raise ForensicsInputError(f"municipality_ids: {municipalities.shape[0]} values for {size} stations")
        object.__setattr__(self, "municipality_ids", municipalities)
        for name in ("registered", "ballots", "invalid"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _as_counts(name, value, size))
        object.__setattr__(self, "valid", _as_counts("valid", self.valid, size))
        votes = _as_counts("votes", self.votes, size)
        if votes.ndim == 1:
            votes = votes.reshape(size, 1)
        if votes.ndim != 2:
            raise ForensicsInputError("votes must be a matrix: one row per station, one column per entity")
        object.__setattr__(self, "votes", votes)
        names = tuple(str(name) for name in self.entity_names)
        if len(names) != votes.shape[1]:
            raise ForensicsInputError(f"{len(names)} entity names for {votes.shape[1]} vote columns")
        object.__setattr__(self, "entity_names", names)
        if not 0 <= self.leader < votes.shape[1]:
            raise ForensicsInputError(f"leader index {self.leader} is not one of the {votes.shape[1]} entities")
        if np.any(votes.sum(axis=1) > self.valid):
            bad = int(np.flatnonzero(votes.sum(axis=1) > self.valid)[0])
            raise ForensicsInputError(
                f"station {ids[bad]}: the entities' votes add up to more than its valid ballots "
                f"({int(votes[bad].sum())} > {int(self.valid[bad])})"
            )
        if self.links is not None:
            links = tuple(str(link) for link in self.links)
            if len(links) != size:
                raise ForensicsInputError(f"links: {len(links)} values for {size} stations")
            object.__setattr__(self, "links", links)

    @property
    def size(self) -> int:
        return int(self.station_ids.shape[0])

    @property
    def leader_name(self) -> str:
        return self.entity_names[self.leader]

    @property
    def leader_votes(self) -> IntArray:
        return self.votes[:, self.leader]

    @property
    def cast(self) -> IntArray:
        """Ballots found in the boxes: valid plus invalid (valid alone when invalid is unknown)."""
        return self.valid if self.invalid is None else self.valid + self.invalid

    def turnout_counts(self, turnout_from: TurnoutFrom = "ballots") -> tuple[IntArray, IntArray] | None:
        """(numerator, denominator) of turnout, or None without registered voters.

        ``ballots``: ballots issued over registered voters (falls back to ballots cast when the
        issued ballots are unknown); ``cast``: ballots found in the boxes over registered voters.
        """
        if self.registered is None:
            return None
        if turnout_from == "ballots" and self.ballots is not None:
            return self.ballots, self.registered
        return self.cast, self.registered

    def share_counts(self, entity: int | None = None, share_of: ShareOf = "valid") -> tuple[IntArray, IntArray]:
        """(votes, denominator) of an entity's share (the leader's by default)."""
        column = self.leader if entity is None else entity
        denominator = self.valid if share_of == "valid" else self.cast
        return self.votes[:, column], denominator


def ratio(numerator: IntArray, denominator: IntArray) -> FloatArray:
    """numerator / denominator as floats, NaN where the denominator is zero."""
    out = np.full(numerator.shape, np.nan, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def group_codes(labels: StrArray) -> tuple[IntArray, StrArray]:
    """Dense integer codes (0..G-1) for labels, and the label of each code."""
    names, codes = np.unique(labels, return_inverse=True)
    return codes.astype(np.int64).reshape(-1), names
