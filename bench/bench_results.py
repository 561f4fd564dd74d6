"""Results at scale on PostgreSQL: bulk ingest of station forms, then a full recomputation.

    .venv/bin/python bench/bench_results.py --stations 100000 --municipalities 200

Creates its own database (`--database`, default `tallyroom_bench`; dropped first if it exists) on
the server of TALLYROOM_BENCH_POSTGRES (default postgresql://postgres@127.0.0.1:5432). In the same
run it COPYs the same vote rows into a plain table: the ratio of the two rates is the figure that
matters (how much the checks, the tallies, the audit chain and the transaction cost over the
fastest way into PostgreSQL).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import django_setup, fresh_database, machine, now, write_section


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=100_000)
    parser.add_argument("--municipalities", type=int, default=200)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--database", default="tallyroom_bench")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()

    fresh_database(args.database)
    django_setup(args.database)
    from django.core.management import call_command
    from django.db import connection

    from tallyroom.elections.models import Election
    from tallyroom.elections.services import election_load
    from tallyroom.elections.simulate import simulate_definition, simulate_forms
    from tallyroom.results.bulk import BulkItem, result_forms_submit_bulk
    from tallyroom.results.models import ResultForm, ResultPreference, ResultVote
    from tallyroom.results.selectors import contest_results
    from tallyroom.results.tally import tally_recompute

    call_command("migrate", verbosity=0)
    definition = simulate_definition(args.stations, args.municipalities, seed=7)
    t = time.perf_counter()
    election_load(definition)
    load_s = time.perf_counter() - t
    election = Election.objects.get(code="sim")
    forms = list(simulate_forms(definition, seed=7))

    t = time.perf_counter()
    statuses: dict[str, int] = {}
    for start in range(0, len(forms), args.batch):
        batch = [BulkItem(s, c, d) for s, c, d in forms[start : start + args.batch]]
        for outcome in result_forms_submit_bulk(election, batch, actor="bench", role="admin"):
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    ingest_s = time.perf_counter() - t
    votes = ResultVote.objects.count()
    prefs = ResultPreference.objects.count()

    # Baseline: COPY the same form, vote and preference rows into plain tables, in one transaction.
    rows_forms = list(ResultForm.objects.values_list("station_id", "contest_id", "valid", "invalid"))
    rows_votes = list(ResultVote.objects.values_list("form_id", "entity_id", "votes"))
    rows_prefs = list(ResultPreference.objects.values_list("form_id", "candidate_id", "votes"))
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE copy_forms (station bigint, contest bigint, valid int, invalid int)")
        cursor.execute("CREATE TABLE copy_votes (form bigint, choice bigint, votes int)")
        cursor.execute("CREATE TABLE copy_prefs (form bigint, choice bigint, votes int)")
    t = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for table, rows in (("copy_forms", rows_forms), ("copy_votes", rows_votes), ("copy_prefs", rows_prefs)):
            with raw.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    connection.commit() if not connection.get_autocommit() else None
    copy_s = time.perf_counter() - t

    t = time.perf_counter()
    diffs = tally_recompute()
    recompute_s = time.perf_counter() - t
    assert diffs == [], diffs[:5]
    # Without the defer every contest would carry its own copy of the whole definition (GBs at 100k stations).
    contests = list(
        election.rounds.get(code="r1")
        .contests.select_related("round__election", "municipality")
        .defer("round__election__definition_packed")
    )
    t = time.perf_counter()
    for contest in contests:
        contest_results(contest)
    results_s = time.perf_counter() - t

    n = len(forms)
    command = f"bench/bench_results.py --stations {args.stations} --municipalities {args.municipalities}"
    rows = [
        ("Load the election definition", f"{load_s:.1f} s", f"{args.stations / load_s:,.0f} stations/s"),
        (
            f"Bulk ingest (`result_forms_submit_bulk`, batches of {args.batch:,}: validation, quarantine checks, "
            "running tallies, one audit entry per form)",
            f"{ingest_s:.1f} s",
            f"**{n / ingest_s:,.0f} forms/s**",
        ),
        (
            "Baseline: COPY of the same form, vote and preference rows into plain tables",
            f"{copy_s:.2f} s",
            f"{n / copy_s:,.0f} forms/s",
        ),
        ("Ratio ingest / COPY", "", f"**{copy_s / ingest_s:.3f}**"),
        (
            "Full recomputation of every tally from the counted forms (equal to the running totals)",
            f"**{recompute_s:.2f} s**",
            f"{args.stations / recompute_s:,.0f} stations/s",
        ),
        (f"Results of all {len(contests)} first-round contests (seats, open lists, outlook)", f"{results_s:.2f} s", ""),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    outcomes = ", ".join(f"{v:,} {k}" for k, v in sorted(statuses.items()))
    body = (
        f"Command: `.venv/bin/python {command}` (PostgreSQL {connection.pg_version // 10000}, its own database). "
        "Written by the script.\n\n"
        f"- Date: {now()}\n- Machine: {machine()}\n"
        f"- Election: {args.stations:,} stations in {args.municipalities} municipalities, two contests each: "
        f"{n:,} forms with {votes:,} vote rows and {prefs:,} preference rows (simulated, seed 7).\n\n"
        "| Step | Time | Rate |\n|---|---:|---:|\n" + table + f"\n\nOutcomes: {outcomes}.\n"
    )
    print(body)
    if not args.no_write:
        write_section("Results: bulk ingest and recomputation (PostgreSQL)", body)


if __name__ == "__main__":
    main()
