"""The public pages in a real browser, with scripts switched off: home, the election, a municipality and
a station, in each language. The numbers on screen are the API's, written the reader's way; every
request stays on this machine. Debian's chromium, driven by Playwright. Screenshots go to
$TALLYROOM_ARTIFACTS (else the test's temporary folder)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.test import Client
from django.utils import translation

from tallyroom.elections.models import Election
from tallyroom.elections.services import election_load
from tallyroom.publish.formatting import num, pct
from tests.browser import MARKS
from tests.publish.pages_helpers import count_small_election

LOCAL = {"localhost", "127.0.0.1", "::1"}
LANGUAGES = ["en", "sq", "sr-latn"]

pytestmark = MARKS


@pytest.fixture
def counted(transactional_db: None, small_definition: dict[str, Any]) -> Election:
    election_load(small_definition)
    election = Election.objects.get(code="test-2025")
    count_small_election(election)
    return election


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TALLYROOM_ARTIFACTS") or tmp_path) / "public-pages"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def prefix(lang: str) -> str:
    return "" if lang == "en" else f"/{lang}"


def check_contests(page: Any, api: dict[str, Any]) -> None:
    """Each contest's counted stations, votes, shares and totals as the API gives them."""
    for contest in api["contests"]:
        section = page.locator(f'section[data-contest="{contest["contest"]["id"]}"]')
        counted = section.locator(".contest-status [data-counted]")
        assert counted.get_attribute("data-counted") == str(contest["stations"]["counted"])
        assert num(contest["stations"]["counted"]) in counted.inner_text()
        for choice in contest["choices"]:
            row = section.locator(f'table.votes tr[data-entity="{choice["entity"]}"]')
            assert row.locator("td.votes").inner_text() == num(choice["votes"])
            share = None if choice["share"] is None else Decimal(choice["share"])
            assert row.locator("td.share").inner_text() == pct(share)
        for key, value in contest["totals"].items():
            assert section.locator(f'[data-total="{key}"]').inner_text() == num(value)


def test_the_public_pages_show_the_apis_numbers_in_every_language(
    browser: Any, live_server: Any, counted: Election, artifacts: Path
) -> None:
    base = live_server.url
    api = Client().get("/api/v1/results/38", {"election": "test-2025"}).json()
    requested: list[str] = []
    failed: list[str] = []
    context = browser.new_context(viewport={"width": 1100, "height": 900}, java_script_enabled=False)

    def guard(route: Any) -> None:
        requested.append(route.request.url)
        if (urlparse(route.request.url).hostname or "") in LOCAL:
            route.continue_()
        else:
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    for lang in LANGUAGES:
        with translation.override(lang):
            page.goto(f"{base}{prefix(lang)}/")  # the home page lists the elections and their progress
            assert page.locator("html").get_attribute("lang") == lang
            page.screenshot(path=str(artifacts / f"{lang}-home.png"))
            page.locator("section.election-link h2 a").click()
            assert page.url == f"{base}{prefix(lang)}/elections/test-2025/"
            assert page.locator("html").get_attribute("lang") == lang
            row = page.locator('tr[data-municipality="38"]')
            assert row.locator("a").inner_text() == {"en": "North Mitrovica", "sq": "Mitrovicë e Veriut"}.get(
                lang, "Severna Mitrovica"
            )
            assert page.locator('svg[role="img"]').count() >= 1
            assert page.locator("table.turnout tr[data-slot='11:00'] td").nth(0).inner_text() == num(250)
            page.screenshot(path=str(artifacts / f"{lang}-election.png"))

            row.locator("a").click()
            assert page.url == f"{base}{prefix(lang)}/elections/test-2025/38/"
            check_contests(page, api)
            assert page.locator('svg[role="img"][aria-labelledby]').count() >= 3  # votes, seats, turnout
            assert "LGE Art. 119.3" in page.locator("#decisions + ul").inner_text()
            page.screenshot(path=str(artifacts / f"{lang}-municipality.png"))

            page.locator('tr[data-station="3801A/01R"] th a').click()
            assert page.url == f"{base}{prefix(lang)}/elections/test-2025/stations/3801A_01R/"
            repeat = page.locator('[data-form-round="R1-repeat"] tr[data-entity="CIV"] td.votes')
            assert repeat.inner_text() == num(90)  # the repeat vote's form, counted for the annulled one
            assert "Masked men stormed the centre." in page.locator("ul.incidents").inner_text()
            page.screenshot(path=str(artifacts / f"{lang}-station.png"))
    context.close()
    assert len(requested) >= 12
    assert [u for u in requested if (urlparse(u).hostname or "") not in LOCAL] == []
    assert failed == []  # the style sheets load too
    assert sorted(p.name for p in artifacts.glob("*.png")) == sorted(
        f"{lang}-{kind}.png" for lang in LANGUAGES for kind in ("home", "election", "municipality", "station")
    )
