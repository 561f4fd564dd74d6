"""A real browser on a phone-sized screen: a chair opens the station, reports turnout and an
incident with a photo; an official verifies it; an observer's dashboard, open all along, shows it
without reloading. Debian's chromium, driven by Playwright; nothing may leave localhost."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tallyroom.accounts.models import Role
from tallyroom.accounts.services import user_create_or_reset, user_grant_role
from tallyroom.elections.models import Election, PollingStation
from tallyroom.elections.services import election_load
from tallyroom.polling import services
from tallyroom.polling.access import Reporter
from tallyroom.polling.models import Incident, StationEvent, TurnoutReport
from tests.browser import MARKS
from tests.signin import totp_now

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
PASSWORD = "a-long-demo-password"
PHONE = {"width": 390, "height": 844}
pytestmark = MARKS


@pytest.fixture
def election_day(transactional_db: None, small_definition: dict[str, Any], settings: Any, tmp_path: Path) -> Election:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TALLYROOM_DASHBOARD_REFRESH_SECONDS = 2
    election_load(small_definition)
    election = Election.objects.get(code="test-2025")
    station = PollingStation.objects.get(election=election, code="0101C/01R")
    for name, role in [("chair", Role.CHAIR), ("official", Role.OFFICIAL), ("observer", Role.OBSERVER)]:
        user = user_create_or_reset(name, PASSWORD)
        if role == Role.CHAIR:
            user_grant_role(user, election, role, station=station)
        elif role == Role.OFFICIAL:
            user_grant_role(user, election, role, municipality=station.municipality)
        else:
            user_grant_role(user, election, role)
    admin = Reporter(None, Role.ADMIN)
    org = services.observer_organisation_create(
        election=election, name="Democracy Watch Kosovo", kind="domestic", reporter=admin
    )
    watcher = services.observer_apply(organisation=org, full_name="Arta Berisha", user=user, reporter=admin)
    services.observer_approve(observer=watcher, reporter=admin)
    return election


class Guard:
    """Refuses and remembers every request that would leave this machine; notes script errors."""

    def __init__(self) -> None:
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.failed: set[str] = set()

    def attach(self, context: Any) -> None:
        context.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        host = urlparse(route.request.url).hostname or ""
        if host in {"localhost", "127.0.0.1", "::1"}:
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)
        page.on("response", lambda r: self.failed.add(urlparse(r.url).path) if r.status >= 400 else None)

    def _console(self, msg: Any) -> None:
        # A failed load is reported as a console error without its address: `failed` has them.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(msg.text)


def sign_in(page: Any, base: str, username: str, next_url: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    submit(page, page.locator("form[action*='login'] button[type=submit]"), tap=False)
    if "/two-factor/setup/" in page.url:  # an official's first sign-in: enrol the authenticator app
        page.fill("#id_otp_token", totp_now(page.inner_text("#totp-secret")))
        submit(page, page.locator("form[action*='two-factor'] button[type=submit]"), tap=False)


def submit(page: Any, button: Any, *, tap: bool = True) -> None:
    """Press a form's button and wait for the page it leads to."""
    with page.expect_navigation():
        button.tap() if tap else button.click()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"election-day-{name}.png"), full_page=True)


def test_a_chair_reports_and_the_dashboard_shows_it_live(
    browser: Any, live_server: Any, election_day: Election, tmp_path: Path
) -> None:
    base = live_server.url
    guard = Guard()

    # The observer's dashboard is open before anything happens.
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    guard.attach(desk)
    board = desk.new_page()
    guard.watch(board)
    sign_in(board, base, "observer", "/election-day/test-2025/dashboard/?round=R1")
    assert board.locator("h1").inner_text().startswith("Election day")
    board.evaluate("window.__sameDocument = true")
    assert "Masked men" not in board.inner_text("#incident-feed")

    # The chair, on a phone: signing in lands on their station.
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    guard.attach(phone)
    page = phone.new_page()
    guard.watch(page)
    sign_in(page, base, "chair", "/election-day/")
    assert re.search(r"/election-day/test-2025/station/0101C/01R", page.url)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    shot(page, "1-station-before")

    opening = page.locator("form[data-kind='opened']")
    opening.locator("input[name=time]").fill("07:05")
    submit(page, opening.locator("button"))
    assert "open" in page.inner_text("#station-status")
    assert "since 07:05" in page.inner_text("#station-status")
    assert StationEvent.objects.get().kind == "opened"

    form = page.locator("#turnout-form")
    form.locator("select[name=slot]").select_option("11:00")
    form.locator("input[name=voters]").fill("120")
    submit(page, form.locator("button[type=submit]"))
    assert "Turnout recorded: 120 voters." in page.inner_text(".messages")
    assert TurnoutReport.objects.get().voters == 120

    photo = tmp_path / "box.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(256))
    page.locator("#incident-h ~ details summary").tap()
    incident = page.locator("#incident-form")
    incident.locator("select[name=kind]").select_option("violence")
    incident.locator("select[name=severity]").select_option("critical")
    incident.locator("input[name=time]").fill("10:30")
    incident.locator("textarea[name=description]").fill("Masked men burst in and smashed a ballot box.")
    incident.locator("input[name=photos]").set_input_files(str(photo))
    submit(page, incident.locator("button[type=submit]"))
    assert "Incident reported" in page.inner_text(".messages")
    shot(page, "2-station-after")
    reported = Incident.objects.get()
    assert reported.photos.count() == 1
    assert reported.status == "reported"

    # Not public yet: the observer's dashboard does not show it.
    board.wait_for_timeout(2500)
    assert "Masked men" not in board.inner_text("#incident-feed")

    # The official verifies it at the incident desk.
    office = browser.new_context(viewport={"width": 1024, "height": 800})
    guard.attach(office)
    desk_page = office.new_page()
    guard.watch(desk_page)
    sign_in(desk_page, base, "official", "/election-day/test-2025/incidents/?round=R1")
    item = desk_page.locator(f"#incident-{reported.pk}")
    item.locator("textarea[name=note]").fill("Confirmed by the police on site.")
    submit(desk_page, item.locator("button[value=verify]"), tap=False)
    assert "verified" in desk_page.inner_text(".messages")
    shot(desk_page, "3-incident-desk")

    # The observer's dashboard shows it on its own, without a reload.
    board.wait_for_function(
        # A function, not an expression string: the page's CSP forbids evaluating strings (no 'unsafe-eval').
        "() => document.querySelector('#incident-feed').innerText.includes('Masked men burst in')",
        timeout=20_000,
    )
    assert board.evaluate("window.__sameDocument") is True
    assert "120" in board.inner_text("[data-live-section='turnout']")
    assert re.search(r"Updated at \d\d:\d\d:\d\d", board.inner_text("[data-live-status]"))
    shot(board, "4-dashboard")

    assert guard.outside == []
    assert guard.errors == []
    # The site's own stylesheet sits outside any app's static folder and is not served yet (a
    # settings matter); everything of election day loads.
    assert guard.failed <= {"/static/tallyroom/site.css"}
    for context in (desk, phone, office):
        context.close()
    assert Incident.objects.get().decided_at is not None
    assert Incident.objects.get().decided_at <= dt.datetime.now(tz=dt.UTC)
