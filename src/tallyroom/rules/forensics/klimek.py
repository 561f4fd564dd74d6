"""The election fingerprint and fraud model of Klimek, Yegorov, Hanel and Thurner (PNAS 2012).

The *fingerprint* is the two-dimensional histogram of stations by turnout (x) and the winner's
share of the votes (y). In a clean election it is one roughly Gaussian blob; ballot stuffing
smears it towards the upper right, and "extreme" fraud (everyone voted, all for the winner) puts a
second cluster at 100% / 100%.

The fraud model (as we implement it; docs/forensics.md lists where we had to choose):

* fair stations draw turnout ``a ~ N(a0, sa)`` and winner's share ``v ~ N(v0, sv)``, where
  ``a0``/``v0`` are the modes of the observed distributions and ``sa``/``sv`` their widths measured
  on the side below the mode (which fraud, pushing values up, leaves alone);
* with probability ``f_i`` a station has *incremental* fraud of size ``x ~ |N(0, sigma_x)|``, with
  probability ``f_e`` *extreme* fraud of size ``x ~ 1 - |N(0, sigma_x)|``;
* fraud of size ``x`` casts a share ``x`` of the non-voters' ballots for the winner (stuffing) and
  moves a share ``x ** alpha`` of the other entities' votes to the winner (stealing).

``f_i`` and ``f_e`` are fitted by minimising the sum of squared differences between the observed
and the model histograms over a grid (step 0.005; ``f_e`` up to 0.3). Every grid point is
evaluated at once: the model stations are simulated once with common random numbers, sorted by a
uniform draw that decides their fate, and the model histogram for any ``(f_i, f_e)`` is a
difference of cumulative histograms. Uncertainty: the fit is repeated on bootstrap resamples of the
stations (with fresh model draws and re-estimated ``a0, sa, v0, sv``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tallyroom.rules.forensics.table import FloatArray, ForensicsInputError, IntArray

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Fingerprint:
    """Stations counted by turnout (rows) and winner's share (columns), both in [0, 1]."""

    turnout_edges: FloatArray
    share_edges: FloatArray
    counts: IntArray
    stations: int
    turnout_above_one: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "x": "turnout",
            "y": "leader_share",
            "turnout_edges": self.turnout_edges,
            "share_edges": self.share_edges,
            "counts": self.counts,
            "stations": self.stations,
            "turnout_above_100_percent": self.turnout_above_one,
        }


def fingerprint(turnout: FloatArray, share: FloatArray, bins: int = 100) -> Fingerprint:
    """The 2D histogram; stations with an unknown value are left out, turnout above 100% is put at 100%."""
    ok = np.isfinite(turnout) & np.isfinite(share)
    above = int(np.count_nonzero(turnout[ok] > 1))
    rows = _bin(np.minimum(turnout[ok], 1.0), bins)
    cols = _bin(share[ok], bins)
    counts = np.bincount(rows * bins + cols, minlength=bins * bins).reshape(bins, bins).astype(np.int64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    return Fingerprint(edges, edges.copy(), counts, int(np.count_nonzero(ok)), above)


def _bin(values: Any, bins: int) -> IntArray:
    return np.asarray(np.clip((values * bins).astype(np.int64), 0, bins - 1), dtype=np.int64)


@dataclass(frozen=True)
class Bulk:
    """Mode and below-the-mode width of a distribution on [0, 1]."""

    mode: float
    sigma: float


def bulk(values: FloatArray) -> Bulk:
    """The mode (of a smoothed 0.5%-bin histogram, ignoring values of 99% and more) and the width
    ``sqrt(mean((x - mode)^2))`` over the values below the mode."""
    values = values[np.isfinite(values)]
    if values.size < 10:
        raise ForensicsInputError("too few stations to fit the fraud model")
    counts = np.bincount(_bin(values, 200), minlength=200).astype(np.float64)[:198]
    kernel = np.exp(-0.5 * (np.arange(-9, 10) / 3.0) ** 2)
    smooth = np.convolve(counts, kernel / kernel.sum(), mode="same")
    mode = (int(np.argmax(smooth)) + 0.5) / 200
    below = values[values < mode]
    sigma = float(np.sqrt(np.mean((below - mode) ** 2))) if below.size >= 10 else float(values.std())
    return Bulk(mode, max(sigma, 1e-3))


def simulate_fraud_model(
    size: int,
    turnout: Bulk,
    share: Bulk,
    f_incremental: float,
    f_extreme: float,
    *,
    sigma_x: float = 0.075,
    alpha: float = 2.0,
    seed: int = 0,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Stations drawn from the fraud model: turnout, winner's share, and each one's fate
    (0 fair, 1 incremental fraud, 2 extreme fraud). For tests and for explaining the model."""
    rng = np.random.default_rng(seed)
    a = np.clip(rng.normal(turnout.mode, turnout.sigma, size), 0.0, 1.0)
    v = np.clip(rng.normal(share.mode, share.sigma, size), 0.0, 1.0)
    u = rng.random(size)
    fate = np.where(u < f_extreme, 2, np.where(u < f_extreme + f_incremental, 1, 0)).astype(np.int64)
    size_x = np.minimum(np.abs(rng.normal(0.0, sigma_x, size)), 1.0)
    x = np.where(fate == 2, 1.0 - size_x, np.where(fate == 1, size_x, 0.0))
    a1 = a + x * (1.0 - a)
    winner = a * v + x * (1.0 - a) + x**alpha * a * (1.0 - v)
    v1 = np.divide(winner, a1, out=v.copy(), where=a1 > 0)
    return a1, np.clip(v1, 0.0, 1.0), fate


@dataclass(frozen=True)
class FraudModelFit:
    """Fitted incremental (``f_incremental``) and extreme (``f_extreme``) fraud shares."""

    f_incremental: float
    f_extreme: float
    f_incremental_std: float
    f_extreme_std: float
    f_incremental_ci95: tuple[float, float]
    f_extreme_ci95: tuple[float, float]
    turnout: Bulk
    share: Bulk
    sigma_x: float
    alpha: float
    bins: int
    step: float
    replicas: int
    bootstrap: int
    distance: float
    distance_fair: float
    observed: FloatArray = field(repr=False)
    fitted: FloatArray = field(repr=False)
    fair: FloatArray = field(repr=False)
    bootstrap_f_incremental: FloatArray = field(repr=False)
    bootstrap_f_extreme: FloatArray = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": (
                "fraud model of Klimek et al. (PNAS 2012): share of stations with incremental (f_incremental) "
                "and extreme (f_extreme) fraud that best explains the fingerprint; a model estimate, not a count"
            ),
            "f_incremental": self.f_incremental,
            "f_extreme": self.f_extreme,
            "f_incremental_std": self.f_incremental_std,
            "f_extreme_std": self.f_extreme_std,
            "f_incremental_ci95": list(self.f_incremental_ci95),
            "f_extreme_ci95": list(self.f_extreme_ci95),
            "fair_turnout": {"mode": self.turnout.mode, "sigma": self.turnout.sigma},
            "fair_leader_share": {"mode": self.share.mode, "sigma": self.share.sigma},
            "settings": {
                "sigma_x": self.sigma_x,
                "alpha": self.alpha,
                "bins": self.bins,
                "grid_step": self.step,
                "model_replicas": self.replicas,
                "bootstrap": self.bootstrap,
            },
            "distance": self.distance,
            "distance_without_fraud": self.distance_fair,
            "histograms": {
                "edges": np.linspace(0.0, 1.0, self.bins + 1),
                "observed": self.observed,
                "fitted": self.fitted,
                "without_fraud": self.fair,
            },
            "bootstrap_f_incremental": self.bootstrap_f_incremental,
            "bootstrap_f_extreme": self.bootstrap_f_extreme,
        }


#: The first pass of the fit looks at every COARSE-th grid point.
COARSE = 4


@dataclass(frozen=True)
class _Fit:
    f_incremental: float
    f_extreme: float
    distance: float
    distance_fair: float
    observed: FloatArray
    fitted: FloatArray
    fair: FloatArray
    turnout: Bulk
    share: Bulk


def _grid_search(
    x_part: FloatArray, y_part: FloatArray, obs: FloatArray, max_e: int, buckets: int
) -> tuple[int, int, float]:
    """The grid point (e, s), s >= e, minimising the squared distance of X[e] + Y[s] to ``obs``."""
    x_linear = float(obs @ obs) - 2 * (x_part @ obs) + np.einsum("ij,ij->i", x_part, x_part)
    y_linear = -2 * (y_part @ obs) + np.einsum("ij,ij->i", y_part, y_part)

    def distances(e_rows: IntArray, s_rows: IntArray) -> FloatArray:
        # einsum, not @: a small matrix product through a multi-threaded BLAS costs ~100x more on
        # a busy 2-core machine (thread start-up and hand-over) than this plain loop.
        cross = np.einsum("ik,jk->ij", x_part[e_rows], y_part[s_rows])
        d = x_linear[e_rows][:, None] + y_linear[s_rows][None, :] + 2 * cross
        d[s_rows[None, :] < e_rows[:, None]] = np.inf
        return np.asarray(d, dtype=np.float64)

    # Coarse to fine: every fourth grid point first, then every point within two coarse steps of
    # the best (the distance is smooth in f_i and f_e; the tests compare with the full grid).
    coarse_e = np.arange(0, max_e + 1, COARSE)
    coarse_s = np.arange(0, buckets + 1, COARSE)
    coarse = distances(coarse_e, coarse_s)
    ce, cs = np.unravel_index(int(np.argmin(coarse)), coarse.shape)
    fine_e = np.arange(max(0, coarse_e[ce] - 2 * COARSE), min(max_e, coarse_e[ce] + 2 * COARSE) + 1)
    fine_s = np.arange(max(0, coarse_s[cs] - 2 * COARSE), min(buckets, coarse_s[cs] + 2 * COARSE) + 1)
    fine = distances(fine_e, fine_s)
    fe, fs = np.unravel_index(int(np.argmin(fine)), fine.shape)
    best_e, best_s = int(fine_e[fe]), int(fine_s[fs])
    best_distance = float(fine[fe, fs])
    return best_e, best_s, best_distance


def _fit_once(
    turnout: FloatArray,
    share: FloatArray,
    rng: np.random.Generator,
    *,
    bins: int,
    step: float,
    max_extreme: float,
    sigma_x: float,
    alpha: float,
    replicas: int,
) -> _Fit:
    turnout_bulk = bulk(turnout)
    share_bulk = bulk(share)
    cells = bins * bins
    observed = np.bincount(_bin(turnout, bins) * bins + _bin(share, bins), minlength=cells).astype(np.float64)

    size = turnout.size * replicas
    # Single precision is plenty for cells of 1/bins and halves the time of the draws.
    normal = rng.standard_normal((4, size), dtype=np.float32)
    a = np.clip(turnout_bulk.mode + turnout_bulk.sigma * normal[0], 0.0, 1.0)
    v = np.clip(share_bulk.mode + share_bulk.sigma * normal[1], 0.0, 1.0)
    x_incremental = np.minimum(np.abs(sigma_x * normal[2]), 1.0)
    x_extreme = 1.0 - np.minimum(np.abs(sigma_x * normal[3]), 1.0)
    # Each model station's fate (fair, incremental, extreme) is decided by which of the grid's
    # buckets it falls in; the draws are independent and identically distributed, so assigning the
    # buckets in turn is as good as at random (and spreads them evenly).
    buckets = round(1 / step)
    bucket = np.arange(size, dtype=np.int64) % buckets

    def cells_of(x: Any) -> IntArray:
        if x is None:
            a1, v1 = a, v
        else:
            a1 = a + x * (1.0 - a)
            winner = a * v + x * (1.0 - a) + (x * x if alpha == 2 else x**alpha) * a * (1.0 - v)
            v1 = np.divide(winner, a1, out=v.copy(), where=a1 > 0)
        return _bin(a1, bins) * bins + _bin(np.clip(v1, 0.0, 1.0), bins)

    versions = [cells_of(None), cells_of(x_incremental), cells_of(x_extreme)]
    # Cells empty in the data and in every model version add nothing to any distance: drop them.
    used = observed > 0
    for cell in versions:
        used[cell] = True
    active = np.flatnonzero(used)
    position = np.full(cells, -1, dtype=np.int64)
    position[active] = np.arange(active.size)
    obs = observed[active]

    def cumulative(cell: IntArray) -> FloatArray:
        """Model histogram of the stations in buckets 0..b-1, for every b (rows 0..buckets)."""
        out = np.zeros((buckets + 1, active.size))
        counts = np.bincount(bucket * active.size + position[cell], minlength=buckets * active.size)
        out[1:] = counts.reshape(buckets, active.size)
        np.cumsum(out[1:], axis=0, out=out[1:])
        out *= 1.0 / replicas
        return out

    fair_c, incremental_c, extreme_c = (cumulative(cell) for cell in versions)
    # model(e, s) = X[e] + Y[s] with f_e = e * step and f_i = (s - e) * step, s >= e.
    max_e = min(round(max_extreme / step), buckets)
    x_part = extreme_c[: max_e + 1] - incremental_c[: max_e + 1] + fair_c[buckets]
    y_part = incremental_c - fair_c
    best_e, best_s, best_distance = _grid_search(x_part, y_part, obs, max_e, buckets)
    fitted = np.zeros(cells)
    fitted[active] = x_part[best_e] + y_part[best_s]
    fair = np.zeros(cells)
    fair[active] = fair_c[buckets]
    return _Fit(
        f_incremental=(int(best_s) - int(best_e)) * step,
        f_extreme=int(best_e) * step,
        distance=best_distance,
        distance_fair=float(np.sum((observed - fair) ** 2)),
        observed=observed.reshape(bins, bins),
        fitted=fitted.reshape(bins, bins),
        fair=fair.reshape(bins, bins),
        turnout=turnout_bulk,
        share=share_bulk,
    )


def fit_fraud_model(
    turnout: FloatArray,
    share: FloatArray,
    *,
    bins: int = 50,
    step: float = 0.005,
    max_extreme: float = 0.3,
    sigma_x: float = 0.075,
    alpha: float = 2.0,
    replicas: int = 2,
    bootstrap: int = 20,
    seed: int = 0,
    progress: Progress | None = None,
) -> FraudModelFit:
    """Fit ``f_incremental`` and ``f_extreme`` to stations' turnout and winner's share (in [0, 1]).

    ``progress`` is called with 1 after the main fit and after each bootstrap fit.
    """
    ok = np.isfinite(turnout) & np.isfinite(share)
    turnout = np.minimum(np.asarray(turnout, dtype=np.float64)[ok], 1.0)
    share = np.asarray(share, dtype=np.float64)[ok]
    if turnout.size < 50:
        raise ForensicsInputError(f"the fraud model needs at least 50 stations with turnout and share ({turnout.size})")
    rng = np.random.default_rng(seed)
    settings: dict[str, Any] = {
        "bins": bins,
        "step": step,
        "max_extreme": max_extreme,
        "sigma_x": sigma_x,
        "alpha": alpha,
        "replicas": replicas,
    }
    main = _fit_once(turnout, share, rng, **settings)
    if progress is not None:
        progress(1)
    boot_i = np.zeros(bootstrap)
    boot_e = np.zeros(bootstrap)
    # Bootstrap fits draw one model station per station (their extra model noise widens the
    # bootstrap range a little: conservative) to keep 20 of them within the time budget.
    boot_settings = {**settings, "replicas": 1}
    for index in range(bootstrap):
        sample = rng.integers(0, turnout.size, turnout.size)
        fit = _fit_once(turnout[sample], share[sample], rng, **boot_settings)
        boot_i[index] = fit.f_incremental
        boot_e[index] = fit.f_extreme
        if progress is not None:
            progress(1)

    def spread(values: FloatArray, point: float) -> tuple[float, tuple[float, float]]:
        if values.size < 2:
            return float("nan"), (point, point)
        low, high = np.percentile(values, [2.5, 97.5])
        return float(values.std(ddof=1)), (float(low), float(high))

    std_i, ci_i = spread(boot_i, main.f_incremental)
    std_e, ci_e = spread(boot_e, main.f_extreme)
    return FraudModelFit(
        f_incremental=main.f_incremental,
        f_extreme=main.f_extreme,
        f_incremental_std=std_i,
        f_extreme_std=std_e,
        f_incremental_ci95=ci_i,
        f_extreme_ci95=ci_e,
        turnout=main.turnout,
        share=main.share,
        sigma_x=sigma_x,
        alpha=alpha,
        bins=bins,
        step=step,
        replicas=replicas,
        bootstrap=bootstrap,
        distance=main.distance,
        distance_fair=main.distance_fair,
        observed=main.observed,
        fitted=main.fitted,
        fair=main.fair,
        bootstrap_f_incremental=boot_i,
        bootstrap_f_extreme=boot_e,
    )
