"""The live results feed: what the API says of each municipality, signed, cut at one chain position,
rewritten only where something changed, and served at /feed/."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

import pytest
from django.db import connection, connections
from django.test import Client

from tallyroom.audit.chain import chain_head
from tallyroom.elections.models import Election, Municipality
from tallyroom.elections.services import election_load
from tallyroom.publish import feed, signing
from tallyroom.publish.feed import (
    FORMAT,
    INDEX,
    FeedWritten,
    Stations,
    current_feed,
    feed_publish,
    feed_root,
    feed_write,
)
from tallyroom.publish.files import MANIFEST
from tallyroom.publish.publisher import feed_run
from tallyroom.publish.serving import SnapshotServer
from tallyroom.publish.snapshot import manifest_read, snapshot_check
from tests.publish.snapshots_helpers import count_form, use_tmp_publication
from tests.publish.test_snapshot_incremental import Changer
from tests.publish.test_snapshot_serving import _django, _get, _Quiet

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    return use_tmp_publication(settings, tmp_path)


def _json(path: Path) -> Any:
    return json.loads(path.read_bytes())


def _unversioned(folder: Path) -> dict[str, Any]:
    """Every file of a feed without the chain positions in it (a linked file keeps its own)."""
    files = manifest_read(folder)["files"]
    assert isinstance(files, dict)
    out = {}
    for name in files:
        data = {k: v for k, v in _json(folder / name).items() if k != "audit_seq"}
        if name.endswith(INDEX):
            data["municipalities"] = {m: entry["contests"] for m, entry in data["municipalities"].items()}
        out[name] = data
    return out


def test_each_municipality_holds_what_the_api_answers_signed_at_the_chain_head(
    small_election: Election, root: Path
) -> None:
    count_form("0101C/01R", "assembly", {"BLUE": 300, "GREEN": 200})
    count_form("3801A/01R", "mayor", {"CIV": 300, "BLUE": 290}, registered=701)
    written = feed_publish(root)
    assert written is not None and current_feed(root) == written.folder
    manifest = manifest_read(written.folder)
    assert manifest["format"] == FORMAT
    assert manifest["audit_head"] == dict(zip(("seq", "entry_hash"), chain_head(), strict=True))
    client = Client()
    for municipality in Municipality.objects.filter(election=small_election):
        data = _json(written.folder / small_election.code / f"{municipality.code}.json")
        api = client.get(f"/api/v1/results/{municipality.code}").json()
        assert data["contests"] == api["contests"] and data["audit_seq"] == written.audit_seq
    index = _json(written.folder / small_election.code / INDEX)
    [assembly] = [c for c in index["municipalities"]["01"]["contests"] if c["kind"] == "assembly"]
    assert (assembly["stations"], assembly["votes"]) == ({"counted": 1, "total": 3}, {"BLUE": 300, "GREEN": 200})
    assert sum(assembly["seats"].values()) == 15
    [mayor] = [c for c in index["municipalities"]["38"]["contests"] if c["kind"] == "mayor"]
    assert mayor["mayor"]["status"] == "elected" and mayor["mayor"]["elected"]
    key = signing.public_key_pem(signing.private_key_load())
    assert snapshot_check(written.folder, key) == []
    (written.folder / small_election.code / "01.json").write_bytes(b'{"contests": []}')
    assert snapshot_check(written.folder, key) == [
        f"{small_election.code}/01.json: altered (SHA-256 differs from the manifest)"
    ]


def test_a_new_feed_rewrites_only_what_changed_and_equals_one_from_scratch(
    small_election: Election, root: Path, tmp_path: Path
) -> None:
    first = feed_publish(root)
    assert first is not None and first.rewritten == 2
    assert feed_publish(root) is None  # nothing public changed
    count_form("0102B/01R", "assembly", {"BLUE": 300, "GREEN": 290}, registered=905)
    second = feed_publish(root)
    assert second is not None and second.rewritten == 1 and second.audit_seq > first.audit_seq
    code = small_election.code
    assert (second.folder / code / "38.json").stat().st_ino == (first.folder / code / "38.json").stat().st_ino
    assert (second.folder / code / "01.json").stat().st_ino != (first.folder / code / "01.json").stat().st_ino
    changer = Changer(small_election, random.Random(5))  # noqa: S311 - reproducible, not secret
    for n in range(8):
        for _ in range(3):
            changer.any()
        written = feed_publish(root)
        if written is None:
            continue
        scratch = feed_write(tmp_path / f"scratch-{n}")
        assert scratch is not None and scratch.audit_seq == written.audit_seq
        assert _unversioned(written.folder) == _unversioned(scratch.folder)
    assert len([p for p in feed_root(root).iterdir() if p.name[:12].isdigit()]) <= 5


def test_the_feed_is_served_at_feed_beside_the_pages(small_election: Election, root: Path) -> None:
    count_form("0101C/01R", "assembly", {"BLUE": 300, "GREEN": 200})
    written = feed_publish(root)
    assert written is not None
    app = SnapshotServer(SnapshotServer(_django, root, recheck=0), feed_root(root), recheck=0, prefix="feed/")
    httpd: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_port}"
        status, headers, body = _get(f"{base}/feed/{small_election.code}/01.json")
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert body == (written.folder / small_election.code / "01.json").read_bytes()
        assert headers["Access-Control-Allow-Origin"] == "*"
        status, _, body = _get(f"{base}/feed/{MANIFEST}")
        assert status == 200 and json.loads(body)["audit_head"]["seq"] == written.audit_seq
        assert _get(f"{base}/feed/nothing.json")[2] == b"django /feed/nothing.json"  # not in it: Django answers
        assert _get(f"{base}/elections/")[2] == b"django /elections/"
    finally:
        httpd.shutdown()


def test_the_feed_process_follows_the_chain(small_election: Election, root: Path) -> None:
    seen: list[int] = []

    def published(written: FeedWritten) -> None:
        seen.append(written.audit_seq)
        if len(seen) == 1:  # a form after the first feed: the next one shows it
            count_form("0102B/01R", "assembly", {"BLUE": 30, "GREEN": 20}, registered=905)

    feed_run(root, poll=0, should_stop=lambda: len(seen) >= 2, on_publish=published, recycle_connections=False)
    assert seen[0] < seen[1] == chain_head()[0]
    latest = current_feed(root)
    assert latest is not None
    index = _json(latest / small_election.code / INDEX)
    assert {c["stations"]["counted"] for c in index["municipalities"]["01"]["contests"] if c["kind"] == "assembly"} == {
        1
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need a database server")
def test_a_form_committed_while_a_feed_is_cut_is_not_in_it(
    small_definition: dict[str, Any], root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed names a chain position and shows exactly what was committed up to it: one read
    snapshot of the database, so a form committed after the head was read waits for the next feed."""
    election_load(small_definition)
    code = small_definition["code"]
    count_form("0101C/01R", "assembly", {"BLUE": 300, "GREEN": 200})
    bulk = feed.contests_results

    def committed_meanwhile(ids: Any) -> Any:
        def other() -> None:
            try:
                count_form("0102B/01R", "assembly", {"BLUE": 30, "GREEN": 20}, registered=905)
            finally:
                connections.close_all()

        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
        return bulk(ids)

    monkeypatch.setattr(feed, "contests_results", committed_meanwhile)
    cut = feed_write(tmp_path / "cut")
    monkeypatch.undo()
    assert cut is not None and cut.audit_seq < chain_head()[0]  # the other form came after the head
    index = _json(cut.folder / code / INDEX)
    [assembly] = [c for c in index["municipalities"]["01"]["contests"] if c["kind"] == "assembly"]
    assert assembly["stations"]["counted"] == 1 and assembly["votes"] == {"BLUE": 300, "GREEN": 200}
    after = feed_write(tmp_path / "after")
    assert after is not None
    [assembly] = [
        c for c in _json(after.folder / code / INDEX)["municipalities"]["01"]["contests"] if c["kind"] == "assembly"
    ]
    assert assembly["stations"]["counted"] == 2


def test_the_full_files_catch_up_a_few_at_a_time_while_the_index_is_always_current(
    small_election: Election, root: Path, tmp_path: Path, settings: Any
) -> None:
    """At a national count's pace every municipality changes every second: a feed rewrites the index
    (every contest's headline) whole, and the full files of the longest-waiting few."""
    settings.TALLYROOM_FEED_FULL_PER_CUT = 1
    first = feed_publish(root)
    assert first is not None and (first.rewritten, first.behind) == (2, 0)  # from scratch: everything
    count_form("0101C/01R", "assembly", {"BLUE": 300, "GREEN": 200})
    count_form("3801A/01R", "mayor", {"CIV": 300, "BLUE": 290}, registered=701)
    second = feed_publish(root)
    assert second is not None and (second.rewritten, second.behind) == (1, 1)
    code = small_election.code
    index = _json(second.folder / code / INDEX)["municipalities"]
    assert [c["stations"]["counted"] for c in index["01"]["contests"] if c["kind"] == "assembly"] == [1]
    assert [c["stations"]["counted"] for c in index["38"]["contests"] if c["kind"] == "mayor"] == [1]
    waiting = [m for m, entry in index.items() if entry["full_seq"] < entry["changed_seq"]]
    assert len(waiting) == 1 and manifest_read(second.folder)["behind"] == 1
    stale = _json(second.folder / code / f"{waiting[0]}.json")
    assert all(c["stations"]["counted"] == 0 for c in stale["contests"])  # its full file still waits
    third = feed_publish(root)  # nothing new happened: it catches up
    assert third is not None and (third.audit_seq, third.rewritten, third.behind) == (second.audit_seq, 1, 0)
    assert feed_publish(root) is None
    scratch = feed_write(tmp_path / "scratch")
    assert scratch is not None and _unversioned(third.folder) == _unversioned(scratch.folder)


def test_a_feed_process_counts_the_stations_again_when_an_election_is_loaded(small_election: Election) -> None:
    """A million stations to count for every feed: the feed process keeps the counts, and reads them
    again on an entry that touches everything (loading an election) or when they are a minute old."""
    from tallyroom.elections.models import PollingStation

    kept = Stations()
    before = kept.get(everything=False)
    station = PollingStation.objects.filter(municipality__code="38").first()
    assert station is not None
    station.pk, station.code = None, "3801A/99R"
    station.save()
    municipality = station.municipality_id
    assert kept.get(everything=False)[municipality] == before[municipality]
    assert kept.get(everything=True)[municipality] == before[municipality] + 1
    assert Stations(max_age=0).get(everything=False)[municipality] == before[municipality] + 1
