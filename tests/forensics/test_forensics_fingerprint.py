"""The fingerprint histogram and the fraud model fit."""

from __future__ import annotations

import numpy as np
import pytest

from tallyroom.rules.forensics import ForensicsInputError, fingerprint, fit_fraud_model, klimek
from tallyroom.rules.forensics.klimek import Bulk, bulk, simulate_fraud_model


def test_fingerprint_counts_every_station_once() -> None:
    turnout = np.array([0.0, 0.505, 0.999, 1.0, 1.2, np.nan])
    share = np.array([0.5, 0.505, 1.0, 0.2, 0.3, 0.5])
    result = fingerprint(turnout, share, bins=10)
    assert result.counts.sum() == 5
    assert result.turnout_above_one == 1
    assert result.counts[0, 5] == 1 and result.counts[5, 5] == 1 and result.counts[9, 9] == 1
    assert result.counts[9, 2] == 1 and result.counts[9, 3] == 1  # 100% and 120% turnout in the last row


def test_bulk_finds_mode_and_left_width() -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0.55, 0.08, 50_000), rng.uniform(0.8, 1.0, 10_000)])
    found = bulk(values)
    assert found.mode == pytest.approx(0.55, abs=0.01)
    assert found.sigma == pytest.approx(0.08, abs=0.01)


def test_clean_model_data_fit_no_fraud() -> None:
    turnout, share, _ = simulate_fraud_model(12_000, Bulk(0.55, 0.08), Bulk(0.45, 0.07), 0.0, 0.0, seed=2)
    fit = fit_fraud_model(turnout, share, bootstrap=3, seed=1)
    assert fit.f_extreme == 0.0
    assert fit.f_incremental <= 0.1


@pytest.mark.parametrize("f_extreme", [0.02, 0.05, 0.1])
def test_extreme_fraud_is_recovered(f_extreme: float) -> None:
    turnout, share, fate = simulate_fraud_model(12_000, Bulk(0.55, 0.08), Bulk(0.45, 0.07), 0.1, f_extreme, seed=3)
    fit = fit_fraud_model(turnout, share, bootstrap=4, seed=1)
    assert fit.f_extreme == pytest.approx(np.mean(fate == 2), abs=0.01)
    assert fit.distance < fit.distance_fair
    assert fit.f_extreme_ci95[0] <= fit.f_extreme + 1e-9 <= fit.f_extreme_ci95[1] + 0.005


def test_fit_is_reproducible_and_needs_stations() -> None:
    turnout, share, _ = simulate_fraud_model(2000, Bulk(0.6, 0.1), Bulk(0.5, 0.1), 0.0, 0.05, seed=4)
    a = fit_fraud_model(turnout, share, bootstrap=2, seed=8)
    b = fit_fraud_model(turnout, share, bootstrap=2, seed=8)
    assert (a.f_incremental, a.f_extreme) == (b.f_incremental, b.f_extreme)
    assert a.fitted.sum() == pytest.approx(2000, rel=0.01)
    with pytest.raises(ForensicsInputError):
        fit_fraud_model(turnout[:10], share[:10])


@pytest.mark.parametrize(("f_incremental", "f_extreme", "seed"), [(0.0, 0.0, 5), (0.2, 0.03, 6), (0.5, 0.08, 7)])
def test_coarse_to_fine_search_finds_the_full_grid_minimum(
    monkeypatch: pytest.MonkeyPatch, f_incremental: float, f_extreme: float, seed: int
) -> None:
    turnout, share, _ = simulate_fraud_model(
        8000, Bulk(0.6, 0.1), Bulk(0.5, 0.12), f_incremental, f_extreme, sigma_x=0.2, seed=seed
    )
    fast = fit_fraud_model(turnout, share, bootstrap=0, seed=seed)
    monkeypatch.setattr(klimek, "COARSE", 1)  # every grid point
    full = fit_fraud_model(turnout, share, bootstrap=0, seed=seed)
    assert (fast.f_incremental, fast.f_extreme) == (full.f_incremental, full.f_extreme)
    assert fast.distance == pytest.approx(full.distance)
