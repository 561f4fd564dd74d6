"""Station events over real HTTP: status derived from events, 409 for the impossible, corrections
that supersede, client keys that make retries harmless."""

from __future__ import annotations

import pytest

from tallyroom.audit.chain import verify
from tallyroom.audit.models import AuditEntry
from tallyroom.polling.models import StationEvent, StationStatus
from tallyroom.polling.selectors import derived_state_problems
from tests.conftest import db_counts
from tests.polling.conftest import EVENTS, Day, as_device, as_user, iso, key, open_station

pytestmark = pytest.mark.django_db
URL = EVENTS.format(code="0101C/01R")


def test_a_chairs_phone_records_the_day(day: Day) -> None:
    phone = as_device(day.token)
    body = open_station(phone)
    assert body["kind"] == "opened"
    assert body["occurred_at"] == "2025-10-12T07:02:00+02:00"
    assert body["reported_by"] == "chair"
    assert body["reporter_role"] == "chair"
    assert body["status"]["status"] == "open"
    assert body["status"]["allowed_next"] == ["suspended", "closed", "closed_early"]

    for kind, hhmm, reason, status in [
        ("suspended", "10:15", "Tear gas thrown into the room", "suspended"),
        ("resumed", "10:50", "", "open"),
        ("closed", "19:20", "", "closed"),
    ]:
        response = phone.post(URL, {"kind": kind, "occurred_at": iso(hhmm), "reason": reason, "client_key": key()})
        assert response.status_code == 201, response.content
        assert response.json()["status"]["status"] == status
    day_view = phone.get("/api/v1/stations/0101C/01R/day").json()
    assert [e["kind"] for e in day_view["events"]] == ["opened", "suspended", "resumed", "closed"]
    assert day_view["status"]["closed_at"] == "2025-10-12T19:20:00+02:00"
    assert day_view["status"]["allowed_next"] == []
    assert derived_state_problems(day.round) == []
    actions = list(AuditEntry.objects.filter(object_type="station_event").values_list("action", "actor", "role"))
    assert actions == [("station_event.recorded", f"chair (device #{day_view and 1})", "chair")] * 4 or all(
        a == "station_event.recorded" and actor.startswith("chair (device #") and role == "chair"
        for a, actor, role in actions
    )
    assert len(actions) == 4
    assert list(verify()) == []


def test_an_impossible_transition_is_409_and_writes_nothing(day: Day) -> None:
    phone = as_device(day.token)
    before = db_counts()
    response = phone.post(URL, {"kind": "closed", "occurred_at": iso("19:05"), "client_key": key()})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition"
    assert "not opened" in body["message"]
    assert "cannot be closed" in body["message"]
    assert "opened, did not open" in body["message"]
    assert db_counts() == before
    open_station(phone)
    again = phone.post(URL, {"kind": "opened", "occurred_at": iso("07:30"), "client_key": key()})
    assert again.status_code == 409
    assert "is open" in again.json()["message"]


def test_schedule_rules_and_reasons(day: Day) -> None:
    phone = as_device(day.token)
    open_station(phone)
    before = db_counts()
    early = phone.post(URL, {"kind": "closed", "occurred_at": iso("18:00"), "client_key": key()})
    assert early.status_code == 422
    assert "closed early" in early.json()["message"]
    no_reason = phone.post(URL, {"kind": "closed_early", "occurred_at": iso("18:00"), "client_key": key()})
    assert no_reason.status_code == 422
    assert no_reason.json()["field"] == "reason"
    late_early = phone.post(
        URL, {"kind": "closed_early", "occurred_at": iso("19:00"), "reason": "x", "client_key": key()}
    )
    assert late_early.status_code == 422
    assert db_counts() == before
    ok = phone.post(
        URL,
        {"kind": "closed_early", "occurred_at": iso("18:00"), "reason": "Staff withdrawn", "client_key": key()},
    )
    assert ok.status_code == 201
    assert ok.json()["status"] | {"allowed_next": []} == ok.json()["status"]
    assert StationStatus.objects.get(station=day.station).reason == "Staff withdrawn"


def test_a_correction_supersedes_and_never_edits(day: Day) -> None:
    phone = as_device(day.token)
    opened = open_station(phone, hhmm="07:02")
    suspended = phone.post(
        URL, {"kind": "suspended", "occurred_at": iso("09:00"), "reason": "Power cut", "client_key": key()}
    ).json()
    fix = phone.post(
        URL, {"kind": "opened", "occurred_at": iso("07:40"), "corrects": opened["id"], "client_key": key()}
    )
    assert fix.status_code == 201, fix.content
    assert fix.json()["supersedes"] == opened["id"]
    assert fix.json()["status"]["opened_at"] == "2025-10-12T07:40:00+02:00"
    assert fix.json()["status"]["status"] == "suspended"
    original = StationEvent.objects.get(pk=opened["id"])
    assert original.occurred_at.isoformat() == "2025-10-12T05:02:00+00:00"  # untouched
    # The same event cannot be corrected twice; its correction can.
    twice = phone.post(
        URL, {"kind": "opened", "occurred_at": iso("07:45"), "corrects": opened["id"], "client_key": key()}
    )
    assert twice.status_code == 409
    assert f"#{fix.json()['id']}" in twice.json()["message"]
    # A correction that would make the day impossible is refused: opening after the suspension.
    bad = phone.post(
        URL, {"kind": "opened", "occurred_at": iso("09:30"), "corrects": fix.json()["id"], "client_key": key()}
    )
    assert bad.status_code == 409
    # The suspension was a mistake: retract it.
    retract = phone.post(
        URL, {"kind": "retracted", "occurred_at": iso("09:00"), "corrects": suspended["id"], "client_key": key()}
    )
    assert retract.status_code == 201
    assert retract.json()["status"]["status"] == "open"
    day_view = phone.get("/api/v1/stations/0101C/01R/day").json()
    superseded = {e["id"]: e["superseded_by"] for e in day_view["events"]}
    assert superseded[opened["id"]] == fix.json()["id"]
    assert superseded[suspended["id"]] == retract.json()["id"]
    assert derived_state_problems(day.round) == []
    assert list(verify()) == []


def test_events_reported_late_fall_into_place(day: Day) -> None:
    """A phone offline all morning sends its queue out of order: what is possible is recorded."""
    phone = as_device(day.token)
    suspension = {"kind": "suspended", "occurred_at": iso("09:00"), "reason": "Crowd at the door", "client_key": key()}
    assert phone.post(URL, suspension).status_code == 409  # not open yet, as far as we know
    open_station(phone, hhmm="07:00")
    assert phone.post(URL, suspension).status_code == 201  # the same key, refused before: tried afresh
    inserted = phone.post(
        URL, {"kind": "suspended", "occurred_at": iso("08:00"), "reason": "Fight", "client_key": key()}
    )
    assert inserted.status_code == 409  # suspended at 8 then suspended again at 9 cannot be
    assert "would make the station's day impossible" in inserted.json()["message"]


def test_retries_are_harmless(day: Day) -> None:
    phone = as_device(day.token)
    body = {"kind": "opened", "occurred_at": iso("07:01")}
    first = phone.post(URL, body, headers={"Idempotency-Key": "retry-key-0001"})
    before = db_counts()
    second = phone.post(URL, body, headers={"Idempotency-Key": "retry-key-0001"})
    assert (second.status_code, second.json()) == (first.status_code, first.json())
    assert second["Idempotent-Replayed"] == "true"
    assert db_counts() == before
    # The header wins over the body's key.
    third = phone.post(URL, body | {"client_key": "another-key-01"}, headers={"Idempotency-Key": "retry-key-0001"})
    assert third.json() == first.json()
    # The same key for something else is refused.
    other = phone.post(
        URL,
        {"kind": "suspended", "occurred_at": iso("08:00"), "reason": "x"},
        headers={"Idempotency-Key": "retry-key-0001"},
    )
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    # No key at all: refused.
    assert phone.post(URL, {"kind": "suspended", "occurred_at": iso("08:00"), "reason": "x"}).status_code == 422
    assert db_counts() == before


def test_naive_times_are_election_time_and_other_days_are_refused(day: Day) -> None:
    phone = as_device(day.token)
    response = phone.post(URL, {"kind": "opened", "occurred_at": "2025-10-12T07:05:00", "client_key": key()})
    assert response.json()["occurred_at"] == "2025-10-12T07:05:00+02:00"
    utc = phone.post(
        URL, {"kind": "suspended", "occurred_at": "2025-10-12T08:00:00Z", "reason": "x", "client_key": key()}
    )
    assert utc.json()["occurred_at"] == "2025-10-12T10:00:00+02:00"
    before = db_counts()
    for when in ["2025-10-13T01:00:00+02:00", "2025-10-11T23:59:00+02:00", "2025-10-12T23:30:00Z"]:
        refused = phone.post(URL, {"kind": "resumed", "occurred_at": when, "client_key": key()})
        assert refused.status_code == 422, when
        assert refused.json()["field"] == "occurred_at"
        assert "not on an election day" in refused.json()["message"]
    assert db_counts() == before


def test_a_device_reports_for_its_station_only(day: Day) -> None:
    phone = as_device(day.token)
    before = db_counts()
    response = phone.post(
        EVENTS.format(code="0102B/01R"), {"kind": "opened", "occurred_at": iso("07:00"), "client_key": key()}
    )
    assert response.status_code == 403
    assert "0101C/01R only" in response.json()["message"]
    assert db_counts() == before
    official = as_user(day.users["official"])
    assert (
        official.post(
            EVENTS.format(code="0102B/01R"), {"kind": "opened", "occurred_at": iso("07:00"), "client_key": key()}
        ).status_code
        == 201
    )
    assert (
        official.post(
            EVENTS.format(code="3801A/01R"), {"kind": "opened", "occurred_at": iso("07:00"), "client_key": key()}
        ).status_code
        == 403
    )


def test_a_revoked_or_expired_token_is_401(day: Day) -> None:
    from tallyroom.accounts.models import DeviceToken
    from tallyroom.accounts.tokens import device_token_revoke

    assert as_device("trd_not-a-real-token").post(URL, {}).status_code == 401
    device_token_revoke(device=DeviceToken.objects.get())
    response = as_device(day.token).post(URL, {"kind": "opened", "occurred_at": iso("07:00"), "client_key": key()})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_runoff_is_held_only_where_it_has_a_contest(day: Day) -> None:
    from tallyroom.elections.models import Contest, Round

    runoff = Round.objects.get(election=day.election, code="R2")
    Contest.objects.create(round=runoff, municipality=day.north.municipality, kind="mayor", seats=1)
    admin = as_user(day.users["admin"])
    when = "2025-11-09T07:00:00+01:00"
    before = db_counts()
    refused = admin.post(URL, {"kind": "opened", "occurred_at": when, "client_key": key()})
    assert refused.status_code == 422
    assert "does not vote on 2025-11-09" in refused.json()["message"]
    assert db_counts() == before
    north = admin.post(EVENTS.format(code="3801A/01R"), {"kind": "opened", "occurred_at": when, "client_key": key()})
    assert north.status_code == 201
    assert north.json()["round"] == "R2"
    # The device token is for the first round: another day is not its to report.
    phone = as_device(day.token)
    assert phone.post(URL, {"kind": "opened", "occurred_at": when, "client_key": key()}).status_code == 403
