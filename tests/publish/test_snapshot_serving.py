"""The public site answered from the newest snapshot, in front of Django, over real HTTP."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from tallyroom.publish.files import MANIFEST
from tallyroom.publish.serving import SnapshotServer


def _snapshot(root: Path, name: str, files: dict[str, bytes]) -> Path:
    import hashlib
    import json

    folder = root / name
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    manifest = {"files": {rel: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for rel, d in files.items()}}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


def _point(root: Path, name: str) -> None:
    tmp = root / ".current.new"
    tmp.symlink_to(name)
    tmp.replace(root / "current")


def _django(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-From", "django")])
    return [f"django {environ['PATH_INFO']}".encode()]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "snapshots"
    root.mkdir()
    app = SnapshotServer(_django, root, recheck=0)
    httpd: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", root
    httpd.shutdown()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback only)
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_without_a_snapshot_django_answers(server: tuple[str, Path]) -> None:
    base, _ = server
    status, headers, body = _get(base + "/elections/x/")
    assert (status, headers["X-From"], body) == (200, "django", b"django /elections/x/")


def test_pages_and_data_come_from_the_current_snapshot(server: tuple[str, Path]) -> None:
    base, root = server
    _snapshot(
        root,
        "one",
        {
            "index.html": b"<p>home</p>",
            "sq/elections/x/index.html": b"<p>zgjedhjet</p>",
            "data/x/results.csv": b"a,b\n1,2\n",
            "api/v1/secret.json": b"{}",
        },
    )
    _point(root, "one")
    status, headers, body = _get(base + "/sq/elections/x/")
    assert (status, body) == (200, b"<p>zgjedhjet</p>")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Tallyroom-Snapshot"] == "one"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, headers, body = _get(base + "/data/x/results.csv")
    assert (status, body, headers["Access-Control-Allow-Origin"]) == (200, b"a,b\n1,2\n", "*")
    # Conditional requests: the ETag is the file's SHA-256 prefix.
    status, _, body = _get(base + "/data/x/results.csv", {"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")
    # Private paths never come from a snapshot, whatever it holds; unknown pages fall through.
    assert _get(base + "/api/v1/secret.json")[1]["X-From"] == "django"
    assert _get(base + "/elections/y/")[1]["X-From"] == "django"


def test_a_new_snapshot_replaces_the_old_at_once(server: tuple[str, Path]) -> None:
    base, root = server
    _snapshot(root, "one", {"index.html": b"old"})
    _point(root, "one")
    assert _get(base + "/")[2] == b"old"
    _snapshot(root, "two", {"index.html": b"new"})
    _point(root, "two")
    status, headers, body = _get(base + "/")
    assert (status, body, headers["X-Tallyroom-Snapshot"]) == (200, b"new", "two")


@pytest.mark.django_db
def test_snapshot_answers_carry_the_same_policy_as_live_pages(settings: Any) -> None:
    from django.test import Client

    from tallyroom.publish.serving import csp_header

    def directives(header: str) -> set[str]:
        return {part.strip() for part in header.split(";")}

    live = Client().get("/")
    ours = csp_header(settings.CONTENT_SECURITY_POLICY["DIRECTIVES"])
    assert directives(live.headers["Content-Security-Policy"]) == directives(ours)
