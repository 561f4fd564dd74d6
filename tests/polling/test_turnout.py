"""Turnout: cumulative, only rising unless corrected, held for review above the possible, late when
late; the dashboard's per-station figures always equal what the reports say."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tallyroom.audit.chain import verify
from tallyroom.polling import services
from tallyroom.polling import turnout as tr
from tallyroom.polling.errors import Conflict
from tallyroom.polling.models import TurnoutFigure, TurnoutReport
from tallyroom.polling.selectors import derived_state_problems
from tests.conftest import db_counts
from tests.polling.conftest import TURNOUT, Day, as_device, as_user, at, iso, key, open_station

pytestmark = pytest.mark.django_db
URL = TURNOUT.format(code="0101C/01R")


def report(api: Any, voters: int, slot: str | None = None, hhmm: str | None = None, **extra: Any) -> Any:
    body: dict[str, Any] = {"voters": voters, "client_key": key(), **extra}
    if slot:
        body["reporting_time"] = slot
    if hhmm:
        body["at"] = iso(hhmm)
    return api.post(URL, body)


def test_turnout_rises_through_the_day(day: Day) -> None:
    phone = as_device(day.token)
    open_station(phone)
    first = report(phone, 120, "11:00")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["reporting_time"] == "11:00"
    assert body["at"] == "2025-10-12T11:00:00+02:00"
    assert body["held"] is False
    assert body["late"] is True  # received long after 11:00 on 12 October 2025
    assert report(phone, 150, hhmm="13:20").status_code == 201  # ad hoc
    assert report(phone, 260, "15:00").status_code == 201
    figures = dict(TurnoutFigure.objects.filter(station=day.station).values_list("slot", "voters"))
    assert figures == {"11:00": 120, "15:00": 260, "19:00": 260}  # 19:00 carries the latest forward
    reported = dict(TurnoutFigure.objects.filter(station=day.station).values_list("slot", "reported"))
    assert reported == {"11:00": True, "15:00": True, "19:00": False}
    assert derived_state_problems(day.round) == []
    assert list(verify()) == []


def test_a_lower_figure_is_refused_unless_it_is_a_correction(day: Day) -> None:
    phone = as_device(day.token)
    open_station(phone)
    report(phone, 3120, "11:00")  # a slip: 3120 for 312... but 3120 > 812 registered: held, see below
    assert TurnoutReport.objects.get().review == "held"
    ok = report(phone, 300, hhmm="12:00")
    assert ok.status_code == 201  # a held figure takes no part in the ordering
    before = db_counts()
    lower = report(phone, 250, "15:00")
    assert lower.status_code == 409
    assert "only rises" in lower.json()["message"]
    assert "300" in lower.json()["message"]
    assert db_counts() == before
    fixed = report(phone, 250, "15:00", correction=True)
    assert fixed.status_code == 201
    assert fixed.json()["supersedes"] == [ok.json()["id"]]
    assert TurnoutReport.objects.get(pk=ok.json()["id"]).superseded_by_id == fixed.json()["id"]
    # The same reporting time twice: only as a correction, which replaces it.
    dup = report(phone, 260, "15:00")
    assert dup.status_code == 409
    assert "already reported" in dup.json()["message"]
    again = report(phone, 262, "15:00", correction=True)
    assert again.json()["supersedes"] == [fixed.json()["id"]]
    # A late 11:00 figure above the later ones cannot be right.
    late = report(phone, 280, hhmm="11:30")
    assert late.status_code == 409
    assert "later time" in late.json()["message"]
    assert derived_state_problems(day.round) == []
    figures = services._figures(TurnoutReport.objects.filter(station=day.station))
    assert tr.monotonic(figures)
    assert list(verify()) == []


def test_a_figure_beyond_the_list_is_held_for_review(day: Day) -> None:
    phone = as_device(day.token)
    open_station(phone)
    most = tr.limit(812, 0.05)  # 0101C/01R: 812 registered, 5% may be added on the day
    assert most == 852
    at_limit = report(phone, most, hhmm="12:00")
    assert at_limit.json()["held"] is False
    held = report(phone, most + 1, "15:00")
    assert held.status_code == 201
    body = held.json()
    assert body["held"] is True
    assert "812 registered" in body["review_reason"]
    assert TurnoutFigure.objects.get(station=day.station, slot="15:00").voters == most  # the held one does not count
    assert TurnoutFigure.objects.get(station=day.station, slot="15:00").held is True
    # Only the commission or the municipality's officials review it.
    review = f"/api/v1/turnout/{body['id']}/review"
    assert phone.post(review, {"accept": True, "note": "recount"}).status_code == 403
    assert as_user(day.users["observer"]).post(review, {"accept": True, "note": "x"}).status_code == 403
    accepted = as_user(day.users["official"]).post(review, {"accept": True, "note": "Voters added on the day."})
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["review"] == "accepted"
    assert TurnoutFigure.objects.get(station=day.station, slot="15:00").voters == most + 1
    twice = as_user(day.users["admin"]).post(review, {"accept": False, "note": "no"})
    assert twice.status_code == 409
    assert derived_state_problems(day.round) == []


def test_dismissing_a_held_figure(day: Day) -> None:
    phone = as_device(day.token)
    open_station(phone)
    held = report(phone, 9999, "11:00").json()
    out = as_user(day.users["admin"]).post(f"/api/v1/turnout/{held['id']}/review", {"accept": False, "note": "typo"})
    assert out.json()["review"] == "dismissed"
    assert not TurnoutFigure.objects.filter(station=day.station, slot="11:00").exclude(voters=None).exists()
    # A dismissed figure does not block the slot either.
    assert report(phone, 99, "11:00").status_code == 201


def test_late_means_after_the_reporting_time_plus_the_allowed_minutes(day: Day, settings: Any) -> None:
    admin = day.reporter("admin")
    services.station_event_record(station=day.station, kind="opened", occurred_at=at("07:00"), reporter=admin)
    on_time = services.turnout_report_record(
        station=day.station, voters=10, slot="11:00", reporter=admin, received_at=at("11:30")
    )
    assert on_time.late is False
    late = services.turnout_report_record(
        station=day.station, voters=20, slot="15:00", reporter=admin, received_at=at("15:31")
    )
    assert late.late is True
    settings.TALLYROOM_TURNOUT_LATE_MINUTES = 60
    not_late = services.turnout_report_record(
        station=day.station, voters=30, slot="19:00", reporter=admin, received_at=at("19:45")
    )
    assert not_late.late is False
    assert TurnoutFigure.objects.get(station=day.station, slot="15:00").late is True


def test_turnout_needs_an_open_station_and_a_time_that_fits(day: Day) -> None:
    phone = as_device(day.token)
    before = db_counts()
    closed = report(phone, 10, "11:00")
    assert closed.status_code == 409
    assert "has not opened" in closed.json()["message"]
    open_station(phone, hhmm="08:30")
    before = db_counts()
    early = report(phone, 10, hhmm="08:00")
    assert early.status_code == 409
    assert "before the station opened at 08:30" in early.json()["message"]
    off_schedule = report(phone, 10, "12:00")
    assert off_schedule.status_code == 422
    assert off_schedule.json()["field"] == "reporting_time"
    mismatch = report(phone, 10, "11:00", at=iso("11:05"))
    assert mismatch.status_code == 422
    neither = phone.post(URL, {"voters": 10, "client_key": key()})
    assert neither.status_code == 422
    assert db_counts() == before


def test_the_same_rules_for_a_batch(day: Day) -> None:
    admin = day.reporter("admin")
    services.station_events_record_batch(
        election=day.election,
        round_=day.round,
        items=[
            services.BatchEvent(s.pk, "opened", at("07:00"), "", f"open-{s.code}")
            for s in (day.station, day.neighbour, day.north)
        ],
        reporter=admin,
    )
    items = [
        services.BatchTurnout(day.station.pk, 100, "11:00", at("11:00"), at("11:05"), "t-1"),
        services.BatchTurnout(day.neighbour.pk, 5000, "11:00", at("11:00"), at("11:50"), "t-2"),
    ]
    outcome = services.turnout_reports_record_batch(
        election=day.election, round_=day.round, items=items, reporter=admin
    )
    assert (outcome.recorded, outcome.skipped) == (2, 0)
    rows = {r.station_id: r for r in TurnoutReport.objects.all()}
    assert rows[day.neighbour.pk].review == "held"
    assert rows[day.neighbour.pk].late is True
    assert rows[day.station.pk].late is False
    again = services.turnout_reports_record_batch(election=day.election, round_=day.round, items=items, reporter=admin)
    assert (again.recorded, again.skipped) == (0, 2)
    before = db_counts()
    with pytest.raises(Conflict):
        services.turnout_reports_record_batch(
            election=day.election,
            round_=day.round,
            items=[
                services.BatchTurnout(day.north.pk, 50, "11:00", at("11:00"), at("11:01"), "t-3"),
                services.BatchTurnout(day.station.pk, 90, "", at("12:00"), at("12:01"), "t-4"),  # lower: all refused
            ],
            reporter=admin,
        )
    assert db_counts() == before
    assert derived_state_problems(day.round) == []
    assert list(verify()) == []


figures = st.lists(
    st.tuples(
        st.sampled_from(["", "", "11:00", "15:00", "19:00"]),
        st.integers(0, 12 * 60),
        st.integers(0, 1200),
        st.booleans(),
    ),
    max_size=12,
)


@settings(max_examples=300)
@given(figures)
def test_the_rules_keep_turnout_rising(items: list[tuple[str, int, int, bool]]) -> None:
    """Whatever is sent, in whatever order, the figures that count never go down."""
    t0 = dt.datetime(2025, 10, 12, 5, 0, tzinfo=dt.UTC)
    stored: list[tr.Figure] = []
    for n, (slot, minute, voters, correction) in enumerate(items):
        when = t0 + dt.timedelta(minutes=minute)
        try:
            decision = tr.decide(stored, slot=slot, at=when, voters=voters, correction=correction, most=850)
        except tr.TurnoutConflict:
            continue
        stored = [
            tr.Figure(f.id, f.slot, f.at, f.voters, f.held, f.superseded or f.id in decision.supersedes, f.dismissed)
            for f in stored
        ]
        stored.append(tr.Figure(n, slot, when, voters, held=decision.held))
        assert tr.monotonic(stored)
        assert len([f for f in stored if f.standing and f.slot and f.slot == slot]) <= 1 or not slot
