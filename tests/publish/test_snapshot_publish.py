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
    north_items = [i for i in site_items() if i.municipality_id == north.pk]
    assert second.reused == len(north_items) > 0
    for item in north_items:  # unchanged pages are the same file, hard-linked
        name = file_name(item.path)
        assert os.path.samefile(first.folder / name, second.folder / name)
    south = Municipality.objects.get(code="01")
    assert MunicipalityChange.objects.filter(municipality=south).exists()
    assert not MunicipalityChange.objects.filter(municipality=north).exists()
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
    national = [file_name(i.path) for i in site_items() if i.national]
    assert national
    for name in national:  # kept from the first snapshot, not rebuilt
        assert os.path.samefile(first.folder / name, second.folder / name)
    municipal = second.folder / "data" / small_election.code / "01" / "results.csv"
    assert not os.path.samefile(first.folder / municipal.relative_to(second.folder), municipal)
    # Nothing else changed, but the lagging files are brought up to date on the next publication.
    third = snapshot_publish(root)
    assert third is not None and not third.national_lags
    assert third.reused > 0
    for name in national:
        assert (third.folder / name).read_bytes() == Client().get("/" + name).content
