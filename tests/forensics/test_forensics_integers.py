"""Integer percentages: the arithmetic, the exact null, and known answers on planted data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tallyroom.rules.forensics import ForensicsInputError, integer_chances, integer_hits, integer_percentages
from tallyroom.rules.forensics.integers import binomial_pmf
from tallyroom.rules.forensics.simulate import simulate_election


def test_hits_by_hand() -> None:
    k = np.array([3, 1, 0, 4, 50, 1658, 1658, 7])
    n = np.array([4, 3, 4, 4, 200, 1950, 1950, 7])
    hit, percent = integer_hits(k, n)
    # 75%, 33.3%, 0% (never), 100% (never), 25%, 85.03% (not exact), again, 100%
    assert hit.tolist() == [True, False, False, False, True, False, False, False]
    assert percent.tolist()[:6] == [75, 33, 0, 100, 25, 85]
    loose, _ = integer_hits(k, n, tolerance=0.05)
    assert loose.tolist() == [True, False, False, False, True, True, True, False]


def test_hits_need_positive_denominator() -> None:
    hit, _ = integer_hits(np.array([0, 5]), np.array([0, 0]))
    assert not hit.any()


@pytest.mark.parametrize("tolerance", [0.0, 0.05, 0.2])
def test_chances_match_brute_force(tolerance: float) -> None:
    rng = np.random.default_rng(7)
    n = rng.integers(100, 400, 60)
    k = rng.integers(1, n)
    chance, by_percent = integer_chances(k, n, tolerance)
    for i in range(n.size):
        support = np.arange(n[i] + 1)
        hit, _ = integer_hits(support, np.full(support.size, n[i]), tolerance)
        exact = stats.binom.pmf(support[hit], n[i], k[i] / n[i]).sum()
        assert chance[i] == pytest.approx(exact, rel=1e-7, abs=1e-9)  # 6-sd window: tails below 1e-9
    assert by_percent.sum() == pytest.approx(chance.sum(), rel=1e-9)


def test_binomial_pmf_matches_scipy() -> None:
    k = np.array([0, 1, 37, 500, 999, 1000])
    n = np.full(6, 1000)
    p = np.array([0.3, 0.3, 0.05, 0.5, 0.999, 0.999])
    assert binomial_pmf(k, n, p) == pytest.approx(stats.binom.pmf(k, n, p), rel=1e-9)


def _election(
    seed: int = 3, stations: int = 3000
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    table = simulate_election(stations, 30, seed=seed).table
    turnout = table.turnout_counts()
    assert turnout is not None
    return turnout, table.share_counts()


def test_exact_and_resampling_nulls_agree() -> None:
    turnout, share = _election()
    exact = integer_percentages(turnout, share, reps=600, seed=1, method="exact")
    literal = integer_percentages(turnout, share, reps=600, seed=2, method="resample")
    for a, b in (
        (exact.turnout, literal.turnout),
        (exact.leader_share, literal.leader_share),
        (exact.either, literal.either),
    ):
        assert a is not None and b is not None
        assert a.observed == b.observed
        # both estimate the same mean; their difference has sd sqrt(2) * sd / sqrt(600)
        assert abs(a.null_mean - b.null_mean) < 4 * np.sqrt(2 / 600) * max(a.null_std, 1.0)
        assert a.null_std == pytest.approx(b.null_std, rel=0.2)
        assert a.expected == pytest.approx(a.null_mean, abs=4 * a.null_std / np.sqrt(600))


def test_planted_whole_percents_give_the_planted_excess() -> None:
    rng = np.random.default_rng(11)
    stations = 6000
    n = rng.choice([200, 300, 400, 500, 700, 1000, 1500], stations)  # all can hit every whole percent
    k = rng.binomial(n, rng.uniform(0.3, 0.8, stations))
    planted = rng.choice(stations, 400, replace=False)
    k[planted] = np.round(k[planted] * 100 / n[planted]).astype(np.int64) * n[planted] // 100
    result = integer_percentages((k, n), None, reps=2000, seed=5, tolerance=0.0)
    test = result.turnout
    assert test is not None
    chance = result.station_chance
    hit = result.station_hit_turnout
    assert hit[planted].all()
    others = np.setdiff1d(np.arange(stations), planted)
    # E[excess] = planted - their chance under the null; the unplanted stations add binomial noise
    expected_excess = planted.size - chance[planted].sum()
    noise = np.sqrt(np.sum(chance[others] * (1 - chance[others])) + test.null_std**2 / 2000)
    assert abs(test.excess - expected_excess) < 4 * noise
    assert test.p_value == pytest.approx(1 / 2001)
    assert test.excess_ci95[0] < test.excess < test.excess_ci95[1]


def test_clean_elections_rarely_reject() -> None:
    rejections = 0
    for seed in range(20):
        turnout, share = _election(seed=100 + seed, stations=2000)
        result = integer_percentages(turnout, share, reps=200, seed=seed)
        rejections += result.either.p_value < 0.05
    # at level 0.05, 20 elections reject 1 on average; 6 or more has probability 3e-4
    assert rejections <= 5


def test_same_seed_same_result_and_validation() -> None:
    turnout, share = _election(stations=500)
    a = integer_percentages(turnout, share, reps=100, seed=9)
    b = integer_percentages(turnout, share, reps=100, seed=9)
    assert a.either.null_counts.tolist() == b.either.null_counts.tolist()
    with pytest.raises(ForensicsInputError):
        integer_percentages(None, None)
    with pytest.raises(ForensicsInputError):
        integer_percentages(turnout, share, tolerance=0.5)


def test_municipalities_with_planted_results_are_flagged() -> None:
    rng = np.random.default_rng(2)
    stations = 4000
    groups = rng.integers(0, 40, stations)
    n = rng.choice([400, 500, 800, 1000], stations)
    k = rng.binomial(n, 0.6)
    target = np.flatnonzero(groups == 7)
    k[target] = (np.round(k[target] * 100 / n[target]).astype(np.int64) * n[target]) // 100
    result = integer_percentages((k, n), None, reps=50, seed=1, groups=groups, group_names=np.arange(40).astype(str))
    assert result.municipalities is not None
    assert np.flatnonzero(result.municipalities.flagged).tolist() == [7]
