"""Benchmark the forensics on a national election (Russia 2011: 95,225 stations) and record it.

    .venv/bin/python bench/bench_forensics.py            # 5 runs; rewrites "## Forensics" in BENCHMARKS.md
    .venv/bin/python bench/bench_forensics.py --runs 3 --no-write

Times, each the median of --runs: reading the zipped CSV; the analysis (Monte Carlo with 1,000
replicates, fraud-model fit with 20 bootstrap fits, digit tests, outliers, correlations, flagged
stations); writing the JSON; drawing the figures (PNG and SVG); and the whole command as a user
runs it (a fresh process: Python and Django start-up included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy

from tallyroom.rules.forensics import ColumnMapping, ForensicsOptions, analyse, load_station_csv
from tallyroom.rules.forensics.plots import draw_plots

ROOT = Path(__file__).resolve().parents[1]

DATA_CANDIDATES = [
    Path(os.environ.get("TALLYROOM_SHARED_DATA", "/nonexistent")) / "real" / "russia",
    ROOT.parent / "shared" / "data" / "real" / "russia",
    Path("/work/shared/data/real/russia"),
]
ARGS = (
    "--registered 3 --ballots 5+6+7 --valid 12 --invalid 11 --leader 26 --entities 21:27 "
    "--station region --station tik --station uik --municipality region --municipality tik --link url"
)
MAPPING = ColumnMapping(
    registered="3",
    ballots="5+6+7",
    valid="12",
    invalid="11",
    leader="26",
    entity_range="21:27",
    station=("region", "tik", "uik"),
    municipality=("region", "tik"),
    link="url",
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


CPU: dict[str, float] = {}


def timed(function: object, runs: int, label: str = "") -> tuple[float, object]:
    """Median wall time of ``runs`` calls (and, under ``label``, the median CPU time of this process)."""
    times = []
    cpu = []
    result = None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    if label:
        CPU[label] = statistics.median(cpu)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    data = next((path / "2011.csv.zip" for path in DATA_CANDIDATES if (path / "2011.csv.zip").is_file()), None)
    if data is None:
        sys.exit("no Russian 2011 data (../shared/data/real/russia/2011.csv.zip)")
    load_before = os.getloadavg()[0]

    load_time, loaded = timed(lambda: load_station_csv(data, MAPPING), args.runs, "read")
    table, source = loaded  # type: ignore[misc]
    options = ForensicsOptions()
    analyse_time, report = timed(lambda: analyse(table, options, source=source.as_dict()), args.runs, "analysis")
    tmp = Path(tempfile.mkdtemp())

    def write_json() -> None:
        text = json.dumps(report, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        (tmp / "report.json").write_text(text, encoding="utf-8")

    json_time, _ = timed(write_json, args.runs, "json")
    plots_time, _ = timed(lambda: draw_plots(report, tmp / "plots"), max(1, args.runs // 2), "plots")  # type: ignore[arg-type]
    command = [
        str(ROOT / ".venv" / "bin" / "tallyroom"),
        "forensics",
        str(data),
        *ARGS.split(),
        "--quiet",
        "--json",
        str(tmp / "cli.json"),
    ]

    def run_command() -> None:
        subprocess.run(command, check=True, capture_output=True)

    command_time, _ = timed(run_command, args.runs)
    load_after = os.getloadavg()[0]
    size = (tmp / "report.json").stat().st_size
    integers = report["integer_percentages"]  # type: ignore[index]

    rows = [
        ("read the zipped CSV (95,225 rows)", load_time, CPU["read"]),
        ("analysis, Monte Carlo included", analyse_time, CPU["analysis"]),
        ("**read + analysis**", load_time + analyse_time, CPU["read"] + CPU["analysis"]),
        (f"write the JSON report ({size / 1e6:.1f} MB)", json_time, CPU["json"]),
        ("draw the figures (3 × PNG + SVG)", plots_time, CPU["plots"]),
        ("the whole command, fresh process, no figures", command_time, None),
    ]
    today = datetime.now(UTC).date().isoformat()
    lines = [
        "## Forensics",
        "",
        f"`tallyroom forensics` on the Russian State Duma election of 2011 ({table.size:,} stations, "  # type: ignore[attr-defined]
        "the shared `real/russia/2011.csv.zip`), default settings: 1,000 binomial Monte Carlo replicates, "
        "fraud model with 20 bootstrap fits. Target: the whole analysis under 10 s on this 2-core machine.",
        "",
        "```sh",
        "# the benchmark (writes this section)",
        ".venv/bin/python bench/bench_forensics.py",
        "# the command it times",
        f"tallyroom forensics ../shared/data/real/russia/2011.csv.zip {ARGS} --json report.json --plots plots/",
        "```",
        "",
        f"Measured {today}, median of {args.runs} runs: {os.cpu_count()} × {cpu_model()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; "
        f"load average {load_before:.1f} before and {load_after:.1f} after (other work shares the machine; CPU "
        "time, this process only, is what the analysis costs without competition).",
        "",
        "| step | wall seconds | CPU seconds |",
        "|---|---:|---:|",
        *[f"| {label} | {wall:.2f} | {'—' if cpu is None else f'{cpu:.2f}'} |" for label, wall, cpu in rows],
        "",
        f"Integer-percentage excess found in the timed run: {integers['excess']:,.0f} ± {integers['excess_std']:,.0f}.",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if args.no_write:
        return
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text("utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Forensics\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
