"""Digit tests of vote counts: Mebane's second-digit Benford test (2BL) and Beber–Scacco's last digit.

* 2BL (Mebane 2006, "Election Forensics: Vote Counts and Benford's Law"): the second significant
  digit of station vote counts against Benford's second-digit law, ``P(d) = sum over the first
  digit f of log10(1 + 1 / (10 f + d))`` (mean 4.187), by Pearson's chi-square with 9 degrees
  of freedom. Only counts of at least ``min_count`` (10: a count needs two digits) are used.
* Last digit (Beber and Scacco 2012, "What the Numbers Say", Political Analysis 20(2)): the last
  digit of counts should be uniform when counts are large enough that the count distribution is
  smooth over ten consecutive values; chi-square with 9 degrees of freedom. Only counts of at least
  ``min_count`` are used.

A test runs only where there are enough counts (``min_counts``, 100 by default: every expected cell
then holds at least 8); otherwise it is skipped with the reason. Neither test proves anything by
itself: both are known to reject for clean elections whose counts have particular shapes (see
docs/forensics.md for how often on simulated clean elections).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import special

from tallyroom.rules.forensics.stats import holm_adjust
from tallyroom.rules.forensics.table import FloatArray, IntArray

Kind = Literal["second_digit", "last_digit"]


def benford_second_digit() -> FloatArray:
    """Benford's law for the second significant digit, P(0) .. P(9)."""
    first = np.arange(1, 10)[:, None]
    second = np.arange(10)[None, :]
    return np.asarray(np.log10(1 + 1 / (10 * first + second)).sum(axis=0), dtype=np.float64)


BENFORD_2 = benford_second_digit()
UNIFORM = np.full(10, 0.1)


def second_digits(counts: IntArray) -> IntArray:
    """Second significant digit of counts >= 10 (undefined, -1, below 10)."""
    values = np.asarray(counts, dtype=np.int64).copy()
    out = np.full(values.shape, -1, dtype=np.int64)
    ok = values >= 10
    work = values[ok]
    while np.any(work >= 100):
        work = np.where(work >= 100, work // 10, work)
    out[ok] = work % 10
    return out


@dataclass(frozen=True)
class DigitTest:
    """One digit test on one entity's counts."""

    kind: Kind
    entity: str
    counts_used: int
    min_count: int
    ran: bool
    skipped_reason: str | None
    observed: IntArray
    expected_share: FloatArray
    chi2: float
    p_value: float
    mean: float
    expected_mean: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "entity": self.entity,
            "counts_used": self.counts_used,
            "min_count": self.min_count,
            "ran": self.ran,
            "skipped_reason": self.skipped_reason,
            "digits": list(range(10)),
            "observed": self.observed,
            "expected": self.expected_share * self.counts_used,
            "chi2": self.chi2 if self.ran else None,
            "df": 9,
            "p_value": self.p_value if self.ran else None,
            "mean": self.mean if self.counts_used else None,
            "expected_mean": self.expected_mean,
        }


def expected_counts(votes: IntArray, valid: IntArray, groups: IntArray) -> FloatArray:
    """Each station's expected count for each entity: its valid ballots times the entity's share in the
    rest of its municipality (leave-one-out, so that it does not depend on the station's own count)."""
    count = int(groups.max()) + 1 if groups.size else 0
    municipal_votes = np.zeros((count, votes.shape[1]))
    np.add.at(municipal_votes, groups, votes)
    municipal_valid = np.bincount(groups, weights=valid, minlength=count)
    rest_votes = municipal_votes[groups] - votes
    rest_valid = municipal_valid[groups] - valid
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(
            rest_valid[:, None] > 0, rest_votes / rest_valid[:, None], votes / np.maximum(valid, 1)[:, None]
        )
    return np.asarray(share * valid[:, None], dtype=np.float64)


def digit_test(
    kind: Kind,
    entity: str,
    counts: IntArray,
    *,
    min_count: int = 10,
    min_counts: int = 100,
    expected: FloatArray | None = None,
) -> DigitTest:
    """2BL (``second_digit``) or last-digit test of one entity's station counts.

    Stations are chosen by ``expected`` (the count expected at the station) being at least
    ``min_count``, when given; choosing them by the count itself would bias the digits (a cut at 50
    keeps the 50s of stations expecting 45 and drops their 40s), which on simulated clean elections
    makes the last-digit test reject most of the time. The 2BL test also needs the count itself to
    have two digits.
    """
    counts = np.asarray(counts, dtype=np.int64)
    floor = max(min_count, 10) if kind == "second_digit" else min_count
    chosen = counts >= floor if expected is None else np.asarray(expected) >= floor
    if kind == "second_digit":
        chosen &= counts >= 10
    used = counts[chosen]
    digits = second_digits(used) if kind == "second_digit" else used % 10
    reference = BENFORD_2 if kind == "second_digit" else UNIFORM
    observed = np.bincount(digits, minlength=10).astype(np.int64)
    expected_mean = float(np.dot(np.arange(10), reference))
    mean = float(digits.mean()) if digits.size else float("nan")
    if used.size < min_counts:
        if expected is None:
            reason = f"only {used.size} counts of at least {floor} (the test needs {min_counts})"
        else:
            reason = f"only {used.size} stations expecting at least {floor} votes (the test needs {min_counts})"
        return DigitTest(
            kind,
            entity,
            int(used.size),
            floor,
            False,
            reason,
            observed,
            reference,
            float("nan"),
            float("nan"),
            mean,
            expected_mean,
        )
    expected_counts_ = reference * used.size
    chi2 = float(np.sum((observed - expected_counts_) ** 2 / expected_counts_))
    p_value = float(special.chdtrc(9, chi2))  # Pearson's chi-square, 9 degrees of freedom
    return DigitTest(
        kind,
        entity,
        int(used.size),
        floor,
        True,
        None,
        observed,
        reference,
        float(chi2),
        float(p_value),
        mean,
        expected_mean,
    )


@dataclass(frozen=True)
class DigitTests:
    """Both digit tests for every entity, with Holm-adjusted p-values across entities."""

    tests: tuple[DigitTest, ...]
    leader: str
    p_adjusted: FloatArray

    def leader_test(self, kind: Kind) -> DigitTest:
        return next(test for test in self.tests if test.kind == kind and test.entity == self.leader)

    def as_dict(self) -> dict[str, Any]:
        items = []
        for test, adjusted in zip(self.tests, self.p_adjusted, strict=True):
            item = test.as_dict()
            item["p_adjusted_holm"] = float(adjusted) if test.ran else None
            item["leader"] = test.entity == self.leader
            items.append(item)
        return {
            "what": (
                "Mebane's second-digit Benford test (2BL) and Beber-Scacco last-digit test of each entity's "
                "station vote counts; p-values Holm-adjusted across entities within each test"
            ),
            "tests": items,
        }


def digit_tests(
    votes: IntArray,
    entity_names: tuple[str, ...],
    leader: int,
    *,
    valid: IntArray | None = None,
    groups: IntArray | None = None,
    second_min_count: int = 10,
    last_min_count: int = 50,
    min_counts: int = 100,
) -> DigitTests:
    """Run both tests on every entity column of ``votes`` (stations x entities).

    With ``valid`` and ``groups`` (municipality codes), stations are chosen by their expected count
    (see :func:`expected_counts`), otherwise by the count itself.
    """
    expected = None if valid is None or groups is None else expected_counts(votes, valid, groups)
    tests: list[DigitTest] = []
    for kind, floor in (("second_digit", second_min_count), ("last_digit", last_min_count)):
        for column, name in enumerate(entity_names):
            tests.append(
                digit_test(
                    kind,  # type: ignore[arg-type]
                    name,
                    votes[:, column],
                    min_count=floor,
                    min_counts=min_counts,
                    expected=None if expected is None else expected[:, column],
                )
            )
    adjusted = np.full(len(tests), np.nan)
    for kind in ("second_digit", "last_digit"):
        index = [i for i, test in enumerate(tests) if test.kind == kind and test.ran]
        if index:
            adjusted[index] = holm_adjust(np.array([tests[i].p_value for i in index]))
    return DigitTests(tuple(tests), entity_names[leader], adjusted)
