"""Snapshots: complete, signed, verifiable offline, incremental, and on the audit record."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tallyroom.audit.chain import verify
from tallyroom.audit.models import AuditEntry
from tallyroom.elections.models import Municipality
from tallyroom.publish.files import MANIFEST, SIGNATURE, file_name
from tallyroom.publish.models import MunicipalityChange, Publication
from tallyroom.publish.services import current_snapshot, snapshot_publish
from tallyroom.publish.snapshot import site_items
from tests.publish.snapshots_helpers import count_form, use_tmp_publication

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    return use_tmp_publication(settings, tmp_path)


def _verify(folder: Path, key: Path) -> tuple[int, str]:
    try:
        call_command("verify_snapshot", str(folder), "--key", str(key))
    except SystemExit as exc:
        return int(str(exc.code)), ""
    return 0, ""


def _public_key(tmp_path: Path) -> Path:
    key = tmp_path / "published-key.pem"
    with key.open("w") as out:
        call_command("publication_key", stdout=out)
    return key


def test_publish_out_writes_every_page_and_file_with_a_signed_manifest(
    small_election: Any, root: Path, tmp_path: Path
) -> None:
    count_form("0101C/01R", "mayor", {"BLUE": 300, "IND-ARBEN": 200})
    out = tmp_path / "site"
    call_command("publish", "--out", str(out))
    manifest = json.loads((out / MANIFEST).read_bytes())
    expected = {file_name(item.path) for item in site_items()}
    assert expected <= set(manifest["files"])
    # Every language of every page type that exists is in the snapshot.
    for lang in ("", "sq/", "sr-latn/"):
        assert f"{lang}index.html" in manifest["files"]
        assert f"{lang}elections/{small_election.code}/index.html" in manifest["files"]
    assert manifest["audit_head"]["seq"] > 0
    key = _public_key(tmp_path)
    assert _verify(out, key)[0] == 0
    assert Publication.objects.get().audit_seq == manifest["audit_head"]["seq"]
    assert AuditEntry.objects.filter(object_type="publication", action="publish").count() == 1
    assert list(verify()) == []


def test_a_snapshot_holds_the_same_bytes_the_live_site_answers(small_election: Any, root: Path, tmp_path: Path) -> None:
    count_form("3801A/01R", "mayor", {"CIV": 400, "BLUE": 100}, registered=701)
    out = tmp_path / "site"
    call_command("publish", "--out", str(out))
    client = Client()
    for item in site_items():
        live = client.get(item.path)
        assert live.status_code == 200, item.path
        body = b"".join(live.streaming_content) if live.streaming else live.content  # type: ignore[attr-defined]
        assert (out / file_name(item.path)).read_bytes() == body, item.path


def test_verify_snapshot_names_altered_missing_added_and_forged_files(
    small_election: Any, root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    call_command("publish", "--out", str(out))
    key = _public_key(tmp_path)
    from tallyroom.publish.snapshot import snapshot_check

    page = out / "index.html"
    page.write_bytes(page.read_bytes().replace(b"Tallyroom", b"Tallyr00m", 1))
    (out / "sq" / "index.html").unlink()
    (out / "extra.html").write_text("<p>planted</p>")
    problems = snapshot_check(out, key.read_bytes())
    assert "index.html: altered (SHA-256 differs from the manifest)" in problems
    assert "sq/index.html: missing" in problems
    assert "extra.html: not in the manifest (added after publication)" in problems
    assert _verify(out, key)[0] == 1

    # A forger who also rewrites the manifest to match cannot produce its signature.
    manifest = json.loads((out / MANIFEST).read_bytes())
    import hashlib

    manifest["files"]["index.html"]["sha256"] = hashlib.sha256(page.read_bytes()).hexdigest()
    (out / MANIFEST).write_text(json.dumps(manifest))
    problems = snapshot_check(out, key.read_bytes())
    assert any(p.startswith(f"{SIGNATURE}: the manifest is not signed by this key") for p in problems)

    # A different key (somebody else's) does not verify a genuine snapshot either.
    genuine = tmp_path / "genuine"
    call_command("publish", "--out", str(genuine))
    from tallyroom.publish import signing

    other = signing.public_key_pem(signing.private_key_create(tmp_path / "other.pem"))
    assert any("not signed by this key" in p for p in snapshot_check(genuine, other))
    assert snapshot_check(genuine, key.read_bytes()) == []


def test_publish_out_refuses_a_folder_that_holds_files(small_election: Any, root: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="is not empty"):
        call_command("publish", "--out", str(out))
    assert (out / "keep.txt").read_text() == "mine"
    assert Publication.objects.count() == 0


def test_incremental_publication_renders_only_what_changed(small_election: Any, root: Path) -> None:
    first = snapshot_publish(root)
    assert first is not None and first.reused == 0
    assert current_snapshot(root) == first.folder
    assert snapshot_publish(root) is None  # nothing public changed: no new snapshot

    count_form("0101C/01R", "assembly", {"BLUE": 300, "GREEN": 200})
    second = snapshot_publish(root)
    assert second is not None
    assert current_snapshot(root) == second.folder
    north = Municipality.objects.get(code="38")
    # A full publication renders the lagging files (the municipalities' data files among them) afresh.
    north_items = [i for i in site_items() if i.municipality_id == north.pk and not i.national]
    assert second.reused == len(north_items) > 0
    for item in north_items:  # unchanged pages are the same file, hard-linked
        name = file_name(item.path)
        assert os.path.samefile(first.folder / name, second.folder / name)
    south = Municipality.objects.get(code="01")
    # "Last updated": the form moved the south's; the north's stays at the election's loading.
    loaded = AuditEntry.objects.get(object_type="election").seq
    assert MunicipalityChange.objects.get(municipality=south).audit_seq > loaded
    assert MunicipalityChange.objects.get(municipality=north).audit_seq == loaded
    # Both snapshots stay on disk, listed, and still verify.
    from tallyroom.publish.services import snapshots_listed
    from tallyroom.publish.snapshot import snapshot_check

    assert [s["name"] for s in snapshots_listed(root)] == [second.name, first.name]
    pem = (first.folder / "publication-key.pem").read_bytes()
    assert snapshot_check(first.folder, pem) == [] and snapshot_check(second.folder, pem) == []
    assert Publication.objects.count() == 2
    assert list(verify()) == []


def test_earlier_snapshots_are_listed_and_their_files_served(small_election: Any, root: Path) -> None:
    first = snapshot_publish(root)
    count_form("0101C/01R", "assembly", {"BLUE": 300, "GREEN": 200})
    second = snapshot_publish(root)
    assert first is not None and second is not None
    client = Client()
    listing = client.get("/snapshots/")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert first.name in text and second.name in text and first.manifest_sha256 in text
    manifest = client.get(f"/snapshots/{first.name}/manifest.json")
    assert manifest.status_code == 200
    assert json.loads(b"".join(manifest.streaming_content))["audit_head"]["seq"] == first.audit_seq  # type: ignore[attr-defined]
    page = client.get(f"/snapshots/{first.name}/sq/")
    assert b"".join(page.streaming_content) == (first.folder / "sq" / "index.html").read_bytes()  # type: ignore[attr-defined]
    assert client.get(f"/snapshots/{first.name}/../../etc/passwd").status_code == 404
    assert client.get("/snapshots/.lock/").status_code == 404
    key = client.get("/publication-key.pem")
    assert key.content == (second.folder / "publication-key.pem").read_bytes()


def test_election_wide_data_can_lag_and_then_catches_up(small_election: Any, root: Path) -> None:
    first = snapshot_publish(root)
    assert first is not None and not first.national_lags
    count_form("0101C/01R", "assembly", {"BLUE": 300, "GREEN": 200})
    second = snapshot_publish(root, national=False)
    assert second is not None and second.national_lags
    national_paths = [i.path for i in site_items() if i.national]
    national = [file_name(path) for path in national_paths]
    assert any(name.startswith("data/") for name in national)
    assert any("/integrity/" in name for name in national)  # the forensic tests read the whole election too
    for name in national:  # kept from the first snapshot, not rebuilt
        assert os.path.samefile(first.folder / name, second.folder / name)
    assert f"data/{small_election.code}/01/results.csv" in national  # the municipality's data files lag too
    assert "index.html" in national  # and the election-wide pages
    # The municipality's page shows the form at once.
    municipal = f"elections/{small_election.code}/01/index.html"
    assert not os.path.samefile(first.folder / municipal, second.folder / municipal)
    assert "300" in (second.folder / municipal).read_text()
    # Nothing else changed, but the lagging files are brought up to date on the next publication.
    third = snapshot_publish(root)
    assert third is not None and not third.national_lags
    assert third.reused > 0
    for path, name in zip(national_paths, national, strict=True):
        assert (third.folder / name).read_bytes() == Client().get(path).content


def test_a_national_scale_election_publishes_its_municipalities_and_answers_stations_live(
    small_election: Any, root: Path, tmp_path: Path, settings: Any
) -> None:
    count_form("0101C/01R", "mayor", {"BLUE": 300, "IND-ARBEN": 200})
    settings.TALLYROOM_SNAPSHOT_MAX_STATIONS = 1  # the small election counts as a national one
    out = tmp_path / "site"
    call_command("publish", "--out", str(out))
    files = set(json.loads((out / MANIFEST).read_bytes())["files"])
    code = small_election.code
    munis = list(Municipality.objects.filter(election=small_election).values_list("code", flat=True))
    for lang in ("", "sq/", "sr-latn/"):
        assert f"{lang}elections/{code}/index.html" in files
        assert all(f"{lang}elections/{code}/{m}/index.html" in files for m in munis)
        assert not any(f.startswith(f"{lang}elections/{code}/stations/") for f in files)
        assert not any(f.startswith(f"{lang}elections/{code}/integrity/") for f in files)
    assert all(f"data/{code}/{m}/results.csv" in files and f"data/{code}/{m}/results-cdf.json" in files for m in munis)
    assert not any(f.startswith((f"data/{code}/results", f"data/{code}/preferences")) for f in files)
    assert _verify(out, _public_key(tmp_path))[0] == 0
    # What the snapshot leaves out is answered live, with the form's numbers.
    page = Client().get(f"/elections/{code}/stations/0101C_01R/")
    assert page.status_code == 200
    assert "300" in page.content.decode()


@pytest.mark.django_db(transaction=True)  # forked renderers read on their own connections
def test_rendering_in_several_processes_writes_the_same_files(small_election: Any, root: Path, tmp_path: Path) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("forked renderers need a database server")
    count_form("0101C/01R", "mayor", {"BLUE": 300, "IND-ARBEN": 200})
    call_command("publish", "--out", str(tmp_path / "one"))
    call_command("publish", "--out", str(tmp_path / "two"), "--workers", "2")
    one = json.loads((tmp_path / "one" / MANIFEST).read_bytes())["files"]
    two = json.loads((tmp_path / "two" / MANIFEST).read_bytes())["files"]
    assert one.keys() == two.keys() and len(one) >= 50
    # The same bytes, apart from what states the chain position (the second publication is an entry).
    differ = {name for name in one if one[name] != two[name]}
    assert all(name.endswith(".json") for name in differ), sorted(differ)[:5]


@pytest.mark.django_db(transaction=True)  # forked renderers read on their own connections
def test_an_incremental_snapshot_filled_by_several_processes_is_the_same(
    small_election: Any, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection

    from tallyroom.elections.models import PollingStation
    from tallyroom.publish import snapshot

    if connection.vendor != "postgresql":
        pytest.skip("forked renderers need a database server")
    count_form("0101C/01R", "mayor", {"BLUE": 300, "IND-ARBEN": 200})
    first = snapshot.snapshot_write(tmp_path / "first")
    count_form("0101C/01R", "assembly", {"BLUE": 300, "GREEN": 200})
    count_form("3801A/01R", "mayor", {"CIV": 400, "BLUE": 100}, registered=701)
    changed = PollingStation.objects.filter(code__in=["0101C/01R", "3801A/01R"])
    stale = snapshot.Stale(
        frozenset(changed.values_list("municipality_id", flat=True)), frozenset(changed.values_list("pk", flat=True))
    )
    monkeypatch.setattr(snapshot, "PARALLEL_FROM", 1)  # two municipalities are enough here
    args: dict[str, Any] = {"previous": first.folder, "stale": stale, "national": False}
    one = snapshot.snapshot_write(tmp_path / "one", workers=1, **args)
    two = snapshot.snapshot_write(tmp_path / "two", workers=2, **args)
    files_one = json.loads((one.folder / MANIFEST).read_bytes())["files"]
    files_two = json.loads((two.folder / MANIFEST).read_bytes())["files"]
    assert files_one == files_two
    assert (one.rendered, one.spliced, one.reused) == (two.rendered, two.spliced, two.reused)
    assert two.rendered > 0 and two.reused > two.rendered
    assert two.national_data_seq == one.national_data_seq == first.audit_seq  # the lagging files, reused


def test_only_the_newest_snapshots_are_kept(small_election: Any, root: Path, settings: Any) -> None:
    from tallyroom.publish.services import snapshots_listed

    settings.TALLYROOM_SNAPSHOTS_KEEP = 2
    written = [snapshot_publish(root)]
    for votes in ({"BLUE": 300, "GREEN": 200}, {"BLUE": 10, "GREEN": 20}):
        station = "0101C/01R" if len(written) == 1 else "0101C/02D"
        count_form(station, "assembly", votes)
        written.append(snapshot_publish(root))
    names = [w.name for w in written if w is not None]
    assert len(names) == 3
    assert [s["name"] for s in snapshots_listed(root)] == names[:0:-1]
    assert current_snapshot(root) == root / names[-1]
    assert not (root / names[0]).exists()
    assert Publication.objects.count() == 3  # every publication stays on the record
