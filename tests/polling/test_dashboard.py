"""The operations dashboard: the numbers of a known day, what each viewer sees, the page without
script, the live refresh, constant queries whatever the number of stations, and the derived tables
checked against the logs."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tallyroom.elections.models import Election, PollingStation, Round
from tallyroom.elections.services import election_load
from tallyroom.polling import services
from tallyroom.polling.access import Reporter, Viewer
from tallyroom.polling.models import StationStatus, TurnoutFigure
from tallyroom.polling.selectors import dashboard, derived_state_problems, previous_election
from tests.polling.conftest import Day, as_user, at

pytestmark = pytest.mark.django_db
END_OF_DAY = at("23:00")


def play_the_day(day: Day) -> dict[str, PollingStation]:
    """A small day with every kind of thing in it."""
    admin = day.reporter("admin")
    stations = {s.code: s for s in PollingStation.objects.filter(election=day.election)}

    def event(code: str, kind: str, hhmm: str, reason: str = "") -> None:
        services.station_event_record(
            station=stations[code], kind=kind, occurred_at=at(hhmm), reason=reason, reporter=admin
        )

    def turnout(code: str, voters: int, slot: str | None = None, hhmm: str | None = None) -> None:
        received = at(hhmm or slot or "00:00") + dt.timedelta(minutes=5)
        services.turnout_report_record(
            station=stations[code],
            voters=voters,
            slot=slot,
            at=at(hhmm) if hhmm else None,
            reporter=admin,
            received_at=received,
        )

    event("0101C/01R", "opened", "07:00")
    event("0101C/02D", "opened", "07:10")
    event("3801A/01R", "opened", "07:00")
    event("3801A/02R", "did_not_open", "07:30", "The materials did not arrive.")
    turnout("0101C/01R", 100, "11:00")
    turnout("0101C/02D", 50, "11:00")
    turnout("3801A/01R", 20, "11:00")
    turnout("0101C/01R", 300, "15:00")
    turnout("3801A/01R", 60, hhmm="17:30")
    event("3801A/01R", "suspended", "17:35", "Masked men stormed the station.")
    event("3801A/01R", "closed_early", "17:50", "Ballot boxes destroyed.")
    turnout("0101C/01R", 400, "19:00")
    event("0101C/01R", "closed", "19:05")
    event("0101C/02D", "closed", "19:00")
    violent = services.incident_report(
        election=day.election,
        municipality=stations["3801A/01R"].municipality,
        station=stations["3801A/01R"],
        kind="violence",
        severity="critical",
        occurred_at=at("17:35"),
        description="Masked men stormed the station.",
        reporter=admin,
    )
    services.incident_verify(incident=violent, reporter=admin)
    services.incident_report(
        election=day.election,
        municipality=stations["0101C/01R"].municipality,
        station=stations["0101C/01R"],
        kind="procedural",
        severity="low",
        occurred_at=at("10:00"),
        description="Ink not used.",
        reporter=admin,
    )
    return stations


def viewer(day: Day, role: str) -> Viewer:
    municipality_ids = frozenset({day.station.municipality_id}) if role == "official" else frozenset()
    return Viewer(day.users[role], frozenset({role}), municipality_ids)


def test_the_numbers_of_a_known_day(day: Day) -> None:
    play_the_day(day)
    board = dashboard(day.election, day.round, viewer(day, "admin"), now=END_OF_DAY)
    rows = {r.code: r for r in board.rows}
    assert rows["01"].stations == 3
    assert rows["01"].statuses == {"closed": 2, "not_opened": 1}
    assert rows["38"].statuses == {"closed_early": 1, "did_not_open": 1, "not_opened": 0}
    assert board.total.statuses["not_opened"] == 1
    t01, t38 = rows["01"].turnout, rows["38"].turnout
    assert (t01["11:00"].voters, t01["11:00"].registered, t01["11:00"].stations) == (150, 812 + 640, 2)
    assert round(t01["11:00"].share or 0, 4) == round(150 / 1452, 4)
    assert (t01["15:00"].voters, t01["19:00"].voters) == (350, 450)  # 0101C/02D's 50 carried forward
    assert (t38["11:00"].voters, t38["15:00"].voters, t38["19:00"].voters) == (20, 20, 60)
    assert board.total.turnout["19:00"].voters == 510
    assert board.total.turnout["19:00"].registered == 812 + 640 + 701
    missed = {m.slot: m.stations for m in board.missed}
    assert missed == {"11:00": [], "15:00": ["0101C/02D", "3801A/01R"], "19:00": ["0101C/02D"]}
    assert {k: n for k, _label, n in board.incident_counts} == {"violence": 1, "procedural": 1}
    assert rows["38"].incidents == 1
    assert derived_state_problems(day.round) == []


def test_each_viewer_sees_what_they_may(day: Day) -> None:
    play_the_day(day)
    observer = dashboard(day.election, day.round, viewer(day, "observer"), now=END_OF_DAY)
    assert [i.kind for i in observer.feed] == ["violence"]  # the unverified one is not theirs
    assert {k for k, _l, _n in observer.incident_counts} == {"violence"}
    auditor = dashboard(day.election, day.round, viewer(day, "auditor"), now=END_OF_DAY)
    assert [i.kind for i in auditor.feed] == ["violence", "procedural"]


def test_reporting_times_show_only_once_they_come(day: Day) -> None:
    play_the_day(day)
    noon = dashboard(day.election, day.round, viewer(day, "admin"), now=at("12:00"))
    assert noon.reached == ["11:00"]
    assert noon.due == ["11:00"]
    assert noon.total.turnout["15:00"].voters == 0
    assert noon.total.turnout["11:00"].voters == 170
    quarter_past = dashboard(day.election, day.round, viewer(day, "admin"), now=at("15:15"))
    assert (quarter_past.reached, quarter_past.due) == (["11:00", "15:00"], ["11:00"])


def test_the_page_reads_without_script_and_refreshes_with_it(day: Day) -> None:
    play_the_day(day)
    client = Client()
    client.force_login(day.users["observer"])
    html = client.get("/election-day/test-2025/dashboard/?round=R1").content.decode()
    assert html.count('role="img"') == 3
    assert '<title id="turnout-time-t">Turnout by reporting time</title>' in html
    assert re.search(r"<desc id=\"turnout-time-d\">Turnout across the country at each reporting time: 11:00: ", html)
    assert "Stations by municipality" in html
    assert "North Mitrovica" in html
    assert "violence" in html
    assert "Ink not used." not in html  # not verified, not theirs
    assert 'data-live-url="/election-day/test-2025/dashboard/live.json?round=R1"' in html
    assert '<script src="/static/tallyroom/election-day.js" defer>' in html
    live = client.get("/election-day/test-2025/dashboard/live.json?round=R1").json()
    assert set(live["sections"]) == {"summary", "stations", "turnout", "incidents", "missed"}
    same = client.get(f"/election-day/test-2025/dashboard/live.json?round=R1&v={live['version']}").json()
    assert "sections" not in same  # nothing changed: nothing sent
    services.incident_verify(incident=services.Incident.objects.get(kind="procedural"), reporter=day.reporter("admin"))
    changed = client.get(f"/election-day/test-2025/dashboard/live.json?round=R1&v={live['version']}").json()
    assert changed["version"] != live["version"]
    assert "Ink not used." in changed["sections"]["incidents"]
    assert client.get("/static/tallyroom/election-day.js").status_code == 200


def _bigger(definition: dict[str, Any], code: str, per_municipality: int) -> dict[str, Any]:
    doc = copy.deepcopy(definition)
    doc["code"] = code
    for m in doc["municipalities"]:
        centre = m["centres"][0]["code"]
        for n in range(per_municipality):
            m["stations"].append({"code": f"{centre[:4]}Z/{n:02d}R", "centre": centre, "registered": 500 + n})
    return doc


def test_the_dashboard_costs_the_same_whatever_the_number_of_stations(small_definition: dict[str, Any]) -> None:
    counts = []
    for code, extra in (("few", 0), ("many", 40)):
        election_load(_bigger(small_definition, code, extra))
        election = Election.objects.get(code=code)
        round_ = Round.objects.get(election=election, code="R1")
        stations = list(PollingStation.objects.filter(election=election).exclude(kind="central"))
        reporter = Reporter(None, "admin")
        services.station_events_record_batch(
            election=election,
            round_=round_,
            items=[services.BatchEvent(s.pk, "opened", at("07:00"), "", f"{code}-{s.code}") for s in stations],
            reporter=reporter,
        )
        services.turnout_reports_record_batch(
            election=election,
            round_=round_,
            items=[
                services.BatchTurnout(s.pk, 50, "11:00", at("11:00"), at("11:02"), f"{code}-t-{s.code}")
                for s in stations
            ],
            reporter=reporter,
        )
        with CaptureQueriesContext(connection) as queries:
            board = dashboard(election, round_, Viewer(None, frozenset({"admin"})), now=END_OF_DAY)
        assert board.total.turnout["11:00"].voters == 50 * len(stations)
        counts.append(len(queries))
        assert derived_state_problems(round_) == []
    assert counts[0] == counts[1]
    assert counts[0] < 30


def test_the_previous_election_beside_this_one(day: Day, small_definition: dict[str, Any]) -> None:
    old = copy.deepcopy(small_definition)
    old["code"] = "test-2021"
    old["rounds"] = [{"code": "R1", "kind": "first", "date": "2021-10-17"}]
    election_load(old)
    before = Election.objects.get(code="test-2021")
    round_ = Round.objects.get(election=before, code="R1")
    station = PollingStation.objects.get(election=before, code="0101C/01R")
    reporter = Reporter(None, "admin")
    day_2021 = dt.date(2021, 10, 17)
    services.station_event_record(station=station, kind="opened", occurred_at=at("07:00", day_2021), reporter=reporter)
    services.turnout_report_record(station=station, voters=406, slot="19:00", round_=round_, reporter=reporter)
    assert previous_election(day.election) == before
    play_the_day(day)
    board = dashboard(day.election, day.round, viewer(day, "admin"), now=END_OF_DAY)
    rows = {r.code: r for r in board.rows}
    assert rows["01"].turnout["19:00"].previous == pytest.approx(406 / 812)
    assert board.total.turnout["19:00"].previous == pytest.approx(0.5)
    assert previous_election(before) is None


def test_the_derived_tables_are_checked_against_the_logs(day: Day) -> None:
    play_the_day(day)
    assert derived_state_problems(day.round) == []
    StationStatus.objects.filter(station=day.station).update(status="open")
    TurnoutFigure.objects.filter(station=day.station, slot="15:00").update(voters=299)
    problems = derived_state_problems(day.round)
    assert len(problems) == 2
    assert "0101C/01R: status table says ('open'" in problems[0]
    assert "turnout figures" in problems[1]


def test_the_api_gives_the_same_picture(day: Day) -> None:
    play_the_day(day)
    body = as_user(day.users["panel"]).get("/api/v1/elections/test-2025/election-day?round=R1").json()
    by_code = {m["code"]: m for m in body["municipalities"]}
    assert by_code["38"]["statuses"]["closed_early"] == 1
    assert by_code["01"]["turnout"]["19:00"]["voters"] == 450
    assert body["slots"] == ["11:00", "15:00", "19:00"]
    assert body["missed_reports"][1]["count"] == 2
    assert isinstance(body["version"], str)
