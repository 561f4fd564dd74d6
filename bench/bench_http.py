"""Result forms over real HTTP on PostgreSQL: the chair's single endpoint and the bulk endpoint.

    .venv/bin/python bench/bench_http.py

Creates (and drops) its own database on TALLYROOM_BENCH_POSTGRES (default
postgresql://postgres@127.0.0.1:5432), loads a simulated election, gives every station's chair a
device token, then starts `tallyroom serve` (granian, as in production; no live publisher) and
drives it from this process: threads with keep-alive connections (http.client), each POSTing one
station's form with its device token and an Idempotency-Key, at 8 and at 64 concurrent clients.
Every answer is checked (201 and the form it names), and afterwards every form is counted in the
database and the running tallies are recomputed. In the same run: the bulk endpoint (batches of
5,000 forms, one client) and the server's ceiling, a static file through the same server and
the same load generator.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import ROOT, SERVER, django_setup, free_port, fresh_database, machine, now, write_section

STATIC = "/static/tallyroom/site.css"
SEED = 11
MUNICIPALITIES = 38  # Kosovo's: the tallies of a contest are locked per write, so this sets contention


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]
    check: Callable[[int, dict[str, str], bytes], str]  # "" when the answer is right, else why not


@dataclass
class Run:
    clients: int
    wall_s: float
    latencies: list[float]
    client_cpu_s: float
    server_cpu_s: float
    db_cpu_s: float
    errors: list[str] = field(default_factory=list)
    retries: int = 0
    answers: list[bytes] = field(default_factory=list)

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


def drive(port: int, calls: Sequence[Call], clients: int, server_pids: Sequence[int], database: str = "") -> Run:
    """Send every call once, from `clients` threads with one keep-alive connection each."""
    lock = threading.Lock()
    position = iter(range(len(calls)))
    latencies: list[float] = [0.0] * len(calls)
    answers: list[bytes] = [b""] * len(calls)
    errors: list[str] = []
    retries = [0]
    start = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        start.wait()
        while True:
            with lock:
                i = next(position, None)
            if i is None:
                break
            call = calls[i]
            for attempt in range(4):
                t = time.perf_counter()
                try:
                    conn.request(call.method, call.path, call.body, call.headers)
                    response = conn.getresponse()
                    body = response.read()
                except (http.client.HTTPException, OSError):
                    # A closed keep-alive connection: reconnect and resend (the key makes it safe).
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                    with lock:
                        retries[0] += 1
                    if attempt == 3:
                        raise
                    continue
                latencies[i] = time.perf_counter() - t
                answers[i] = body
                problem = call.check(response.status, dict(response.getheaders()), body)
                if problem:
                    with lock:
                        errors.append(f"{call.method} {call.path}: {problem}")
                break
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    with BackendCpu(database) as db:
        cpu0, server0 = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(server_pids)
        start.wait()
        t0 = time.perf_counter()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - t0
        cpu1, server1 = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(server_pids)
    client_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    return Run(clients, wall, latencies, client_cpu, server1 - server0, db.seconds, errors, retries[0], answers)


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of these processes (the server process and its workers)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class BackendCpu:
    """CPU of the PostgreSQL backends serving the benchmark's database during a phase. Backends come
    and go (Django reconnects after CONN_MAX_AGE), so they are sampled a few times a second."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.started = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _sample(self, conn: Any, *, start: bool = False) -> None:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database]).fetchall()
        for (pid,) in rows:
            cpu = cpu_seconds([int(pid)])
            self.first.setdefault(int(pid), cpu if start else 0.0)
            if cpu:  # 0 once the process is gone: keep the last value seen
                self.last[int(pid)] = cpu

    def _watch(self) -> None:
        import psycopg

        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            self._sample(conn, start=True)
            self.started.set()
            while not self.stop.wait(0.25):
                self._sample(conn)
            self._sample(conn)

    def __enter__(self) -> BackendCpu:
        self.thread.start()
        self.started.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.last.get(pid, first) - first for pid, first in self.first.items())


def server_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [master, *(int(p) for p in children.read_text().split())] if children.exists() else [master]


def wait_until_up(port: int, proc: subprocess.Popen[bytes], workers: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", STATIC)
            if conn.getresponse().status == 200 and len(server_pids(proc.pid)) > workers:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not come up within 120 s")


def setup_chairs(election: Any, codes: Sequence[str]) -> dict[str, str]:
    """A chair per station with a device token, through the services (audited); returns the tokens."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.db import transaction

    from tallyroom.accounts.models import Role
    from tallyroom.accounts.services import user_grant_role
    from tallyroom.accounts.tokens import device_token_issue
    from tallyroom.elections.models import PollingStation, Round

    first = Round.objects.get(election=election, kind=Round.Kind.FIRST)
    stations = {s.code: s for s in PollingStation.objects.filter(election=election, code__in=codes)}
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    tokens: dict[str, str] = {}
    with transaction.atomic():
        # No usable password (a chair's device uses its token): hashing thousands is not the point.
        users = User.objects.bulk_create([User(username=f"chair-{c}", password=make_password(None)) for c in codes])
        for user, code in zip(users, codes, strict=True):
            user_grant_role(user, election, Role.CHAIR, station=stations[code], actor="bench")
            _row, token = device_token_issue(
                user=user, station=stations[code], round_=first, expires_at=expires, actor="bench"
            )
            tokens[code] = token
    return tokens


def admin_cookies(election: Any) -> dict[str, str]:
    """The commission's signed-in session and CSRF token, as a browser holding them would send."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.middleware.csrf import _get_new_csrf_string
    from django.test import Client

    from tallyroom.accounts.models import Role
    from tallyroom.accounts.services import user_grant_role

    user = User.objects.create(username="bench-admin", password=make_password(None))
    user_grant_role(user, election, Role.ADMIN, actor="bench")
    client = Client()
    client.force_login(user)
    _pass_second_factor(client, user)
    csrf = _get_new_csrf_string()
    return {
        "Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
    }


def _pass_second_factor(client: Any, user: Any) -> None:
    """Record in the session that it proved a TOTP code, as the code page does (django_otp.login)."""
    try:
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from tallyroom.accounts.twofactor import DEVICE_NAME, needs_2fa
    except ImportError:  # a build without the second factor
        return
    if not needs_2fa(user):
        return
    device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def check_form(station: str, contest: str) -> Callable[[int, dict[str, str], bytes], str]:
    def check(status: int, headers: dict[str, str], body: bytes) -> str:
        if status != 201:
            return f"status {status}: {body[:300]!r}"
        data = json.loads(body)
        if (data.get("station"), data.get("contest")) != (station, contest):
            return f"answer names {data.get('station')}/{data.get('contest')}"
        if data.get("outcome") not in {"accepted", "quarantined"} or data["state"] != data["outcome"]:
            return f"outcome {data.get('outcome')} state {data.get('state')}"
        if not isinstance(data.get("id"), int):
            return "no form id"
        return ""

    return check


def check_bulk(expected: int) -> Callable[[int, dict[str, str], bytes], str]:
    def check(status: int, headers: dict[str, str], body: bytes) -> str:
        if status != 200:
            return f"status {status}: {body[:300]!r}"
        data = json.loads(body)
        bad = [i for i in data["items"] if i["status"] not in {"accepted", "quarantined"} or not i["form_id"]]
        if data["count"] != expected or len(data["items"]) != expected or bad:
            return f"count {data['count']}, {len(bad)} not stored, first: {bad[:1]}"
        return ""

    return check


def check_static(size: int) -> Callable[[int, dict[str, str], bytes], str]:
    def check(status: int, headers: dict[str, str], body: bytes) -> str:
        return "" if status == 200 and len(body) == size else f"status {status}, {len(body)} bytes"

    return check


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser()
    parser.add_argument("--forms", type=int, default=3_000, help="single-endpoint forms per concurrency level")
    parser.add_argument("--clients", default="8,64", help="concurrency levels, comma-separated")
    parser.add_argument("--bulk-forms", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--baseline-requests", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3, help="server workers (tallyroom serve --workers)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (tallyroom serve --threads)")
    parser.add_argument("--database", default="tallyroom_bench_http")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the server on the way out
    load_start = os.getloadavg()

    fresh_database(args.database)
    django_setup(args.database)
    from django.core.management import call_command
    from django.db import connection

    from tallyroom.elections.models import Election
    from tallyroom.elections.services import election_load
    from tallyroom.elections.simulate import simulate_definition, simulate_forms

    call_command("migrate", verbosity=0)
    per_level = math.ceil(args.forms / 2)  # two contests per station
    bulk_stations = math.ceil(args.bulk_forms / 2)
    total = per_level * len(levels) + bulk_stations
    definition = simulate_definition(total, MUNICIPALITIES, seed=SEED)
    election_load(definition)
    election = Election.objects.get(code="sim")
    rng = random.Random(SEED)  # a reproducible order
    forms = list(simulate_forms(definition, seed=SEED))
    codes = sorted({s for s, _, _ in forms})
    rng.shuffle(codes)
    groups = [codes[i * per_level : (i + 1) * per_level] for i in range(len(levels))]
    bulk_codes = set(codes[len(levels) * per_level :])
    t = time.perf_counter()
    tokens = setup_chairs(election, [c for g in groups for c in g])
    setup_s = time.perf_counter() - t
    cookies = admin_cookies(election)

    single_calls: list[list[Call]] = []
    for group in groups:
        members = set(group)
        calls = [
            Call(
                "POST",
                "/api/v1/result-forms",
                json.dumps({"election": "sim", "station": s, "contest": c, **data}).encode(),
                {
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {tokens[s]}",
                    "Idempotency-Key": f"bench-{s}-{c}",
                },
                check_form(s, c),
            )
            for s, c, data in forms
            if s in members
        ]
        rng.shuffle(calls)  # stations report in no order; consecutive forms hit different contests
        single_calls.append(calls)
    bulk_items = [{"station": s, "contest": c, "form": data} for s, c, data in forms if s in bulk_codes]
    bulk_calls = [
        Call(
            "POST",
            "/api/v1/result-forms/bulk",
            json.dumps({"election": "sim", "forms": bulk_items[i : i + args.batch]}).encode(),
            {"Content-Type": "application/json", **cookies},
            check_bulk(len(bulk_items[i : i + args.batch])),
        )
        for i in range(0, len(bulk_items), args.batch)
    ]
    static_size = len((ROOT / "src/tallyroom/static/tallyroom/site.css").read_bytes())
    static_calls = [Call("GET", STATIC, None, {}, check_static(static_size))] * args.baseline_requests
    warm_calls = [
        Call("GET", f"/api/v1/results/{m['code']}", None, {}, lambda s, h, b: "" if s == 200 else f"status {s}")
        for m in definition["municipalities"]
    ]
    connection.close()

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "TALLYROOM_ACCESS_LOG"}  # no access log
    env["TALLYROOM_DATA_DIR"] = tempfile.mkdtemp(prefix="bench_http_")
    command = [
        str(ROOT / ".venv/bin/tallyroom"),
        "serve",
        "--no-publish",  # ingest alone: the publisher's cost is measured in bench_public.py
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
    ]
    log = tempfile.NamedTemporaryFile(prefix="bench_http_", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(port, proc, args.workers)
        pids = server_pids(proc.pid)
        db = args.database
        drive(port, warm_calls * 4, max(levels), pids, db)  # every worker thread opens its connection
        baseline = {n: drive(port, static_calls, n, pids, db) for n in levels}
        single = {n: drive(port, calls, n, pids, db) for n, calls in zip(levels, single_calls, strict=True)}
        bulk = drive(port, bulk_calls, 1, pids, db)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    load_end = os.getloadavg()

    problems = [e for run in [*baseline.values(), *single.values(), bulk] for e in run.errors]
    if problems:
        raise SystemExit(f"{len(problems)} wrong answers, first: {problems[:3]} (server log: {log.name})")
    sent = sum(len(c) for c in single_calls) + len(bulk_items)
    outcomes = check_stored([*single.values()], bulk, sent)
    pg = connection.pg_version // 10000
    connection.close()
    if not args.keep_database:
        drop_database(args.database)

    rows = [
        *(row("Baseline: a static file through the same server", baseline[n], "req") for n in levels),
        *(
            row("`POST /api/v1/result-forms` (device token, Idempotency-Key)", single[n], "forms", baseline[n])
            for n in levels
        ),
        row(f"`POST /api/v1/result-forms/bulk`, {args.batch:,} forms a request", bulk, "forms", forms=len(bulk_items)),
    ]
    shown = ["bench/bench_http.py"]
    for name, default in DEFAULTS.items():
        if getattr(args, name) != default:
            shown.append(f"--{name.replace('_', '-')} {getattr(args, name)}")
    body = (
        f"Command: `.venv/bin/python {' '.join(shown)}` (PostgreSQL {pg}, its own database). Written by the script.\n\n"
        f"- Date: {now()}\n- Machine: {machine()}\n"
        f"- Load average at the start {' '.join(f'{x:.2f}' for x in load_start)}, at the end "
        f"{' '.join(f'{x:.2f}' for x in load_end)}. Server, database and load generator share the 2 cores; "
        "a load above 2 before the start means other work inflated the figures.\n"
        f"- Server: `tallyroom serve --workers {args.workers} --threads {args.threads} --no-publish` "
        "(granian WSGI workers with blocking threads, keep-alive), `DEBUG` off, no access log.\n"
        f"- Election: {total:,} simulated stations in {MUNICIPALITIES} municipalities (seed {SEED}), two contests "
        f"each; each station's chair holds a device token ({len(tokens):,} issued through the services in "
        f"{setup_s:.0f} s, before timing).\n"
        "- Load generator: this process, one thread and one keep-alive connection (http.client) per client; "
        "each client takes the next form of a shuffled list (stations report in no order, so consecutive forms "
        "hit different contests, whose tallies each write locks). Latency is from sending the request to "
        "reading the whole answer.\n"
        "- Checked: every answer (201 and the station, contest and outcome it names; the bulk answer's "
        f"outcome per form); afterwards the database holds exactly the {sent:,} forms answered, and a full "
        "recomputation equals the running tallies. Outcomes: "
        + ", ".join(f"{v:,} {k}" for k, v in sorted(outcomes.items()))
        + ".\n\n"
        "| Endpoint | Clients | Requests | Wall | Rate | p50 | p99 | Ratio to the ceiling | CPU: server "
        "| CPU: PostgreSQL | CPU: load generator | Resent |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(rows)
        + f"\n\nThe ceiling is what this server and load generator do with no application work: WhiteNoise "
        f"answering a {static_size:,}-byte file. The ratio is forms per second over static requests per second "
        "at the same number of clients. CPU is user + system seconds during the phase: the server processes, "
        "the PostgreSQL backends serving them, this process. Resent counts requests sent again on a new "
        "connection after the server closed a keep-alive one (the Idempotency-Key makes that safe).\n"
    )
    print(body)
    if not args.no_write:
        write_section("Results over HTTP: single and bulk endpoints (PostgreSQL)", body)


DEFAULTS: dict[str, Any] = {
    "forms": 3_000,
    "clients": "8,64",
    "bulk_forms": 20_000,
    "batch": 5_000,
    "baseline_requests": 10_000,
    "workers": 3,
    "threads": 4,
    "database": "tallyroom_bench_http",
}


def check_stored(single: list[Run], bulk: Run, sent: int) -> Counter[str]:
    """No form lost: every answer's form is in the database and nothing else is; tallies exact."""
    from tallyroom.results.models import ResultForm
    from tallyroom.results.tally import tally_recompute

    outcomes: Counter[str] = Counter()
    answered: set[int] = set()
    for run in single:
        for body in run.answers:
            data = json.loads(body)
            outcomes[data["outcome"]] += 1
            answered.add(data["id"])
    for body in bulk.answers:
        for item in json.loads(body)["items"]:
            outcomes[item["status"]] += 1
            answered.add(item["form_id"])
    stored = set(ResultForm.objects.values_list("pk", flat=True))
    if stored != answered or len(stored) != sent:
        raise SystemExit(f"forms lost or extra: sent {sent}, answered {len(answered)}, stored {len(stored)}")
    diffs = tally_recompute()
    if diffs:
        raise SystemExit(f"running tallies differ from the forms: {diffs[:3]}")
    return outcomes


def row(what: str, run: Run, unit: str, ceiling: Run | None = None, forms: int | None = None) -> str:
    rate = (forms if forms is not None else len(run.latencies)) / run.wall_s
    ratio = f"{rate / (len(ceiling.latencies) / ceiling.wall_s):.3f}" if ceiling else ""
    return (
        f"| {what} | {run.clients} | {len(run.latencies):,} | {run.wall_s:.1f} s | **{rate:,.0f} {unit}/s** "
        f"| {run.pct(0.50):.1f} ms | {run.pct(0.99):.1f} ms | {ratio} | {run.server_cpu_s:.1f} s "
        f"| {run.db_cpu_s:.1f} s | {run.client_cpu_s:.1f} s | {run.retries} |"
    )


if __name__ == "__main__":
    main()
