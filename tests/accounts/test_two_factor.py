"""Two-factor sign-in: administrators, officials and auditors prove a TOTP code after their password;
until they do, no staff page, no admin page and no session API call is theirs. Chairs need no code."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tallyroom.accounts.demo import demo_accounts_create
from tallyroom.accounts.models import Role
from tallyroom.accounts.services import totp_enrol, user_create_or_reset, user_grant_role
from tallyroom.accounts.twofactor import confirmed_device, current_code
from tallyroom.audit.chain import verify
from tallyroom.audit.models import AuditEntry
from tallyroom.elections.models import Election, PollingStation
from tests.signin import totp_now

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"
DASHBOARD = "/election-day/test-2025/dashboard/"
API = "/api/v1/elections/test-2025/election-day"
LOGIN = "/accounts/login/"
CODE = "/accounts/two-factor/"
SETUP = "/accounts/two-factor/setup/"


@pytest.fixture
def people(small_election: Election) -> dict[str, User]:
    station = PollingStation.objects.get(code="0101C/01R")
    out: dict[str, User] = {}
    for role in (Role.ADMIN, Role.OFFICIAL, Role.AUDITOR, Role.CHAIR):
        user = user_create_or_reset(f"2fa-{role}", PASSWORD)
        scope: dict[str, Any] = {}
        if role == Role.CHAIR:
            scope["station"] = station
        if role == Role.OFFICIAL:
            scope["municipality"] = station.municipality
        user_grant_role(user, small_election, role, **scope)
        out[str(role)] = user  # type: ignore[assignment]
    return out


def password_step(client: Client, user: User, next_url: str = DASHBOARD) -> Any:
    return client.post(LOGIN, {"username": user.username, "password": PASSWORD, "next": next_url})


def actions(username: str) -> list[str]:
    return list(AuditEntry.objects.filter(object_id=username).order_by("seq").values_list("action", flat=True))


def test_a_password_alone_reaches_nothing_but_the_code_page(people: dict[str, User]) -> None:
    official = people["official"]
    totp_enrol(official)
    client = Client()
    response = password_step(client, official)
    assert response.status_code == 302
    assert response["Location"] == f"{CODE}?next=%2Felection-day%2Ftest-2025%2Fdashboard%2F"
    # Every page sends the half-signed-in session to the code page; the API refuses it.
    for url in (DASHBOARD, "/count/test-2025/", "/admin/", "/"):
        held = client.get(url)
        assert held.status_code == 302, url
        assert held["Location"].startswith(CODE), url
    api = client.get(API)
    assert api.status_code == 401
    assert api.json()["code"] == "unauthenticated"
    assert "Two-factor sign-in is not complete" in api.json()["message"]
    page = client.get(CODE)
    assert page.status_code == 200
    assert "six-digit code" in page.content.decode()
    assert actions(official.username) == ["login.password"]
    assert AuditEntry.objects.get(action="login.password").payload == {"ip": "127.0.0.1", "second_factor_due": True}


def test_a_wrong_code_is_refused_and_the_right_one_lets_the_official_in(people: dict[str, User]) -> None:
    official = people["official"]
    device = totp_enrol(official)
    client = Client()
    password_step(client, official)
    right = current_code(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    refused = client.post(CODE, {"otp_token": wrong, "next": DASHBOARD})
    assert refused.status_code == 200
    assert "That code is not right" in refused.content.decode()
    assert client.get(DASHBOARD).status_code == 302
    assert client.get(API).status_code == 401
    # django-otp makes each further try wait longer after a failure (1 s, 2 s, 4 s, ...): not timed here.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    accepted = client.post(CODE, {"otp_token": right, "next": DASHBOARD})
    assert accepted.status_code == 302
    assert accepted["Location"] == DASHBOARD
    assert client.get(DASHBOARD).status_code == 200
    assert client.get(API).status_code == 200
    assert actions(official.username) == ["login.password", "login.failed", "login.verified"]
    assert AuditEntry.objects.get(action="login.failed").payload == {"ip": "127.0.0.1", "step": "code"}
    # The same code cannot be used twice: a code read over a shoulder is spent.
    other = Client()
    password_step(other, official)
    again = other.post(CODE, {"otp_token": right, "next": DASHBOARD})
    assert "That code is not right" in again.content.decode()
    assert list(verify()) == []


def test_the_first_sign_in_enrols_an_authenticator(people: dict[str, User]) -> None:
    admin = people["admin"]
    client = Client()
    response = password_step(client, admin, "/admin/")
    assert response["Location"] == f"{SETUP}?next=%2Fadmin%2F"
    assert client.get("/admin/")["Location"].startswith(SETUP)
    page = client.get(SETUP)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html  # the QR code, drawn here
    secret = html.split('<code id="totp-secret">')[1].split("</code>")[0]
    assert f"secret={secret}" in html  # the otpauth:// URI carries the same secret
    assert "otpauth://totp/Tallyroom%3A2fa-admin?" in html
    assert client.get(SETUP).content.decode().count(secret) >= 1  # a reload shows the same secret
    confirmed = client.post(SETUP, {"otp_token": totp_now(secret), "next": "/admin/"})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    device = confirmed_device(admin)
    assert device is not None
    assert TOTPDevice.objects.filter(user=admin).count() == 1
    enrolled = AuditEntry.objects.get(action="totp.enrolled")
    assert (enrolled.object_type, enrolled.object_id, enrolled.actor) == ("user", str(admin.pk), admin.username)
    assert list(verify()) == []
    # Enrolled once, the setup page is closed: a new phone needs an operator's `tallyroom totp --reset`.
    later = Client()
    password_step(later, admin, "/admin/")
    assert later.get(SETUP)["Location"].startswith(CODE)


def test_the_admin_sign_in_page_leads_to_the_code_page_too(people: dict[str, User]) -> None:
    admin = people["admin"]
    totp_enrol(admin)
    client = Client()
    form = {"username": admin.username, "password": PASSWORD, "next": "/admin/"}
    response = client.post("/admin/login/", form)
    assert response["Location"] == "/admin/"
    held = client.get("/admin/")
    assert held.status_code == 302
    assert held["Location"] == f"{CODE}?next=%2Fadmin%2F"
    assert client.get("/admin/accounts/roleassignment/")["Location"].startswith(CODE)
    assert actions(admin.username) == ["login.password"]
    assert client.session.get_expiry_age() == 8 * 3600


def test_a_chair_signs_in_with_the_password_alone(people: dict[str, User]) -> None:
    client = Client()
    station = "/election-day/test-2025/station/0101C/01R"
    response = password_step(client, people["chair"], station)
    assert response.status_code == 302
    assert response["Location"] == station
    assert client.get(station).status_code == 200
    assert client.get(API).status_code != 401
    assert not TOTPDevice.objects.filter(user=people["chair"]).exists()
    assert actions(people["chair"].username) == ["login.password"]


def test_an_auditor_needs_the_code_and_staff_sessions_are_short(people: dict[str, User], settings: Any) -> None:
    settings.TALLYROOM_STAFF_SESSION_HOURS = 8
    client = Client()
    response = password_step(client, people["auditor"], "/count/test-2025/quarantine/")
    assert response["Location"].startswith(SETUP)
    assert client.session.get_expiry_age() == 8 * 3600
    chair = Client()
    password_step(chair, people["chair"])
    assert chair.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_the_rule_can_be_turned_off(people: dict[str, User], settings: Any) -> None:
    settings.TALLYROOM_REQUIRE_2FA = False
    client = Client()
    response = password_step(client, people["official"])
    assert response["Location"] == DASHBOARD
    assert client.get(DASHBOARD).status_code == 200


def test_the_totp_command_prints_enrols_and_resets(people: dict[str, User]) -> None:
    official = people["official"]
    out = io.StringIO()
    call_command("totp", official.username, "--enrol", stdout=out)
    device = confirmed_device(official)
    assert device is not None
    assert "otpauth://totp/" in out.getvalue()
    out = io.StringIO()
    call_command("totp", official.username, stdout=out)
    code = out.getvalue().strip()
    assert len(code) == 6
    client = Client()
    password_step(client, official)
    assert client.post(CODE, {"otp_token": code, "next": DASHBOARD})["Location"] == DASHBOARD
    call_command("totp", official.username, "--reset", stdout=io.StringIO())
    assert not TOTPDevice.objects.filter(user=official).exists()
    assert [e.action for e in AuditEntry.objects.filter(object_type="user")] == ["totp.enrolled", "totp.reset"]
    assert list(verify()) == []


def test_demo_accounts_come_with_an_authenticator_secret(small_election: Election) -> None:
    accounts = {a.username: a for a in demo_accounts_create(small_election, "demo-password-1")}
    for name in ("admin", "official", "auditor"):
        assert accounts[name].totp_uri.startswith("otpauth://totp/Tallyroom%3A" + name)
        assert confirmed_device(User.objects.get(username=name)) is not None
    for name in ("chair", "clerk", "panel", "observer"):
        assert accounts[name].totp_secret == ""
    again = {a.username: a for a in demo_accounts_create(small_election, "demo-password-1")}
    assert again["admin"].totp_secret == accounts["admin"].totp_secret  # an app set up once keeps working
