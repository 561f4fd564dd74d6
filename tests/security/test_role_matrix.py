"""Runs the role matrix (tests/security/role_matrix.py): every endpoint has a row, and every row
answers every principal as the table says. A new URL or API operation without a row fails here.

The objects the rows point at are built once for the module inside one transaction that is rolled
back at the end; each row's test runs in its own savepoint, and each principal's request in a
savepoint of its own, so every principal meets the same data."""

from __future__ import annotations

import ast
import datetime as dt
import functools
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass, replace
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.urls.resolvers import LocalePrefixPattern
from django.utils import translation
from django_otp.plugins.otp_totp.models import TOTPDevice

from tallyroom.accounts.models import Role
from tallyroom.accounts.services import user_create_or_reset, user_grant_role
from tallyroom.accounts.tokens import device_token_issue
from tallyroom.accounts.twofactor import DEVICE_NAME
from tallyroom.api.main import api
from tallyroom.elections.models import Contest, Election, PollingStation, Round
from tallyroom.elections.services import election_load
from tallyroom.polling import services as polling
from tallyroom.polling.access import Reporter
from tallyroom.publish import signing
from tallyroom.results import decisions
from tallyroom.results.services import data_entry_record, result_form_submit
from tests.conftest import SMALL
from tests.polling.conftest import at, counts
from tests.results.pages import content, held_form
from tests.security.role_matrix import (
    COMPLAINT_SUBJECT,
    DENIED,
    EXCLUDED,
    HIDDEN_INCIDENT,
    IGNORED,
    INVALID,
    LOGIN,
    NOT_ALLOWED,
    NOT_FOUND,
    OK,
    PRINCIPALS,
    REDIRECT,
    REFUSALS,
    SECRETS,
    TABLE,
    TWO_FACTOR,
    Expect,
    Row,
    World,
)
from tests.signin import signed_in

API_PREFIX = "/api/v1"
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


# --- every endpoint -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    route: str  # "/count/<str:code>/quarantine/", as the URL configuration declares it (no language prefix)
    callback: Callable[..., Any]
    i18n: bool


def _walk(patterns: list[Any], prefix: str = "", i18n: bool = False) -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            localized = i18n or isinstance(entry.pattern, LocalePrefixPattern)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), localized)
        elif isinstance(entry, URLPattern):
            yield Route("/" + prefix + str(entry.pattern), entry.callback, i18n)


def django_routes(patterns: list[Any] | None = None) -> dict[str, Route]:
    """Every route of the URL configuration, in the default language (which has no prefix). The
    first pattern of a route wins, as in Django (accounts' own login page shadows Django's)."""
    routes: dict[str, Route] = {}
    with translation.override("en"):
        for route in _walk(get_resolver().url_patterns if patterns is None else patterns):
            routes.setdefault(route.route, route)
    return routes


def ninja_operations() -> set[tuple[str, str]]:
    """(method, route) of every django-ninja operation, the route as the router declares it."""
    found = set()
    for prefix, router in api._routers:
        for declared, path_view in router.path_operations.items():
            route = "/".join(p.strip("/") for p in (API_PREFIX, prefix, declared) if p.strip("/"))
            for operation in path_view.operations:
                found |= {(method.upper(), "/" + route) for method in operation.methods}
    return found


def _as_ninja(route: str) -> str:
    return CONVERTER.sub(lambda m: "{" + (f"{m[1]}:" if m[1] else "") + m[2] + "}", route)


@functools.cache
def _module_functions(name: str) -> tuple[list[str], dict[str, ast.FunctionDef]]:
    text = inspect.getsource(sys.modules[name])
    functions = {node.name: node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}
    return text.splitlines(), functions


def _source_of(callback: Callable[..., Any]) -> str:
    """The source of the view under its decorators, found by name in its module (or in a wrapper's
    closure, for decorators that rename)."""
    if isinstance(callback, functools.partial):
        return _source_of(callback.func)
    lines, functions = _module_functions(callback.__module__)
    node = functions.get(callback.__name__)
    if node is not None:
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        return "\n".join(lines[first - 1 : node.end_lineno])
    for cell in callback.__closure__ or ():
        inner = cell.cell_contents
        if inspect.isfunction(inner) and inner is not callback:
            return _source_of(inner)
    return ""


def handles_post(callback: Callable[..., Any]) -> bool:
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        return hasattr(view_class, "post")
    source = _source_of(callback)
    return "require_safe" not in source and ("POST" in source or "require_POST" in source)


def endpoints(
    patterns: list[Any] | None = None, operations: set[tuple[str, str]] | None = None
) -> set[tuple[str, str]]:
    """(method, route) pairs that need a row: every ninja operation; every other route's GET, unless
    the view takes POST only; and POST wherever the view reads a posted form."""
    operations = ninja_operations() if operations is None else operations
    api_routes = {route for _m, route in operations}
    needed = set(operations)
    for route in django_routes(patterns).values():
        if route.route.startswith(API_PREFIX + "/") and _as_ninja(route.route) in api_routes:
            continue
        source = "" if hasattr(route.callback, "view_class") else _source_of(route.callback)
        if "require_POST" not in source:
            needed.add(("GET", route.route))
        if handles_post(route.callback):
            needed.add(("POST", route.route))
    return needed


def _excluded(route: str) -> str | None:
    return next((reason for prefix, reason in EXCLUDED.items() if route.startswith(prefix)), None)


def without_row(needed: set[tuple[str, str]]) -> list[tuple[str, str]]:
    rows = {(row.method, row.route) for row in TABLE}
    return sorted(e for e in needed - rows if _excluded(e[1]) is None)


def test_every_endpoint_has_a_row_and_every_row_an_endpoint() -> None:
    needed = endpoints()
    rows = {(row.method, row.route) for row in TABLE}
    missing = without_row(needed)
    assert missing == [], "endpoints without a row in tests/security/role_matrix.py TABLE (or EXCLUDED)"
    known = needed | {("GET", r) for r in django_routes()} | {("POST", r) for r in django_routes()}
    stale = sorted(r for r in rows if r not in known)
    assert stale == [], "TABLE rows that match no endpoint any more"
    unused = [prefix for prefix in EXCLUDED if not any(route.startswith(prefix) for _m, route in needed - rows)]
    assert unused == [], "EXCLUDED entries that exclude nothing"


def _new_page(request: HttpRequest, code: str) -> HttpResponse:
    if request.method == "POST":
        return HttpResponse(status=204)
    return HttpResponse()


def test_a_new_endpoint_without_a_row_fails() -> None:
    """What the test above does when someone adds a page and an API operation and no rows."""
    patterns = [
        *get_resolver().url_patterns,
        path("count/<str:code>/secrets/", _new_page),
        path("count/<str:code>/secrets.csv", lambda request, code: HttpResponse()),
    ]
    operations = ninja_operations() | {("DELETE", "/api/v1/result-forms/{form_id}")}
    assert without_row(endpoints(patterns, operations)) == [
        ("DELETE", "/api/v1/result-forms/{form_id}"),
        ("GET", "/count/<str:code>/secrets.csv"),
        ("GET", "/count/<str:code>/secrets/"),
        ("POST", "/count/<str:code>/secrets/"),
    ]


def test_the_openapi_document_lists_no_operation_the_table_misses() -> None:
    """A second net under the routers' walk: the operations the API publishes."""
    schema = api.get_openapi_schema()
    published = {(method.upper(), path) for path, operations in schema["paths"].items() for method in operations}
    rows = {(row.method, re.sub(r"\{\w+:(\w+)\}", r"{\1}", row.route)) for row in TABLE if row.api}
    assert sorted(published - rows) == []


def test_pages_are_served_in_every_language() -> None:
    """The walk above reads routes in English, which has no prefix; the others have one."""
    english = {r.route for r in django_routes().values() if r.i18n}
    with translation.override("sq"):
        albanian = {r.route for r in _walk(get_resolver().url_patterns) if r.i18n}
    assert albanian == {"/sq" + route for route in english}
    assert "/count/<str:code>/quarantine/" in english
    assert not any(r.startswith(("/api/", "/data/")) for r in english)


# --- the principals and the world they act in ----------------------------------------------------


@dataclass
class Caller:
    cookies: SimpleCookie
    token: str = ""

    def client(self) -> Client:
        client = Client()
        client.cookies = deepcopy(self.cookies)
        return client

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass
class Matrix:
    world: World
    callers: dict[str, Caller]


def _users(election: Election, station: PollingStation) -> dict[str, Any]:
    """One user per role, plus an administrator with an authenticator who has not used it yet."""
    users: dict[str, Any] = {}
    for role in Role:
        user = user_create_or_reset(str(role), "x" * 16)
        scope: dict[str, Any] = {}
        if role == Role.CHAIR:
            scope["station"] = station
        if role == Role.OFFICIAL:
            scope["municipality"] = station.municipality
        user_grant_role(user, election, role, **scope)
        users[str(role)] = user
    half = user_create_or_reset("admin-password-only", "x" * 16)
    user_grant_role(half, election, Role.ADMIN)
    TOTPDevice.objects.create(user=half, name=DEVICE_NAME, confirmed=True)
    users["unverified"] = half
    return users


def _election_day(election: Election, users: dict[str, Any]) -> dict[str, Any]:
    """Observers, device tokens, two open stations, held turnout, incidents (one hidden) and a photo."""
    round_ = Round.objects.get(election=election, code="R1")
    station = PollingStation.objects.get(election=election, code="0101C/01R")
    neighbour = PollingStation.objects.get(election=election, code="0102B/01R")
    admin = Reporter(users["admin"], Role.ADMIN)
    org = polling.observer_organisation_create(
        election=election, name="Democracy Watch Kosovo", kind="domestic", reporter=admin
    )
    observer = polling.observer_apply(organisation=org, full_name="Teuta Gashi", user=users["observer"], reporter=admin)
    expires = dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=1)
    _row, token = device_token_issue(user=users["chair"], station=station, round_=round_, expires_at=expires)
    spare, _token = device_token_issue(user=users["chair"], station=station, round_=round_, expires_at=expires)
    for place in (station, neighbour):
        polling.station_event_record(station=place, kind="opened", occurred_at=at("07:00"), reporter=admin)

    def incident(description: str) -> Any:
        return polling.incident_report(
            election=election,
            municipality=station.municipality,
            station=station,
            kind="procedural",
            severity="medium",
            occurred_at=at("10:00"),
            description=description,
            reporter=admin,
        )

    hidden = incident(HIDDEN_INCIDENT)
    upload = SimpleUploadedFile("p.png", b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png")
    return {
        "token": token,
        "organisation": org.pk,
        "observer": polling.observer_approve(observer=observer, reporter=admin).pk,
        "applicant": polling.observer_apply(organisation=org, full_name="Vlora Uka", reporter=admin).pk,
        "spare_token": spare.pk,
        "held_turnout": polling.turnout_report_record(station=neighbour, voters=5000, slot="11:00", reporter=admin).pk,
        "incident": hidden.pk,
        "public_incident": polling.incident_verify(incident=incident("The list was not signed."), reporter=admin).pk,
        "photo": polling.incident_photo_add(incident=hidden, upload=upload, reporter=admin).pk,
    }


def _count(election: Election, users: dict[str, Any]) -> dict[str, Any]:
    """Two held forms (municipalities 01 and 38), a disputed one, an open complaint."""
    held = held_form("0101C/01R")
    north = PollingStation.objects.get(election=election, code="3801A/01R")
    counted = content({"CIV": 300})
    unbalanced = replace(  # 50 ballots used that no vote accounts for: the arithmetic check holds the form
        counted, ballots_used=(counted.ballots_used or 0) + 50, ballots_unused=(counted.ballots_unused or 0) - 50
    )
    north_form = result_form_submit(
        station=north,
        contest=Contest.objects.get(municipality=north.municipality, kind="assembly", round__code="R1"),
        content=unbalanced,
        actor="chair",
        role="chair",
    ).form
    assert north_form.state == "quarantined", north_form.state
    neighbour = PollingStation.objects.get(election=election, code="0102B/01R")
    mayor = Contest.objects.get(municipality=neighbour.municipality, kind="mayor", round__code="R1")
    data_entry_record(clerk=users["clerk"], station=neighbour, contest=mayor, content=content({"BLUE": 300}))
    second: Any = user_create_or_reset("clerk-2", "x" * 16)
    user_grant_role(second, election, Role.CLERK)
    disputed = data_entry_record(clerk=second, station=neighbour, contest=mayor, content=content({"BLUE": 301}))
    assert disputed.form.state == "disputed", disputed.form.state
    complaint = decisions.complaint_file(
        municipality=neighbour.municipality,
        complainant="A party",
        subject=COMPLAINT_SUBJECT,
        actor="panel",
        role="panel",
    )
    return {
        "held_form": held.pk,
        "held_version": held.version,
        "north_form": north_form.pk,
        "disputed_form": disputed.form.pk,
        "complaint": complaint.pk,
        "contest": mayor.pk,
    }


def _snapshot(root: Path) -> str:
    name = "20251012T190000Z"
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>Results</title>", "utf-8")
    (folder / "manifest.json").write_text(json.dumps({"files": {}}), "utf-8")
    signing.private_key_load()  # on disk beside the snapshots: a row tries to fetch it through them
    return name


def _build(tmp: Path) -> Matrix:
    election_load(json.loads(SMALL.read_text("utf-8")))
    election = Election.objects.get(code="test-2025")
    users = _users(election, PollingStation.objects.get(election=election, code="0101C/01R"))
    day = _election_day(election, users)
    token = day.pop("token")
    world = World(
        election=election.code,
        station="0101C/01R",
        municipality="01",
        north="3801A/01R",
        snapshot=_snapshot(tmp / "snapshots"),
        **day,
        **_count(election, users),
    )
    callers = {"anonymous": Caller(SimpleCookie()), "device": Caller(SimpleCookie(), token)}
    for who in ("admin", "official", "chair", "clerk", "auditor", "panel", "observer"):
        callers[who] = Caller(signed_in(users[who]).cookies)
    half = Client()
    half.force_login(users["unverified"])  # the password only: no second factor
    callers["unverified"] = Caller(half.cookies)
    return Matrix(world, callers)


@pytest.fixture(scope="module")
def matrix(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """Built once, in a transaction rolled back after the module's last test."""
    tmp = tmp_path_factory.mktemp("matrix")
    with (
        override_settings(
            MEDIA_ROOT=tmp / "media",
            TALLYROOM_SNAPSHOT_ROOT=tmp / "snapshots",
            TALLYROOM_SIGNING_KEY=tmp / "keys" / "signing.pem",
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        yield _build(tmp)
        transaction.set_rollback(True)


# --- the requests ---------------------------------------------------------------------------------


def request(row: Row, matrix: Matrix, who: str, prefix: str = "") -> Any:
    """The row's request as `who` makes it: a session cookie, a device token or nothing."""
    caller = matrix.callers[who]
    client = caller.client()
    path = prefix + row.path(matrix.world)
    if row.method == "GET":
        return client.get(path, headers=caller.headers())
    body = row.body(matrix.world) if row.body is not None else {}
    if not row.api or any(isinstance(v, SimpleUploadedFile) for v in body.values()):
        return client.post(path, body, headers=caller.headers())  # a form, multipart
    return client.post(path, json.dumps(body), content_type="application/json", headers=caller.headers())


def observed(row: Row, response: Any, expected: Expect) -> Expect | str:
    status = response.status_code
    if 200 <= status < 300:
        return IGNORED if expected == IGNORED and status == 200 else OK
    if status == 302:
        where = urlsplit(response["Location"]).path
        if re.search(r"^(/[a-z-]+)?/(accounts|admin)/login/", where):
            return LOGIN
        if re.search(r"^(/[a-z-]+)?/accounts/two-factor/", where):
            return TWO_FACTOR
        return REDIRECT
    by_status = {401: LOGIN, 403: DENIED, 404: NOT_FOUND, 405: NOT_ALLOWED, 400: INVALID, 409: INVALID, 422: INVALID}
    if status in by_status and (status != 401 or row.api):
        return by_status[status]
    return f"HTTP {status}"


def _leaks(response: Any, who: str) -> list[str]:
    if response.streaming:
        return []
    text = response.content.decode("utf-8", "replace")
    return [secret for secret, readers in SECRETS.items() if who not in readers and secret in text]


@pytest.mark.django_db
@pytest.mark.parametrize("row", TABLE, ids=[row.name for row in TABLE])
def test_row(row: Row, matrix: Matrix) -> None:
    wrong = []
    for who in PRINCIPALS:
        expected = row.expect[who]
        savepoint = transaction.savepoint()
        before = counts()
        response = request(row, matrix, who)
        after = counts()
        transaction.savepoint_rollback(savepoint)
        got = observed(row, response, expected)
        if got != expected:
            wrong.append(f"{who}: expected {expected}, got {got} ({response.status_code} {response.content[:160]!r})")
        elif (expected in REFUSALS or row.method == "GET") and after != before:
            wrong.append(f"{who}: {expected}, but the request wrote rows")
        wrong += [f"{who}: the answer shows {secret}" for secret in _leaks(response, who)]
        if row.api and response.status_code >= 400:
            assert set(response.json()) == {"code", "message", "field", "details"}, (who, response.content)
    assert wrong == [], row.name


@pytest.mark.django_db
def test_the_secrets_are_there_for_their_readers(matrix: Matrix) -> None:
    """The leak check above can see them: each shows on a page its readers open."""
    incidents = next(row for row in TABLE if row.route == "/election-day/<str:code>/incidents/")
    complaints = next(row for row in TABLE if row.route == "/count/<str:code>/complaints/")
    assert HIDDEN_INCIDENT in request(incidents, matrix, "official").content.decode()
    assert COMPLAINT_SUBJECT in request(complaints, matrix, "panel").content.decode()


@pytest.mark.django_db
def test_pages_answer_the_same_in_albanian(matrix: Matrix) -> None:
    """Each language-prefixed copy of a page answers the anonymous visitor as the default does."""
    localized = {r.route for r in django_routes().values() if r.i18n}
    wrong = []
    for row in TABLE:
        if row.route not in localized or row.method != "GET":
            continue
        response = request(row, matrix, "anonymous", prefix="/sq")
        if observed(row, response, row.expect["anonymous"]) != row.expect["anonymous"]:
            wrong.append(f"/sq{row.path(matrix.world)}: {response.status_code}")
    assert wrong == []
