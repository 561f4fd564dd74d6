"""Robust z, grouped medians and ranks, correlations, multiple-testing adjustments."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tallyroom.rules.forensics import correlation, robust_z
from tallyroom.rules.forensics.robust import _grouped_ranks, group_median
from tallyroom.rules.forensics.stats import bh_adjust, holm_adjust, mc_upper_p_value


def test_robust_z_by_hand() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    z = robust_z(values, np.zeros(5, dtype=np.int64))
    # median 3; absolute deviations 2, 1, 0, 1, 97 -> MAD 1 -> scale 1.4826
    assert z.tolist() == pytest.approx([-2 / 1.4826, -1 / 1.4826, 0.0, 1 / 1.4826, 97 / 1.4826])


def test_robust_z_per_group_and_undefined_cases() -> None:
    values = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 5.0, 5.0, 5.0, 5.0, 5.0, 1.0, 2.0])
    groups = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2])
    z = robust_z(values, groups, min_stations=5)
    assert z[:5].tolist() == pytest.approx([-2 / 1.4826, -1 / 1.4826, 0.0, 1 / 1.4826, 2 / 1.4826])
    assert np.isnan(z[5:10]).all()  # MAD zero
    assert np.isnan(z[10:]).all()  # too few stations


def test_group_median_even_odd_and_nan() -> None:
    values = np.array([4.0, 1.0, 3.0, 2.0, 10.0, np.nan, 7.0])
    groups = np.array([0, 0, 0, 0, 1, 1, 1])
    median, sizes = group_median(values, groups, 3)
    assert median[:2].tolist() == [2.5, 8.5]
    assert np.isnan(median[2])
    assert sizes.tolist() == [4, 2, 0]


def test_grouped_ranks_match_scipy() -> None:
    rng = np.random.default_rng(5)
    values = rng.integers(0, 6, 200).astype(float)  # many ties
    groups = rng.integers(0, 7, 200)
    ranks = _grouped_ranks(values, groups)
    for g in range(7):
        assert ranks[groups == g].tolist() == pytest.approx(stats.rankdata(values[groups == g]).tolist())


def test_grouped_spearman_matches_scipy() -> None:
    rng = np.random.default_rng(6)
    turnout = rng.uniform(0.3, 0.9, 600)
    share = 0.3 * turnout + rng.normal(0, 0.1, 600)
    groups = rng.integers(0, 5, 600)
    result = correlation(turnout, share, groups)
    assert result.pearson == pytest.approx(stats.pearsonr(turnout, share)[0])
    for g in range(5):
        expected = stats.spearmanr(turnout[groups == g], share[groups == g])[0]
        assert result.municipality_spearman[g] == pytest.approx(expected)
    assert result.municipality_flagged.all()


def test_independent_turnout_and_share_rarely_flag() -> None:
    flagged = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        groups = rng.integers(0, 30, 1500)
        result = correlation(rng.uniform(size=1500), rng.uniform(size=1500), groups)
        flagged += bool(result.municipality_flagged.any())
    assert flagged <= 6  # level 0.05 over 40 elections: 2 on average


def test_adjustments_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.5, np.nan])
    assert bh_adjust(p)[:4].tolist() == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert np.isnan(bh_adjust(p)[4])
    assert holm_adjust(p)[:4].tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert mc_upper_p_value(5, np.array([1, 5, 7, 2])) == pytest.approx(3 / 5)


def test_light_scipy_replacements_match_scipy_stats() -> None:
    rng = np.random.default_rng(8)
    x = rng.random(300)
    y = 0.2 * x + rng.random(300)
    result = correlation(x, y, np.zeros(300, dtype=np.int64))
    assert result.pearson_p == pytest.approx(stats.pearsonr(x, y).pvalue, rel=1e-9)
    assert result.spearman == pytest.approx(stats.spearmanr(x, y).statistic)
    assert result.spearman_p == pytest.approx(stats.spearmanr(x, y).pvalue, rel=1e-9)
