"""Benchmark of the rules engine; writes its figures into BENCHMARKS.md ("## Rules engine").

Run from the repository root:

    .venv/bin/python bench/bench_rules.py

Scenarios (inputs are built before the clock starts; each figure is the median of several runs):

1. Kosovo election night: all 38 municipalities, each with 30 entities and 1,500 candidates
   (50 per list), assemblies of 15 to 51 seats, Sainte-Laguë seats, open-list ranking and the
   gender correction for every entity, and the mayor's first round (8 candidates).
2. The same with every assembly at 51 seats (the worst case).
3. 100,000 seat allocations of random Kosovo-sized contests (15-51 seats, 4-30 entities).
4. 100,000 mayoral first rounds (2-12 candidates).
5. For information: "can it still change?" for the 38 assemblies with 5 % of votes outstanding.
"""

from __future__ import annotations

import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # normally installed in editable mode
    sys.path.insert(0, str(ROOT / "src"))

from tallyroom.rules import (  # noqa: E402 - after the path fallback above
    Gender,
    ListCandidate,
    allocate,
    assembly_outlook,
    decide_first_round,
    elect_assembly,
)

COMMAND = ".venv/bin/python bench/bench_rules.py"
SECTION = "## Rules engine"

# Assembly sizes by municipality: 15 to 41 by population band, Prishtina 51 (kosovo-rules.md §1.5;
# the exact 2013 sizes are data, not needed for timing).
SIZES = [51, 41, 41, 35, 35, 33, 31, 31, 31, 29, 29, 27, 27, 27, 27, 25, 25, 23, 23, 23, 21, 21,
         21, 21, 19, 19, 19, 19, 19, 19, 17, 15, 15, 15, 15, 15, 15, 15]  # fmt: skip

Municipality = tuple[
    dict[str, int],  # entity votes
    int,  # seats
    dict[str, list[ListCandidate]],  # candidate lists
    dict[str, dict[str, int]],  # preference votes
    dict[str, int],  # mayoral votes
]


def municipality(rng: random.Random, seats: int) -> Municipality:
    entities = [f"E{i:02d}" for i in range(30)]
    votes = {e: int(rng.paretovariate(1.1) * 400) for e in entities}
    candidates: dict[str, list[ListCandidate]] = {}
    preferences: dict[str, dict[str, int]] = {}
    for e in entities:
        slate = [
            ListCandidate(f"{e}-{n}", n, Gender.FEMALE if rng.random() < 0.34 else Gender.MALE) for n in range(1, 51)
        ]
        candidates[e] = slate
        share = votes[e] // 2
        preferences[e] = {c.id: rng.randint(0, max(1, share // 10)) for c in slate}
    mayor = {f"M{i}": int(rng.paretovariate(1.3) * 2000) for i in range(8)}
    return votes, seats, candidates, preferences, mayor


def election_night(munis: list[Municipality]) -> None:
    for votes, seats, candidates, preferences, mayor in munis:
        elect_assembly(votes, seats, candidates, preferences)
        decide_first_round(mayor)


def median_seconds(run: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def machine() -> dict[str, str]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text("utf-8", "replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity else os.cpu_count()
    return {
        "nproc": str(cpus),
        "cpu": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }


def main() -> None:
    rng = random.Random(2013)
    night = [municipality(rng, seats) for seats in SIZES]
    worst = [municipality(rng, 51) for _ in SIZES]
    allocations = [
        (
            {f"E{i}": int(rng.paretovariate(1.1) * 300) for i in range(rng.randint(4, 30))},
            rng.choice(range(15, 52, 2)),
        )
        for _ in range(100_000)
    ]
    mayors = [{f"M{i}": int(rng.paretovariate(1.3) * 2000) for i in range(rng.randint(2, 12))} for _ in range(100_000)]
    outstanding = [(m[0], m[1], sum(m[0].values()) // 20) for m in night]

    print("warming up ...", flush=True)
    election_night(night)

    results: list[tuple[str, float, float, str, int]] = []
    load = load_average()

    def record(name: str, run: Callable[[], object], repeat: int, target: str) -> None:
        med, times = median_seconds(run, repeat)
        results.append((name, med, min(times), target, repeat))
        spread = ", ".join(f"{t * 1000:.1f}" for t in times)
        print(f"{name}: median {med * 1000:.1f} ms over {repeat} runs ({spread})", flush=True)

    record(
        "38 municipalities: seats + open lists + gender correction + mayor",
        lambda: election_night(night),
        15,
        "well under 50 ms",
    )
    record("38 municipalities, every assembly 51 seats", lambda: election_night(worst), 15, "")

    def run_allocations() -> None:
        for votes, seats in allocations:
            allocate(votes, seats)

    def run_mayors() -> None:
        for votes in mayors:
            decide_first_round(votes)

    record("100,000 seat allocations (15-51 seats, 4-30 entities)", run_allocations, 3, "< 10 s")
    record("100,000 mayoral first rounds (2-12 candidates)", run_mayors, 3, "")

    def run_outlook() -> None:
        for votes, seats, extra in outstanding:
            assembly_outlook(votes, seats, extra)

    record("38 assemblies: can it still change? (5 % outstanding)", run_outlook, 5, "")
    write_section(results, machine(), load, load_average())


def load_average() -> str:
    """The 1/5/15-minute load averages: other processes sharing the CPUs slow every figure."""
    path = Path("/proc/loadavg")
    return " ".join(path.read_text("utf-8").split()[:3]) if path.exists() else "unknown"


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"


def write_section(
    results: list[tuple[str, float, float, str, int]], info: dict[str, str], load_start: str, load_end: str
) -> None:
    now = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"Command: `{COMMAND}` (from the repository root). Written by the script; do not edit by hand.",
        "",
        f"- Date: {now}",
        f"- Machine: {info['nproc']} CPU(s) available (nproc), {info['cpu']}; {info['platform']}",
        f"- Python: {info['python']}",
        f"- Load average (1, 5, 15 min) at start: {load_start}; at end: {load_end}. The machine is shared: a load "
        "above the CPU count means other processes inflated the figures.",
        "- Inputs are generated (seeded) before timing. Single-threaded. The median is the figure; the fastest run "
        "shows what a less loaded machine does.",
        "",
        "| Scenario | Median | Fastest run | Median per municipality / contest | Target | Runs |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for name, seconds, fastest, target, repeat in results:
        per = "-"
        match = re.match(r"([\d,]+) ", name)
        if match:
            count = int(match.group(1).replace(",", ""))
            per = f"{seconds / count * 1e6:.1f} µs"
        row = f"| {name} | {_duration(seconds)} | {_duration(fastest)} | {per} | {target or '-'} | {repeat} |"
        lines.append(row)
    lines += [
        "",
        "Scenario details: 38 municipalities with assembly sizes 15-51 (Prishtina 51), 30 "
        "entities and 1,500 candidates each (50 per list, about one third women, random "
        "preference votes), Sainte-Laguë with the Kosovo gender rule, lists capped at their "
        "length; the mayor's first round has 8 candidates. Timings are not asserted in tests.",
        "",
    ]
    section = "\n".join(lines)
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text("utf-8") if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text.rstrip("\n") + "\n", "utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
