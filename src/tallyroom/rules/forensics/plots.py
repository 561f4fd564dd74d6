"""Figures of a forensics report (matplotlib, Agg backend), each as PNG and SVG.

They are drawn from the JSON-ready report alone, so the same pictures can be made again from a
saved report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

FIGURES = ("fingerprint", "integer_percentages", "digits")


def draw_plots(report: dict[str, Any], directory: Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Draw every figure the report has data for into ``directory``; the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, draw in (("fingerprint", _fingerprint), ("integer_percentages", _integers), ("digits", _digits)):
        figure = draw(report)
        if figure is None:
            continue
        for extension in formats:
            path = directory / f"{name}.{extension}"
            figure.savefig(path, dpi=110, bbox_inches="tight")
            written.append(path)
        plt.close(figure)
    return written


def _title(report: dict[str, Any]) -> str:
    election = report["election"]
    return f"{election['stations']:,} stations; leader: {election['leader'][:60]}"


def _fingerprint(report: dict[str, Any]) -> Any:
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    data = report.get("fingerprint", {})
    if "counts" not in data:
        return None
    model = report.get("fraud_model", {})
    panels = 3 if "histograms" in model else 1
    figure, axes = plt.subplots(1, panels, figsize=(5.6 * panels, 4.6), squeeze=False, layout="constrained")
    counts = np.asarray(data["counts"], dtype=float)
    shown = [("observed fingerprint", counts)]
    if panels == 3:
        histograms = model["histograms"]
        shown += [
            (
                f"fraud model fit (f_i={model['f_incremental']:.2f}, f_e={model['f_extreme']:.3f})",
                np.asarray(histograms["fitted"], dtype=float),
            ),
            ("model without fraud", np.asarray(histograms["without_fraud"], dtype=float)),
        ]
    for axis, (title, values) in zip(axes[0], shown, strict=True):
        positive = values[values > 0]
        norm = LogNorm(vmin=max(positive.min(), 0.5), vmax=positive.max()) if positive.size else None
        image = axis.imshow(
            np.ma.masked_less_equal(values.T, 0),
            origin="lower",
            extent=(0, 100, 0, 100),
            aspect="auto",
            cmap="viridis",
            norm=norm,
            interpolation="nearest",
        )
        axis.set_xlabel("turnout, %")
        axis.set_ylabel("leader's share, %")
        axis.set_title(title, fontsize=9)
        figure.colorbar(image, ax=axis, label="stations")
    figure.suptitle(_title(report), fontsize=10)
    return figure


def _integers(report: dict[str, Any]) -> Any:
    import matplotlib.pyplot as plt

    histograms = report["histograms"]
    integers = report["integer_percentages"]
    series = [
        (key, label) for key, label in (("turnout", "turnout"), ("leader_share", "leader's share")) if key in histograms
    ]
    figure, axes = plt.subplots(len(series) + 1, 1, figsize=(11, 2.8 * (len(series) + 1)), squeeze=False)
    percent = np.asarray(histograms["percent"], dtype=float)
    whole = np.isclose(percent % 1, 0)
    for axis, (key, label) in zip(axes[:, 0], series, strict=False):
        counts = np.asarray(histograms[key], dtype=float)
        # one line per 0.1-point bin (a single collection each: quick to draw, small as SVG)
        axis.vlines(percent[~whole], 0, counts[~whole], color="#4c72b0", linewidth=0.6)
        axis.vlines(percent[whole], 0, counts[whole], color="#dd4444", linewidth=0.9)
        axis.set_xlim(0, 100)
        inner = counts[1:-1]
        if inner.size and inner.max() > 0:
            axis.set_ylim(0, 1.15 * inner.max())  # 0% and 100% can dwarf the rest; they are not whole-percent tests
        axis.set_ylabel("stations")
        axis.set_title(f"{label} at 0.1-point resolution (whole percents in red)", fontsize=9)
    axis = axes[-1, 0]
    null = integers["null_count_histogram"]
    replicate_counts = np.repeat(np.asarray(null["count"]), np.asarray(null["replicates"]))
    axis.hist(replicate_counts, bins=40, color="#999999", label="binomial Monte Carlo")
    axis.axvline(integers["observed"], color="#dd4444", label=f"observed ({integers['observed']:,})")
    axis.set_xlabel("stations with a whole-percent turnout or leader's share")
    axis.set_ylabel("replicates")
    axis.set_title(
        f"excess {integers['excess']:,.0f} ± {integers['excess_std']:,.0f} (p = {integers['p_value']:.3g})",
        fontsize=9,
    )
    axis.legend(fontsize=8)
    figure.suptitle(_title(report), fontsize=10)
    figure.tight_layout()
    return figure


def _digits(report: dict[str, Any]) -> Any:
    import matplotlib.pyplot as plt

    tests = [test for test in report["digits"]["tests"] if test["leader"]]
    if not tests:
        return None
    figure, axes = plt.subplots(1, len(tests), figsize=(5.5 * len(tests), 3.8), squeeze=False)
    for axis, test in zip(axes[0], tests, strict=True):
        digits = np.arange(10)
        used = max(test["counts_used"], 1)
        axis.bar(digits - 0.2, np.asarray(test["observed"]) / used, width=0.4, label="observed", color="#4c72b0")
        axis.bar(digits + 0.2, np.asarray(test["expected"]) / used, width=0.4, label="expected", color="#999999")
        name = "second digit (2BL, Benford)" if test["kind"] == "second_digit" else "last digit (uniform)"
        verdict = f"p = {test['p_value']:.3g}" if test["ran"] else f"skipped: {test['skipped_reason']}"
        axis.set_title(f"{name}, n = {test['counts_used']:,}; {verdict}", fontsize=9)
        axis.set_xticks(digits)
        axis.set_xlabel("digit")
        axis.set_ylabel("share of counts")
        axis.legend(fontsize=8)
    figure.suptitle(_title(report), fontsize=10)
    figure.tight_layout()
    return figure
