"""The integrity page over HTTP: three languages, byte-for-byte repeatable, accessible figures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tallyroom.publish import integrity
from tallyroom.publish.integrity_charts import class_labels, class_of, classes
from tallyroom.publish.snapshot import render, site_items
from tests.publish.integrity_setup import counted_election

SVG = "{http://www.w3.org/2000/svg}"
HEADINGS = {
    "en": ("Statistical warning signs in the results", "Whole percents", "Stations that stand out"),
    "sq": ("Shenja statistikore paralajmëruese në rezultate", "Përqindje të plota", "Vendvotimet që bien në sy"),
    "sr-latn": ("Statistički znaci upozorenja u rezultatima", "Celi procenti", "Biračka mesta koja se izdvajaju"),
}


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    integrity._CACHE.clear()


def _path(code: str, lang: str) -> str:
    with translation.override(lang):
        return reverse("integrity:election", args=[code])


@pytest.mark.django_db
def test_the_page_answers_in_three_languages_with_translated_headings() -> None:
    election = counted_election()
    for lang, headings in HEADINGS.items():
        path = _path(election.code, lang)
        assert path == ("" if lang == "en" else f"/{lang}") + f"/elections/{election.code}/integrity/"
        response = Client().get(path)
        assert response.status_code == 200, lang
        html = response.content.decode()
        assert f'<html lang="{lang}">' in html
        for heading in headings:
            assert heading in html, (lang, heading)
        assert "csrfmiddlewaretoken" not in html


@pytest.mark.django_db
def test_two_renders_of_the_same_data_are_the_same_bytes() -> None:
    election = counted_election()
    for lang in HEADINGS:
        path = _path(election.code, lang)
        first = render(path)
        integrity._CACHE.clear()  # the second analysis runs afresh: same seed, same page
        assert render(path) == first
        assert Client().get(path).content == first


@pytest.mark.django_db
def test_the_figures_are_svg_images_with_a_title_and_the_same_data_in_tables() -> None:
    election = counted_election()
    html = Client().get(f"/elections/{election.code}/integrity/").content.decode()
    svgs = re.findall(r"<svg xmlns=.*?</svg>", html, re.S)
    assert len(svgs) == 3  # the fingerprint and two histograms
    titles = []
    for text in svgs:
        root = ET.fromstring(text)  # noqa: S314 - the page under test, not untrusted input
        assert root.tag == f"{SVG}svg" and root.get("role") == "img"
        title = root.find(f"{SVG}title")
        desc = root.find(f"{SVG}desc")
        assert title is not None and title.text and desc is not None and desc.text
        assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        titles.append(title.text)
    assert any(t.startswith("Fingerprint: polling stations by turnout and") for t in titles)
    report = integrity.integrity_page(election).report
    assert report is not None
    # The heatmap draws every station once: its cells hold the fingerprint's stations.
    fingerprint = next(ET.fromstring(t) for t in svgs if "Fingerprint" in t)  # noqa: S314
    cells = [r for r in fingerprint.iter(f"{SVG}rect") if r.get("width") == r.get("height") == "6.0"]
    drawn = integrity.integrity_page(election).fingerprint
    assert drawn is not None
    occupied = sum(1 for row in drawn.counts for count in row if count > 0)
    assert len(cells) == occupied > 0
    table = re.search(r'<table class="data compact fingerprint-table">(.*?)</table>', html, re.S)
    assert table is not None
    total = sum(int(n.replace(",", "")) for n in re.findall(r'<td class="num">([\d,]+)</td>', table.group(1)))
    assert total == report["fingerprint"]["stations"]


@pytest.mark.django_db
def test_the_snapshot_publishes_the_page_in_every_language() -> None:
    election = counted_election(stuffed=0)
    paths = {item.path for item in site_items() if item.municipality_id is None}
    for lang in HEADINGS:
        assert _path(election.code, lang) in paths


def test_colour_classes_step_one_two_five_and_label_their_ranges() -> None:
    assert classes(1) == [1]
    assert classes(12) == [1, 2, 5, 10]
    assert classes(60) == [1, 2, 5, 10, 20, 50]
    assert classes(150) == [1, 5, 20, 100]  # seven classes thinned to every other one
    bounds = classes(60)
    assert [class_of(n, bounds) for n in (1, 2, 4, 5, 49, 50, 60)] == [0, 1, 1, 2, 4, 5, 5]
    with translation.override("en"):
        assert class_labels(bounds) == ["1", "2–4", "5–9", "10–19", "20–49", "≥ 50"]
