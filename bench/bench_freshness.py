"""Freshness under ingest load: from a form's acknowledgement to the public snapshot that shows it.

    .venv/bin/python bench/bench_freshness.py            # writes its section of BENCHMARKS.md
    .venv/bin/python bench/bench_freshness.py --seconds 30 --rates 5 --no-write

Creates (and drops) its own PostgreSQL database on TALLYROOM_BENCH_POSTGRES, loads a simulated
election (demo-sized: 2,600 stations in 38 municipalities, `--stations` to change), gives every
station's chair a device token, then runs `tallyroom serve` with its live publisher. N clients post
single forms at a paced rate, one phase per rate of `--rates`; for every acknowledged form the audit
entry's position is noted, and a watcher follows the snapshot root's `current` link (what the
server answers public reads from): a form is fresh once the current snapshot's chain head reaches
its entry. Freshness is the time from the acknowledgement to that moment. Peak memory of every
process is sampled throughout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import drop_database, setup_chairs, wait_until_up
from report import (
    ROOT,
    MemorySampler,
    django_setup,
    free_port,
    fresh_database,
    machine,
    now,
    postgres_group,
    write_section,
)

SEED = 13
MUNICIPALITIES = 38
DEFAULTS: dict[str, Any] = {
    "stations": 2_600,
    "clients": 8,
    "rates": "2,10,50",
    "seconds": 90.0,
    "database": "tallyroom_bench_fresh",
    "snapshots_in": "/dev/shm",  # noqa: S108 (a private mkdtemp folder is made in it)
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


class Watcher:
    """Follows the `current` symlink of the server's snapshot root (what the server answers from on
    its next request) every 10 ms; remembers when each snapshot's chain head was first seen."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: list[tuple[float, int]] = []  # (time, head) whenever the head moved
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = ""
        while not self.stop.wait(0.01):
            try:
                name = os.readlink(self.root / "current")
                if name == last:
                    continue
                at = time.monotonic()
                manifest = json.loads((self.root / name / "manifest.json").read_bytes())
            except (OSError, ValueError):
                continue
            last = name
            self.seen.append((at, int(manifest["audit_head"]["seq"])))

    def shown_at(self, seq: int) -> float | None:
        return next((at for at, head in self.seen if head >= seq), None)


def post_forms(
    port: int, calls: list[tuple[str, bytes, dict[str, str]]], clients: int, until: float, rate: float
) -> list[Any]:
    """Clients post forms until `until`, together at most `rate` forms a second (0: as fast as the
    server answers); returns (ack time, form id) for every 201."""
    started = time.monotonic()
    lock = threading.Lock()
    position = iter(range(len(calls)))
    acks: list[tuple[float, int]] = []
    errors: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.monotonic() < until:
            with lock:
                i = next(position, None)
            if i is None:
                break
            if rate > 0:  # the i-th form is due i/rate seconds in; late clients do not wait
                time.sleep(max(0.0, started + i / rate - time.monotonic()))
            path, body, headers = calls[i]
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                answer = response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                continue
            at = time.monotonic()
            with lock:
                if response.status == 201:
                    acks.append((at, int(json.loads(answer)["id"])))
                else:
                    errors.append(f"{response.status}: {answer[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{len(errors)} forms refused, first: {errors[:3]}")
    return acks


def entry_seqs(form_ids: list[int]) -> dict[int, int]:
    """Each form's audit entry position (its submission)."""
    from tallyroom.audit.models import AuditEntry

    rows = AuditEntry.objects.filter(object_type="result_form", object_id__in=[str(i) for i in form_ids])
    seqs: dict[int, int] = {}
    for object_id, seq in rows.values_list("object_id", "seq"):
        seqs[int(object_id)] = min(seq, seqs.get(int(object_id), seq))
    return seqs


@dataclass
class Phase:
    rate: float
    wall: float
    acks: list[tuple[float, int]]
    seqs: dict[int, int]
    started: float  # monotonic
    ended: float
    wall_start: dt.datetime = field(init=False)
    wall_end: dt.datetime = field(init=False)

    def __post_init__(self) -> None:  # the phase's window on the wall clock, for the publications' rows
        offset = time.time() - time.monotonic()
        self.wall_start = dt.datetime.fromtimestamp(self.started + offset, dt.UTC)
        self.wall_end = dt.datetime.fromtimestamp(self.ended + offset, dt.UTC)


def serving_group(pid: int, me: int, cmd: str) -> str | None:
    if pid == me:
        return "load generator and watcher"
    if "publish --lagging" in cmd:
        return "publisher: lagging files"
    if "publish --feed" in cmd:
        return "publisher: results feed"
    if "publish --watch" in cmd:
        return "publisher: pages"
    if "granian" in cmd or "tallyroom serve" in cmd or " serve --port" in cmd:
        return "tallyroom serve (granian, each process)"
    return postgres_group(cmd)


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=DEFAULTS["stations"])
    parser.add_argument("--clients", type=int, default=DEFAULTS["clients"])
    parser.add_argument(
        "--rates", default=DEFAULTS["rates"], help="load phases, one after the other: forms/s in all (0: flat out)"
    )
    parser.add_argument("--seconds", type=float, default=DEFAULTS["seconds"], help="how long each phase lasts")
    parser.add_argument("--database", default=DEFAULTS["database"])
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--snapshots-in",
        default=DEFAULTS["snapshots_in"],
        help="folder for the snapshot root: a tmpfs as docs/deployment.md advises, or 'disk' for a temporary folder",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the server on the way out
    load_start = os.getloadavg()

    fresh_database(args.database)
    django_setup(args.database)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from tallyroom.elections.models import Election
    from tallyroom.elections.services import election_load
    from tallyroom.elections.simulate import simulate_definition, simulate_forms

    call_command("migrate", verbosity=0)
    definition = simulate_definition(args.stations, MUNICIPALITIES, seed=SEED)
    election_load(definition)
    election = Election.objects.get(code="sim")
    forms = list(simulate_forms(definition, seed=SEED))
    random.Random(SEED).shuffle(forms)
    tokens = setup_chairs(election, sorted({s for s, _, _ in forms}))
    calls = [
        (
            "/api/v1/result-forms",
            json.dumps({"election": "sim", "station": s, "contest": c, **data}).encode(),
            {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {tokens[s]}",
                "Idempotency-Key": f"f-{s}-{c}",
            },
        )
        for s, c, data in forms
    ]
    connection.close()

    data_dir = tempfile.mkdtemp(prefix="bench_fresh_")
    on_disk = args.snapshots_in == "disk"
    snapshot_root = Path(data_dir if on_disk else tempfile.mkdtemp(prefix="bench_fresh_", dir=args.snapshots_in))
    snapshot_root = snapshot_root / "snapshots"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "TALLYROOM_ACCESS_LOG"}
    env["TALLYROOM_DATA_DIR"] = data_dir
    env["TALLYROOM_SNAPSHOT_ROOT"] = str(snapshot_root)
    log = tempfile.NamedTemporaryFile(prefix="bench_fresh_", suffix=".log", delete=False)  # noqa: SIM115
    command = [str(ROOT / ".venv/bin/tallyroom"), "serve", "--port", str(port), "--workers", "2", "--threads", "4"]
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(port, proc, 2)
        sampler = MemorySampler(serving_group)
        sampler.start()
        watcher = Watcher(snapshot_root)
        watcher.thread.start()
        feed_watcher = Watcher(snapshot_root / ".feed")  # the results feed (publish/feed.py)
        feed_watcher.thread.start()
        t = time.monotonic()
        while not watcher.seen and time.monotonic() - t < 900:  # the first, complete snapshot
            time.sleep(0.5)
        cold_s = time.monotonic() - t
        phases: list[Phase] = []
        offset = 0
        for rate in [float(r) for r in args.rates.split(",")]:
            started = time.monotonic()
            acks = post_forms(port, calls[offset:], args.clients, started + args.seconds, rate)
            wall = time.monotonic() - started
            offset += len(acks)
            seqs = entry_seqs([i for _, i in acks])
            drain = time.monotonic() + 60
            while time.monotonic() < drain and (watcher.shown_at(max(seqs.values(), default=0)) is None):
                time.sleep(0.2)
            phases.append(Phase(rate, wall, acks, seqs, started, time.monotonic()))
        watcher.stop.set()
        feed_watcher.stop.set()
        sampler.stop.set()
        sampler.sample()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)  # the server's data (its snapshots too with `disk`)
        shutil.rmtree(snapshot_root.parent, ignore_errors=True)
    load_end = os.getloadavg()

    from tallyroom.publish.models import Publication

    rows = []
    feed_rows = []
    for phase in phases:
        fresh = [
            max(0.0, shown - at)
            for at, form_id in phase.acks
            if (shown := watcher.shown_at(phase.seqs[form_id])) is not None
        ]
        missing = len(phase.acks) - len(fresh)
        in_feed = [
            max(0.0, shown - at)
            for at, form_id in phase.acks
            if (shown := feed_watcher.shown_at(phase.seqs[form_id])) is not None
        ]
        feed_rows.append(
            f"| {phase.rate:g} | {len(phase.acks):,} | {pct(in_feed, 0.5):.2f} s | **{pct(in_feed, 0.95):.2f} s** "
            f"| {pct(in_feed, 0.99):.2f} s | {max(in_feed, default=float('nan')):.2f} s "
            f"| {len(phase.acks) - len(in_feed)} "
            f"| {sum(1 for at, _ in feed_watcher.seen if phase.started <= at <= phase.ended)} |"
        )
        durations = [
            p.seconds
            for p in Publication.objects.filter(created_at__gte=phase.wall_start, created_at__lte=phase.wall_end)
        ]
        rows.append(
            f"| {phase.rate:g} | {len(phase.acks):,} | {len(phase.acks) / phase.wall:.1f} "
            f"| {pct(fresh, 0.5):.2f} s | **{pct(fresh, 0.95):.2f} s** | {pct(fresh, 0.99):.2f} s "
            f"| {max(fresh, default=float('nan')):.2f} s | {missing} | {len(durations)} "
            f"| {pct(durations, 0.5):.2f} s | {pct(durations, 0.95):.2f} s |"
        )
    pg = connection.pg_version // 10000
    connection.close()
    if not args.keep_database:
        drop_database(args.database)

    shown_args = ["bench/bench_freshness.py"]
    for name, default in DEFAULTS.items():
        if getattr(args, name) != default:
            shown_args.append(f"--{name.replace('_', '-')} {getattr(args, name)}")
    body = (
        f"Command: `.venv/bin/python {' '.join(shown_args)}` (PostgreSQL {pg}, its own database). "
        "Written by the script.\n\n"
        f"- Date: {now()}\n- Machine: {machine()}\n"
        f"- Load average at the start {' '.join(f'{x:.2f}' for x in load_start)}, at the end "
        f"{' '.join(f'{x:.2f}' for x in load_end)}. Server, publisher, database and load generator share the "
        "machine.\n"
        f"- Snapshot root: {'a temporary folder on the local disk' if on_disk else args.snapshots_in + ' (tmpfs)'}. "
        "Every page is a folder, so a snapshot makes thousands of folders: a mkdir costs 5 µs on tmpfs and "
        "40-180 µs on this VM's ext4, more the more the disk has been used, so on disk the figures moved "
        "from run to run by a factor of 3 (docs/deployment.md: the live snapshot root on a tmpfs).\n"
        f"- Election: {args.stations:,} simulated stations in {MUNICIPALITIES} municipalities (seed {SEED}), "
        "three languages.\n"
        f"- Server: `tallyroom serve --workers 2 --threads 4` with its live publisher (debounce "
        f"{settings.TALLYROOM_PUBLISH_DEBOUNCE} s, election-wide files every "
        f"{settings.TALLYROOM_PUBLISH_NATIONAL_EVERY:.0f} s); first complete snapshot in {cold_s:.0f} s, "
        "before the load.\n"
        f"- Load: {args.clients} clients posting single forms (device token, Idempotency-Key), one phase "
        f"of {args.seconds:.0f} s per rate, paced at that many forms/s in all (for scale: Kosovo's 5,200 "
        "forms spread over three hours of counting would be 0.5 forms/s).\n"
        "- Freshness: from a form's 201 to the first moment the snapshot root's `current` link (what the "
        "server answers public reads from) names a snapshot whose chain head reaches the form's audit "
        "entry (its station's and municipality's pages; the lagging election-wide pages and data files "
        "follow within the lag interval); followed every 10 ms.\n\n"
        "| Rate asked (forms/s) | Forms | Forms/s | Freshness p50 | p95 | p99 | max | Not shown within 60 s "
        "| Snapshots | Snapshot p50 | p95 |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )
    body += (
        "\nThe results feed (`publish/feed.py`: every municipality's results as the API gives them, and an index "
        "of every contest's headline, signed and cut at one chain position) in the same run: from a form's 201 "
        "to the first moment the feed's `current` link names a feed whose chain head reaches the form's entry.\n\n"
        "| Rate asked (forms/s) | Forms | Feed freshness p50 | p95 | p99 | max | Not shown within 60 s | Feeds |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(feed_rows) + "\n"
    )
    body += (
        "\nPeak resident memory during the run (VmRSS, sampled twice a second; PostgreSQL's figures include "
        "the shared buffers a process has touched):\n\n" + sampler.table()
    )
    print(body)
    if not args.no_write:
        write_section("Freshness: a form's acknowledgement to the public snapshot (PostgreSQL)", body)


if __name__ == "__main__":
    main()
