"""Validate the forensics on simulated elections: false positives on clean ones, power against stuffing.

    .venv/bin/python bench/validate_forensics.py                 # the tables in docs/forensics.md
    .venv/bin/python bench/validate_forensics.py --clean 50 --power 20 --large 0   # a quick look

Every election is drawn with its own parameters (turnout level and spread between municipalities,
number and sizes of entities, station sizes, station-level variation): see `scenario`. The
analysis runs with the command's defaults, except the fraud model's bootstrap (off: only its point
estimate is recorded). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from tallyroom.rules.forensics import ForensicsOptions, analyse
from tallyroom.rules.forensics.simulate import simulate_election

ALPHA = 0.05


def scenario(seed: int) -> dict[str, Any]:
    """Random but realistic parameters of one election."""
    rng = np.random.default_rng(10_000 + seed)
    entities = int(rng.integers(2, 9))
    shares = np.sort(rng.dirichlet(np.full(entities, 1.5)))[::-1]
    return {
        "municipalities": int(rng.integers(20, 201)),
        "turnout_mean": float(rng.uniform(0.35, 0.75)),
        "turnout_concentration": float(rng.uniform(15, 60)),
        "shares": tuple(float(s) for s in shares),
        "share_concentration": float(rng.uniform(20, 100)),
        "station_concentration": [None, 100.0, 300.0, 1000.0][int(rng.integers(0, 4))],
        "size_median": float(rng.uniform(300, 1500)),
        "size_sigma": float(rng.uniform(0.3, 0.8)),
        "invalid_rate": float(rng.uniform(0.005, 0.05)),
    }


def run_one(task: tuple[int, int, float, float]) -> dict[str, Any]:
    seed, stations, stuffing, rounding = task
    params = scenario(seed)
    sim = simulate_election(stations, seed=seed, stuffing_share=stuffing, rounding_share=rounding, **params)
    report = analyse(sim.table, ForensicsOptions(fraud_bootstrap=0, seed=seed))
    tests = {test["test"]: test for test in report["summary"]["tests"]}
    integers = report["integer_percentages"]
    digits = report["digits"]["tests"]

    def digit_any(kind: str) -> bool:
        return any(t["ran"] and t["p_adjusted_holm"] < ALPHA for t in digits if t["kind"] == kind)

    flagged = {
        item["station"] for item in report["flagged_stations"] if any(r["test"] == "robust_z" for r in item["reasons"])
    }
    ids = sim.table.station_ids
    stuffed_ids = set(ids[sim.stuffed].tolist())
    warned = report["summary"]["warnings"]
    return {
        "integer_either": integers["p_value"] < ALPHA,
        "integer_turnout": integers["turnout"]["p_value"] < ALPHA,
        "integer_share": integers["leader_share"]["p_value"] < ALPHA,
        "integer_municipality": any(m["integer_percentages"]["flagged"] for m in report["municipalities"]),
        "integer_municipality_family": bool(tests["integer_percentages_by_municipality"]["signal"]),
        "second_leader": bool(tests["second_digit"]["signal"]),
        "second_any": digit_any("second_digit"),
        "last_leader": bool(tests["last_digit"]["signal"]),
        "last_any": digit_any("last_digit"),
        "correlation": bool(tests["turnout_leader_correlation"]["signal"]),
        "any_warning": bool(warned),
        "station_flag_rate": len(flagged) / stations,
        "stuffed_flagged": len(flagged & stuffed_ids) / max(len(stuffed_ids), 1),
        "flag_precision": len(flagged & stuffed_ids) / max(len(flagged), 1),
        "f_i": report["fraud_model"]["f_incremental"],
        "f_e": report["fraud_model"]["f_extreme"],
        "excess": integers["excess"],
    }


ROWS = [
    ("integer_either", "integer percentages, turnout or leader (headline)"),
    ("integer_turnout", "integer percentages, turnout"),
    ("integer_share", "integer percentages, leader's share"),
    ("integer_municipality", "integer percentages, any municipality (BH)"),
    ("last_leader", "last digit, leader"),
    ("last_any", "last digit, any entity (Holm)"),
    ("second_leader", "2BL second digit, leader (not a warning)"),
    ("second_any", "2BL second digit, any entity (Holm) (not a warning)"),
    ("correlation", "turnout-leader correlation, any municipality (BH)"),
    ("any_warning", "any warning in the summary (Holm across the four warning tests)"),
]


def interval(hits: int, total: int) -> str:
    """Rate with a Wilson 95% interval."""
    if total == 0:
        return "—"
    p = hits / total
    z = 1.96
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return f"{100 * p:.1f}% ({100 * max(centre - half, 0):.1f}–{100 * min(centre + half, 1):.1f})"


def run(tasks: list[tuple[int, int, float, float]], workers: int) -> list[dict[str, Any]]:
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(run_one, tasks, chunksize=4))
    return [run_one(task) for task in tasks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clean", type=int, default=400, help="clean elections of --stations stations")
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=20, help="clean elections of 95,000 stations")
    parser.add_argument("--power", type=int, default=100, help="elections per fraud scenario")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.time()

    print(f"## Clean elections: false-positive rates at level {ALPHA}\n")
    columns: list[tuple[str, list[dict[str, Any]]]] = []
    if args.clean:
        tasks = [(seed, args.stations, 0.0, 0.0) for seed in range(args.clean)]
        columns.append((f"{args.clean} × {args.stations:,} stations", run(tasks, args.workers)))
    if args.large:
        tasks = [(50_000 + seed, 95_000, 0.0, 0.0) for seed in range(args.large)]
        columns.append((f"{args.large} × 95,000 stations", run(tasks, args.workers)))
    print("| test | " + " | ".join(name for name, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for key, label in ROWS:
        cells = [interval(sum(r[key] for r in results), len(results)) for _, results in columns]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for key, label, scale in (
        ("station_flag_rate", "stations flagged by robust z, mean share", 100),
        ("f_i", "fraud model f_i: mean / 95th percentile", 1),
        ("f_e", "fraud model f_e: mean / 95th percentile", 1),
    ):
        cells = []
        for _, results in columns:
            values = np.array([r[key] for r in results])
            if key == "station_flag_rate":
                cells.append(f"{scale * values.mean():.2f}%")
            else:
                cells.append(f"{values.mean():.3f} / {np.percentile(values, 95):.3f}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\n(Wilson 95% intervals in brackets.)\n")

    if args.power:
        print(f"## Simulated ballot stuffing: detection power at level {ALPHA}, {args.stations:,} stations\n")
        scenarios = [(share, rounding) for rounding in (0.0, 1.0) for share in (0.05, 0.10, 0.20)]
        results_by = {}
        for index, (share, rounding) in enumerate(scenarios):
            tasks = [(100_000 * (index + 1) + seed, args.stations, share, rounding) for seed in range(args.power)]
            results_by[(share, rounding)] = run(tasks, args.workers)
        header = [f"{int(100 * s)}% stuffed{', round numbers' if r else ''}" for s, r in scenarios]
        print("| test | " + " | ".join(header) + " |")
        print("|---|" + "---|" * len(scenarios))
        for key, label in ROWS:
            cells = [interval(sum(r[key] for r in results_by[sc]), len(results_by[sc])) for sc in scenarios]
            print(f"| {label} | " + " | ".join(cells) + " |")
        for key, label in (
            ("stuffed_flagged", "stuffed stations flagged by robust z (recall)"),
            ("flag_precision", "flagged stations that were stuffed (precision)"),
        ):
            cells = [f"{100 * np.mean([r[key] for r in results_by[sc]]):.1f}%" for sc in scenarios]
            print(f"| {label} | " + " | ".join(cells) + " |")
        cells = [
            f"{np.mean([r['f_i'] for r in results_by[sc]]):.3f} / {np.mean([r['f_e'] for r in results_by[sc]]):.3f}"
            for sc in scenarios
        ]
        print("| fraud model f_i / f_e, mean | " + " | ".join(cells) + " |")
        cells = [f"{np.mean([r['excess'] for r in results_by[sc]]):,.0f}" for sc in scenarios]
        print("| integer-percentage excess, mean | " + " | ".join(cells) + " |")
    print(f"\n(validate_forensics.py: {time.time() - started:,.0f} s)")


if __name__ == "__main__":
    main()
