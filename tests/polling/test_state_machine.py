"""The station's state machine: the table, its properties, and the services held to it.

The reference for "possible" is written independently of `polling.state`: a station's day, as the
letters of its effective events in time order, must match DAY below (a prefix of a whole day).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from tallyroom.polling import services
from tallyroom.polling import state as sm
from tallyroom.polling.errors import InvalidInput, InvalidTransition, NotFound
from tallyroom.polling.models import StationEvent, StationStatus
from tallyroom.polling.selectors import derived_state_problems
from tests.polling.conftest import Day, at

LETTER = {
    sm.Kind.OPENED: "O",
    sm.Kind.SUSPENDED: "S",
    sm.Kind.RESUMED: "R",
    sm.Kind.CLOSED: "C",
    sm.Kind.CLOSED_EARLY: "E",
    sm.Kind.DID_NOT_OPEN: "D",
}
# Opened, any number of suspensions each resumed, then possibly suspended, closed early (from open
# or suspended) or closed (from open); or did not open at all.
DAY = re.compile(r"(D|O(SR)*(S|SE|E|C)?)?")
STATUS_OF_LAST = {
    "": "not_opened",
    "D": "did_not_open",
    "O": "open",
    "R": "open",
    "S": "suspended",
    "C": "closed",
    "E": "closed_early",
}
T0 = dt.datetime(2025, 10, 12, 5, 0, tzinfo=dt.UTC)


def test_the_transition_table_exhaustively() -> None:
    expected = {
        ("not_opened", "opened"): "open",
        ("not_opened", "did_not_open"): "did_not_open",
        ("open", "suspended"): "suspended",
        ("open", "closed"): "closed",
        ("open", "closed_early"): "closed_early",
        ("suspended", "resumed"): "open",
        ("suspended", "closed_early"): "closed_early",
    }
    for status in sm.Status:
        for kind in sm.Kind:
            if kind == sm.Kind.RETRACTED:
                continue
            standing = sm.Standing(status)
            want = expected.get((status.value, kind.value))
            if want is None:
                with pytest.raises(sm.TransitionError):
                    sm.step(standing, sm.Event(kind, T0, 1))
            else:
                assert sm.step(standing, sm.Event(kind, T0, 1)).status.value == want
    assert {s.value for s in sm.FINAL} == {"closed", "closed_early", "did_not_open"}
    assert all(sm.allowed(s) == [] for s in sm.FINAL)


kinds = st.sampled_from([k for k in sm.Kind if k != sm.Kind.RETRACTED])


@given(st.lists(st.tuples(kinds, st.integers(0, 600)), max_size=8))
def test_replay_accepts_exactly_the_days_that_can_happen(items: list[tuple[sm.Kind, int]]) -> None:
    events = [sm.Event(kind, T0 + dt.timedelta(minutes=m), n) for n, (kind, m) in enumerate(items)]
    letters = "".join(LETTER[e.kind] for e in sm.ordered(events))
    try:
        standing = sm.replay(events)
    except sm.TransitionError:
        assert not DAY.fullmatch(letters)
        return
    assert DAY.fullmatch(letters)
    assert standing.status.value == STATUS_OF_LAST[letters[-1:]]
    assert standing.events == len(events)
    # The order the events are given in does not matter: only when they happened.
    assert sm.replay(list(reversed(events))) == standing
    if standing.opened_at and standing.closed_at:
        assert standing.opened_at <= standing.closed_at
    if events:
        assert standing.since == max(e.at for e in events)


@given(st.lists(st.tuples(kinds, st.integers(0, 600)), min_size=1, max_size=8), st.data())
def test_superseded_events_do_not_count(items: list[tuple[sm.Kind, int]], data: st.DataObject) -> None:
    log = [sm.Logged(n + 1, sm.Event(kind, T0 + dt.timedelta(minutes=m), n + 1)) for n, (kind, m) in enumerate(items)]
    target = data.draw(st.sampled_from(log))
    replacement = data.draw(st.sampled_from(list(sm.Kind)))
    correction = sm.Logged(100, sm.Event(replacement, target.event.at, target.id), supersedes=target.id)
    effective = sm.effective([*log, correction])
    kept = [i.event for i in log if i.id != target.id]
    if replacement == sm.Kind.RETRACTED:
        assert effective == kept
    else:
        assert effective == [*kept, correction.event]
    # A correction of the correction replaces it in turn; the first stays superseded.
    again = sm.Logged(101, sm.Event(sm.Kind.OPENED, target.event.at, target.id), supersedes=correction.id)
    assert sm.effective([*log, correction, again]) == [*kept, again.event]


def test_the_services_follow_the_machine_statefully(day: Day) -> None:
    """Random days recorded through the service (with corrections and retractions, times out of
    order): it accepts exactly the days that can happen, refuses the rest with 409 and writes
    nothing for them, and the status row always equals the status derived from the events."""
    station = day.station
    reporter = day.reporter("chair")
    seen = {"accepted": 0, "refused": 0}

    class StationDay(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.savepoint = transaction.savepoint()
            self.log: list[sm.Logged] = []
            self.key = 0

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

        def _try(self, kind: sm.Kind, minute: int, corrects: int | None) -> None:
            self.key += 1
            when = at("00:30") + dt.timedelta(minutes=minute)
            target = next((i for i in self.log if i.id == corrects), None)
            candidate = sm.Logged(
                10**12,
                sm.Event(kind, when, target.event.order if target else 10**12, "why"),
                supersedes=corrects,
            )
            letters = "".join(LETTER[e.kind] for e in sm.ordered(sm.effective([*self.log, candidate])))
            schedule_ok = not (
                (kind == sm.Kind.CLOSED and when < at("19:00"))
                or (kind == sm.Kind.CLOSED_EARLY and when >= at("19:00"))
            )
            already = corrects is not None and any(i.supersedes == corrects for i in self.log)
            before = StationEvent.objects.count()
            try:
                outcome = services.station_event_record(
                    station=station,
                    kind=kind.value,
                    occurred_at=when,
                    reason="why",
                    corrects=corrects,
                    reporter=reporter,
                    client_key=f"sm-{self.key}-{id(self)}",
                )
            except InvalidTransition:
                assert schedule_ok and not already
                assert not DAY.fullmatch(letters)
                assert StationEvent.objects.count() == before
                seen["refused"] += 1
                return
            except InvalidInput:
                assert not schedule_ok
                assert StationEvent.objects.count() == before
                return
            except NotFound:
                pytest.fail("corrections name only events of this station")
            except services.Conflict:
                assert already
                assert StationEvent.objects.count() == before
                return
            assert schedule_ok and not already
            assert DAY.fullmatch(letters), letters
            event = outcome.event
            order = target.event.order if target else event.pk
            self.log.append(sm.Logged(event.pk, sm.Event(kind, when, order, "why"), supersedes=corrects))
            assert outcome.status.status == STATUS_OF_LAST[letters[-1:]]
            seen["accepted"] += 1

        @rule(kind=kinds, minute=st.integers(0, 23 * 60 - 31))
        def record(self, kind: sm.Kind, minute: int) -> None:
            self._try(kind, minute, None)

        @precondition(lambda self: bool(self.log))
        @rule(data=st.data(), kind=st.sampled_from(list(sm.Kind)), minute=st.integers(0, 23 * 60 - 31))
        def correct(self, data: st.DataObject, kind: sm.Kind, minute: int) -> None:
            target = data.draw(st.sampled_from(self.log))
            if kind == sm.Kind.RETRACTED:
                minute = int((target.event.at - at("00:30")).total_seconds() // 60)
            self._try(kind, minute, target.id)

        @invariant()
        def status_row_equals_the_log(self) -> None:
            derived = sm.replay(sm.effective(self.log))
            row = StationStatus.objects.filter(station=station, round=day.round).first()
            assert (row.status if row else "not_opened") == derived.status.value
            assert derived_state_problems(day.round) == []

    run_state_machine_as_test(
        StationDay,
        settings=settings(
            max_examples=25,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
    assert seen["accepted"] > 10
    assert seen["refused"] > 10


@pytest.mark.parametrize(
    ("status", "kinds_next"),
    [
        ("not_opened", ["opened", "did_not_open"]),
        ("open", ["suspended", "closed", "closed_early"]),
        ("suspended", ["resumed", "closed_early"]),
        ("closed", []),
    ],
)
def test_allowed_next(status: str, kinds_next: list[str]) -> None:
    assert [k.value for k in sm.allowed(sm.Status(status))] == kinds_next
