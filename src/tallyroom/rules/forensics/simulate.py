"""Simulated elections, clean or with ballot stuffing, for tests, validation and benchmarks.

Clean model (realistic variation between municipalities):

* stations are spread over municipalities at random; each station's registered voters are
  log-normal (median ``size_median``), clipped to ``[size_min, size_max]``;
* each municipality draws its turnout from a Beta distribution (mean ``turnout_mean``,
  concentration ``turnout_concentration``) and its entities' shares from a Dirichlet distribution
  around ``shares`` (concentration ``share_concentration``);
* each station varies around its municipality (Beta / Dirichlet with concentration
  ``station_concentration``; ``None`` for none), then ballots ~ Binomial(registered, turnout),
  invalid ~ Binomial(ballots, ``invalid_rate``) and votes ~ Multinomial(valid, shares).

Fraud: a share ``stuffing_share`` of stations gets extra ballots for the leader (entity 0): a
fraction ``x ~ U(stuffing_amount)`` of the registered voters who did not vote. Of those stations,
a share ``rounding_share`` then also writes its turnout and its leader's share up to a round
target: the next whole percent, or (half of the time) the next multiple of 5, by adding ballots for
the leader and moving votes from the other entities to the leader.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tallyroom.rules.forensics.table import BoolArray, FloatArray, IntArray, StationTable


@dataclass(frozen=True)
class SimulatedElection:
    table: StationTable
    stuffed: BoolArray
    rounded: BoolArray


def simulate_election(
    stations: int = 10_000,
    municipalities: int = 100,
    *,
    seed: int = 0,
    turnout_mean: float = 0.55,
    turnout_concentration: float = 30.0,
    shares: tuple[float, ...] = (0.42, 0.28, 0.15, 0.1, 0.05),
    share_concentration: float = 40.0,
    station_concentration: float | None = 300.0,
    size_median: float = 800.0,
    size_sigma: float = 0.6,
    size_min: int = 50,
    size_max: int = 4000,
    invalid_rate: float = 0.02,
    stuffing_share: float = 0.0,
    stuffing_amount: tuple[float, float] = (0.1, 0.5),
    rounding_share: float = 0.0,
) -> SimulatedElection:
    """One simulated election (see the module docstring); entity 0 is the leader."""
    rng = np.random.default_rng(seed)
    base = np.asarray(shares, dtype=np.float64)
    base = base / base.sum()
    group = rng.integers(0, municipalities, stations)
    sizes = np.clip(np.round(rng.lognormal(np.log(size_median), size_sigma, stations)), size_min, size_max)
    registered: IntArray = sizes.astype(np.int64)

    mun_turnout = rng.beta(
        turnout_mean * turnout_concentration, (1 - turnout_mean) * turnout_concentration, municipalities
    )
    mun_shares = rng.dirichlet(base * share_concentration, municipalities)
    if station_concentration is None:
        turnout = mun_turnout[group]
        station_shares = mun_shares[group]
    else:
        t = mun_turnout[group]
        turnout = rng.beta(t * station_concentration, (1 - t) * station_concentration)
        weights = rng.gamma(mun_shares[group] * station_concentration)  # Dirichlet, one row per station
        station_shares = weights / weights.sum(axis=1, keepdims=True)
    ballots = rng.binomial(registered, turnout)
    invalid = rng.binomial(ballots, invalid_rate)
    valid = ballots - invalid
    votes = rng.multinomial(valid, station_shares).astype(np.int64)

    stuffed = rng.random(stations) < stuffing_share
    if stuffed.any():
        amount = rng.uniform(*stuffing_amount, int(stuffed.sum()))
        extra = np.round(amount * (registered[stuffed] - ballots[stuffed])).astype(np.int64)
        ballots[stuffed] += extra
        valid[stuffed] += extra
        votes[stuffed, 0] += extra
    rounded = stuffed & (rng.random(stations) < rounding_share)
    if rounded.any():
        _round_up(rng, np.flatnonzero(rounded), registered, ballots, valid, votes)

    table = StationTable(
        station_ids=np.array([f"S{i:06d}" for i in range(stations)]),
        municipality_ids=np.array([f"M{g:04d}" for g in group]),
        registered=registered,
        ballots=ballots,
        valid=valid,
        invalid=invalid,
        votes=votes,
        entity_names=tuple(f"Entity {i + 1}" for i in range(base.size)),
        leader=0,
    )
    return SimulatedElection(table, stuffed, rounded)


def _target(rng: np.random.Generator, current: FloatArray) -> IntArray:
    """The next whole percent at or above ``current`` (a percentage), or half the time the next multiple of 5."""
    whole = np.ceil(current - 1e-9)
    five = np.ceil(current / 5 - 1e-9) * 5
    return np.minimum(np.where(rng.random(current.size) < 0.5, whole, five), 99).astype(np.int64)


def _round_up(
    rng: np.random.Generator, rows: IntArray, registered: IntArray, ballots: IntArray, valid: IntArray, votes: IntArray
) -> None:
    # Turnout up to a round target: extra ballots, all for the leader.
    target = _target(rng, 100 * ballots[rows] / registered[rows])
    wanted = np.round(target * registered[rows] / 100).astype(np.int64)
    extra = np.clip(wanted - ballots[rows], 0, None)
    ballots[rows] += extra
    valid[rows] += extra
    votes[rows, 0] += extra
    # The leader's share up to a round target: votes moved from the others to the leader.
    target = _target(rng, 100 * votes[rows, 0] / np.maximum(valid[rows], 1))
    wanted = np.round(target * valid[rows] / 100).astype(np.int64)
    others = votes[rows, 1:]
    available = others.sum(axis=1)
    move = np.clip(wanted - votes[rows, 0], 0, available)
    with np.errstate(invalid="ignore", divide="ignore"):
        take = np.floor(others * (move / np.maximum(available, 1))[:, None]).astype(np.int64)
    rest = move - take.sum(axis=1)
    for index in range(rows.size):  # the remainder, one vote at a time from the largest other entities
        remaining = int(rest[index])
        while remaining > 0:
            column = int(np.argmax(others[index] - take[index]))
            step = min(remaining, int(others[index, column] - take[index, column]))
            if step <= 0:
                break
            take[index, column] += step
            remaining -= step
    votes[rows, 1:] = others - take
    votes[rows, 0] += take.sum(axis=1)
