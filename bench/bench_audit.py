"""`audit verify` at scale on PostgreSQL: a chain of a million entries checked against the data.

    .venv/bin/python bench/bench_audit.py --entries 1000000 --stations 20000

Creates its own database `tallyroom_bench_audit` (afresh on every run) on the server of
TALLYROOM_BENCH_POSTGRES (default postgresql://postgres@127.0.0.1:5432). The chain is what an
election of that size writes: the election, every station's two result forms through the bulk
ingest (with their vote and preference rows), then station events up to the number of entries
asked for, appended in batches as the election-day batch API does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import django_setup, fresh_database, machine, now, write_section

DB = "tallyroom_bench_audit"
BATCH = 20_000


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--stations", type=int, default=20_000)
    parser.add_argument("--municipalities", type=int, default=40)
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()

    fresh_database(DB)
    django_setup(DB)
    from django.core.management import call_command
    from django.db import connection, transaction

    from tallyroom.audit.chain import PendingEntry, audit_append_many, verify
    from tallyroom.audit.models import AuditEntry
    from tallyroom.elections.models import Election, PollingStation, Round
    from tallyroom.elections.services import election_load
    from tallyroom.elections.simulate import simulate_definition, simulate_forms
    from tallyroom.polling import audit as polling_audit
    from tallyroom.polling.models import StationEvent
    from tallyroom.results.bulk import BulkItem, result_forms_submit_bulk

    call_command("migrate", verbosity=0)
    definition = simulate_definition(args.stations, args.municipalities, seed=7)
    election_load(definition)
    election = Election.objects.get(code="sim")
    forms = list(simulate_forms(definition, seed=7))
    for start in range(0, len(forms), 5_000):
        batch = [BulkItem(s, c, d) for s, c, d in forms[start : start + 5_000]]
        result_forms_submit_bulk(election, batch, actor="bench", role="admin")
    round_ = Round.objects.get(election=election, code="r1")
    stations = list(PollingStation.objects.filter(election=election).values_list("pk", flat=True))
    opened = dt.datetime(2030, 10, 6, 7, 0, tzinfo=dt.UTC)
    made = AuditEntry.objects.count()
    n = 0
    while made < args.entries:
        size = min(BATCH, args.entries - made)
        rows = [
            StationEvent(
                election=election,
                round=round_,
                station_id=stations[(n + i) % len(stations)],
                kind="opened",
                occurred_at=opened + dt.timedelta(seconds=n + i),
                channel="api",
            )
            for i in range(size)
        ]
        with transaction.atomic():
            ids = [row.pk for row in StationEvent.objects.bulk_create(rows, batch_size=5_000)]
            states = polling_audit.station_event_state.many([str(pk) for pk in ids])
            audit_append_many(
                [PendingEntry("station_event.recorded", "station_event", str(pk), states[str(pk)], {}) for pk in ids],
                actor="bench",
                role="admin",
            )
        made += size
        n += size
    entries = AuditEntry.objects.count()
    form_entries = AuditEntry.objects.filter(object_type="result_form").count()

    timings = []
    for _ in range(3):
        t = time.perf_counter()
        findings = list(verify())
        timings.append(time.perf_counter() - t)
        assert findings == [], findings[:5]
    best, median = min(timings), sorted(timings)[1]

    command = f"bench/bench_audit.py --entries {args.entries} --stations {args.stations}"
    body = (
        f"Command: `.venv/bin/python {command}` (PostgreSQL {connection.pg_version // 10000}, its own database). "
        "Written by the script.\n\n"
        f"- Date: {now()}\n- Machine: {machine()}\n"
        f"- Chain: {entries:,} entries: {form_entries:,} result forms of {args.stations:,} simulated stations "
        "(bulk ingest, with their vote and preference rows), the rest station events, the election and its roles.\n"
        "- `verify()` walks the chain in pages of 5,000 entries in sequence order (recomputing every hash), then "
        "checks the latest entry of every object against the row as it is now, reading the rows a page at a time "
        "(one query per kind of row and page).\n\n"
        "| Step | Median of 3 | Fastest | Rate |\n|---|---:|---:|---:|\n"
        f"| `audit verify`, {entries:,} entries | **{median:.1f} s** | {best:.1f} s "
        f"| {entries / median:,.0f} entries/s |\n"
    )
    print(body)
    if not args.no_write:
        write_section("Audit chain verification (PostgreSQL)", body)


if __name__ == "__main__":
    main()
