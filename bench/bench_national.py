"""A national count end to end on PostgreSQL: every station's forms ingested (checked, quarantined
where suspicious, tallied, chained), tabulated and published, against a plain COPY of the same rows.

    .venv/bin/python bench/bench_national.py --stations 1000000 --municipalities 1000

Creates its own database (`--database`, default `tallyroom_national`; dropped first) on the server of
TALLYROOM_BENCH_POSTGRES. Setting up (simulating the election, loading its definition, writing the
forms as JSON lines, one file per ingest worker) is timed but not part of the count. The count is:
`--workers` processes (counting centres) submitting their forms through the bulk service in batches,
the tables' statistics gathered (`ANALYZE`: autovacuum's work on a production server), a full
recomputation (which must equal the running tallies), the results of every contest (by `--workers`
processes) and a signed snapshot of the public site. A sampler reads every process's resident memory (this
script, the workers, every PostgreSQL process) twice a second; the peaks are reported.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import itertools
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import MemorySampler, django_setup, fresh_database, machine, now, postgres_group, write_section

MIB = 1024 * 1024
TABULATE_CHUNK = 100  # contests per bulk read (`results.tabulation.contests_results`)


def national_group(pid: int, me: int, cmd: str) -> str | None:
    if pid == me:
        return "bench (simulate, load, tabulate, publish)"
    if "bench_national.py" in cmd and "--worker" in cmd.split():  # not the bench's own "--workers"
        return "ingest worker (each)"
    if "publish --feed" in cmd:
        return "results feed process"
    if "multiprocessing" in cmd or "bench_national.py" in cmd:
        return "publish renderer (each)"
    return postgres_group(cmd)


def worker(
    path: Path, database: str, batch: int, official: int = 0, stride: int = 1, pick: int = 0, log: Path | None = None
) -> None:
    """One counting centre: submit the forms of `path` in batches; print the outcome counts. With
    `official`, that many forms again as the official (paper) forms: every `stride`-th of the file,
    shuffled, so that each batch holds forms from nearly every municipality of the worker (as forms
    arrive on the night, and the most work for the feed), each batch's commit time and the chain head
    after it written to `log`."""
    django_setup(database)
    from tallyroom.audit.chain import chain_head
    from tallyroom.elections.models import Election
    from tallyroom.results.bulk import BulkItem, result_forms_submit_bulk
    from tallyroom.results.models import FormKind

    election = Election.objects.defer("definition_packed").get(code="sim")
    statuses: Counter[str] = Counter()
    items: list[BulkItem] = []
    kind = FormKind.OFFICIAL if official else FormKind.PRELIMINARY
    commits = log.open("w") if log else None

    def flush() -> None:
        for outcome in result_forms_submit_bulk(election, items, actor="bench", role="admin"):
            statuses[outcome.status] += 1
        if commits is not None:  # committed: the next feed cut at this head or later shows the batch
            commits.write(f"{time.monotonic()} {chain_head()[0]} {len(items)}\n")
        items.clear()

    with gzip.open(path, "rt") as lines:
        stream: Iterable[str] = lines
        if official:
            chosen = list(itertools.islice((x for n, x in enumerate(lines) if n % stride == pick), official))
            random.Random(official + pick).shuffle(chosen)
            stream = chosen
        for line in stream:
            station, contest, data = json.loads(line)
            items.append(BulkItem(station, contest, data, kind=kind))
            if len(items) == batch:
                flush()
    if items:
        flush()
    if commits is not None:
        commits.close()
    print(json.dumps(dict(statuses)))


def timed(label: str, times: dict[str, float]) -> Any:
    class Timer:
        def __enter__(self) -> None:
            self.t = time.perf_counter()
            print(f"{label}...", flush=True)

        def __exit__(self, *exc: object) -> None:
            times[label] = time.perf_counter() - self.t
            print(f"{label}: {times[label]:.1f} s", flush=True)

    return Timer()


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=1_000_000)
    parser.add_argument("--municipalities", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default="tallyroom_national")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    parser.add_argument("--no-publish", action="store_true", help="stop after tabulating (implies --no-write)")
    parser.add_argument(
        "--resume",
        type=Path,
        help="a state file written after the ingest: reuse its database and figures, run the later steps again",
    )
    parser.add_argument(
        "--feed-forms",
        type=int,
        default=100_000,
        help="after the count, this many official forms with the results feed running: its freshness (0: skip)",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--official", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stride", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--pick", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--feed-only", action="store_true", help="with --resume: only the feed's phase, printed (a later --feed-pick)"
    )
    parser.add_argument("--feed-pick", type=int, default=0, help="which forms of each stride the feed's phase sends")
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.database, args.batch, args.official, args.stride, args.pick, args.log)
        return

    sampler = MemorySampler(national_group)
    sampler.start()
    times: dict[str, float] = {}
    state = json.loads(args.resume.read_text()) if args.resume else None
    if state is None:
        fresh_database(args.database)
    django_setup(args.database)
    from django.core.management import call_command
    from django.db import connection

    from tallyroom.elections.models import Election
    from tallyroom.elections.services import election_load
    from tallyroom.elections.simulate import simulate_definition, simulate_forms
    from tallyroom.publish.services import snapshot_publish_to
    from tallyroom.results.models import ResultForm, ResultPreference, ResultVote
    from tallyroom.results.tally import tally_recompute

    work = Path(tempfile.mkdtemp(prefix="tallyroom-national-"))
    if state is not None:
        times.update(state["times"])
        forms = int(state["forms"])
        statuses: Counter[str] = Counter(state["statuses"])
    else:
        call_command("migrate", verbosity=0)
        with timed("simulate the definition", times):
            definition = simulate_definition(args.stations, args.municipalities, seed=args.seed)
        with timed("load the definition", times):
            election_load(definition)
        paths = [work / f"forms-{i}.jsonl.gz" for i in range(args.workers)]
        with timed("simulate the forms", times):
            # Each worker (counting centre) takes whole municipalities, so workers never wait for
            # each other's tally locks; they share only the audit chain.
            share = {m["code"]: i % args.workers for i, m in enumerate(definition["municipalities"])}
            home = {s["code"]: share[m["code"]] for m in definition["municipalities"] for s in m["stations"]}
            forms = 0
            with contextlib.ExitStack() as stack:
                outs = [stack.enter_context(gzip.open(p, "wt", compresslevel=1)) for p in paths]
                for station, contest, data in simulate_forms(definition, seed=args.seed):
                    outs[home[station]].write(json.dumps([station, contest, data]) + "\n")
                    forms += 1
            del home
        del definition

        with timed("ingest", times):
            statuses = run_workers(args, paths)
        saved = work / "state.json"
        saved.write_text(json.dumps({"times": times, "forms": forms, "statuses": statuses, "note": now()}))
        print(f"state after the ingest: {saved} (--resume {saved} reruns the later steps)", flush=True)
    if args.feed_only:
        forms_dir = args.resume.parent
        print(feed_phase(args, work, sorted(forms_dir.glob("forms-*.jsonl.gz")), forms))
        return
    stored = ResultForm.objects.filter(kind="preliminary").count()  # the feed's phase adds official ones
    assert stored == forms == sum(statuses.values()), (stored, forms, statuses)
    votes = ResultVote.objects.count()
    prefs = ResultPreference.objects.count()

    with timed("statistics", times):
        statistics_gather(connection)
    copy_s = copy_baseline(connection, work)

    with timed("recompute", times):
        diffs = tally_recompute()
    assert diffs == [], diffs[:5]
    election = Election.objects.defer("definition_packed").get(code="sim")
    contests = list(election.rounds.get(code="r1").contests.order_by("pk").values_list("pk", flat=True))
    with timed("tabulate", times):
        tabulated = tabulate(contests, args.workers)
    assert tabulated == len(contests), (tabulated, len(contests))
    if args.no_publish:
        print(times)
        return
    with timed("publish", times):
        written = snapshot_publish_to(work / "snapshot", actor="bench", workers=args.workers)

    feed = None
    if args.feed_forms:
        forms_dir = args.resume.parent if args.resume else work
        paths = sorted(forms_dir.glob("forms-*.jsonl.gz"))
        feed = feed_phase(args, work, paths, forms)
    sampler.stop.set()
    sampler.sample()

    count_s = times["ingest"] + times["statistics"] + times["recompute"] + times["tabulate"] + times["publish"]
    command = (
        f"bench/bench_national.py --stations {args.stations} --municipalities {args.municipalities} "
        f"--workers {args.workers}"
    )
    rate = forms / times["ingest"]
    rows = [
        ("Simulate the definition (setup)", times["simulate the definition"], ""),
        (
            "Load the definition (setup)",
            times["load the definition"],
            f"{args.stations / times['load the definition']:,.0f} stations/s",
        ),
        ("Simulate the forms into one file per worker (setup)", times["simulate the forms"], ""),
        (
            f"**Ingest**: {args.workers} workers, bulk service in batches of {args.batch:,} (parse, reconcile and "
            "quarantine checks, running tallies, one audit entry per form, durable commit)",
            times["ingest"],
            f"**{rate:,.0f} forms/s**",
        ),
        (
            "Statistics: `ANALYZE` of Tallyroom's tables (what autovacuum does on a production server; this "
            "machine's PostgreSQL runs without it)",
            times["statistics"],
            "",
        ),
        ("Baseline: plain COPY of the same form, vote and preference rows", copy_s, f"{forms / copy_s:,.0f} forms/s"),
        (
            "**Full recomputation** of every tally from the stored forms (equal to the running tallies)",
            times["recompute"],
            "",
        ),
        (
            f"Tabulate: results of all {len(contests):,} contests (seats, open lists, mayors) by {args.workers} "
            "processes",
            times["tabulate"],
            "",
        ),
        (
            f"Publish: a signed snapshot of the public site by {args.workers} processes ({written.files:,} files, "
            f"{written.size / MIB:,.0f} MiB: election and municipality pages in 3 languages, every municipality's "
            "data files; station pages answered live at this scale)",
            times["publish"],
            "",
        ),
        ("**The count: ingest + statistics + recompute + tabulate + publish**", count_s, "goal ≤ 600 s"),
    ]
    table = "\n".join(f"| {a} | {b:,.1f} s | {c} |" for a, b, c in rows)
    body = (
        f"Command: `.venv/bin/python {command}` (PostgreSQL {connection.pg_version // 10000}, its own database). "
        "Written by the script.\n\n"
        f"- Date: {now()}\n- Machine: {machine()}\n"
        f"- Election: {args.stations:,} stations in {args.municipalities:,} municipalities, two contests each "
        f"(mayor, assembly): {forms:,} forms with {votes:,} vote rows and {prefs:,} preference rows (simulated, "
        f"seed {args.seed}). Outcomes: {', '.join(f'{v:,} {k}' for k, v in sorted(statuses.items()))}.\n"
        f"- Ratio of the ingest rate to COPY's: **{copy_s / times['ingest']:.3f}**.\n"
        + (
            f"- Resumed after the ingest (`--resume`): the setup and ingest figures are the first part's, "
            f"recorded when it ended ({state.get('note', 'time not recorded')}); the later steps ran again on "
            "the same database.\n"
            if state is not None
            else ""
        )
        + "\n"
        "| Step | Time | Rate |\n|---|---:|---:|\n"
        + table
        + "\n\n"
        + (feed or "")
        + "Peak resident memory (VmRSS, sampled twice a second; PostgreSQL's figures include the shared "
        "buffers a process has touched; forked renderers count the pages they share with the bench):\n\n"
        + sampler.table()
    )
    print(body)
    if not args.no_write:
        write_section("National scale: the whole count end to end (PostgreSQL)", body)


def run_workers(args: Any, paths: list[Path], extra: list[list[str]] | None = None) -> Counter[str]:
    """One worker process (this script with `--worker`) per forms file, with its `extra` options;
    returns their outcome counts summed."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                str(p),
                "--database",
                args.database,
                "--batch",
                str(args.batch),
                *(extra[i] if extra else []),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i, p in enumerate(paths)
    ]
    statuses: Counter[str] = Counter()
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"worker failed ({proc.returncode})")
        statuses.update(json.loads(out.strip().splitlines()[-1]))
    return statuses


def feed_phase(args: Any, work: Path, paths: list[Path], forms: int) -> str:
    """After the count: the results feed (`tallyroom publish --feed`) runs while the workers send the
    official forms of `--feed-forms` stations in batches; the freshness of each batch is the time
    from its commit to the first feed whose chain head reaches it."""
    from bench_freshness import Watcher, pct
    from report import SERVER

    root = work / "feed-root"
    env = {**os.environ, "DATABASE_URL": f"{SERVER}/{args.database}", "TALLYROOM_DATA_DIR": str(work / "data")}
    watcher = Watcher(root / ".feed")
    watcher.thread.start()
    command = [sys.executable, "-m", "tallyroom.cli", "publish", "--feed", "--root", str(root)]
    feeder = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        while not watcher.seen and time.monotonic() - started < 900:
            time.sleep(0.05)
        first_s = time.monotonic() - started
        logs = [work / f"commits-{i}.log" for i in range(len(paths))]
        per_worker = args.feed_forms // len(paths)
        stride = max(1, forms // len(paths) // per_worker)
        began = time.monotonic()
        extra = ["--official", str(per_worker), "--stride", str(stride), "--pick", str(args.feed_pick % stride)]
        statuses = run_workers(args, paths, [[*extra, "--log", str(log)] for log in logs])
        ingest_s = time.monotonic() - began
        batches = [tuple(map(float, line.split())) for log in logs for line in log.read_text().splitlines()]
        last = max(int(seq) for _, seq, _ in batches)
        drain = time.monotonic() + 120
        while watcher.shown_at(last) is None and time.monotonic() < drain:
            time.sleep(0.05)
    finally:
        feeder.terminate()
        feeder.wait(timeout=60)
        watcher.stop.set()
    fresh: list[float] = []
    missing = 0
    for at, seq, n in batches:
        shown = watcher.shown_at(int(seq))
        if shown is None:
            missing += int(n)
        else:
            fresh += [max(0.0, shown - at)] * int(n)
    first, last_commit = min(at for at, _, _ in batches), max(at for at, _, _ in batches)
    during = [at for at, _ in watcher.seen if first <= at <= last_commit]  # not the workers' reading of their files
    gaps = [b - a for a, b in itertools.pairwise(during)]
    sent = sum(int(n) for _, _, n in batches)
    outcomes = ", ".join(f"{v:,} {k}" for k, v in sorted(statuses.items()))
    return (
        "**The results feed under the national ingest** (`publish/feed.py`, run by `tallyroom publish --feed`): "
        f"after the count, {sent:,} official forms ({outcomes}) were sent by {len(paths)} workers in batches of "
        f"{args.batch:,} at {sent / ingest_s:,.0f} forms/s while the feed process cut feeds one after the other. "
        f"The forms are every {stride}th of each worker's file, shuffled, so that every batch holds forms of "
        "nearly all of its worker's municipalities, as forms arrive on the night: each feed rewrites nearly "
        "every municipality. A batch is fresh when the feed's `current` link names a feed whose chain head "
        "reaches the batch's commit (every form of a batch counts once).\n\n"
        "| Measure | Figure |\n|---|---:|\n"
        f"| First feed from scratch (every contest of the election) | {first_s:.1f} s |\n"
        "| Feeds between the first and the last commit; time between two, median / p95 "
        f"| {len(during)}; {pct(gaps, 0.5):.2f} s / {pct(gaps, 0.95):.2f} s |\n"
        f"| Freshness p50 / **p95** / p99 / max | {pct(fresh, 0.5):.2f} s / **{pct(fresh, 0.95):.2f} s** / "
        f"{pct(fresh, 0.99):.2f} s / {max(fresh, default=float('nan')):.2f} s (goal p95 ≤ 2 s) |\n"
        f"| Forms not shown within 120 s of the last commit | {missing:,} |\n\n"
    )


def statistics_gather(connection: Any) -> None:
    """`ANALYZE` the tables of Tallyroom's models. The ingest filled them from empty; without
    statistics PostgreSQL plans for a few rows (nested loops over millions). On a production server
    autovacuum gathers them as the tables grow; this machine's PostgreSQL runs with autovacuum off."""
    from django.apps import apps

    tables = sorted({m._meta.db_table for m in apps.get_models() if m._meta.managed and not m._meta.proxy})
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def tabulate(contest_ids: list[int], workers: int) -> int:
    """Every contest's results (`results.tabulation.contests_results`, a hundred per read), shared among
    `workers` forked processes, each on its own connection."""
    from django.db import connections

    connections.close_all()
    parts = [contest_ids[i::workers] for i in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return sum(pool.map(_tabulate_part, parts))


def _tabulate_part(contest_ids: list[int]) -> int:
    from django.db import connections

    from tallyroom.results.tabulation import contests_results

    try:
        done = 0
        for start in range(0, len(contest_ids), TABULATE_CHUNK):
            done += len(contests_results(contest_ids[start : start + TABULATE_CHUNK]))
        return done
    finally:
        connections.close_all()


def copy_baseline(connection: Any, work: Path) -> float:
    """Dump the stored form, vote and preference rows to files, then time COPYing them into plain
    tables: the fastest way the same rows get into PostgreSQL."""
    tables = {
        "copy_forms": (
            "station bigint, contest bigint, valid int, invalid int",
            "SELECT station_id, contest_id, valid, invalid FROM results_resultform",
        ),
        "copy_votes": (
            "form bigint, choice bigint, votes int",
            "SELECT form_id, entity_id, votes FROM results_resultvote",
        ),
        "copy_prefs": (
            "form bigint, choice bigint, votes int",
            "SELECT form_id, candidate_id, votes FROM results_resultpreference",
        ),
    }
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for table, (columns, select) in tables.items():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TABLE {table} ({columns})")
            with (work / table).open("wb") as out, raw.copy(f"COPY ({select}) TO STDOUT") as copy:
                for block in copy:
                    out.write(block)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for table in tables:
            with (work / table).open("rb") as source, raw.copy(f"COPY {table} FROM STDIN") as copy:
                while block := source.read(1 << 20):
                    copy.write(block)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
