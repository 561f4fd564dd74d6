"""The whole analysis of one election, as one JSON-ready report.

:func:`analyse` runs every method on a :class:`StationTable` and returns a dict of plain Python
values (lists, numbers, strings; NaN as None) that the command prints, writes as JSON and plots,
and that the integrity page renders: the histograms, the fingerprint and fitted model, the
integer-percentage test, the digit tests, the municipalities, and the flagged stations with their
reasons and scores. Every flag is a warning for a person to look at, never a verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import tallyroom
from tallyroom.rules.forensics.digits import digit_tests
from tallyroom.rules.forensics.integers import IntegerPercentages, integer_percentages
from tallyroom.rules.forensics.klimek import fingerprint, fit_fraud_model
from tallyroom.rules.forensics.robust import correlation, outliers
from tallyroom.rules.forensics.stats import finite_or_none, holm_adjust, to_builtin
from tallyroom.rules.forensics.table import (
    FloatArray,
    ForensicsInputError,
    IntArray,
    ShareOf,
    StationTable,
    TurnoutFrom,
    group_codes,
    ratio,
)

SCHEMA = "tallyroom.forensics/1"

CAVEAT = (
    "These are statistical warning signs for people to look into: a flag says a number is unusual, "
    "not that anything wrong happened. Honest elections produce some of them, and every one needs a "
    "human look at the station's records and incidents before anyone draws a conclusion."
)

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ForensicsOptions:
    """Every setting of the analysis; the defaults are the documented ones."""

    alpha: float = 0.05
    reps: int = 1000
    seed: int = 0
    integer_tolerance: float = 0.05
    min_denominator: int = 100
    turnout_from: TurnoutFrom = "ballots"
    share_of: ShareOf = "valid"
    z_threshold: float = 3.5
    min_municipality_stations: int = 5
    min_correlation_stations: int = 10
    min_entity_share: float = 0.05
    second_digit_min_count: int = 10
    last_digit_min_count: int = 50
    digit_min_counts: int = 100
    fingerprint_bins: int = 100
    fraud_bins: int = 50
    fraud_sigma_x: float = 0.075
    fraud_alpha: float = 2.0
    fraud_replicas: int = 2
    fraud_bootstrap: int = 20
    warn_on_second_digit: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ForensicsInputError("alpha must be between 0 and 1")
        if self.reps < 1:
            raise ForensicsInputError("reps must be at least 1")
        if self.z_threshold <= 0:
            raise ForensicsInputError("the z threshold must be positive")


def planned_units(options: ForensicsOptions) -> int:
    """Units of progress :func:`analyse` reports: Monte Carlo replicates, fraud-model fits, 4 other steps."""
    return options.reps + 1 + options.fraud_bootstrap + 4


def percent_histogram(k: IntArray, n: IntArray) -> tuple[IntArray, int]:
    """Stations by ``100 k / n`` at 0.1-point resolution: 1001 bins centred on 0.0, 0.1, ..., 100.0.

    Exact (integer arithmetic, halves rounded up); stations with ``n = 0`` are left out and those
    above 100% are counted separately.
    """
    ok = n > 0
    tenth = (2000 * k[ok] + n[ok]) // (2 * n[ok])
    above = int(np.count_nonzero(tenth > 1000))
    counts = np.bincount(tenth[tenth <= 1000], minlength=1001).astype(np.int64)
    return counts, above


def _percent(value: float) -> str:
    return "unknown" if not np.isfinite(value) else f"{100 * value:.1f}%"


def _pvalue(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def analyse(
    table: StationTable,
    options: ForensicsOptions | None = None,
    progress: Progress | None = None,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every forensic method on ``table``; a JSON-ready report (see the module docstring)."""
    options = options or ForensicsOptions()

    def tick(units: int = 1) -> None:
        if progress is not None:
            progress(units)

    groups, municipality_names = group_codes(table.municipality_ids)
    turnout_counts = table.turnout_counts(options.turnout_from)
    share_counts = table.share_counts(share_of=options.share_of)
    turnout = ratio(*turnout_counts) if turnout_counts is not None else np.full(table.size, np.nan)
    share = ratio(*share_counts)
    skipped: dict[str, str] = {}

    report: dict[str, Any] = {
        "schema": SCHEMA,
        "tallyroom_version": tallyroom.__version__,
        "caveat": CAVEAT,
        "source": source or {},
        "election": _election_summary(table, turnout_counts, share_counts, municipality_names.size),
        "definitions": {
            "turnout": (
                "unknown (no registered voters)"
                if turnout_counts is None
                else (
                    "ballots issued to voters / registered voters"
                    if options.turnout_from == "ballots" and table.ballots is not None
                    else "ballots cast (valid + invalid) / registered voters"
                )
            ),
            "leader_share": (
                f"votes for {table.leader_name} / "
                + ("valid ballots" if options.share_of == "valid" else "ballots cast (valid + invalid)")
            ),
            "entity_share": "an entity's votes / valid ballots",
        },
        "settings": asdict(options),
    }

    # 0.1-point histograms of turnout and the leader's share
    histograms: dict[str, Any] = {"resolution_points": 0.1, "percent": np.round(np.arange(1001) / 10, 1)}
    if turnout_counts is not None:
        histograms["turnout"], histograms["turnout_above_100"] = percent_histogram(*turnout_counts)
    histograms["leader_share"], _ = percent_histogram(*share_counts)
    report["histograms"] = histograms

    # Integer percentages
    integers = integer_percentages(
        turnout_counts,
        share_counts,
        reps=options.reps,
        seed=options.seed,
        tolerance=options.integer_tolerance,
        min_denominator=options.min_denominator,
        groups=groups,
        group_names=municipality_names,
        alpha=options.alpha,
        progress=tick,
    )
    report["integer_percentages"] = integers.as_dict()

    # Fingerprint and fraud model
    report["fingerprint"], report["fraud_model"] = _fingerprint_and_model(
        turnout, share, turnout_counts is not None, options, skipped, tick
    )

    # Digit tests
    real_entities = [i for i, name in enumerate(table.entity_names) if name != "all others"]
    digits = digit_tests(
        table.votes[:, real_entities],
        tuple(table.entity_names[i] for i in real_entities),
        real_entities.index(table.leader),
        valid=table.valid,
        groups=groups,
        second_min_count=options.second_digit_min_count,
        last_min_count=options.last_digit_min_count,
        min_counts=options.digit_min_counts,
    )
    report["digits"] = digits.as_dict()
    tick()

    # Outliers within municipalities
    quantities: dict[str, FloatArray] = {}
    if turnout_counts is not None:
        quantities["turnout"] = turnout
    municipal_valid = np.bincount(groups, weights=table.valid, minlength=municipality_names.size)
    for index in real_entities:
        # An entity's share is examined only where it is a contender: at least min_entity_share of the
        # municipality's valid votes (tiny shares make the MAD tiny and every vote an outlier).
        municipal_votes = np.bincount(groups, weights=table.votes[:, index], minlength=municipality_names.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            contender = (municipal_votes / municipal_valid >= options.min_entity_share)[groups]
        share_of_entity = ratio(table.votes[:, index], table.valid)
        quantities[f"share:{table.entity_names[index]}"] = np.where(contender, share_of_entity, np.nan)
    found = outliers(quantities, groups, threshold=options.z_threshold, min_stations=options.min_municipality_stations)
    report["outliers"] = found.as_dict()
    tick()

    # Correlation of turnout with the leader's share
    corr = None
    if turnout_counts is not None:
        corr = correlation(
            turnout,
            share,
            groups,
            alpha=options.alpha,
            min_stations=options.min_correlation_stations,
            turnout_denominator=turnout_counts[1],
            share_denominator=share_counts[1],
        )
        report["correlation"] = corr.as_dict()
    else:
        skipped["correlation"] = "no registered voters: turnout is unknown"
        report["correlation"] = {"skipped": skipped["correlation"]}
    tick()

    clean: dict[str, Any] = to_builtin(report)  # type: ignore[assignment]
    # Built from plain Python values already (they are the bulk of the report: no second walk).
    clean["municipalities"] = _municipalities(municipality_names, groups, turnout, share, integers, corr)
    clean["flagged_stations"] = _flagged_stations(table, groups, municipality_names, turnout, share, found, integers)
    clean["summary"] = to_builtin(_summary(clean, integers, digits, options, skipped))
    tick()
    return clean


def _fingerprint_and_model(
    turnout: FloatArray,
    share: FloatArray,
    has_turnout: bool,
    options: ForensicsOptions,
    skipped: dict[str, str],
    tick: Callable[[int], None],
) -> tuple[dict[str, Any], dict[str, Any]]:
    if not has_turnout:
        reason = "no registered voters: turnout is unknown"
        skipped["fingerprint"] = skipped["fraud_model"] = reason
        tick(1 + options.fraud_bootstrap)
        return {"skipped": reason}, {"skipped": reason}
    histogram = fingerprint(turnout, share, options.fingerprint_bins).as_dict()
    try:
        fit = fit_fraud_model(
            turnout,
            share,
            bins=options.fraud_bins,
            sigma_x=options.fraud_sigma_x,
            alpha=options.fraud_alpha,
            replicas=options.fraud_replicas,
            bootstrap=options.fraud_bootstrap,
            seed=options.seed,
            progress=tick,
        )
    except ForensicsInputError as error:
        skipped["fraud_model"] = str(error)
        tick(1 + options.fraud_bootstrap)
        return histogram, {"skipped": str(error)}
    return histogram, fit.as_dict()


def _election_summary(
    table: StationTable,
    turnout_counts: tuple[IntArray, IntArray] | None,
    share_counts: tuple[IntArray, IntArray],
    municipalities: int,
) -> dict[str, Any]:
    totals = table.votes.sum(axis=0)

    def total(array: IntArray | None) -> int | None:
        return None if array is None else int(array.sum())

    turnout_total = (
        float(turnout_counts[0].sum() / turnout_counts[1].sum())
        if turnout_counts is not None and turnout_counts[1].sum() > 0
        else None
    )
    return {
        "stations": table.size,
        "municipalities": municipalities,
        "registered": total(table.registered),
        "ballots_issued": total(table.ballots),
        "valid": int(table.valid.sum()),
        "invalid": total(table.invalid),
        "turnout": turnout_total,
        "leader": table.leader_name,
        "leader_votes": int(share_counts[0].sum()),
        "leader_share": float(share_counts[0].sum() / share_counts[1].sum()) if share_counts[1].sum() else None,
        "entities": [
            {"name": name, "votes": int(votes)} for name, votes in zip(table.entity_names, totals, strict=True)
        ],
    }


def _municipalities(
    names: Any,
    groups: IntArray,
    turnout: FloatArray,
    share: FloatArray,
    integers: IntegerPercentages,
    corr: Any,
) -> list[dict[str, Any]]:
    count = names.size
    stations = np.bincount(groups, minlength=count)
    with np.errstate(invalid="ignore"):
        ok_t = np.isfinite(turnout)
        mean_turnout = np.bincount(groups[ok_t], turnout[ok_t], minlength=count) / np.bincount(
            groups[ok_t], minlength=count
        )
        ok_s = np.isfinite(share)
        mean_share = np.bincount(groups[ok_s], share[ok_s], minlength=count) / np.bincount(
            groups[ok_s], minlength=count
        )
    muni = integers.municipalities
    out = []
    for index in range(count):
        item: dict[str, Any] = {
            "municipality": str(names[index]),
            "stations": int(stations[index]),
            "mean_station_turnout": finite_or_none(mean_turnout[index]),
            "mean_station_leader_share": finite_or_none(mean_share[index]),
        }
        if muni is not None:
            item["integer_percentages"] = {
                "stations_tested": int(muni.stations_tested[index]),
                "observed": int(muni.observed[index]),
                "expected": finite_or_none(muni.expected[index]),
                "p_value": finite_or_none(muni.p_value[index]),
                "p_adjusted_bh": finite_or_none(muni.p_adjusted[index]),
                "flagged": bool(muni.flagged[index]),
            }
        if corr is not None:
            item["correlation"] = {
                "stations": int(corr.municipality_stations[index]),
                "pearson": finite_or_none(corr.municipality_pearson[index]),
                "spearman": finite_or_none(corr.municipality_spearman[index]),
                "p_value_one_sided": finite_or_none(corr.municipality_p[index]),
                "p_adjusted_bh": finite_or_none(corr.municipality_p_adjusted[index]),
                "flagged": bool(corr.municipality_flagged[index]),
            }
        out.append(item)
    return out


def _flagged_stations(
    table: StationTable,
    groups: IntArray,
    names: Any,
    turnout: FloatArray,
    share: FloatArray,
    found: Any,
    integers: IntegerPercentages,
) -> list[dict[str, Any]]:
    z = found.z
    flagged = found.flagged
    muni = integers.municipalities
    integer_flag = np.zeros(table.size, dtype=bool)
    if muni is not None:
        integer_flag = muni.flagged[groups] & (integers.station_hit_turnout | integers.station_hit_share)
    out: list[dict[str, Any]] = []
    for row in map(int, np.flatnonzero(flagged.any(axis=1) | integer_flag)):
        reasons: list[dict[str, Any]] = []
        for column in np.flatnonzero(flagged[row]):
            quantity = found.quantities[column]
            value = float(quantities_value(table, quantity, turnout, row))
            median = float(found.median[row, column])
            score = float(z[row, column])
            label = "turnout" if quantity == "turnout" else f"the share of {quantity.split(':', 1)[1]}"
            direction = "above" if score > 0 else "below"
            reasons.append(
                {
                    "test": "robust_z",
                    "quantity": quantity,
                    "value": finite_or_none(value),
                    "municipality_median": finite_or_none(median),
                    "z": score,
                    "message": (
                        f"{label} {_percent(value)} is far {direction} the municipality's typical "
                        f"{_percent(median)} (robust z = {score:+.1f})"
                    ),
                }
            )
        if integer_flag[row] and muni is not None:
            group = groups[row]
            what = []
            if integers.station_hit_turnout[row]:
                what.append(f"turnout {int(integers.station_percent_turnout[row])}%")
            if integers.station_hit_share[row]:
                what.append(f"the leader's share {int(integers.station_percent_share[row])}%")
            reasons.append(
                {
                    "test": "integer_percentage",
                    "turnout_whole": bool(integers.station_hit_turnout[row]),
                    "leader_share_whole": bool(integers.station_hit_share[row]),
                    "chance": finite_or_none(integers.station_chance[row]),
                    "municipality_observed": int(muni.observed[group]),
                    "municipality_expected": float(muni.expected[group]),
                    "message": (
                        f"{' and '.join(what)} is a whole percent, in a municipality with more whole-percent "
                        f"results than chance gives ({int(muni.observed[group])} against "
                        f"{float(muni.expected[group]):.1f} expected)"
                    ),
                }
            )
        scores = [abs(reason["z"]) for reason in reasons if "z" in reason]
        item: dict[str, Any] = {
            "station": str(table.station_ids[row]),
            "municipality": str(names[groups[row]]),
            "turnout": finite_or_none(turnout[row]),
            "leader_share": finite_or_none(share[row]),
            "score": max(scores) if scores else 0.0,
            "signals": len(reasons),
            "reasons": reasons,
        }
        if table.links is not None:
            item["link"] = str(table.links[row])
        out.append(item)
    out.sort(key=lambda item: (-item["signals"], -item["score"], item["station"]))
    return out


def quantities_value(table: StationTable, quantity: str, turnout: FloatArray, row: int) -> float:
    if quantity == "turnout":
        return float(turnout[row])
    name = quantity.split(":", 1)[1]
    column = table.entity_names.index(name)
    valid = int(table.valid[row])
    return float(table.votes[row, column] / valid) if valid else float("nan")


def _summary(
    report: dict[str, Any],
    integers: IntegerPercentages,
    digits: Any,
    options: ForensicsOptions,
    skipped: dict[str, str],
) -> dict[str, Any]:
    """The election-level tests and the warnings they raise.

    Four tests can raise a warning: the integer-percentage excess, whole-percent excess in any
    municipality (Simes: the smallest Benjamini-Hochberg adjusted p), the leader's last digit, and a
    positive turnout-leader correlation in any municipality (Simes again). A warning is raised when
    the test's Holm-adjusted p-value across these four is below ``alpha``, so that a clean election
    gets any warning at all with probability at most ``alpha``. The 2BL test is reported but raises
    no warning unless ``warn_on_second_digit`` (on simulated clean elections it rejects most of the
    time: docs/forensics.md).
    """
    alpha = options.alpha
    either = integers.either
    muni = integers.municipalities
    corr = report.get("correlation", {})
    last = digits.leader_test("last_digit")
    second = digits.leader_test("second_digit")

    muni_p = float(np.nanmin(muni.p_adjusted)) if muni is not None and np.isfinite(muni.p_adjusted).any() else None
    corr_p = None
    if "municipalities_flagged" in corr:
        adjusted = [m["correlation"]["p_adjusted_bh"] for m in report.get("municipalities", []) if "correlation" in m]
        finite = [p for p in adjusted if p is not None]
        corr_p = min(finite) if finite else None
    family: list[tuple[str, float | None]] = [
        ("integer_percentages", either.p_value),
        ("integer_percentages_by_municipality", muni_p),
        ("last_digit", last.p_value if last.ran else None),
        ("turnout_leader_correlation", corr_p),
    ]
    if options.warn_on_second_digit:
        family.append(("second_digit", second.p_value if second.ran else None))
    ran = [(name, p) for name, p in family if p is not None and np.isfinite(p)]
    holm = dict(zip([name for name, _ in ran], holm_adjust(np.array([p for _, p in ran])).tolist(), strict=True))

    def warns(name: str) -> bool:
        return name in holm and holm[name] < alpha

    tests: list[dict[str, Any]] = [
        {
            "test": "integer_percentages",
            "statistic": "excess",
            "value": either.excess,
            "p_value": either.p_value,
            "p_holm": holm.get("integer_percentages"),
            "signal": either.p_value < alpha,
            "warning": warns("integer_percentages"),
        },
        {
            "test": "integer_percentages_by_municipality",
            "statistic": "municipalities flagged (BH)",
            "value": int(np.count_nonzero(muni.flagged)) if muni is not None else None,
            "p_value": muni_p,
            "p_holm": holm.get("integer_percentages_by_municipality"),
            "signal": muni_p is not None and muni_p < alpha,
            "warning": warns("integer_percentages_by_municipality"),
        },
    ]
    for test, name in ((second, "second_digit"), (last, "last_digit")):
        tests.append(
            {
                "test": name,
                "entity": test.entity,
                "ran": test.ran,
                "skipped_reason": test.skipped_reason,
                "statistic": "chi2",
                "value": test.chi2 if test.ran else None,
                "p_value": test.p_value if test.ran else None,
                "p_holm": holm.get(name),
                "signal": bool(test.ran and test.p_value < alpha),
                "warning": warns(name),
            }
        )
    tests.append(
        {
            "test": "turnout_leader_correlation",
            "statistic": "municipalities flagged (BH)",
            "value": corr.get("municipalities_flagged"),
            "spearman": corr.get("spearman"),
            "p_value": corr_p,
            "p_holm": holm.get("turnout_leader_correlation"),
            "signal": corr_p is not None and corr_p < alpha,
            "warning": warns("turnout_leader_correlation"),
        }
    )

    warnings: list[str] = []
    if warns("integer_percentages"):
        warnings.append(
            f"More stations report a whole-percent turnout or leader's share than chance gives: "
            f"{either.observed:,} against {either.null_mean:,.0f} expected (excess {either.excess:,.0f} "
            f"± {either.excess_std:,.0f}, {_pvalue(either.p_value)}). Results written to a target show this; "
            "worth finding out where the excess comes from (see the municipalities)."
        )
    if warns("integer_percentages_by_municipality") and muni is not None:
        flagged = int(np.count_nonzero(muni.flagged))
        warnings.append(
            f"{flagged} municipalit{'y has' if flagged == 1 else 'ies have'} more whole-percent results than "
            f"chance gives (Benjamini-Hochberg, level {alpha}); their whole-percent stations are listed for a look."
        )
    for test, name, label in ((last, "last_digit", "last-digit"), (second, "second_digit", "second-digit (2BL)")):
        if warns(name):
            warnings.append(
                f"The {label} test on {test.entity}'s station counts departs from its reference "
                f"({_pvalue(test.p_value)}). Digit tests also fail for some honest elections; a reason to look, "
                "not a finding."
            )
    if warns("turnout_leader_correlation"):
        count = corr["municipalities_flagged"]
        warnings.append(
            f"In {count} municipalit{'y' if count == 1 else 'ies'} turnout and the leader's share rise together "
            f"more than chance explains (Benjamini-Hochberg, level {alpha}). Ballot stuffing does this; so do "
            "honest differences between neighbourhoods."
        )
    notes: list[str] = []
    outlier_count = report["outliers"]["stations_flagged_any"]
    if outlier_count:
        notes.append(
            f"{outlier_count:,} station(s) stand out from their municipality (|robust z| > {options.z_threshold}) "
            "in turnout or an entity's share: listed for a look (one or two in a hundred do in clean elections)."
        )
    model = report.get("fraud_model", {})
    if "f_incremental" in model:
        tests.append(
            {
                "test": "fraud_model",
                "f_incremental": model["f_incremental"],
                "f_extreme": model["f_extreme"],
                "f_incremental_ci95": model["f_incremental_ci95"],
                "f_extreme_ci95": model["f_extreme_ci95"],
                "signal": None,
                "warning": False,
            }
        )
    return {
        "caveat": CAVEAT,
        "warnings": warnings,
        "notes": notes,
        "tests": tests,
        "warning_rule": (
            f"a test warns when its p-value, Holm-adjusted across the {len(ran)} election-level tests that ran, "
            f"is below {alpha}"
        ),
        "skipped": skipped,
        "flagged_stations": len(report["flagged_stations"]),
    }
