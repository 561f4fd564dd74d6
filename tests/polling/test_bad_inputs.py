"""A corpus of bad submissions: each gets a clear 4xx in the one error format, and nothing is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tallyroom.polling import services
from tests.conftest import db_counts
from tests.polling.conftest import Day, as_device, as_user, at, counts, iso

pytestmark = pytest.mark.django_db
EVENTS = "/api/v1/stations/0101C/01R/events"
TURNOUT = "/api/v1/stations/0101C/01R/turnout"
K = {"client_key": "bad-input-corpus-0001"}


def ev(**kw: Any) -> dict[str, Any]:
    return {"kind": "suspended", "occurred_at": iso("09:00"), "reason": "x", **K, **kw}


def to(**kw: Any) -> dict[str, Any]:
    return {"voters": 100, "reporting_time": "11:00", **K, **kw}


def inc(**kw: Any) -> dict[str, Any]:
    return {
        "election": "test-2025",
        "station": "0101C/01R",
        "kind": "violence",
        "severity": "high",
        "occurred_at": iso("10:00"),
        "description": "x",
        **K,
        **kw,
    }


# (name, url, body or raw string, status, code, field or None, words in the message)
CORPUS: list[tuple[str, str, Any, int, str, str | None, str]] = [
    (
        "negative count",
        TURNOUT,
        to(voters=-5),
        422,
        "invalid_input",
        "body.payload.voters",
        "greater than or equal to 0",
    ),
    ("count as words", TURNOUT, to(voters="many"), 422, "invalid_input", "body.payload.voters", "integer"),
    ("absurd count", TURNOUT, to(voters=10**12), 422, "invalid_input", "body.payload.voters", "less than or equal"),
    ("fractional count", TURNOUT, to(voters=12.5), 422, "invalid_input", "body.payload.voters", "integer"),
    ("unknown station", "/api/v1/stations/9999X/01R/events", ev(), 404, "not_found", "path.code", "9999X/01R"),
    ("unknown station, turnout", "/api/v1/stations/9999X/01R/turnout", to(), 404, "not_found", "path.code", "9999X"),
    (
        "time on another day",
        EVENTS,
        ev(occurred_at="2025-10-13T09:00:00+02:00"),
        422,
        "invalid_input",
        "occurred_at",
        "not on an election day",
    ),
    (
        "time the night before",
        EVENTS,
        ev(occurred_at="2025-10-11T23:30:00"),
        422,
        "invalid_input",
        "occurred_at",
        "2025-10-12",
    ),
    (
        "time in the future",
        EVENTS,
        ev(occurred_at="2099-10-12T09:00:00+02:00"),
        422,
        "invalid_input",
        "occurred_at",
        "not on an election day",
    ),
    (
        "not a time",
        EVENTS,
        ev(occurred_at="nine o'clock"),
        422,
        "invalid_input",
        "body.payload.occurred_at",
        "datetime",
    ),
    ("malformed JSON", EVENTS, '{"kind": "opened", "occurred_at": ', 400, "malformed_json", None, "parse"),
    ("JSON that is not an object", EVENTS, "[1, 2, 3]", 422, "invalid_input", "body.payload", "dictionary or object"),
    ("empty body", EVENTS, "", 422, "invalid_input", "body.payload", "Field required"),
    ("unknown event", EVENTS, ev(kind="exploded"), 422, "invalid_input", "body.payload.kind", "opened"),
    ("missing reason", EVENTS, ev(reason=""), 422, "invalid_input", "reason", "required"),
    ("misspelt field", EVENTS, ev(ocurred_at=iso("09:00")), 422, "invalid_input", "body.payload.ocurred_at", "Extra"),
    ("reason too long", EVENTS, ev(reason="x" * 6000), 422, "invalid_input", "body.payload.reason", "at most 5000"),
    ("unknown round", EVENTS, ev(round="R9"), 422, "invalid_input", "round", "R9"),
    (
        "correcting an unknown event",
        EVENTS,
        ev(kind="opened", corrects=999999),
        404,
        "not_found",
        "corrects",
        "#999999",
    ),
    ("a retraction of nothing", EVENTS, ev(kind="retracted"), 422, "invalid_input", "corrects", "name the event"),
    (
        "no client key",
        EVENTS,
        {k: v for k, v in ev().items() if k != "client_key"},
        422,
        "invalid_input",
        "client_key",
        "client-generated key",
    ),
    ("a client key too short", EVENTS, ev(client_key="1"), 422, "invalid_input", "client_key", "8 to 200"),
    (
        "reporting time off the schedule",
        TURNOUT,
        to(reporting_time="12:00"),
        422,
        "invalid_input",
        "reporting_time",
        "11:00, 15:00, 19:00",
    ),
    (
        "reporting time malformed",
        TURNOUT,
        to(reporting_time="7am"),
        422,
        "invalid_input",
        "body.payload.reporting_time",
        "pattern",
    ),
    (
        "turnout on another day",
        TURNOUT,
        {"voters": 5, "at": "2025-10-14T10:00:00+02:00", **K},
        422,
        "invalid_input",
        "at",
        "not on an election day",
    ),
    ("incident, unknown election", "/api/v1/incidents", inc(election="nope"), 404, "not_found", "election", "nope"),
    (
        "incident, no place",
        "/api/v1/incidents",
        inc(station=None),
        422,
        "invalid_input",
        "municipality",
        "municipality",
    ),
    (
        "incident, unknown municipality",
        "/api/v1/incidents",
        inc(station=None, municipality="77", place="x"),
        404,
        "not_found",
        "municipality",
        "77",
    ),
    (
        "incident, unknown type",
        "/api/v1/incidents",
        inc(kind="riot"),
        422,
        "invalid_input",
        "body.payload.kind",
        "violence",
    ),
    (
        "incident, empty description",
        "/api/v1/incidents",
        inc(description="   "),
        422,
        "invalid_input",
        "description",
        "required",
    ),
    (
        "incident, at another station's municipality",
        "/api/v1/incidents",
        inc(municipality="38"),
        422,
        "invalid_input",
        "municipality",
        "is in municipality 01",
    ),
]


def test_bad_input_is_refused_clearly_and_stores_nothing(day: Day) -> None:
    """The whole corpus in one test (the day is set up once); each case must hold."""
    services.station_event_record(
        station=day.station, kind="opened", occurred_at=at("07:00"), reporter=day.reporter("admin")
    )
    admin = as_user(day.users["admin"])
    before = counts()
    wrong = []
    for name, url, body, status, code, field, words in CORPUS:
        response = admin.post(url, body, raw=isinstance(body, str))
        error = response.json()
        code_ok = error.get("code") == code
        if not (
            response.status_code == status
            and set(error) == {"code", "message", "field", "details"}
            and code_ok
            and error["field"] == field
            and words in error["message"]
            and len(error["message"]) > 10
        ):
            wrong.append(f"{name}: {response.status_code} {error}")
        if counts() != before:
            wrong.append(f"{name}: something was stored")
    assert wrong == []
    assert len(CORPUS) >= 30


def test_bad_photos(day: Day, settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.TALLYROOM_PHOTO_MAX_BYTES = 2048
    phone = as_device(day.token)
    incident = phone.post("/api/v1/incidents", inc()).json()
    url = f"/api/v1/incidents/{incident['id']}/photos"
    auth = {"Authorization": f"Bearer {day.token}"}
    client = Client()
    before = db_counts()
    cases = [
        ("oversize", {"photo": SimpleUploadedFile("big.jpg", b"\xff\xd8\xff" + bytes(4096))}, 413, "too_large"),
        (
            "a text file called .png",
            {"photo": SimpleUploadedFile("x.png", b"hello world" * 10)},
            415,
            "unsupported_media_type",
        ),
        ("an empty file", {"photo": SimpleUploadedFile("e.jpg", b"")}, 422, "invalid_input"),
        ("no file", {"other": "x"}, 422, "invalid_input"),
    ]
    for name, data, status, code in cases:
        response = client.post(url, data, headers=auth)
        assert (response.status_code, response.json()["code"]) == (status, code), name
    as_json = phone.post(url, {"photo": "aGVsbG8="})
    assert as_json.status_code == 415
    huge = client.post(url, {"photo": SimpleUploadedFile("h.jpg", b"\xff\xd8\xff" + bytes(200_000))}, headers=auth)
    assert huge.status_code == 413  # refused by its Content-Length, before the body is read
    assert db_counts() == before
    assert not any(tmp_path.rglob("*.*"))
