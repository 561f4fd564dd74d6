"""Crash safety: result forms keep arriving while the server dies three times.

A real server (`tallyroom serve`: granian, two workers, own process group) serves a database of
its own on PostgreSQL.
Eight client threads post every station's two forms with device tokens and client keys; the
server is killed with SIGKILL (master and workers at once) three times during the load and
started again; a client retries a form with the same Idempotency-Key until it gets an answer.
Every tenth form is first sent on a connection dropped at once (a phone losing its signal), so
some forms are written but never acknowledged: their retry must get the kept answer. Then: each
acknowledged form is stored exactly once with the answer's id, every form has its vote rows, the
numbers sent and one audit entry, the running tallies equal a recomputation, and `tallyroom audit
verify` exits 0.

The database is cloned from pytest-django's migrated test database (a fresh `migrate` costs
half a minute); this module also runs as a script inside it to set up and to inspect.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIONS, MUNICIPALITIES, SEED = 120, 4, 11
CLIENTS = 8
KILLS = (0.2, 0.45, 0.7)  # SIGKILL when this share of the forms is acknowledged
ELECTION = "crash"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),  # creates the test database, and holds no transaction open
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="crash safety needs PostgreSQL: a server process and concurrent clients on one database",
    ),
]


# --- inside the server's database (run as a script) -----------------------------------------------


def _setup() -> dict[str, str]:
    """Load a simulated election; a chair and a device token for every station."""
    from django.contrib.auth import get_user_model

    from tallyroom.accounts.models import Role
    from tallyroom.accounts.services import user_grant_role
    from tallyroom.accounts.tokens import device_token_issue
    from tallyroom.elections.models import Election, PollingStation, Round
    from tallyroom.elections.services import election_load
    from tallyroom.elections.simulate import simulate_definition

    election_load(simulate_definition(STATIONS, MUNICIPALITIES, seed=SEED, code=ELECTION))
    election = Election.objects.get(code=ELECTION)
    round_ = Round.objects.get(election=election, kind=Round.Kind.FIRST)
    expires = dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=2)
    tokens = {}
    for station in PollingStation.objects.filter(election=election).select_related("municipality"):
        user = get_user_model().objects.create_user(f"chair-{station.code}")
        user_grant_role(user, election, Role.CHAIR, station=station)
        tokens[station.code] = device_token_issue(user=user, station=station, round_=round_, expires_at=expires)[1]
    return tokens


def _inspect() -> dict[str, Any]:
    """What is stored: each form's id, content (recomputed from its vote rows) and audit entries."""
    from django.db.models import Count

    from tallyroom.accounts.models import IdempotentRequest
    from tallyroom.audit.models import AuditEntry
    from tallyroom.results.content import ballot_of, parse_content
    from tallyroom.results.models import ResultForm
    from tallyroom.results.services import form_content

    forms = ResultForm.objects.filter(contest__round__election__code=ELECTION).select_related("station", "contest")
    entries = dict(
        AuditEntry.objects.filter(object_type="result_form")
        .values_list("object_id")
        .annotate(n=Count("id"))
        .values_list("object_id", "n")
    )
    stored = []
    for form in forms:
        sent = SENT[(form.station.code, form.contest.kind)]
        expected, problems = parse_content(sent, ballot_of(form.contest), "")
        assert expected is not None, problems
        stored.append(
            {
                "id": form.pk,
                "station": form.station.code,
                "contest": form.contest.kind,
                "state": form.state,
                "content_matches_sent": form_content(form).sha256() == expected.sha256() == form.content_sha256,
                "votes_rows": form.votes.count(),
                "audit_entries": entries.get(str(form.pk), 0),
            }
        )
    keys = list(IdempotentRequest.objects.filter(scope="result-form").values_list("key", "status_code", "response"))
    return {"forms": stored, "keys": [{"key": k, "status": s, "id": r.get("id")} for k, s, r in keys]}


def _sent() -> dict[tuple[str, str], dict[str, Any]]:
    from tallyroom.elections.simulate import simulate_definition, simulate_forms

    definition = simulate_definition(STATIONS, MUNICIPALITIES, seed=SEED, code=ELECTION)
    return {(station, contest): data for station, contest, data in simulate_forms(definition, seed=SEED)}


SENT: dict[tuple[str, str], dict[str, Any]] = {}


# --- the test -------------------------------------------------------------------------------------


def _url_with_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _psql(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(_url_with_name(url, "postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


@pytest.fixture
def crash_db(django_db_setup: None) -> Iterator[str]:
    """A database of its own, cloned from the (empty, migrated) test database."""
    from django.db import connection, connections

    template = connection.settings_dict["NAME"]
    name = f"{template}_crash"
    connections.close_all()  # a template must have no other sessions
    _psql(
        os.environ["DATABASE_URL"],
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}" TEMPLATE "{template}"',
    )
    try:
        yield _url_with_name(os.environ["DATABASE_URL"], name)
    finally:
        _psql(os.environ["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "tallyroom.settings",
        "TALLYROOM_SECRET_KEY": "crash-test-" + "k" * 40,
    }


def _script(url: str, action: str) -> Any:
    done = subprocess.run(
        [sys.executable, __file__, action], env=_env(url), cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`tallyroom serve` (granian, as in production; the live publisher off, its files would land in
    the checkout) in its own process group, so one killpg takes the server and every worker."""

    def __init__(self, url: str, port: int, log: Path) -> None:
        self.url, self.port, self.log = url, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "tallyroom", "serve", "--no-publish"),
                    *("--port", str(self.port), "--workers", "2", "--threads", "4"),
                ],
                env={**_env(self.url), "TALLYROOM_DATA_DIR": str(self.log.parent)},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _ready(self.port):
                    return
            except (OSError, http.client.HTTPException):
                pass
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError("the server did not start:\n" + self.log.read_text()[-3000:])

    def kill(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        # Orphaned workers die with the group; wait until none is left holding the port.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def _ready(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/api/v1/elections")
        return conn.getresponse().status == 200
    finally:
        conn.close()


def _post(port: int, body: Any, headers: dict[str, str]) -> tuple[int, Any, bool]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("POST", "/api/v1/result-forms", json.dumps(body), {"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, json.loads(response.read()), response.getheader("Idempotent-Replayed") == "true"
    finally:
        conn.close()


@pytest.fixture
def server(crash_db: str, tmp_path: Path) -> Iterator[Server]:
    running = Server(crash_db, _free_port(), tmp_path / "gunicorn.log")
    try:
        yield running
    finally:
        running.kill()


def _post_and_hang_up(port: int, body: Any, headers: dict[str, str]) -> None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request("POST", "/api/v1/result-forms", json.dumps(body), {"Content-Type": "application/json", **headers})
        conn.close()
    except OSError:
        pass  # the server is down: the form was not sent


def test_acknowledged_forms_survive_three_kills(crash_db: str, server: Server) -> None:
    tokens = _script(crash_db, "setup")
    jobs: queue.Queue[tuple[str, str, str, bool]] = queue.Queue()
    for index, (station, contest) in enumerate(_sent()):
        # Every tenth phone loses its connection once right after sending: written, never answered.
        jobs.put((station, contest, str(uuid.uuid4()), index % 10 == 0))
    total = jobs.qsize()
    acked: dict[str, dict[str, Any]] = {}  # client key -> the answer's body
    refused: list[str] = []
    retries = [0]
    lock = threading.Lock()
    server.start()

    def client() -> None:
        while True:
            try:
                station, contest, key, hang_up = jobs.get_nowait()
            except queue.Empty:
                return
            body = {"station": station, "contest": contest, **_sent_cached()[(station, contest)]}
            headers = {"Authorization": f"Bearer {tokens[station]}", "Idempotency-Key": key}
            if hang_up:
                _post_and_hang_up(server.port, body, headers)
                time.sleep(0.3)
            while True:
                try:
                    status, answer, replayed = _post(server.port, body, headers)
                except (OSError, http.client.HTTPException):
                    status, answer, replayed = 0, None, False  # the server died under us: again, same key
                if status in (200, 201):
                    with lock:
                        acked[key] = {**answer, "replayed": replayed}
                    break
                if 400 <= status < 500:
                    with lock:
                        refused.append(f"{station} {contest}: {status} {answer}")
                    break
                with lock:
                    retries[0] += 1
                time.sleep(0.1)

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    restarts = []
    for share in KILLS:
        while len(acked) < share * total and any(t.is_alive() for t in threads):
            time.sleep(0.005)
        down = time.monotonic()
        server.kill()
        server.start()
        restarts.append(time.monotonic() - down)
    for thread in threads:
        thread.join(timeout=120)
    load_s = time.monotonic() - started
    server.kill()

    assert not refused, refused
    assert len(acked) == total
    print(f"\n{total} forms in {load_s:.1f} s; killed and back in {', '.join(f'{r:.1f}' for r in restarts)} s")
    replayed = sum(1 for a in acked.values() if a["replayed"])
    print(f"{retries[0]} retries, {replayed} answers replayed")
    assert replayed > 0  # the forms sent before a lost connection were stored once, and their answer kept

    stored = _script(crash_db, "inspect")
    forms = stored["forms"]
    # Each form stored once, under the id its acknowledgement gave.
    assert len(forms) == total
    assert len({(f["station"], f["contest"]) for f in forms}) == total
    assert sorted(f["id"] for f in forms) == sorted(a["id"] for a in acked.values())
    # Nothing half-written: the numbers sent, vote rows, one audit entry each, one kept answer per key.
    assert all(f["content_matches_sent"] and f["votes_rows"] > 0 and f["audit_entries"] == 1 for f in forms), [
        f for f in forms if not (f["content_matches_sent"] and f["votes_rows"] > 0 and f["audit_entries"] == 1)
    ]
    assert {k["key"]: k["id"] for k in stored["keys"]} == {key: a["id"] for key, a in acked.items()}
    assert {k["status"] for k in stored["keys"]} == {201}
    for command in (["results", "recompute"], ["audit", "verify"]):
        done = subprocess.run(
            [sys.executable, "-m", "tallyroom.cli", *command],
            env=_env(crash_db),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert done.stdout.startswith("OK"), (command, done.stdout)


_SENT_LOCK = threading.Lock()


def _sent_cached() -> dict[tuple[str, str], dict[str, Any]]:
    with _SENT_LOCK:
        if not SENT:
            SENT.update(_sent())
    return SENT


if __name__ == "__main__":
    import django

    django.setup()
    SENT.update(_sent())
    print(json.dumps(_setup() if sys.argv[1] == "setup" else _inspect()))
