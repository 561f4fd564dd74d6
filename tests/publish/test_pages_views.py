"""The public pages over HTTP: every page type in every language, the API's numbers, nothing private."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import translation
from django.utils.timezone import localtime

from tallyroom.elections.models import Election, Municipality
from tallyroom.publish import selectors
from tallyroom.publish.formatting import num, pct
from tallyroom.publish.views import station_pages_render
from tests.publish.pages_helpers import Counted, count_small_election

pytestmark = pytest.mark.django_db
LANGUAGES = ["en", "sq", "sr-latn"]
PAGES = ["/elections/test-2025/", "/elections/test-2025/38/", "/elections/test-2025/stations/0101C_01R/", "/"]


@pytest.fixture
def counted(small_election: Election) -> Counted:
    return count_small_election(small_election)


def url(lang: str, path: str) -> str:
    return path if lang == "en" else f"/{lang}{path}"


def get(path: str) -> str:
    response = Client().get(path)
    assert response.status_code == 200, path
    return response.content.decode()


def section(html: str, contest_id: int) -> str:
    start = html.index(f'data-contest="{contest_id}"')
    end = html.find('<section class="contest"', start)
    return html[start : end if end > 0 else len(html)]


def cell(row_html: str, cls: str) -> str:
    found = re.search(rf'<td class="num {cls}">([^<]*)</td>', row_html)
    assert found, cls
    return found.group(1)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", PAGES)
def test_every_page_in_every_language_is_public_and_static(counted: Counted, lang: str, path: str) -> None:
    html = get(url(lang, path))
    assert f'<html lang="{lang}">' in html
    assert "csrfmiddlewaretoken" not in html and "<form" not in html and "<script" not in html
    for other in LANGUAGES:
        if other != lang:
            assert f'href="{url(other, path)}" hreflang="{other}"' in html
    with translation.override(lang):
        assert "stations counted" not in html or lang == "en"
        assert re.search(r'data-counted="\d+" data-total="\d+"', html)


def test_the_municipality_page_shows_the_api_numbers_in_the_readers_language(counted: Counted) -> None:
    api = Client().get("/api/v1/results/38", {"election": "test-2025"}).json()
    for lang in LANGUAGES:
        html = get(url(lang, "/elections/test-2025/38/"))
        with translation.override(lang):
            for contest in api["contests"]:
                part = section(html, contest["contest"]["id"])
                stations = contest["stations"]
                assert f'data-counted="{stations["counted"]}" data-total="{stations["total"]}"' in part
                for choice in contest["choices"]:
                    row = part[part.index(f'<tr data-entity="{choice["entity"]}">') :]
                    row = row[: row.index("</tr>")]
                    assert cell(row, "votes") == num(choice["votes"])
                    assert cell(row, "share") == pct(None if choice["share"] is None else _dec(choice["share"]))
                for key, value in contest["totals"].items():
                    assert f'data-total="{key}">{num(value)}</td>' in part
                for member in contest.get("assembly", {}).get("elected", []):
                    assert f'data-candidate="{member["candidate_id"]}"' in part
    sq = get("/sq/elections/test-2025/38/")
    assert "LGE Art. 119.3" in sq and "3801A/01R" in sq  # the annulment, with its decision
    assert "Masked men stormed the centre." in sq  # the verified incident, in its public words
    assert "Unverified rumour" not in sq and "names of the officers" not in sq


def _dec(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)


def test_numbers_and_dates_follow_the_language(counted: Counted) -> None:
    registered = 812 + 640 + 905 + 701 + 688
    assert "3,746" in get("/elections/test-2025/")
    assert "3.746" in get("/sq/elections/test-2025/")
    assert "3.746" in get("/sr-latn/elections/test-2025/")
    assert registered == 3746
    assert "14.56%" in get("/elections/test-2025/") and "14,56%" in get("/sq/elections/test-2025/")
    latest = selectors.last_updated()
    assert latest is not None
    local = localtime(latest, ZoneInfo("Europe/Belgrade"))
    html = get("/sr-latn/elections/test-2025/")
    assert f'datetime="{local.isoformat()}"' in html
    assert local.strftime("%H:%M") in html
    assert "Oct. 12, 2025" in get("/elections/test-2025/01/")  # the round's date, English style
    assert "12. oktobar 2025." in get("/sr-latn/elections/test-2025/01/")


def test_the_election_page_lists_every_municipality_with_its_mayoral_race(counted: Counted) -> None:
    html = get("/elections/test-2025/")
    row = html[html.index('<tr data-municipality="01">') :]
    row = row[: row.index("</tr>")]
    assert "Leading:" in row and "Agim Berisha" in row
    assert '<a href="/elections/test-2025/01/">' in row
    assert "repeat voting on Oct. 26, 2025" in html
    assert 'role="img"' in html  # the turnout chart, with its table
    assert '<td class="num">250</td>' in html


def test_the_station_page_shows_its_forms_events_and_turnout(counted: Counted) -> None:
    html = get("/elections/test-2025/stations/0101C_01R/")
    assert "Polling station 0101C/01R" in html
    assert 'data-form-kind="official"' in html and 'data-form-kind="preliminary"' in html
    assert '<tr data-entity="BLUE"><th scope="row">' in html
    assert "Drita Gashi" in html  # preference votes
    assert "opened" in html and "46.80%" in html
    held = get("/elections/test-2025/stations/0101C_02D/")
    assert "Its figures are published once the form is accepted." in held
    north = get("/elections/test-2025/stations/3801A_01R/")
    assert "LGE Art. 119.3" in north and "repeat voting" in north.lower()


@pytest.mark.parametrize(
    "path", ["/elections/nope/", "/elections/test-2025/99/", "/elections/test-2025/stations/9999X_01R/"]
)
def test_unknown_pages_are_not_found(counted: Counted, path: str) -> None:
    assert Client().get(path).status_code == 404


@pytest.mark.parametrize("lang", LANGUAGES)
def test_bulk_rendering_gives_the_bytes_the_view_answers(counted: Counted, lang: str) -> None:
    decan = Municipality.objects.get(code="01")
    with translation.override(lang):
        pages = station_pages_render(counted.election, decan)
    assert len(pages) == 3
    for path, content in pages.items():
        assert Client().get(path).content == content
