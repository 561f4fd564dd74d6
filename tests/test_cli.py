"""The `tallyroom` command as a newcomer runs it: real processes, a real database, real HTTP."""

from __future__ import annotations

import http.cookiejar
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SMALL

TALLYROOM = [sys.executable, "-m", "tallyroom"]


@pytest.fixture
def scratch_db(tmp_path: Path) -> Iterator[str]:
    """A database of its own for the processes: a SQLite file, or a fresh PostgreSQL database."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'cli.sqlite3'}"
        return
    import psycopg

    base, _, _ = url.rpartition("/")
    name = f"tallyroom_cli_{os.getpid()}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{base}/{name}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tallyroom(db: str, cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db, "TALLYROOM_DATA_DIR": str(cwd)}
    return subprocess.run(
        [*TALLYROOM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        data: dict[str, object] = json.load(response)
        return data


def demo_sign_in(base: str, username: str, password: str, code: subprocess.CompletedProcess[str]) -> str:
    """Password, then the second factor, as a browser would (cookies, CSRF token); the admin's page."""
    assert code.returncode == 0, code.stderr
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    browser.open(f"{base}/accounts/login/", timeout=10).read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    form = {"username": username, "password": password, "next": "/admin/", "csrfmiddlewaretoken": csrf}
    with browser.open(f"{base}/accounts/login/", urllib.parse.urlencode(form).encode(), timeout=10) as page:
        assert "/accounts/two-factor/" in page.url  # the password alone is not enough
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    form = {"otp_token": code.stdout.strip(), "next": "/admin/", "csrfmiddlewaretoken": csrf}
    with browser.open(f"{base}/accounts/two-factor/", urllib.parse.urlencode(form).encode(), timeout=10) as page:
        assert page.url.endswith("/admin/")
        return str(page.read().decode())


def test_default_database_is_sqlite_in_the_current_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [*TALLYROOM, "migrate", "-v0"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "tallyroom.sqlite3").stat().st_size > 0


def test_load_exit_codes(scratch_db: str, tmp_path: Path) -> None:
    assert tallyroom(scratch_db, tmp_path, "migrate", "-v0").returncode == 0
    first = tallyroom(scratch_db, tmp_path, "load", str(SMALL))
    assert first.returncode == 0, first.stderr
    assert "loaded" in first.stdout
    again = tallyroom(scratch_db, tmp_path, "load", str(SMALL))
    assert again.returncode == 0
    assert "unchanged" in again.stdout
    bad = tallyroom(
        scratch_db, tmp_path, "load", str(SMALL.parents[1] / "bad_definitions" / "negative-registered.json")
    )
    assert bad.returncode == 2
    assert "municipalities[0].stations[2].registered: must be >= 0 (got -5)" in bad.stderr
    changed = json.loads(SMALL.read_text("utf-8"))
    changed["municipalities"][0]["assembly_seats"] = 17
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(changed), "utf-8")
    refused = tallyroom(scratch_db, tmp_path, "load", str(path))
    assert refused.returncode == 3
    assert "municipalities[01].assembly_seats: 15 -> 17" in refused.stdout


def test_demo_serves_the_2013_election_over_http(scratch_db: str, tmp_path: Path) -> None:
    setup = tallyroom(scratch_db, tmp_path, "demo", "--no-serve", "--password", "demo-password-2013")
    assert setup.returncode == 0, setup.stderr
    for role in ("admin", "official", "chair", "clerk", "auditor", "panel", "observer"):
        assert f"  {role} " in setup.stdout
    port = free_port()
    env = {**os.environ, "DATABASE_URL": scratch_db, "TALLYROOM_DATA_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [*TALLYROOM, "serve", "--port", str(port), "--workers", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                elections = get_json(f"{base}/api/v1/elections")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        assert elections["count"] == 1
        body = get_json(f"{base}/api/v1/elections/ks-2013-local/municipalities?limit=100")
        items = body["items"]
        assert isinstance(items, list)
        assert body["count"] == len(items) == 38
        assert sorted(int(m["code"]) for m in items) == list(range(1, 39))
        assert sum(m["registered_voters"] for m in items) == 1_792_913
        assert all(m["name"]["sq"] and m["name"]["sr"] and m["name"]["en"] for m in items)
        north = sorted(m["name"]["sr"] for m in items if m["area"] == "north")
        assert len(north) == 4
        with urllib.request.urlopen(f"{base}/sq/elections/ks-2013-local/", timeout=10) as page:  # noqa: S310
            assert "Komunat" in page.read().decode()
        # The count ends in the real outcome: Prishtina's mayor elected in the runoff...
        prishtina = get_json(f"{base}/api/v1/results/19")["contests"]
        runoff = next(c for c in prishtina if c["contest"]["round_kind"] == "runoff")
        assert (runoff["status"], runoff["mayor"]["elected"]) == ("certified", "SHPEND AHMETI")
        first = next(c for c in prishtina if c["contest"]["kind"] == "mayor" and c["contest"]["round_kind"] == "first")
        assert first["mayor"]["status"] == "runoff"
        # ...and North Mitrovica's attacked centre annulled, its vote repeated and counted.
        north = get_json(f"{base}/api/v1/results/38")["contests"]
        assembly = next(c for c in north if c["contest"]["kind"] == "assembly")
        assert assembly["repeat_voting"][0]["date"] == "2013-11-17"
        assert assembly["status"] == "certified"
        assert sum(assembly["assembly"]["seats"].values()) == 19
        # The demo's administrator signs in with the printed password and the code `tallyroom totp` prints.
        signed_in = demo_sign_in(base, "admin", "demo-password-2013", tallyroom(scratch_db, tmp_path, "totp", "admin"))
        assert "Site administration" in signed_in
    finally:
        server.terminate()
        server.wait(timeout=30)
    # Running the demo again is safe: nothing duplicates.
    again = tallyroom(scratch_db, tmp_path, "demo", "--no-serve", "--password", "demo-password-2013")
    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stdout
    demo_snapshot_is_complete_and_verifies(scratch_db, tmp_path)


def demo_snapshot_is_complete_and_verifies(db: str, tmp_path: Path) -> None:
    """`tallyroom publish --out` writes every page of the whole demo election in three languages,
    every open-data file, and a manifest that `tallyroom verify-snapshot` accepts."""
    import gzip

    from tallyroom.elections.demo import demo_path

    site = tmp_path / "site"
    published = tallyroom(db, tmp_path, "publish", "--out", str(site), timeout=900)
    assert published.returncode == 0, published.stderr
    manifest = json.loads((site / "manifest.json").read_bytes())
    files = set(manifest["files"])
    definition = json.loads(gzip.decompress(demo_path().read_bytes()))
    code = definition["code"]
    expected = {"data/index.json", f"data/{code}/index.json", "publication-key.pem"}
    for lang in ("", "sq/", "sr-latn/"):
        expected |= {
            f"{lang}index.html",
            f"{lang}elections/{code}/index.html",
            f"{lang}elections/{code}/integrity/index.html",
        }
        for m in definition["municipalities"]:
            expected.add(f"{lang}elections/{code}/{m['code']}/index.html")
            expected |= {
                f"{lang}elections/{code}/stations/{s['code'].replace('/', '_')}/index.html" for s in m["stations"]
            }
    for name in ("results.csv", "preferences.csv", "results.json", "results-cdf.json"):
        expected.add(f"data/{code}/{name}")
        expected |= {f"data/{code}/{m['code']}/{name}" for m in definition["municipalities"]}
    assert expected - files == set()
    assert sum(len(m["stations"]) for m in definition["municipalities"]) == 2_571
    key = tmp_path / "publication-key.pem"
    printed = tallyroom(db, tmp_path, "publication-key")
    assert printed.returncode == 0, printed.stderr
    key.write_text(printed.stdout)
    verified = tallyroom(db, tmp_path, "verify-snapshot", str(site), "--key", str(key), timeout=600)
    assert verified.returncode == 0, verified.stderr
    (site / "elections" / code / "19" / "index.html").write_text("<p>SHPEND AHMETI lost</p>")
    tampered = tallyroom(db, tmp_path, "verify-snapshot", str(site), "--key", str(key), timeout=600)
    assert tampered.returncode == 1
    assert f"elections/{code}/19/index.html: altered" in tampered.stderr
