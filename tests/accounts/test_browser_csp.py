"""In a real browser, the strict Content-Security-Policy breaks nothing: the public page, the sign-in
with its second factor, and the API's Swagger UI draw without a single refused script or style."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tallyroom.accounts.models import Role
from tallyroom.accounts.services import user_create_or_reset, user_grant_role
from tallyroom.elections.models import Election
from tallyroom.elections.services import election_load
from tests.browser import MARKS, launched_browser
from tests.signin import totp_now

pytestmark = MARKS
PASSWORD = "a-long-browser-password"


@pytest.fixture
def page(transactional_db: None, small_definition: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    election_load(small_definition)
    admin = user_create_or_reset("csp-admin", PASSWORD)
    user_grant_role(admin, Election.objects.get(code="test-2025"), Role.ADMIN)
    with launched_browser(monkeypatch) as browser:
        context = browser.new_context()
        context.route(
            "**/*",
            lambda r: r.continue_() if "127.0.0.1" in r.request.url or "localhost" in r.request.url else r.abort(),
        )
        yield context.new_page()


def test_pages_and_the_api_docs_draw_under_the_policy(page: Any, live_server: Any) -> None:
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: refused.append(str(exc)))
    base = live_server.url

    page.goto(f"{base}/")
    assert page.locator("header.top .brand").inner_text() == "Tallyroom"

    page.goto(f"{base}/accounts/login/?next=/admin/")
    page.fill("#id_username", "csp-admin")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("form[action*='login'] button[type=submit]")
    assert "/accounts/two-factor/setup/" in page.url
    assert page.locator("img[src^='data:image/svg+xml']").evaluate("img => img.naturalWidth") > 0  # the QR code
    page.fill("#id_otp_token", totp_now(page.inner_text("#totp-secret")))
    with page.expect_navigation():
        page.click("form[action*='two-factor'] button[type=submit]")
    assert page.url.endswith("/admin/")
    assert "Site administration" in page.content()

    page.goto(f"{base}/api/v1/docs")
    page.wait_for_selector(".opblock", timeout=20_000)  # Swagger UI drew the operations
    assert page.locator(".opblock").count() > 10
    assert refused == []
