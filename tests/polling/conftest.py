"""Election day fixtures: the small election with one user per role, a device token, and helpers
that speak to the API the way a station's phone does."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tallyroom.accounts.models import Role
from tallyroom.accounts.services import user_create_or_reset, user_grant_role
from tallyroom.accounts.tokens import device_token_issue
from tallyroom.elections.models import Election, PollingStation, Round
from tallyroom.polling import services
from tallyroom.polling.access import Reporter
from tallyroom.polling.models import Observer, ObserverOrganisation
from tests.signin import signed_in

ZONE = ZoneInfo("Europe/Belgrade")
DAY = dt.date(2025, 10, 12)  # the small election's first round
ROLES = ["admin", "official", "chair", "clerk", "auditor", "panel", "observer"]


def at(hhmm: str, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=ZONE)


def iso(hhmm: str, day: dt.date = DAY) -> str:
    return at(hhmm, day).isoformat()


def key() -> str:
    return str(uuid.uuid4())


@dataclass
class Day:
    election: Election
    round: Round
    station: PollingStation  # 0101C/01R, municipality 01: the chair's and the official's
    neighbour: PollingStation  # 0102B/01R, municipality 01: the official's, not the chair's
    north: PollingStation  # 3801A/01R, municipality 38 (area north): neither's
    users: dict[str, User]
    observer: Observer
    organisation: ObserverOrganisation
    token: str

    def reporter(self, role: str = "admin") -> Reporter:
        return Reporter(self.users[role], role)


@pytest.fixture
def day(small_election: Election) -> Day:
    election = small_election
    round_ = Round.objects.get(election=election, code="R1")
    station = PollingStation.objects.get(election=election, code="0101C/01R")
    neighbour = PollingStation.objects.get(election=election, code="0102B/01R")
    north = PollingStation.objects.get(election=election, code="3801A/01R")
    users = {}
    for role in ROLES:
        user = user_create_or_reset(role, "x" * 16)
        if role == "official":
            user_grant_role(user, election, Role.OFFICIAL, municipality=station.municipality)
        elif role == "chair":
            user_grant_role(user, election, Role.CHAIR, station=station)
        else:
            user_grant_role(user, election, Role(role))
        users[role] = user
    admin = Reporter(users["admin"], Role.ADMIN)
    org = services.observer_organisation_create(
        election=election, name="Democracy Watch Kosovo", kind="domestic", reporter=admin
    )
    observer = services.observer_apply(
        organisation=org, full_name="Teuta Gashi", user=users["observer"], reporter=admin
    )
    observer = services.observer_approve(observer=observer, reporter=admin)
    _row, token = device_token_issue(
        user=users["chair"],
        station=station,
        round_=round_,
        expires_at=dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=1),
    )
    return Day(election, round_, station, neighbour, north, users, observer, org, token)


class Api:
    """A client that posts JSON the way a station device does."""

    def __init__(self, client: Client, *, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def post(self, url: str, body: Any, *, headers: dict[str, str] | None = None, raw: bool = False) -> Any:
        data = body if raw else json.dumps(body)
        return self.client.post(url, data=data, content_type="application/json", headers=self._headers(headers))

    def get(self, url: str, *, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(url, headers=self._headers(headers))


def as_user(user: User | None) -> Api:
    return Api(signed_in(user) if user is not None else Client())


def as_device(token: str) -> Api:
    return Api(Client(), token=token)


EVENTS = "/api/v1/stations/{code}/events"
TURNOUT = "/api/v1/stations/{code}/turnout"


def open_station(api: Api, code: str = "0101C/01R", hhmm: str = "07:02") -> Any:
    response = api.post(EVENTS.format(code=code), {"kind": "opened", "occurred_at": iso(hhmm), "client_key": key()})
    assert response.status_code == 201, response.content
    return response.json()


def counts() -> tuple[int, ...]:
    """The row count of every Tallyroom table in one query: `db_counts()` for tight loops."""
    from django.apps import apps
    from django.db import connection

    tables = sorted(
        model._meta.db_table
        for model in apps.get_models()
        if model._meta.app_label in {"elections", "accounts", "polling", "results", "publish", "audit"}
        and not model._meta.proxy
    )
    quote = connection.ops.quote_name
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(t)})" for t in tables)  # noqa: S608 - table names
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return tuple(row)
