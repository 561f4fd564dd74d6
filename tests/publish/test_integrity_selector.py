"""The integrity page's reads: the same report as `tallyroom forensics`, and its numbers on the page."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from tallyroom.elections.models import Election
from tallyroom.elections.services import election_load
from tallyroom.elections.simulate import simulate_definition
from tallyroom.publish import integrity
from tallyroom.publish.integrity import OPTIONS, integrity_page, table_key
from tallyroom.publish.slugs import station_slug
from tallyroom.results.forensics_source import station_table
from tallyroom.rules.forensics import analyse
from tests.publish.integrity_setup import REGISTERED_ESTIMATE, STATIONS, counted_election

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    integrity._CACHE.clear()


def _row(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr {attribute}="{re.escape(value)}">(.*?)</tr>', html, re.S)
    assert found, f"no row {attribute}={value}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))


def test_the_page_analyses_what_the_forensics_command_analyses(tmp_path: Path) -> None:
    election = counted_election()
    page = integrity_page(election)
    assert page.report is not None
    assert page.stations_analysed == page.stations_total == STATIONS
    out = tmp_path / "report.json"
    call_command("forensics", "--election", election.code, "--json", str(out), "--quiet", stdout=io.StringIO())
    from_command = json.loads(out.read_text("utf-8"))
    from_command.pop("generated_at")
    assert json.loads(json.dumps(page.report, allow_nan=False)) == from_command
    # ...and it is the analysis of the current forms: a fresh run with the page's options agrees.
    assert analyse(station_table(election.code), OPTIONS, source={"election": election.code}) == page.report


def test_the_numbers_on_the_page_are_the_report_s() -> None:
    election = counted_election()
    report = integrity_page(election).report
    assert report is not None
    html = Client().get(f"/elections/{election.code}/integrity/").content.decode()
    ip = report["integer_percentages"]
    either = _row(html, "data-quantity", "either")
    assert f"{ip['observed']:,}" in either
    assert f"{round(ip['excess']):,} ± {round(ip['excess_std']):,}" in either
    assert f"{round(ip['null_mean']):,}" in either
    p = ip["p_value"]
    assert ("< 0.001" if p < 0.001 else f"{p:.3f}") in either
    share = _row(html, "data-quantity", "leader_share")
    block = ip["leader_share"]
    assert f"{round(block['excess']):,} ± {round(block['excess_std']):,}" in share

    model = report["fraud_model"]
    assert f"{model['f_incremental']:.3f}" in _row(html, "data-parameter", "f_incremental")
    low, high = model["f_extreme_ci95"]
    assert f"{model['f_extreme']:.3f}" in _row(html, "data-parameter", "f_extreme")
    assert f"{low:.3f} – {high:.3f}" in _row(html, "data-parameter", "f_extreme")

    tests = {t["test"]: t for t in report["summary"]["tests"]}
    last = _row(html, "data-test", "last_digit")
    assert f"χ² = {tests['last_digit']['value']:.2f}" in last
    assert f"{tests['last_digit']['p_holm']:.3f}" in last
    for name, test in tests.items():
        if name == "fraud_model":
            continue
        outcome = _row(html, "data-test", name)
        if test["warning"]:
            assert "no warning" not in outcome and "warning" in outcome
        else:
            assert "warning" not in outcome or "no warning" in outcome

    corr = report["correlation"]
    assert f"Pearson {corr['pearson']:.3f}, Spearman {corr['spearman']:.3f}" in html
    assert f"{corr['municipalities_flagged']} of {corr['municipalities_tested']} municipalities" in html


def test_flagged_stations_are_listed_by_municipality_with_links_to_their_pages() -> None:
    election = counted_election()
    report = integrity_page(election).report
    assert report is not None
    flagged = report["flagged_stations"]
    assert flagged, "the seeded election should have stations that stand out"
    html = Client().get(f"/elections/{election.code}/integrity/").content.decode()
    assert len(re.findall(r'<tr data-station="', html)) == len(flagged)
    for item in flagged:
        href = f'href="/elections/{election.code}/stations/{station_slug(item["station"])}/"'
        assert f'<tr data-station="{item["station"]}"><th scope="row"><a {href}>' in html
    by_municipality: dict[str, int] = {}
    for item in flagged:
        by_municipality[item["municipality"]] = by_municipality.get(item["municipality"], 0) + 1
    for code, count in by_municipality.items():
        assert f'id="m-{code}"' in html
        assert f'<a href="#m-{code}">{count}</a>' in _row_html(html, code)
    # Each robust-z reason shows the report's value, median and z.
    reason = next(r for item in flagged for r in item["reasons"] if r["test"] == "robust_z")
    assert f"{100 * reason['municipality_median']:.1f}%" in html
    assert f"{abs(reason['z']):.1f}" in html


def _row_html(html: str, municipality: str) -> str:
    found = re.search(rf'<tr data-municipality="{municipality}">(.*?)</tr>', html, re.S)
    assert found
    return found.group(1)


def test_the_estimate_caveat_appears_only_when_the_definition_carries_estimates() -> None:
    estimated = counted_election(code="est", estimates=[REGISTERED_ESTIMATE])
    plain = counted_election(code="plain")
    caveat = "Turnout is estimated on this data set."
    html = Client().get(f"/elections/{estimated.code}/integrity/").content.decode()
    assert caveat in html
    assert REGISTERED_ESTIMATE["method"] in html
    assert "(uses the estimated turnout)" in _row(html, "data-test", "turnout_leader_correlation")
    assert "(uses the estimated turnout)" not in _row(html, "data-test", "last_digit")
    page = integrity_page(estimated)
    assert page.turnout_estimated
    turnout_reasons = [r for m in page.municipalities for s in m.flagged for r in s.reasons if r.kind == "turnout"]
    assert all(r.estimated for r in turnout_reasons)
    if turnout_reasons:
        assert "(estimated turnout: an artefact)" in html

    html = Client().get(f"/elections/{plain.code}/integrity/").content.decode()
    assert caveat not in html
    assert "(uses the estimated turnout)" not in html
    assert "an artefact" not in html
    assert not integrity_page(plain).turnout_estimated


def test_an_estimate_of_something_else_is_listed_without_the_turnout_caveat() -> None:
    other = {"field": "municipalities[].assembly[].candidates[].position", "method": "alphabetical order"}
    election = counted_election(code="pos", estimates=[other])
    html = Client().get(f"/elections/{election.code}/integrity/").content.decode()
    assert "alphabetical order" in html
    assert "Turnout is estimated on this data set." not in html


def test_before_any_count_the_page_says_so_and_an_unknown_election_is_404() -> None:
    election_load(simulate_definition(40, 2, seed=3, code="early"))
    election = Election.objects.get(code="early")
    response = Client().get(f"/elections/{election.code}/integrity/")
    assert response.status_code == 200
    assert "No counted results yet" in response.content.decode()
    assert "0 of 40 polling stations" in response.content.decode()
    assert Client().get("/elections/nowhere/integrity/").status_code == 404


def test_the_report_is_computed_once_per_distinct_table() -> None:
    election = counted_election()
    table = station_table(election.code)
    first = integrity.report_of(table, election.code)
    assert integrity.report_of(station_table(election.code), election.code) is first
    assert list(integrity._CACHE) == [table_key(table)]
    changed = station_table(election.code)
    changed.votes[0, changed.leader] -= 1  # one vote less: another table, another report
    assert table_key(changed) != table_key(table)
    assert integrity.report_of(changed, election.code) is not first
