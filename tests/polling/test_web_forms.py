"""The web forms behind the phone pages: each records once, shows why when it cannot, and refuses
who may not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tallyroom.polling import services
from tallyroom.polling.models import Deployment, Incident, StationEvent, TurnoutReport, Withdrawal
from tests.conftest import db_counts
from tests.polling.conftest import Day, at
from tests.signin import signed_in as sign_in_user

pytestmark = pytest.mark.django_db
PAGE = "/election-day/test-2025/station/0101C/01R?round=R1"


def signed_in(day: Day, role: str) -> Client:
    return sign_in_user(day.users[role])


def test_the_chair_opens_reports_and_is_told_what_went_wrong(day: Day, settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    chair = signed_in(day, "chair")
    page = chair.get(PAGE).content.decode()
    assert "Open the station" in page
    assert "Did not open" in page
    assert "Close the station" not in page
    opening = {"action": "event", "kind": "opened", "time": "07:04", "client_key": "form-key-open-1"}
    done = chair.post(PAGE, opening)
    assert done.status_code == 302
    assert chair.post(PAGE, opening).status_code == 302  # the double tap
    assert StationEvent.objects.count() == 1
    page = chair.get(PAGE).content.decode()
    assert "Recorded: opened at 07:04." in page
    assert "since 07:04" in page

    before = db_counts()
    early = chair.post(PAGE, {"action": "event", "kind": "closed", "time": "10:00", "client_key": "form-key-close"})
    assert early.status_code == 422
    assert "early closure" in early.content.decode()
    no_reason = chair.post(
        PAGE, {"action": "event", "kind": "suspended", "time": "10:00", "client_key": "form-key-susp"}
    )
    assert no_reason.status_code == 422
    assert db_counts() == before

    assert (
        chair.post(PAGE, {"action": "turnout", "slot": "11:00", "voters": "150", "client_key": "form-t-1"}).status_code
        == 302
    )
    lower = chair.post(PAGE, {"action": "turnout", "slot": "15:00", "voters": "90", "client_key": "form-t-2"})
    assert lower.status_code == 409
    assert "Turnout only rises" in lower.content.decode()
    held = chair.post(
        PAGE, {"action": "turnout", "slot": "15:00", "voters": "9000", "client_key": "form-t-3"}, follow=True
    )
    assert "held for review" in held.content.decode()

    before = db_counts()
    bad_photo = chair.post(
        PAGE,
        {
            "action": "incident",
            "kind": "violence",
            "severity": "high",
            "time": "12:00",
            "description": "A fight at the door.",
            "client_key": "form-i-1",
            "photos": SimpleUploadedFile("x.jpg", b"not an image at all"),
        },
    )
    assert bad_photo.status_code == 415
    assert "JPEG, PNG or WebP" in bad_photo.content.decode()
    assert db_counts() == before
    good = chair.post(
        PAGE,
        {
            "action": "incident",
            "kind": "violence",
            "severity": "high",
            "time": "12:00",
            "description": "A fight at the door.",
            "client_key": "form-i-2",
            "photos": [
                SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + bytes(40)),
                SimpleUploadedFile("b.jpg", b"\xff\xd8\xff" + bytes(40)),
            ],
        },
    )
    assert good.status_code == 302
    assert Incident.objects.get().photos.count() == 2

    # A correction from the history: the opening was at 07:14, not 07:04.
    opened = StationEvent.objects.get(kind="opened")
    fixed = chair.post(
        PAGE, {"action": "correct", "corrects": opened.pk, "kind": "opened", "time": "07:14", "client_key": "form-c-1"}
    )
    assert fixed.status_code == 302
    assert "since 07:14" in chair.get(PAGE).content.decode()
    assert StationEvent.objects.get(supersedes=opened).occurred_at == at("07:14")


def test_others_may_not_use_the_station_page(day: Day) -> None:
    for role in ("clerk", "auditor", "panel", "observer"):
        client = signed_in(day, role)
        assert client.get(PAGE).status_code == 403
        assert (
            client.post(
                PAGE, {"action": "event", "kind": "opened", "time": "07:00", "client_key": "k-" * 5}
            ).status_code
            == 403
        )
    assert Client().get(PAGE).status_code == 302
    assert StationEvent.objects.count() == 0


def test_the_incident_desk_and_held_turnout(day: Day) -> None:
    admin = day.reporter("admin")
    services.station_event_record(station=day.station, kind="opened", occurred_at=at("07:00"), reporter=admin)
    held = services.turnout_report_record(station=day.station, voters=5000, slot="11:00", reporter=admin)
    incident = services.incident_report(
        election=day.election,
        municipality=day.station.municipality,
        station=day.station,
        kind="intimidation",
        severity="high",
        occurred_at=at("09:00"),
        description="Men photographing voters.",
        reporter=admin,
    )
    official = signed_in(day, "official")
    desk = "/election-day/test-2025/incidents/?round=R1"
    assert "Men photographing voters." in official.get(desk).content.decode()
    refused = official.post(
        desk, {"incident": incident.pk, "decision": "reject", "note": "", "client_key": "desk-key-1"}
    )
    assert refused.status_code == 422  # a rejection says why
    verified = official.post(
        desk, {"incident": incident.pk, "decision": "verify", "note": "seen", "client_key": "desk-key-2"}, follow=True
    )
    assert "verified, now public" in verified.content.decode()
    assert (
        signed_in(day, "clerk")
        .post(desk, {"incident": incident.pk, "decision": "resolve", "note": "x", "client_key": "desk-key-3"})
        .status_code
        == 403
    )

    review = "/election-day/test-2025/turnout-review/?round=R1"
    assert "5000" in official.get(review).content.decode()
    accepted = official.post(review, {"report": held.pk, "accept": "0", "note": "a typo", "client_key": "review-key-1"})
    assert accepted.status_code == 302
    assert TurnoutReport.objects.get(pk=held.pk).review == "dismissed"
    assert signed_in(day, "chair").get(review).status_code == 403


def test_a_withdrawal_from_the_observers_page(day: Day) -> None:
    services.deployment_create(
        observer=day.observer, station=day.station, started_at=at("07:00"), reporter=day.reporter("admin")
    )
    page = "/election-day/test-2025/observers/?round=R1"
    admin = signed_in(day, "admin")
    assert "Democracy Watch Kosovo" in admin.get(page).content.decode()
    done = admin.post(
        page,
        {
            "organisation": day.organisation.pk,
            "municipality": "01",
            "area": "",
            "time": "17:55",
            "reason": "Staff pulled out after threats.",
            "client_key": "withdraw-key-1",
        },
        follow=True,
    )
    assert "Withdrawal recorded." in done.content.decode()
    assert Withdrawal.objects.get().deployments_ended == 1
    assert Deployment.objects.get().end_reason == "withdrawn"
    both = admin.post(
        page,
        {
            "organisation": day.organisation.pk,
            "municipality": "01",
            "area": "north",
            "time": "18:00",
            "reason": "x",
            "client_key": "withdraw-key-2",
        },
    )
    assert both.status_code == 422


def test_an_observer_reports_from_the_incident_desk(day: Day) -> None:
    desk = "/election-day/test-2025/incidents/?round=R1"
    observer = signed_in(day, "observer")
    assert "Report an incident" in observer.get(desk).content.decode()
    body = {
        "action": "report",
        "station": "3801A/02R",
        "municipality": "",
        "kind": "observers_obstructed",
        "severity": "medium",
        "time": "13:05",
        "description": "The chair asked me to leave the room.",
        "client_key": "desk-report-1",
    }
    assert observer.post(desk, body).status_code == 302
    assert observer.post(desk, body).status_code == 302  # sent twice, recorded once
    incident = Incident.objects.get()
    assert (incident.station.code, incident.observer, incident.reporter_kind) == ("3801A/02R", day.observer, "observer")
    unknown = observer.post(desk, body | {"station": "9999X/01R", "client_key": "desk-report-2"})
    assert unknown.status_code == 404
    assert "No polling station 9999X/01R" in unknown.content.decode()
    clerk = signed_in(day, "clerk")
    assert "Report an incident" not in clerk.get(desk).content.decode()
    refused = clerk.post(desk, body | {"client_key": "desk-report-3"})
    assert refused.status_code == 403
    assert Incident.objects.count() == 1
