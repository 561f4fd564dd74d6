"""The public charts: well-formed SVG that says what it shows, and numbers in the reader's language."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.utils import translation

from tallyroom.publish import charts
from tallyroom.publish.formatting import num, pct

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    labelled = (root.get("aria-labelledby") or "").split()
    ids = {el.get("id"): (el.text or "") for el in root.iter() if el.get("id")}
    assert len(labelled) == 2 and all(ids.get(i) for i in labelled)  # a title and a description
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing from elsewhere
    return root


def test_the_bar_chart_names_every_bar_and_escapes_names() -> None:
    bars = [
        charts.Bar("#0067a5", "Lista <Bashkë> & Co", 1234, Decimal("61.70")),
        charts.Bar("#be0032", "Others", 766, Decimal("38.30")),
    ]
    with translation.override("en"):
        root = parse(charts.bar_chart("votes-1", "Votes by choice", bars))
    rects = root.findall(f"{SVG}rect")
    assert [r.get("fill") for r in rects] == ["#0067a5", "#be0032"]
    assert float(rects[0].get("width") or 0) > float(rects[1].get("width") or 0)
    assert [r.find(f"{SVG}title").text for r in rects] == [  # type: ignore[union-attr]
        "Lista <Bashkë> & Co: 1,234 (61.70%)",
        "Others: 766 (38.30%)",
    ]
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text == "Lista <Bashkë> & Co: 1,234 (61.70%); Others: 766 (38.30%)"


@pytest.mark.parametrize("seats", [1, 7, 15, 19, 41, 51])
def test_the_seat_chart_draws_every_seat_once(seats: int) -> None:
    big, small = seats - seats // 3, seats // 3
    parties = [charts.Seats("#0067a5", "LDK", big, unfilled=1), charts.Seats("#be0032", "PDK", small)]
    root = parse(charts.seat_chart("seats-1", "Seats", [p for p in parties if p.seats], "seats"))
    circles = root.findall(f"{SVG}circle")
    assert len(circles) == seats
    places = {(c.get("cx"), c.get("cy")) for c in circles}
    assert len(places) == seats  # no seat on top of another
    assert [c.find(f"{SVG}title").text for c in circles].count("LDK") == big  # type: ignore[union-attr]
    hollow = [c for c in circles if c.get("fill") == "#ffffff"]
    assert len(hollow) == 1 and hollow[0].get("stroke") == "#0067a5"  # the seat no candidate can take


def test_the_turnout_chart_plots_the_reported_times_in_the_readers_language() -> None:
    points = [
        charts.Point("11:00", Decimal("13.57")),
        charts.Point("15:00", Decimal("30.88")),
        charts.Point("19:00", None),
    ]
    with translation.override("sq"):
        root = parse(charts.turnout_chart("turnout-1", "Pjesëmarrja", points))
    assert len(root.findall(f"{SVG}circle")) == 2
    assert root.find(f"{SVG}polyline") is not None
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text == "11:00: 13,57%; 15:00: 30,88%; 19:00: –"


def test_entity_colours_are_fixed_and_distinct_within_a_municipality() -> None:
    codes = [f"E{n}" for n in range(18)]
    first = charts.colour_map(codes)
    assert first == charts.colour_map(reversed(codes))  # the same set, the same colours
    assert len(set(first.values())) == len(codes)  # none shared while the palette lasts
    assert charts.colour("LDK") == charts.colour("LDK") and charts.colour("LDK") in charts.PALETTE


@pytest.mark.parametrize(
    ("lang", "count", "share"),
    [("en", "1,234,567", "37.26%"), ("sq", "1.234.567", "37,26%"), ("sr-latn", "1.234.567", "37,26%")],
)
def test_numbers_are_written_the_way_each_language_writes_them(lang: str, count: str, share: str) -> None:
    with translation.override(lang):
        assert num(1234567) == count
        assert pct(Decimal("37.26")) == share
        assert num(None) == pct(None) == "–"
