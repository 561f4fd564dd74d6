"""Every answer carries a strict Content-Security-Policy and the other protective headers; cookies are
HttpOnly and SameSite; TALLYROOM_SECURE=1 turns on secure cookies, HSTS and the HTTPS redirect."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

import tallyroom
from tallyroom.accounts.models import Role
from tallyroom.accounts.services import user_create_or_reset, user_grant_role
from tallyroom.elections.models import Election
from tests.signin import signed_in

pytestmark = pytest.mark.django_db
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
}
SRC = Path(tallyroom.__file__).parent


@pytest.fixture
def official(small_election: Election) -> User:
    user = user_create_or_reset("headers-official", "x" * 16)
    user_grant_role(user, small_election, Role.OFFICIAL, municipality=small_election.municipalities.get(code="01"))
    return user


def policy(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def assert_protected(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert policy(headers["Content-Security-Policy"]) == CSP
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_public_staff_and_api_answers_carry_the_policy(official: User) -> None:
    public = Client().get("/")
    assert public.status_code == 200
    assert_protected(public)
    staff = signed_in(official).get("/election-day/test-2025/dashboard/")
    assert staff.status_code == 200
    assert_protected(staff)
    api = Client().get("/api/v1/elections")
    assert api.status_code == 200
    assert_protected(api)
    login = Client().get("/accounts/login/")
    assert_protected(login)
    assert "Strict-Transport-Security" not in public.headers  # plain HTTP demo: no HSTS


def test_the_api_docs_page_alone_may_use_inline_styles() -> None:
    docs = Client().get("/api/v1/docs")
    assert docs.status_code == 200
    assert policy(docs.headers["Content-Security-Policy"]) == {**CSP, "style-src": "'self' 'unsafe-inline'"}
    html = docs.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)


def test_session_and_csrf_cookies(official: User) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": official.username, "password": "x" * 16})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert not session["secure"]  # plain HTTP unless TALLYROOM_SECURE=1


def test_no_inline_script_style_or_handler_in_any_template() -> None:
    """What the policy forbids must not be in the pages: it would silently not run."""
    offenders = []
    for path in sorted(SRC.rglob("templates/**/*.html")):
        text = path.read_text("utf-8")
        for pattern in (r"<script(?![^>]*\bsrc=)", r"<style", r"\sstyle=", r"\son[a-z]+=", r"javascript:"):
            if re.search(pattern, text, re.IGNORECASE):
                offenders.append(f"{path.relative_to(SRC)}: {pattern}")
    assert offenders == []


def settings_under(env: dict[str, str]) -> dict[str, object]:
    code = (
        "import json, tallyroom.settings as s; print(json.dumps({k: getattr(s, k, None) for k in "
        "['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', "
        "'SECURE_PROXY_SSL_HEADER', 'TALLYROOM_REQUIRE_2FA', 'AXES_FAILURE_LIMIT']}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("TALLYROOM_")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "TALLYROOM_SECRET_KEY": "k" * 60, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded: dict[str, object] = json.loads(done.stdout)
    return loaded


def test_production_flag_turns_on_transport_security() -> None:
    plain = settings_under({})
    assert plain["SESSION_COOKIE_SECURE"] is False
    assert plain["SECURE_HSTS_SECONDS"] == 0
    assert plain["SECURE_SSL_REDIRECT"] is False
    assert plain["TALLYROOM_REQUIRE_2FA"] is True  # on by default
    secure = settings_under(
        {"TALLYROOM_SECURE": "1", "TALLYROOM_PROXY_COUNT": "1", "TALLYROOM_LOGIN_FAILURE_LIMIT": "8"}
    )
    assert secure["SESSION_COOKIE_SECURE"] is True
    assert secure["CSRF_COOKIE_SECURE"] is True
    assert secure["SECURE_SSL_REDIRECT"] is True
    assert secure["SECURE_HSTS_SECONDS"] == 31536000
    assert secure["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert secure["AXES_FAILURE_LIMIT"] == 8
