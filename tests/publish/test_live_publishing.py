"""The live server: `tallyroom serve` publishes a new snapshot shortly after a change and readers get
it, over real HTTP, with real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from email.message import Message
from pathlib import Path

from tests.conftest import SMALL
from tests.test_cli import TALLYROOM, free_port, scratch_db, tallyroom

__all__ = ["scratch_db"]  # the fixture, used by name below

SUBMIT = """
from tallyroom.elections.models import Contest, PollingStation
from tallyroom.results.content import FormContent
from tallyroom.results.services import result_form_submit
station = PollingStation.objects.get(code="0101C/01R")
contest = Contest.objects.get(municipality=station.municipality, kind="mayor", round__code="R1")
content = FormContent(votes={"BLUE": 321, "IND-ARBEN": 200}, invalid=3, signatures=524, ballots_received=832,
    ballots_used=524, ballots_unused=306, ballots_spoiled=2, preferences={})
result_form_submit(station=station, contest=contest, content=content, actor="test", role="admin")
"""


def _get(url: str) -> tuple[Message, bytes]:
    """Headers (case-insensitive, as servers may send them lower-case) and body."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return response.headers, response.read()


def _wait(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_change_reaches_readers_through_a_new_snapshot(scratch_db: str, tmp_path: Path) -> None:
    assert tallyroom(scratch_db, tmp_path, "migrate", "-v0").returncode == 0
    assert tallyroom(scratch_db, tmp_path, "load", str(SMALL)).returncode == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": scratch_db,
        "TALLYROOM_DATA_DIR": str(tmp_path),
        "TALLYROOM_PUBLISH_DEBOUNCE": "0.2",
        "TALLYROOM_PUBLISH_NATIONAL_EVERY": "2",
    }
    server = subprocess.Popen(
        [*TALLYROOM, "serve", "--port", str(port), "--workers", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait(lambda: "X-Tallyroom-Snapshot" in _get(f"{base}/sq/")[0], 90, "the first snapshot")
        first = _get(f"{base}/sq/")[0]["X-Tallyroom-Snapshot"]
        data_url = f"{base}/data/test-2025/01/results.json"
        assert b'"votes":321' not in _get(data_url)[1]

        submitted = tallyroom(scratch_db, tmp_path, "shell", "-c", SUBMIT)
        assert submitted.returncode == 0, submitted.stderr
        # The municipality's page shows it in a new snapshot (the publisher may cut another one first,
        # for the lagging files); its data files (rendered by the publisher's second process) soon after.
        page = f"{base}/elections/test-2025/01/"
        _wait(lambda: b">321<" in _get(page)[1], 60, "a new snapshot with the form")
        assert _get(page)[0]["X-Tallyroom-Snapshot"] != first
        _wait(lambda: b'"votes":321' in _get(data_url)[1], 60, "the lagging data files")
        headers, _ = _get(data_url)
        manifest = json.loads(_get(f"{base}/manifest.json")[1])
        assert (
            manifest["audit_head"]["seq"]
            > json.loads(_get(f"{base}/snapshots/{first}/manifest.json")[1])["audit_head"]["seq"]
        )
        listing = _get(f"{base}/snapshots/")[1].decode()
        assert first in listing and headers["X-Tallyroom-Snapshot"] in listing
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    verified = tallyroom(scratch_db, tmp_path, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
