"""Integer percentages (Kobak, Shpilkin and Pshenichnikov, Annals of Applied Statistics 2016).

A commission that writes down the result it was told to produce tends to aim at a round number:
turnout 70%, the leader 60%. A station's percentage ``100 k / n`` is *integer* when ``100 k`` is a
multiple of ``n`` (with a ``tolerance`` in percentage points, when it is within that distance of a
whole percent). Whether a given station *can* report an integer percentage by chance depends on
the arithmetic of its denominator (``n = 200`` hits a whole percent every 2 votes, ``n = 1001``
only at 0% and 100%), so the number expected by chance is computed station by station.

The null hypothesis is binomial: each station's count is ``k ~ Binomial(n, k_obs / n)`` with its
own denominator ``n`` (Kobak et al. resample the counts binomially around the observed rates).
Two ways of drawing from it give the same distribution of the number of integer stations:

* ``method="exact"`` (the default): each station's chance ``P_i`` of an integer percentage under
  its binomial is computed exactly from the binomial probabilities of the integer points; each
  Monte Carlo replicate then draws every station's integer/not-integer indicator as
  ``Bernoulli(P_i)``. This *is* the binomial Monte Carlo (the indicator of ``k ~ Binomial`` being
  integer is exactly ``Bernoulli(P_i)``), with the per-station binomial draw integrated out, which
  makes 1,000 replicates of 95,000 stations take about a second.
* ``method="resample"``: draw ``k`` from the binomial and test it, literally. Slower; the tests
  check that the two agree.

Choices (documented in docs/forensics.md): a station is tested for a quantity only when its
denominator is at least ``min_denominator`` (100 by default: small stations hit whole percents
trivially) and ``0 < k < n`` (0% and 100% are whole percents for any denominator, and 100%
turnout stations are usually special ones). 0% and 100% are never counted as hits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import special

from tallyroom.rules.forensics.stats import bh_adjust, mc_upper_p_value
from tallyroom.rules.forensics.table import BoolArray, FloatArray, ForensicsInputError, IntArray

Method = Literal["exact", "resample"]
Progress = Callable[[int], None]

#: Monte Carlo replicates are drawn this many at a time (memory: chunk x stations x 4 bytes).
CHUNK = 50


def integer_hits(k: IntArray, n: IntArray, tolerance: float = 0.0) -> tuple[BoolArray, IntArray]:
    """Which percentages ``100 k / n`` are whole (within ``tolerance`` points), and the nearest percent.

    0% and 100% never count; ``n = 0`` never counts. Works on arrays of any shape.
    """
    k = np.asarray(k, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    safe_n = np.where(n > 0, n, 1)
    # nearest whole percent, rounding halves up, in integer arithmetic
    percent = (200 * k + safe_n) // (2 * safe_n)
    inside = (n > 0) & (percent >= 1) & (percent <= 99) & (k > 0) & (k < n)
    if tolerance == 0:
        hit = inside & ((100 * k) % safe_n == 0)
    else:
        low, high = _tolerance_range(percent, safe_n, tolerance)
        hit = inside & (k >= low) & (k <= high)
    return hit, percent


def _tolerance_range(percent: IntArray, n: IntArray, tolerance: float) -> tuple[IntArray, IntArray]:
    """The counts ``k`` whose percentage is within ``tolerance`` points of ``percent``."""
    low = np.ceil(n * (percent - tolerance) / 100 - 1e-9).astype(np.int64)
    high = np.floor(n * (percent + tolerance) / 100 + 1e-9).astype(np.int64)
    return low, high


def integer_chances(k: IntArray, n: IntArray, tolerance: float = 0.0) -> tuple[FloatArray, FloatArray]:
    """Each station's chance of a whole-percent value under ``Binomial(n, k / n)``, and the chance
    summed by percent (index 0..100: the number of stations expected at each whole percent).

    Exact: with ``tolerance = 0`` the integer points are the multiples of ``n / gcd(n, 100)``; with
    a tolerance, the binomial probability of each whole percent's window is summed over the
    percents within 8 standard deviations (the rest is below 1e-15).
    """
    k = np.asarray(k, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    if k.shape != n.shape or k.ndim != 1:
        raise ForensicsInputError("integer_chances: k and n must be equal-length vectors")
    if np.any(n <= 0) or np.any(k < 0) or np.any(k > n):
        raise ForensicsInputError("integer_chances: need 0 <= k <= n and n > 0")
    p = k / n
    size = n.size
    if tolerance == 0:
        g = np.gcd(n, 100)
        per_station = g - 1  # whole percents strictly between 0% and 100% reachable with this n
        owner = _expand(per_station)
        j = np.arange(owner.size) - _starts(per_station)[owner] + 1
        points = j * (n // g)[owner]
        percent = (100 * j) // g[owner]
    else:
        if not 0 < tolerance < 0.5:
            raise ForensicsInputError("the integer tolerance must be at least 0 and below 0.5 points")
        sd = np.sqrt(p * (1 - p) / n)
        lo = np.clip(np.floor(100 * (p - WINDOW_SD * sd) - tolerance - 1), 1, 99).astype(np.int64)
        hi = np.clip(np.ceil(100 * (p + WINDOW_SD * sd) + tolerance + 1), 1, 99).astype(np.int64)
        per_station = np.maximum(hi - lo + 1, 0)
        pair_owner = _expand(per_station)
        pair_percent = lo[pair_owner] + np.arange(pair_owner.size) - _starts(per_station)[pair_owner]
        low, high = _tolerance_range(pair_percent, n[pair_owner], tolerance)
        per_pair = np.maximum(high - low + 1, 0)
        pair = _expand(per_pair)
        points = low[pair] + np.arange(pair.size) - _starts(per_pair)[pair]
        owner = pair_owner[pair]
        percent = pair_percent[pair]
    prob = binomial_pmf(points, n, p, owner)
    prob = np.nan_to_num(np.asarray(prob, dtype=np.float64), nan=0.0)
    chance = np.bincount(owner, weights=prob, minlength=size).astype(np.float64)
    by_percent = np.bincount(percent, weights=prob, minlength=101).astype(np.float64)[:101]
    return np.clip(chance, 0.0, 1.0), by_percent


#: With a tolerance, whole percents further than this many binomial standard deviations (plus 1 point,
#: for skewed small counts) from a station's rate are ignored (their probability is below 1e-8).
WINDOW_SD = 6.0


def _expand(repeats: IntArray) -> IntArray:
    """Owner index of each element when element i is repeated ``repeats[i]`` times."""
    return np.repeat(np.arange(repeats.size), repeats)


def _starts(repeats: IntArray) -> IntArray:
    return np.cumsum(repeats) - repeats


def binomial_pmf(k: IntArray, n: IntArray, p: FloatArray, owner: IntArray | None = None) -> FloatArray:
    """P(Binomial(n, p) = k) for 0 < p < 1, vectorised through a table of log-factorials.

    With ``owner``, ``n`` and ``p`` are per station and ``k[j]`` belongs to station ``owner[j]``
    (what depends on the station alone is then computed once per station).
    """
    k = np.asarray(k, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    if k.size == 0:
        return np.zeros(k.shape)
    log_factorial = special.gammaln(np.arange(int(n.max()) + 2, dtype=np.float64) + 1.0)
    log_q = np.log1p(-p)
    constant = log_factorial[n] + n * log_q  # log n! + n log(1 - p)
    log_odds = np.log(p) - log_q
    if owner is not None:
        n, constant, log_odds = n[owner], constant[owner], log_odds[owner]
    log_pmf = constant - log_factorial[k] - log_factorial[n - k] + k * log_odds
    return np.asarray(np.exp(log_pmf), dtype=np.float64)


@dataclass(frozen=True)
class IntegerTest:
    """Observed whole-percent stations against the binomial null, for one quantity."""

    quantity: str
    stations_tested: int
    observed: int
    expected: float
    null_mean: float
    null_std: float
    null_ci95: tuple[float, float]
    excess: float
    excess_std: float
    excess_ci95: tuple[float, float]
    p_value: float
    by_percent_observed: IntArray
    by_percent_expected: FloatArray
    null_counts: IntArray = field(repr=False)

    @property
    def excess_share(self) -> float:
        """Excess as a share of the stations tested."""
        return self.excess / self.stations_tested if self.stations_tested else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "stations_tested": self.stations_tested,
            "observed": self.observed,
            "expected": self.expected,
            "null_mean": self.null_mean,
            "null_std": self.null_std,
            "null_ci95": list(self.null_ci95),
            "excess": self.excess,
            "excess_std": self.excess_std,
            "excess_ci95": list(self.excess_ci95),
            "excess_share_of_tested": self.excess_share,
            "p_value": self.p_value,
            "by_percent": {
                "percent": list(range(1, 100)),
                "observed": self.by_percent_observed[1:100],
                "expected": self.by_percent_expected[1:100],
            },
            "null_count_histogram": _count_histogram(self.null_counts),
        }


def _count_histogram(counts: IntArray) -> dict[str, Any]:
    values, frequency = np.unique(counts, return_counts=True)
    return {"count": values, "replicates": frequency}


@dataclass(frozen=True)
class MunicipalityIntegers:
    """Whole-percent stations by municipality (either quantity), with Benjamini–Hochberg control."""

    municipality: Any  # StrArray of names
    stations_tested: IntArray
    observed: IntArray
    expected: FloatArray
    p_value: FloatArray
    p_adjusted: FloatArray
    flagged: BoolArray


@dataclass(frozen=True)
class IntegerPercentages:
    """The integer-percentage test for turnout, the leader's share, and either of them."""

    turnout: IntegerTest | None
    leader_share: IntegerTest | None
    either: IntegerTest
    reps: int
    seed: int
    tolerance: float
    min_denominator: int
    method: Method
    station_hit_turnout: BoolArray = field(repr=False)
    station_hit_share: BoolArray = field(repr=False)
    station_percent_turnout: IntArray = field(repr=False)
    station_percent_share: IntArray = field(repr=False)
    station_chance: FloatArray = field(repr=False)
    municipalities: MunicipalityIntegers | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        headline = self.either.as_dict()
        headline.pop("quantity")
        return {
            "what": (
                "stations whose turnout or leader's share is a whole percent, against a binomial Monte Carlo "
                "null (Kobak, Shpilkin and Pshenichnikov 2016); the top-level numbers count a station when "
                "either is whole"
            ),
            **headline,
            "turnout": None if self.turnout is None else self.turnout.as_dict(),
            "leader_share": None if self.leader_share is None else self.leader_share.as_dict(),
            "settings": {
                "reps": self.reps,
                "seed": self.seed,
                "tolerance_points": self.tolerance,
                "min_denominator": self.min_denominator,
                "method": self.method,
                "excluded": "stations with denominator below min_denominator, and values of 0% or 100%",
            },
        }


@dataclass(frozen=True)
class _Quantity:
    hit: BoolArray
    percent: IntArray
    chance: FloatArray
    eligible: BoolArray
    by_percent: FloatArray
    sampler: tuple[IntArray, FloatArray, IntArray] | None


def _prepare(pair: tuple[IntArray, IntArray] | None, size: int, min_denominator: int, tolerance: float) -> _Quantity:
    """Observed hits, per-station chances and the binomial sampler of one quantity."""
    if pair is None:
        empty = np.zeros(size, dtype=bool)
        return _Quantity(empty, np.zeros(size, dtype=np.int64), np.zeros(size), empty, np.zeros(101), None)
    k = np.asarray(pair[0], dtype=np.int64)
    n = np.asarray(pair[1], dtype=np.int64)
    ok = _eligible(k, n, min_denominator)
    hit, percent = integer_hits(k, n, tolerance)
    chance = np.zeros(size)
    chance_ok, expected_by_percent = integer_chances(k[ok], n[ok], tolerance)
    chance[ok] = chance_ok
    return _Quantity(hit & ok, percent, chance, ok, expected_by_percent, (n[ok], k[ok] / n[ok], np.flatnonzero(ok)))


def _build_test(
    name: str,
    hit: BoolArray,
    ok: BoolArray,
    chance: FloatArray,
    counts: IntArray,
    percent: IntArray,
    expected_by_percent: FloatArray,
) -> IntegerTest:
    observed = int(np.count_nonzero(hit))
    low, high = (float(x) for x in np.percentile(counts, [2.5, 97.5]))
    mean = float(counts.mean())
    observed_by_percent = np.bincount(percent[hit], minlength=101)[:101].astype(np.int64)
    return IntegerTest(
        quantity=name,
        stations_tested=int(np.count_nonzero(ok)),
        observed=observed,
        expected=float(chance[ok].sum()),
        null_mean=mean,
        null_std=float(counts.std(ddof=1)) if counts.size > 1 else 0.0,
        null_ci95=(low, high),
        excess=observed - mean,
        excess_std=float(counts.std(ddof=1)) if counts.size > 1 else 0.0,
        excess_ci95=(observed - high, observed - low),
        p_value=mc_upper_p_value(observed, counts),
        by_percent_observed=observed_by_percent,
        by_percent_expected=expected_by_percent,
        null_counts=counts,
    )


def _eligible(k: IntArray, n: IntArray, min_denominator: int) -> BoolArray:
    return (n >= max(min_denominator, 1)) & (k > 0) & (k < n)


def integer_percentages(
    turnout: tuple[IntArray, IntArray] | None,
    share: tuple[IntArray, IntArray] | None,
    *,
    reps: int = 1000,
    seed: int = 0,
    tolerance: float = 0.0,
    min_denominator: int = 100,
    method: Method = "exact",
    groups: IntArray | None = None,
    group_names: Any = None,
    alpha: float = 0.05,
    progress: Progress | None = None,
) -> IntegerPercentages:
    """Count whole-percent stations and compare them with ``reps`` binomial Monte Carlo replicates.

    ``turnout`` and ``share`` are ``(k, n)`` count pairs (either may be None when unknown); the
    replicates draw both independently, station by station. ``groups`` (municipality codes
    0..G-1) adds a per-municipality test: the number of stations with either value whole against
    its Poisson approximation (slightly conservative), Benjamini–Hochberg adjusted.
    ``progress`` is called with the number of replicates done since the last call.
    """
    if turnout is None and share is None:
        raise ForensicsInputError("integer percentages need turnout or the leader's share")
    if reps < 1:
        raise ForensicsInputError("reps must be at least 1")
    if not 0 <= tolerance < 0.5:
        raise ForensicsInputError("the integer tolerance must be at least 0 and below 0.5 points")
    pairs = [pair for pair in (turnout, share) if pair is not None]
    size = int(np.asarray(pairs[0][0]).shape[0])
    rng = np.random.default_rng(seed)

    prepared = [_prepare(pair, size, min_denominator, tolerance) for pair in (turnout, share)]
    hits = [q.hit for q in prepared]
    percents = [q.percent for q in prepared]
    chances = [q.chance for q in prepared]
    eligibles = [q.eligible for q in prepared]
    by_percent = [q.by_percent for q in prepared]
    samplers = [q.sampler for q in prepared if q.sampler is not None]

    null = _null_counts(chances, eligibles, samplers, reps, rng, method, tolerance, progress)
    either_hit = hits[0] | hits[1]
    either_ok = eligibles[0] | eligibles[1]
    either_chance = 1 - (1 - chances[0]) * (1 - chances[1])

    turnout_test = (
        _build_test("turnout", hits[0], eligibles[0], chances[0], null[0], percents[0], by_percent[0])
        if turnout is not None
        else None
    )
    share_test = (
        _build_test("leader_share", hits[1], eligibles[1], chances[1], null[1], percents[1], by_percent[1])
        if share is not None
        else None
    )
    either_percent = np.where(hits[0], percents[0], percents[1])
    either_test = _build_test(
        "either", either_hit, either_ok, either_chance, null[2], either_percent, by_percent[0] + by_percent[1]
    )
    municipalities = None
    if groups is not None:
        municipalities = _by_municipality(groups, group_names, either_hit, either_ok, either_chance, alpha)
    return IntegerPercentages(
        turnout=turnout_test,
        leader_share=share_test,
        either=either_test,
        reps=reps,
        seed=seed,
        tolerance=tolerance,
        min_denominator=min_denominator,
        method=method,
        station_hit_turnout=hits[0],
        station_hit_share=hits[1],
        station_percent_turnout=percents[0],
        station_percent_share=percents[1],
        station_chance=either_chance,
        municipalities=municipalities,
    )


def _null_counts(
    chances: list[FloatArray],
    eligibles: list[BoolArray],
    samplers: list[tuple[IntArray, FloatArray, IntArray]],
    reps: int,
    rng: np.random.Generator,
    method: Method,
    tolerance: float,
    progress: Progress | None,
) -> tuple[IntArray, IntArray, IntArray]:
    """Replicate counts of whole-percent stations: turnout, share, either."""
    size = chances[0].shape[0]
    # Only stations that can be whole at all take part in the draws.
    active = np.flatnonzero((chances[0] > 0) | (chances[1] > 0))
    thresholds = [np.floor(chance[active] * 2.0**32).clip(0, 2.0**32 - 1).astype(np.uint32) for chance in chances]
    counts = np.zeros((3, reps), dtype=np.int64)
    done = 0
    while done < reps:
        chunk = min(CHUNK, reps - done)
        if method == "exact":
            draws = [
                rng.integers(0, 2**32, size=(chunk, active.size), dtype=np.uint32) < threshold
                for threshold in thresholds
            ]
        else:
            draws = []
            sampler_iter = iter(samplers)
            for index in range(2):
                full = np.zeros((chunk, size), dtype=bool)
                if eligibles[index].any():
                    n, p, where = next(sampler_iter)
                    k = rng.binomial(n, p, size=(chunk, n.size))
                    full[:, where] = integer_hits(k, np.broadcast_to(n, k.shape), tolerance)[0]
                draws.append(full[:, active])
        counts[0, done : done + chunk] = np.count_nonzero(draws[0], axis=1)
        counts[1, done : done + chunk] = np.count_nonzero(draws[1], axis=1)
        counts[2, done : done + chunk] = np.count_nonzero(draws[0] | draws[1], axis=1)
        done += chunk
        if progress is not None:
            progress(chunk)
    return counts[0], counts[1], counts[2]


def _by_municipality(
    groups: IntArray, names: Any, hit: BoolArray, ok: BoolArray, chance: FloatArray, alpha: float
) -> MunicipalityIntegers:
    count = int(groups.max()) + 1 if groups.size else 0
    tested = np.bincount(groups, weights=ok, minlength=count).astype(np.int64)
    observed = np.bincount(groups, weights=hit, minlength=count).astype(np.int64)
    expected = np.bincount(groups, weights=np.where(ok, chance, 0.0), minlength=count).astype(np.float64)
    # P(Poisson(expected) >= observed) is the regularised lower incomplete gamma P(observed, expected).
    with np.errstate(invalid="ignore"):
        tail = np.where(observed > 0, special.gammainc(np.maximum(observed, 1), np.maximum(expected, 1e-300)), 1.0)
    p_value = np.where(tested > 0, tail, np.nan)
    p_adjusted = bh_adjust(p_value)
    flagged = np.nan_to_num(p_adjusted, nan=1.0) < alpha
    return MunicipalityIntegers(
        municipality=np.asarray(names) if names is not None else np.arange(count).astype(str),
        stations_tested=tested,
        observed=observed,
        expected=expected,
        p_value=p_value,
        p_adjusted=p_adjusted,
        flagged=flagged & (observed > expected),
    )
