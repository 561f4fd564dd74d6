"""Time the public integrity page on a loaded election (the demo's, by default). Prints, writes nothing.

    DATABASE_URL=sqlite:////path/to/demo.sqlite3 .venv/bin/python bench/bench_integrity.py [CODE] [--runs 3]

Medians of --runs: reading the station table, the analysis alone, a first render with an empty
report cache (English), and a further language with the report cached (Albanian). Pages are
rendered in-process as the snapshotter renders them (`tallyroom.publish.snapshot.render`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("code", nargs="?", default="ks-2013-local", help="election code (default: the demo's)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tallyroom.settings")
    import django

    django.setup()
    from tallyroom.publish import integrity
    from tallyroom.publish.snapshot import render
    from tallyroom.results.forensics_source import station_table
    from tallyroom.rules.forensics import analyse

    times: dict[str, list[float]] = {"station table": [], "analysis": [], "first render": [], "another language": []}
    for _ in range(args.runs):
        start = time.perf_counter()
        table = station_table(args.code)
        times["station table"].append(time.perf_counter() - start)
        start = time.perf_counter()
        analyse(table, integrity.OPTIONS)
        times["analysis"].append(time.perf_counter() - start)
        integrity._CACHE.clear()
        start = time.perf_counter()
        render(f"/elections/{args.code}/integrity/")
        times["first render"].append(time.perf_counter() - start)
        start = time.perf_counter()
        render(f"/sq/elections/{args.code}/integrity/")
        times["another language"].append(time.perf_counter() - start)
    print(f"{table.size:,} stations; load average {os.getloadavg()[0]:.1f}")
    for name, values in times.items():
        print(f"{name:18} median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
