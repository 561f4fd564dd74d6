"""The report as text for a terminal: the warnings first, then each method's numbers."""

from __future__ import annotations

from typing import Any


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def format_report(report: dict[str, Any], top: int = 15) -> str:
    """A few screens of text: summary, warnings, each test, the most flagged stations."""
    lines: list[str] = []
    for section in (_summary, _integers, _model, _digits):
        section(report, lines)
    _stations(report, lines, top)
    return "\n".join(lines) + "\n"


def _summary(report: dict[str, Any], lines: list[str]) -> None:
    add = lines.append
    election = report["election"]
    source = report.get("source") or {}
    add("Election forensics" + (f": {source['path']}" if source.get("path") else ""))
    add("=" * 72)
    add(
        f"{election['stations']:,} stations in {election['municipalities']:,} municipalities; "
        f"leader {election['leader']} with {_pct(election['leader_share'])} "
        f"({report['definitions']['leader_share']})"
    )
    if election.get("turnout") is not None:
        add(f"turnout {_pct(election['turnout'])} ({report['definitions']['turnout']})")
    add("")
    add(report["caveat"])
    add("")
    summary = report["summary"]
    if summary["warnings"]:
        add("Worth a look:")
        for warning in summary["warnings"]:
            add(f"  * {warning}")
    else:
        add("No warning signs at the chosen level.")
    for note in summary.get("notes", []):
        add(f"  Note: {note}")
    for name, reason in summary.get("skipped", {}).items():
        add(f"  (skipped {name}: {reason})")
    add("")


def _integers(report: dict[str, Any], lines: list[str]) -> None:
    add = lines.append
    integers = report["integer_percentages"]
    settings = integers["settings"]
    add(
        "Integer percentages (Kobak, Shpilkin & Pshenichnikov 2016), tolerance "
        f"{settings['tolerance_points']} points, {settings['reps']:,} binomial Monte Carlo replicates:"
    )
    add(f"  {'':14}{'tested':>9}{'observed':>10}{'expected':>10}{'excess':>9}{'± sd':>7}{'95% interval':>18}{'p':>8}")
    for label, block in (
        ("turnout", integers["turnout"]),
        ("leader share", integers["leader_share"]),
        ("either", integers),
    ):
        if block is None:
            continue
        low, high = (round(value) + 0 for value in block["excess_ci95"])  # + 0: no "-0"
        interval = f"[{low:,}, {high:,}]"
        add(
            f"  {label:14}{block['stations_tested']:>9,}{block['observed']:>10,}{block['null_mean']:>10,.0f}"
            f"{round(block['excess']) + 0:>9,}{block['excess_std']:>7,.0f}{interval:>18}"
            f"{_p(block['p_value']):>8}"
        )
    add("")


def _model(report: dict[str, Any], lines: list[str]) -> None:
    add = lines.append
    model = report.get("fraud_model", {})
    if "f_incremental" in model:
        add("Fingerprint fraud model (Klimek et al. 2012), a model estimate:")
        low_i, high_i = model["f_incremental_ci95"]
        low_e, high_e = model["f_extreme_ci95"]
        add(f"  incremental fraud f_i = {model['f_incremental']:.3f} (bootstrap 95%: {low_i:.3f}–{high_i:.3f})")
        add(f"  extreme fraud     f_e = {model['f_extreme']:.3f} (bootstrap 95%: {low_e:.3f}–{high_e:.3f})")
        fair_t, fair_v = model["fair_turnout"], model["fair_leader_share"]
        add(
            f"  fair bulk: turnout {_pct(fair_t['mode'])} ± {_pct(fair_t['sigma'])}, "
            f"leader share {_pct(fair_v['mode'])} ± {_pct(fair_v['sigma'])}"
        )
    elif "skipped" in model:
        add(f"Fingerprint fraud model: skipped ({model['skipped']})")
    add("")


def _digits(report: dict[str, Any], lines: list[str]) -> None:
    add = lines.append
    add("Digit tests of the vote counts (chi-square, 9 df; Holm across entities):")
    skipped = 0
    for test in report["digits"]["tests"]:
        kind = "2BL   " if test["kind"] == "second_digit" else "last  "
        mark = "*" if test["leader"] else " "
        if test["ran"]:
            add(
                f" {mark}{kind} {test['entity'][:44]:44} n={test['counts_used']:>7,} mean {test['mean']:.3f} "
                f"(ref {test['expected_mean']:.3f}) p={_p(test['p_value'])} adj {_p(test['p_adjusted_holm'])}"
            )
        elif test["leader"]:
            add(f" {mark}{kind} {test['entity'][:44]:44} skipped: {test['skipped_reason']}")
        else:
            skipped += 1
    if skipped:
        add(f"  ({skipped} more skipped: too few large enough counts; reasons in the JSON report)")
    add("  (* the leader)")
    add("")


def _stations(report: dict[str, Any], lines: list[str], top: int) -> None:
    add = lines.append
    corr = report.get("correlation", {})
    if "pearson" in corr:
        add(
            f"Turnout vs leader share: Pearson {_num(corr['pearson'], 3)}, Spearman {_num(corr['spearman'], 3)}; "
            f"{corr['municipalities_flagged']:,} of {corr['municipalities_tested']:,} municipalities with a "
            "positive correlation beyond chance"
        )
    out = report["outliers"]
    add(f"Outliers within municipalities (|robust z| > {out['threshold']}): {out['stations_flagged_any']:,} stations")
    add("")
    flagged = report["flagged_stations"]
    if flagged:
        add(f"Flagged stations: {len(flagged):,} (the first {min(top, len(flagged))}; all in the JSON report)")
        for item in flagged[:top]:
            add(f"  {item['station']}  [score {item['score']:.1f}]")
            for reason in item["reasons"][:3]:
                add(f"      - {reason['message']}")
            if len(item["reasons"]) > 3:
                add(f"      - … and {len(item['reasons']) - 3} more")
