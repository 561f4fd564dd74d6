"""A simulated election day to go with `simulate.py`'s forms. Pure Python: no Django.

Each station opens (a few late), may be suspended for a while or close early, reports cumulative
turnout at every reporting time (rising along its municipality's curve and ending at the voters its
forms count), and now and then has an incident: incidents, suspensions and early closures cluster in
a few "troubled" municipalities. Streamed station by station and deterministic for (definition,
seed); client keys derive from the seed, so loading the same day twice records it once.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from tallyroom.elections.simulate import StationDraw, station_draws

DEFAULT_TIMES = ["11:00", "15:00", "19:00"]
TROUBLED_SHARE = 0.1  # share of municipalities where trouble concentrates (at least one)
# Per-station chances (ordinary municipality, troubled one).
SUSPENSION = (0.003, 0.03)
EARLY_CLOSE = (0.001, 0.02)
INCIDENT = (0.002, 0.04)
MISSED_REPORT = 0.01  # a station skips one reporting time (never its last)
LATE_REPORT = 0.03
OPEN_DELAYS = (0, 0, 0, 1, 2, 3, 5, 8, 12, 25, 48)
CLOSE_DELAYS = (0, 2, 5, 10, 15, 30, 45)
REPORT_DELAYS = (1, 2, 4, 6, 9, 12, 15, 20)

SUSPENSION_REASONS = (
    "The power failed; the room was too dark to vote.",
    "The ballots for the assembly ran out; more are on the way.",
    "A fight broke out in the queue; the police cleared the room.",
    "The ballot box seal was found broken; the committee resealed it.",
)
EARLY_CLOSE_REASONS = (
    "The committee left after threats against its members.",
    "The building was evacuated after a bomb threat.",
    "Ballot boxes damaged by a crowd; polling ended.",
)
# kind, severities, weight, descriptions
INCIDENT_KINDS: tuple[tuple[str, tuple[str, ...], int, tuple[str, ...]], ...] = (
    (
        "procedural",
        ("low", "medium"),
        30,
        ("Voters' fingers were not sprayed with ink.", "Family voting seen twice in an hour."),
    ),
    ("campaigning", ("low",), 20, ("Party activists handed out leaflets at the entrance.",)),
    ("other", ("low", "medium"), 15, ("A voter fainted in the queue; an ambulance came.",)),
    ("intimidation", ("medium", "high"), 12, ("Men outside the school photographed voters.",)),
    ("observers_obstructed", ("medium",), 10, ("The chair asked an observer to leave the room.",)),
    ("violence", ("high", "critical"), 4, ("Supporters of two parties fought outside the polling centre.",)),
    ("ballot_box", ("critical",), 1, ("A man grabbed the ballot box and ran off with it.",)),
)


@dataclass(frozen=True)
class SimEvent:
    station: str
    kind: str
    at: dt.datetime
    reason: str
    client_key: str


@dataclass(frozen=True)
class SimTurnout:
    station: str
    voters: int
    slot: str  # a reporting time, or "" for an ad hoc figure (at an early closure)
    at: dt.datetime
    received_at: dt.datetime
    client_key: str


@dataclass(frozen=True)
class SimIncident:
    municipality: str
    station: str
    kind: str
    severity: str
    at: dt.datetime
    description: str
    client_key: str


@dataclass(frozen=True)
class StationDay:
    municipality: str
    station: str
    voters: int  # the day's last turnout figure: the forms' ballots used
    events: tuple[SimEvent, ...]
    turnout: tuple[SimTurnout, ...]
    incidents: tuple[SimIncident, ...]


@dataclass(frozen=True)
class SimStation:
    day: StationDay
    draw: StationDraw


@dataclass(frozen=True)
class _Muni:
    troubled: bool
    curve: float  # turnout by time of day follows x ** curve (below 1: early voters)


class _Clock:
    def __init__(self, definition: dict[str, Any]) -> None:
        zone = ZoneInfo(definition["timezone"])
        first = next(r for r in definition["rounds"] if r["kind"] == "first")
        self.round = str(first["code"])
        day = dt.date.fromisoformat(first["date"])
        self.opens = self.at(day, definition.get("polls_open", "07:00"), zone)
        self.closes = self.at(day, definition.get("polls_close", "19:00"), zone)
        times = definition.get("turnout_times", DEFAULT_TIMES)
        self.slots = [(t, self.at(day, t, zone)) for t in sorted(times)]

    @staticmethod
    def at(day: dt.date, hhmm: str, zone: ZoneInfo) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=zone)

    def share(self, when: dt.datetime, curve: float) -> float:
        x = (when - self.opens) / (self.closes - self.opens)
        return float(min(1.0, max(0.0, x)) ** curve)


def first_round(definition: dict[str, Any]) -> str:
    return _Clock(definition).round


def simulate_day(definition: dict[str, Any], seed: int = 1) -> Iterator[StationDay]:
    """Every station's day, in definition order (see the module docstring)."""
    for sim in simulate_stations(definition, seed):
        yield sim.day


def simulate_stations(definition: dict[str, Any], seed: int = 1) -> Iterator[SimStation]:
    """Each station's day with its count, from one pass over the draws: what a loader wants."""
    clock = _Clock(definition)
    rng = random.Random(f"{seed}/day")  # noqa: S311 - reproducible synthetic data
    codes = [m["code"] for m in definition["municipalities"]]
    troubled = set(rng.sample(codes, max(1, round(len(codes) * TROUBLED_SHARE))))
    munis = {code: _Muni(code in troubled, rng.uniform(0.75, 1.35)) for code in codes}
    for draw in station_draws(definition, seed):
        muni = munis[draw.municipality]
        yield SimStation(_station_day(rng, clock, muni, draw, f"sim:{seed}:{draw.station}"), draw)


def _minutes(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """A whole minute between start and end."""
    span = int((end - start).total_seconds() // 60)
    return start + dt.timedelta(minutes=rng.randint(0, max(0, span)))


def _station_day(rng: random.Random, clock: _Clock, muni: _Muni, draw: StationDraw, key: str) -> StationDay:
    trouble = 1 if muni.troubled else 0
    code = draw.station
    opened = clock.opens + dt.timedelta(minutes=rng.choice(OPEN_DELAYS))
    events = [SimEvent(code, "opened", opened, "", f"{key}:opened")]
    early = rng.random() < EARLY_CLOSE[trouble]
    end = _minutes(rng, clock.closes - dt.timedelta(hours=3), clock.closes - dt.timedelta(minutes=15))
    if not early:
        end = clock.closes
    if rng.random() < SUSPENSION[trouble]:
        start = _minutes(rng, opened + dt.timedelta(minutes=90), end - dt.timedelta(minutes=90))
        events.append(SimEvent(code, "suspended", start, rng.choice(SUSPENSION_REASONS), f"{key}:suspended"))
        back = start + dt.timedelta(minutes=rng.randint(10, 60))
        events.append(SimEvent(code, "resumed", back, "", f"{key}:resumed"))
    incidents = []
    if early:
        reason = rng.choice(EARLY_CLOSE_REASONS)
        events.append(SimEvent(code, "closed_early", end, reason, f"{key}:closed_early"))
        incidents.append(SimIncident(draw.municipality, code, "early_closure", "high", end, reason, f"{key}:i0"))
    else:
        closed = clock.closes + dt.timedelta(minutes=rng.choice(CLOSE_DELAYS))
        events.append(SimEvent(code, "closed", closed, "", f"{key}:closed"))
    if rng.random() < INCIDENT[trouble]:
        kind, severities, _weight, texts = rng.choices(INCIDENT_KINDS, weights=[k[2] for k in INCIDENT_KINDS])[0]
        at = _minutes(rng, opened, end)
        incidents.append(
            SimIncident(draw.municipality, code, kind, rng.choice(severities), at, rng.choice(texts), f"{key}:i1")
        )
    return StationDay(
        draw.municipality,
        code,
        draw.voters,
        tuple(events),
        _turnout(rng, clock, muni, draw, end, key),
        tuple(incidents),
    )


def _turnout(
    rng: random.Random, clock: _Clock, muni: _Muni, draw: StationDraw, end: dt.datetime, key: str
) -> tuple[SimTurnout, ...]:
    """Cumulative figures at the reporting times before `end`, the last one the day's voters: at the
    closing reporting time, or ad hoc when the station closes early (or no reporting time is at the
    close)."""
    figures: list[tuple[str, dt.datetime, int]] = []
    last = 0
    for slot, when in clock.slots:
        if when >= end:
            break
        last = max(last, min(draw.voters, round(draw.voters * clock.share(when, muni.curve) * rng.uniform(0.9, 1.1))))
        figures.append((slot, when, last))
    closing = next((slot for slot, when in clock.slots if when == end), "")
    figures.append((closing, end, draw.voters))
    if len(figures) > 1 and rng.random() < MISSED_REPORT:
        figures.pop(rng.randrange(len(figures) - 1))
    out = []
    for slot, when, voters in figures:
        delay = rng.choice(REPORT_DELAYS) if rng.random() >= LATE_REPORT else rng.choice((40, 75))
        tag = slot or f"{when:%H%M}"
        out.append(SimTurnout(draw.station, voters, slot, when, when + dt.timedelta(minutes=delay), f"{key}:t{tag}"))
    return tuple(out)
