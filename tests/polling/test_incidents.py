"""Incidents: reported, verified or rejected, resolved; public only once verified; photos kept as
files, checked by their bytes, shown only to those who may see them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tallyroom.audit.chain import verify
from tallyroom.polling.models import Incident, IncidentPhoto
from tallyroom.polling.selectors import public_incident_kinds_by_station
from tests.conftest import db_counts
from tests.polling.conftest import Day, as_device, as_user, iso, key
from tests.signin import signed_in

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
JPEG = b"\xff\xd8\xff\xe0" + bytes(300)
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(100)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def violent(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "violence",
        "severity": "critical",
        "occurred_at": iso("17:35"),
        "description": "Masked men stormed the room and smashed the ballot boxes; Mrs Petrović was hurt.",
        "client_key": key(),
        **extra,
    }


def upload(client: Client, incident_id: int, name: str, data: bytes, token: str | None = None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(
        f"/api/v1/incidents/{incident_id}/photos",
        {"photo": SimpleUploadedFile(name, data, content_type=kw.get("content_type", "image/jpeg"))},
        headers=headers,
    )


def test_the_incident_workflow(day: Day) -> None:
    phone = as_device(day.token)
    created = phone.post("/api/v1/incidents", violent())
    assert created.status_code == 201, created.content
    incident = created.json()
    assert incident["station"] == "0101C/01R"  # the device's station
    assert incident["municipality"] == "01"
    assert incident["status"] == "reported"
    assert incident["public"] is False
    assert incident["reporter_kind"] == "official"
    public_url = "/api/v1/elections/test-2025/public-incidents"
    assert as_user(None).get(public_url).json()["count"] == 0
    observer = as_user(day.users["observer"])
    assert observer.get(f"/api/v1/incidents/{incident['id']}").status_code == 404  # not public yet
    assert as_user(day.users["auditor"]).get(f"/api/v1/incidents/{incident['id']}").status_code == 200

    official = as_user(day.users["official"])
    verified = official.post(
        f"/api/v1/incidents/{incident['id']}/verify",
        {"note": "Confirmed by the police", "public_description": "Masked men attacked the polling station."},
    )
    assert verified.status_code == 200, verified.content
    assert verified.json()["status"] == "verified"
    shown = as_user(None).get(public_url).json()
    assert shown["count"] == 1
    assert shown["items"][0]["description"] == "Masked men attacked the polling station."  # not the names
    assert shown["items"][0]["reported_by"] is None
    assert observer.get(f"/api/v1/incidents/{incident['id']}").json()["description"].startswith("Masked men attacked")
    assert public_incident_kinds_by_station(day.election) == {day.station.pk: ["violence"]}

    again = official.post(f"/api/v1/incidents/{incident['id']}/reject", {"reason": "no"})
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    resolved = official.post(f"/api/v1/incidents/{incident['id']}/resolve", {"resolution": "Police escorted voters."})
    assert resolved.json()["status"] == "resolved"
    assert as_user(None).get(public_url).json()["count"] == 1  # resolved stays public
    assert list(verify()) == []


def test_rejected_incidents_never_become_public(day: Day) -> None:
    observer = as_user(day.users["observer"])
    created = observer.post("/api/v1/incidents", violent(election="test-2025", station="0102B/01R"))
    assert created.status_code == 201
    incident = created.json()
    assert incident["reporter_kind"] == "observer"
    assert Incident.objects.get().observer == day.observer
    mine = observer.get("/api/v1/incidents?election=test-2025").json()
    assert [i["id"] for i in mine["items"]] == [incident["id"]]  # observers see their own reports
    assert as_user(day.users["clerk"]).get("/api/v1/incidents?election=test-2025").json()["count"] == 0
    rejected = as_user(day.users["admin"]).post(f"/api/v1/incidents/{incident['id']}/reject", {"reason": "Not so."})
    assert rejected.json()["status"] == "rejected"
    assert as_user(day.users["admin"]).post(f"/api/v1/incidents/{incident['id']}/verify", {}).status_code == 409
    resolve = as_user(day.users["admin"]).post(f"/api/v1/incidents/{incident['id']}/resolve", {"resolution": "x"})
    assert resolve.status_code == 409
    assert as_user(None).get("/api/v1/elections/test-2025/public-incidents").json()["count"] == 0


def test_an_incident_at_a_described_place(day: Day) -> None:
    official = as_user(day.users["official"])
    body = violent(
        election="test-2025",
        kind="intimidation",
        severity="high",
        municipality="01",
        place="The road to the school, 200 m from the centre",
    )
    created = official.post("/api/v1/incidents", body)
    assert created.status_code == 201
    assert created.json()["station"] is None
    assert created.json()["place"].startswith("The road")
    # An official of another municipality may not, and a place needs its municipality.
    north = official.post("/api/v1/incidents", body | {"municipality": "38", "client_key": key()})
    assert north.status_code == 403
    nowhere = official.post(
        "/api/v1/incidents", {k: v for k, v in body.items() if k != "municipality"} | {"client_key": key()}
    )
    assert nowhere.status_code == 422
    assert nowhere.json()["field"] == "municipality"


def test_photos_are_files_checked_by_their_bytes(day: Day, settings: Any) -> None:
    phone = as_device(day.token)
    incident = phone.post("/api/v1/incidents", violent()).json()
    client = Client()
    for name, data, expected in [
        ("a.jpg", JPEG, "image/jpeg"),
        ("b.png", PNG, "image/png"),
        ("c.webp", WEBP, "image/webp"),
    ]:
        response = upload(client, incident["id"], name, data, token=day.token)
        assert response.status_code == 201, response.content
        assert response.json()["content_type"] == expected
    photo = IncidentPhoto.objects.first()
    assert photo is not None
    path = Path(photo.file.path)
    assert path.is_relative_to(Path(settings.MEDIA_ROOT))
    assert path.read_bytes() == JPEG
    assert re.fullmatch(r"[0-9a-f]{32}\.jpg", path.name), path.name  # a random name, the checked type's suffix
    before = db_counts()
    liar = upload(client, incident["id"], "evil.jpg", b"<?php system($_GET['c']); ?>" + bytes(50), token=day.token)
    assert liar.status_code == 415
    assert liar.json()["code"] == "unsupported_media_type"
    settings.TALLYROOM_PHOTO_MAX_BYTES = 1000
    big = upload(client, incident["id"], "big.jpg", JPEG + bytes(2000), token=day.token)
    assert big.status_code == 413
    assert big.json()["code"] == "too_large"
    assert db_counts() == before
    assert sorted(p.name for p in Path(settings.MEDIA_ROOT, "incidents").iterdir()) == sorted(
        Path(p.file.name).name for p in IncidentPhoto.objects.all()
    )  # nothing left behind by the refused ones

    url = f"/election-day/photos/{photo.pk}/"
    assert Client().get(url).status_code == 302  # to the login page: not public yet
    clerk = Client()
    clerk.force_login(day.users["clerk"])
    assert clerk.get(url).status_code == 404
    official = signed_in(day.users["official"])
    seen = official.get(url)
    assert seen.status_code == 200
    assert seen["Content-Type"] == "image/jpeg"
    assert b"".join(seen.streaming_content) == JPEG  # type: ignore[arg-type]
    as_user(day.users["official"]).post(f"/api/v1/incidents/{incident['id']}/verify", {})
    public = Client().get(url)
    assert public.status_code == 200


def test_retried_incident_reports_are_recorded_once(day: Day) -> None:
    phone = as_device(day.token)
    body = violent()
    first = phone.post("/api/v1/incidents", body)
    second = phone.post("/api/v1/incidents", body)
    assert first.json() == second.json()
    assert Incident.objects.count() == 1
    different = phone.post("/api/v1/incidents", body | {"severity": "low"})
    assert different.status_code == 409
    assert different.json()["code"] == "idempotency_key_reused"
