"""Digit tests: Benford's second digit, last digits, and when the tests are used."""

from __future__ import annotations

import numpy as np
import pytest

from tallyroom.rules.forensics import digit_test, digit_tests
from tallyroom.rules.forensics.digits import BENFORD_2, expected_counts, second_digits


def test_benford_second_digit_law() -> None:
    assert BENFORD_2.sum() == pytest.approx(1.0)
    assert float(np.dot(np.arange(10), BENFORD_2)) == pytest.approx(4.18739, abs=1e-5)
    assert BENFORD_2[0] == pytest.approx(0.11968, abs=1e-5)
    assert np.all(np.diff(BENFORD_2) < 0)


def test_second_digits_by_hand() -> None:
    assert second_digits(np.array([7, 10, 19, 123, 98765, 1000])).tolist() == [-1, 0, 9, 2, 8, 0]


def test_benford_distributed_counts_pass() -> None:
    rng = np.random.default_rng(1)
    counts = np.floor(10 ** rng.uniform(1, 7, 20_000)).astype(np.int64)  # log-uniform: Benford
    result = digit_test("second_digit", "x", counts)
    assert result.ran
    assert result.p_value > 0.01
    assert result.mean == pytest.approx(4.187, abs=0.05)


def test_uniform_last_digits_pass_and_heaped_fail() -> None:
    rng = np.random.default_rng(2)
    counts = rng.integers(50, 5000, 20_000)
    assert digit_test("last_digit", "x", counts).p_value > 0.01
    heaped = counts.copy()
    heaped[:3000] = heaped[:3000] // 5 * 5  # some commissions write numbers ending in 0 or 5
    result = digit_test("last_digit", "x", heaped)
    assert result.p_value < 1e-6
    assert result.observed[0] > result.observed[1]


def test_skipped_with_a_reason_when_counts_are_few() -> None:
    result = digit_test("last_digit", "small party", np.array([3, 60, 70, 5]), min_count=50)
    assert not result.ran
    assert result.skipped_reason is not None and "2" in result.skipped_reason


def test_choosing_stations_by_their_own_count_biases_last_digits() -> None:
    rng = np.random.default_rng(3)
    valid = rng.integers(400, 600, 60_000)
    counts = rng.binomial(valid, 0.09)  # about 45 votes: a cut at 50 falls inside the distribution
    by_count = digit_test("last_digit", "x", counts, min_count=50)
    by_expectation = digit_test("last_digit", "x", counts, min_count=40, expected=valid * 0.09)
    assert by_count.p_value < 1e-6  # the bias the expected-count rule avoids
    assert by_expectation.p_value > 0.001


def test_expected_counts_leave_the_station_out() -> None:
    votes = np.array([[10, 90], [30, 70], [50, 50]])
    valid = np.array([100, 100, 100])
    groups = np.array([0, 0, 1])
    expected = expected_counts(votes, valid, groups)
    assert expected[0].tolist() == [30.0, 70.0]  # from the other station of municipality 0
    assert expected[2].tolist() == [50.0, 50.0]  # alone: its own share


def test_holm_across_entities() -> None:
    rng = np.random.default_rng(4)
    votes = rng.integers(100, 3000, (5000, 3))
    result = digit_tests(votes, ("a", "b", "c"), leader=1)
    assert len(result.tests) == 6
    assert result.leader_test("last_digit").entity == "b"
    ran = [i for i, test in enumerate(result.tests) if test.ran]
    assert all(result.p_adjusted[i] >= result.tests[i].p_value for i in ran)


def test_chi_square_matches_scipy() -> None:
    from scipy import stats

    counts = np.random.default_rng(9).integers(50, 2000, 3000)
    result = digit_test("last_digit", "x", counts)
    reference = stats.chisquare(result.observed, np.full(10, result.counts_used / 10))
    assert result.chi2 == pytest.approx(reference.statistic)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
