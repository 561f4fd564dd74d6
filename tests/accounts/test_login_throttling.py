"""Login throttling (django-axes): N wrong passwords or codes from one address lock that account
there for the cool-off, with a clear page and 429; each failure and the lockout are audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tallyroom.accounts.models import Role
from tallyroom.accounts.services import totp_enrol, user_create_or_reset, user_grant_role
from tallyroom.accounts.twofactor import current_code
from tallyroom.audit.chain import verify
from tallyroom.audit.models import AuditEntry
from tallyroom.elections.models import Election, PollingStation

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"
LOGIN = "/accounts/login/"
CODE = "/accounts/two-factor/"
STATION = "/election-day/test-2025/station/0101C/01R"


@pytest.fixture
def limits(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3


@pytest.fixture
def chair(small_election: Election) -> User:
    user = user_create_or_reset("throttle-chair", PASSWORD)
    user_grant_role(user, small_election, Role.CHAIR, station=PollingStation.objects.get(code="0101C/01R"))
    return user


def attempt(client: Client, username: str, password: str, ip: str = "10.0.0.7") -> Any:
    return client.post(LOGIN, {"username": username, "password": password, "next": STATION}, REMOTE_ADDR=ip)


def test_three_wrong_passwords_lock_the_account_at_that_address(limits: None, chair: User) -> None:
    client = Client()
    first = attempt(client, chair.username, "wrong-1")
    assert first.status_code == 200
    assert "did not match" in first.content.decode()
    assert attempt(client, chair.username, "wrong-2").status_code == 200
    locked = attempt(client, chair.username, "wrong-3")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many attempts" in page
    assert "failed 3 times in a row" in page
    assert "Try again in 15 minutes" in page
    assert locked["Retry-After"] == "900"
    # Now even the right password is refused from here...
    assert attempt(client, chair.username, PASSWORD).status_code == 429
    assert client.get(STATION).status_code == 302  # not signed in
    # ...but not from the chair's own address: an attacker cannot lock a chair out of their station.
    elsewhere = Client()
    assert attempt(elsewhere, chair.username, PASSWORD, ip="10.0.0.99")["Location"] == STATION
    failed = AuditEntry.objects.filter(action="login.failed", object_id=chair.username)
    assert failed.count() == 4  # three wrong passwords and the right one refused while locked
    assert {e.payload["step"] for e in failed} == {"password"}
    lockout = AuditEntry.objects.get(action="login.locked_out")
    assert lockout.payload == {"ip": "10.0.0.7", "failures": 3}
    assert lockout.seq > failed.order_by("seq")[2].seq  # after the failure that caused it
    assert list(verify()) == []


def test_unknown_user_names_are_throttled_and_audited_too(limits: None, small_election: Election) -> None:
    client = Client()
    statuses = [attempt(client, "nobody", f"guess-{n}").status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    assert AuditEntry.objects.filter(action="login.failed", object_id="nobody").count() == 3


def test_wrong_codes_count_towards_the_same_lockout(limits: None, small_election: Election) -> None:
    official = user_create_or_reset("throttle-official", PASSWORD)
    user_grant_role(
        official, small_election, Role.OFFICIAL, municipality=PollingStation.objects.get(code="0101C/01R").municipality
    )
    device = totp_enrol(official)
    client = Client()
    assert attempt(client, official.username, "wrong-1").status_code == 200
    assert attempt(client, official.username, PASSWORD)["Location"].startswith(CODE)  # the password is right
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    refused = client.post(CODE, {"otp_token": wrong}, REMOTE_ADDR="10.0.0.7")
    assert refused.status_code == 200
    device.throttle_reset()  # django-otp's own per-device delay is not what this test is about
    locked = client.post(CODE, {"otp_token": wrong}, REMOTE_ADDR="10.0.0.7")
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()
    # The half-signed-in session is gone, and the right code no longer helps.
    assert client.get(CODE, REMOTE_ADDR="10.0.0.7")["Location"].startswith(LOGIN)
    assert attempt(client, official.username, PASSWORD).status_code == 429
    steps = [e.payload.get("step") for e in AuditEntry.objects.filter(object_id=official.username).order_by("seq")]
    actions = [e.action for e in AuditEntry.objects.filter(object_id=official.username).order_by("seq")]
    assert actions[:5] == ["login.failed", "login.password", "login.failed", "login.failed", "login.locked_out"]
    assert steps[:4] == ["password", None, "code", "code"]


def test_a_complete_sign_in_clears_the_failures(limits: None, chair: User) -> None:
    client = Client()
    for n in range(2):
        attempt(client, chair.username, f"wrong-{n}")
    assert attempt(client, chair.username, PASSWORD)["Location"] == STATION
    client.post("/accounts/logout/", REMOTE_ADDR="10.0.0.7")
    for n in range(2):
        assert attempt(client, chair.username, f"again-{n}").status_code == 200  # a fresh count: not locked


def test_a_password_alone_does_not_clear_wrong_codes(limits: None, small_election: Election) -> None:
    """Else someone with the password could guess codes for ever, signing in again every two tries."""
    auditor = user_create_or_reset("throttle-auditor", PASSWORD)
    user_grant_role(auditor, small_election, Role.AUDITOR)
    device = totp_enrol(auditor)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    client = Client()
    for _ in range(2):
        attempt(client, auditor.username, PASSWORD)
        client.post(CODE, {"otp_token": wrong}, REMOTE_ADDR="10.0.0.7")
        device.throttle_reset()
    assert attempt(client, auditor.username, PASSWORD)["Location"].startswith(CODE)
    assert client.post(CODE, {"otp_token": wrong}, REMOTE_ADDR="10.0.0.7").status_code == 429
