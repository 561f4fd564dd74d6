"""Every election-day endpoint, for every role: admin, official (of the station's municipality),
chair (of the station), clerk, auditor, panel, observer (accredited), anonymous, and the chair's
station device. Each call runs in a savepoint, so each principal meets the same state; every
refusal leaves the database as it was."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client

from tallyroom.accounts.tokens import device_token_issue
from tallyroom.polling import services
from tallyroom.polling.models import TurnoutReport
from tests.conftest import db_counts
from tests.polling.conftest import Api, Day, as_device, as_user, at, counts, iso, key

pytestmark = pytest.mark.django_db
PRINCIPALS = ["admin", "official", "chair", "clerk", "auditor", "panel", "observer", "anonymous", "device"]


def table(default: int | None, anonymous: int | None = 401, **roles: int | None) -> dict[str, int | None]:
    out: dict[str, int | None] = dict.fromkeys(PRINCIPALS, default)
    out["anonymous"] = anonymous
    out.update(roles)
    return out


STATION_WRITE = table(403, admin=201, official=201, chair=201, device=201)
READ = table(200)
INCIDENT_WRITE = table(403, admin=201, official=201, chair=201, device=201, observer=201)
UNVERIFIED_READ = table(404, admin=200, official=200, auditor=200, panel=200)
UNVERIFIED_DECIDE = table(404, admin=200, official=200, auditor=403, panel=403)
UNVERIFIED_PHOTO = table(404, admin=201, official=201, auditor=403, panel=403)
DECIDE = table(403, admin=200, official=200)
COMMISSION = table(403, admin=200)
COMMISSION_CREATE = table(403, admin=201)
AREA_CREATE = table(403, admin=201, official=201)
AREA_ACT = table(403, admin=200, official=200)
DEPLOY = table(403, admin=201, official=201, observer=201)
PUBLIC = table(200, anonymous=200)
PAGE = table(200, anonymous=302, device=None)
REPORTER_PAGE = table(403, anonymous=302, device=None, admin=200, official=200, chair=200)
DECIDER_PAGE = table(403, anonymous=302, device=None, admin=200, official=200)


@dataclass
class Ctx:
    day: Day
    ids: dict[str, int] = field(default_factory=dict)


@dataclass
class Case:
    name: str
    method: str
    url: Callable[[Ctx], str]
    expected: dict[str, int | None]
    body: Callable[[Ctx], Any] = lambda ctx: None
    setup: Callable[[Ctx], None] = lambda ctx: None
    multipart: bool = False


def _open(ctx: Ctx) -> None:
    services.station_event_record(
        station=ctx.day.station, kind="opened", occurred_at=at("07:00"), reporter=ctx.day.reporter("admin")
    )


def _incident(ctx: Ctx, verified: bool = False) -> None:
    reporter = ctx.day.reporter("admin")
    incident = services.incident_report(
        election=ctx.day.election,
        municipality=ctx.day.station.municipality,
        station=ctx.day.station,
        kind="procedural",
        severity="medium",
        occurred_at=at("10:00"),
        description="The voter list was not signed.",
        reporter=reporter,
    )
    if verified:
        services.incident_verify(incident=incident, reporter=reporter)
    ctx.ids["incident"] = incident.pk


def _held(ctx: Ctx) -> None:
    _open(ctx)
    report = services.turnout_report_record(
        station=ctx.day.station, voters=5000, slot="11:00", reporter=ctx.day.reporter("admin")
    )
    assert report.review == TurnoutReport.Review.HELD
    ctx.ids["report"] = report.pk


def _applicant(ctx: Ctx) -> None:
    observer = services.observer_apply(
        organisation=ctx.day.organisation, full_name="Vlora Uka", reporter=ctx.day.reporter("admin")
    )
    ctx.ids["applicant"] = observer.pk


def _token(ctx: Ctx) -> None:
    row, _token_text = device_token_issue(
        user=ctx.day.users["chair"],
        station=ctx.day.station,
        round_=ctx.day.round,
        expires_at=dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=2),
    )
    ctx.ids["token"] = row.pk


def _both(*steps: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
    def run(ctx: Ctx) -> None:
        for step in steps:
            step(ctx)

    return run


STATION = "0101C/01R"
CASES = [
    Case(
        "record a station event",
        "post",
        lambda c: f"/api/v1/stations/{STATION}/events",
        STATION_WRITE,
        body=lambda c: {"kind": "opened", "occurred_at": iso("07:00"), "client_key": key()},
    ),
    Case(
        "report turnout",
        "post",
        lambda c: f"/api/v1/stations/{STATION}/turnout",
        STATION_WRITE,
        body=lambda c: {"voters": 100, "reporting_time": "11:00", "client_key": key()},
        setup=_open,
    ),
    Case("read a station's day", "get", lambda c: f"/api/v1/stations/{STATION}/day", READ),
    Case(
        "report an incident",
        "post",
        lambda c: "/api/v1/incidents",
        INCIDENT_WRITE,
        body=lambda c: {
            "election": "test-2025",
            "station": STATION,
            "kind": "campaigning",
            "severity": "low",
            "occurred_at": iso("09:00"),
            "description": "Leaflets at the door.",
            "client_key": key(),
        },
    ),
    Case("list incidents", "get", lambda c: "/api/v1/incidents?election=test-2025", READ, setup=_incident),
    Case(
        "read an unverified incident",
        "get",
        lambda c: f"/api/v1/incidents/{c.ids['incident']}",
        UNVERIFIED_READ,
        setup=_incident,
    ),
    Case(
        "verify an incident",
        "post",
        lambda c: f"/api/v1/incidents/{c.ids['incident']}/verify",
        UNVERIFIED_DECIDE,
        body=lambda c: {"note": "seen"},
        setup=_incident,
    ),
    Case(
        "reject an incident",
        "post",
        lambda c: f"/api/v1/incidents/{c.ids['incident']}/reject",
        UNVERIFIED_DECIDE,
        body=lambda c: {"reason": "not so"},
        setup=_incident,
    ),
    Case(
        "resolve an incident",
        "post",
        lambda c: f"/api/v1/incidents/{c.ids['incident']}/resolve",
        DECIDE,
        body=lambda c: {"resolution": "done"},
        setup=lambda c: _incident(c, verified=True),
    ),
    Case(
        "add a photo",
        "post",
        lambda c: f"/api/v1/incidents/{c.ids['incident']}/photos",
        UNVERIFIED_PHOTO,
        setup=_incident,
        multipart=True,
    ),
    Case(
        "review held turnout",
        "post",
        lambda c: f"/api/v1/turnout/{c.ids['report']}/review",
        DECIDE,
        body=lambda c: {"accept": False, "note": "typo"},
        setup=_held,
    ),
    Case("read the dashboard data", "get", lambda c: "/api/v1/elections/test-2025/election-day", READ),
    Case("list observer organisations", "get", lambda c: "/api/v1/elections/test-2025/observer-organisations", READ),
    Case(
        "register an organisation",
        "post",
        lambda c: "/api/v1/elections/test-2025/observer-organisations",
        COMMISSION_CREATE,
        body=lambda c: {"name": "EU EOM", "kind": "international"},
    ),
    Case(
        "apply for accreditation (for someone)",
        "post",
        lambda c: "/api/v1/elections/test-2025/observers",
        COMMISSION_CREATE,
        body=lambda c: {"organisation": c.day.organisation.pk, "full_name": "Genta Zeka", "client_key": key()},
    ),
    Case(
        "approve an accreditation",
        "post",
        lambda c: f"/api/v1/observers/{c.ids['applicant']}/approve",
        COMMISSION,
        body=lambda c: {},
        setup=_applicant,
    ),
    Case(
        "refuse an accreditation",
        "post",
        lambda c: f"/api/v1/observers/{c.ids['applicant']}/refuse",
        COMMISSION,
        body=lambda c: {"reason": "incomplete"},
        setup=_applicant,
    ),
    Case(
        "revoke an accreditation",
        "post",
        lambda c: f"/api/v1/observers/{c.day.observer.pk}/revoke",
        COMMISSION,
        body=lambda c: {"reason": "breach"},
    ),
    Case(
        "deploy an observer",
        "post",
        lambda c: f"/api/v1/observers/{c.day.observer.pk}/deployments",
        DEPLOY,
        body=lambda c: {"station": STATION, "started_at": iso("08:00"), "client_key": key()},
    ),
    Case(
        "withdraw an organisation from a municipality",
        "post",
        lambda c: f"/api/v1/observer-organisations/{c.day.organisation.pk}/withdrawals",
        AREA_CREATE,
        body=lambda c: {"municipality": "01", "occurred_at": iso("18:00"), "reason": "pulled out", "client_key": key()},
    ),
    Case("read observer coverage", "get", lambda c: "/api/v1/elections/test-2025/observer-coverage", READ),
    Case(
        "issue a device token",
        "post",
        lambda c: "/api/v1/device-tokens",
        AREA_CREATE,
        body=lambda c: {"election": "test-2025", "station": STATION, "username": "chair", "round": "R1"},
    ),
    Case(
        "revoke a device token",
        "post",
        lambda c: f"/api/v1/device-tokens/{c.ids['token']}/revoke",
        AREA_ACT,
        body=lambda c: {},
        setup=_token,
    ),
    Case(
        "read public incidents",
        "get",
        lambda c: "/api/v1/elections/test-2025/public-incidents",
        PUBLIC,
        setup=lambda c: _incident(c, verified=True),
    ),
    Case("open the dashboard page", "get", lambda c: "/election-day/test-2025/dashboard/", PAGE),
    Case("poll the dashboard's live data", "get", lambda c: "/election-day/test-2025/dashboard/live.json", PAGE),
    Case("open the station page", "get", lambda c: f"/election-day/test-2025/station/{STATION}", REPORTER_PAGE),
    Case("open the incident desk", "get", lambda c: "/election-day/test-2025/incidents/", PAGE, setup=_incident),
    Case("open the observers page", "get", lambda c: "/election-day/test-2025/observers/", PAGE),
    Case(
        "open the held-turnout page",
        "get",
        lambda c: "/election-day/test-2025/turnout-review/",
        DECIDER_PAGE,
        setup=_held,
    ),
    Case("open the stations list", "get", lambda c: "/election-day/test-2025/stations/", PAGE),
]


def _api(day: Day, who: str) -> Api:
    if who == "device":
        return as_device(day.token)
    return as_user(None if who == "anonymous" else day.users[who])


def _call(api: Api, case: Case, ctx: Ctx) -> Any:
    url = case.url(ctx)
    if case.method == "get":
        return api.get(url)
    if case.multipart:
        photo = SimpleUploadedFile("p.png", b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png")
        headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
        return api.client.post(url, {"photo": photo}, headers=headers)
    return api.post(url, case.body(ctx))


def test_every_role_on_every_endpoint(day: Day, settings: Any, tmp_path: Path) -> None:
    """One test for the whole table (each case in its own savepoint): the day is set up once."""
    settings.MEDIA_ROOT = tmp_path
    apis = {who: _api(day, who) for who in PRINCIPALS}  # signed in once, outside the savepoints
    wrong = []
    for case in CASES:
        outer = transaction.savepoint()
        ctx = Ctx(day)
        case.setup(ctx)
        got: dict[str, int | None] = {}
        for who in PRINCIPALS:
            if case.expected[who] is None:
                got[who] = None
                continue
            savepoint = transaction.savepoint()
            before = counts()
            response = _call(apis[who], case, ctx)
            got[who] = response.status_code
            if response.status_code >= 400:
                assert counts() == before, f"{case.name} as {who} wrote something and was refused"
                if response["Content-Type"].startswith("application/json"):
                    assert set(response.json()) == {"code", "message", "field", "details"}
            transaction.savepoint_rollback(savepoint)
        transaction.savepoint_rollback(outer)
        if got != case.expected:
            diff = {who: (got[who], case.expected[who]) for who in PRINCIPALS if got[who] != case.expected[who]}
            wrong.append(f"{case.name}: (got, expected) {diff}")
    assert wrong == []
    assert len(CASES) == 31


def test_an_official_and_a_chair_stay_in_their_scope(day: Day) -> None:
    """The same acts, aimed outside their municipality or station, are refused."""
    north = "3801A/01R"
    body = {"kind": "opened", "occurred_at": iso("07:00"), "client_key": key()}
    before = db_counts()
    for who in ("official", "chair"):
        assert as_user(day.users[who]).post(f"/api/v1/stations/{north}/events", body).status_code == 403
    assert as_user(day.users["chair"]).post("/api/v1/stations/0102B/01R/events", body).status_code == 403
    assert as_device(day.token).post(f"/api/v1/stations/{north}/events", body).status_code == 403
    incident = {
        "election": "test-2025",
        "station": north,
        "kind": "other",
        "severity": "low",
        "occurred_at": iso("09:00"),
        "description": "x",
        "client_key": key(),
    }
    for who in ("official", "chair"):
        assert as_user(day.users[who]).post("/api/v1/incidents", incident).status_code == 403
    token = {"election": "test-2025", "station": north, "username": "chair"}
    assert as_user(day.users["official"]).post("/api/v1/device-tokens", token).status_code == 403
    assert db_counts() == before


def test_session_writes_need_the_csrf_token(day: Day) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(day.users["chair"])
    body = {"kind": "opened", "occurred_at": iso("07:00"), "client_key": key()}
    refused = client.post(f"/api/v1/stations/{STATION}/events", body, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["message"]
    client.get("/election-day/test-2025/dashboard/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    allowed = client.post(
        f"/api/v1/stations/{STATION}/events", body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert allowed.status_code == 201
