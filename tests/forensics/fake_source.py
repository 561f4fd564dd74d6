"""A stand-in for ``tallyroom.results.forensics_source`` in the command's tests."""

from __future__ import annotations

from tallyroom.rules.forensics import StationTable
from tallyroom.rules.forensics.simulate import simulate_election

CALLS: list[str | None] = []


def station_table(election_code: str | None) -> StationTable:
    CALLS.append(election_code)
    if election_code == "none-yet":
        raise LookupError("election none-yet has no counted result forms")
    return simulate_election(800, 8, seed=1).table
