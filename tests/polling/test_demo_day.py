"""The demo's election day: the story of 3 November 2013, deterministic and recorded once."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from tallyroom.accounts.demo import demo_accounts_create
from tallyroom.audit.chain import verify
from tallyroom.elections.definition import read_file
from tallyroom.elections.demo import demo_path
from tallyroom.elections.models import Election, Round
from tallyroom.elections.services import election_load
from tallyroom.polling.access import Viewer
from tallyroom.polling.demo import replay_election_day
from tallyroom.polling.models import Deployment, Incident, StationEvent, StationStatus, TurnoutReport, Withdrawal
from tallyroom.polling.selectors import dashboard, derived_state_problems
from tests.conftest import db_counts
from tests.polling.conftest import at

pytestmark = pytest.mark.django_db


def fingerprint() -> list[Any]:
    events = list(
        StationEvent.objects.order_by("station__code", "occurred_at").values_list(
            "station__code", "kind", "occurred_at", "reason"
        )
    )
    turnout = list(
        TurnoutReport.objects.order_by("station__code", "at").values_list(
            "station__code", "slot", "at", "voters", "late", "review"
        )
    )
    incidents = list(Incident.objects.order_by("occurred_at", "kind").values_list("kind", "station__code", "status"))
    return [events, turnout, incidents]


def test_the_day_replayed_on_the_small_election(small_election: Election) -> None:
    demo_accounts_create(small_election, "demo-password-1")
    trial = transaction.savepoint()
    replay_election_day(small_election)
    picture = fingerprint()
    transaction.savepoint_rollback(trial)
    first = replay_election_day(small_election)
    assert fingerprint() == picture  # deterministic: the same day, twice from scratch
    assert first.recorded > 0
    assert "Election day replayed" in first.line()
    statuses = dict(StationStatus.objects.values_list("station__code", "status"))
    # North Mitrovica's only centre is the one attacked: suspended, then closed early at 17:50.
    assert statuses["3801A/01R"] == statuses["3801A/02R"] == "closed_early"
    assert StationStatus.objects.get(station__code="3801A/01R").reason == "Ballot boxes destroyed; polling ended."
    assert {statuses[c] for c in ("0101C/01R", "0101C/02D", "0102B/01R")} == {"closed"}
    kinds = set(Incident.objects.filter(station__code="3801A/01R", status="verified").values_list("kind", flat=True))
    assert kinds == {"violence", "ballot_box"}
    withdrawal = Withdrawal.objects.get()
    assert withdrawal.organisation.name == "OSCE Mission in Kosovo"
    assert withdrawal.municipality is not None and withdrawal.municipality.code == "38"
    assert Deployment.objects.filter(withdrawal=withdrawal).count() == withdrawal.deployments_ended > 0
    assert derived_state_problems(Round.objects.get(election=small_election, code="R1")) == []
    assert list(verify()) == []

    # Again: nothing new.
    before = db_counts()
    again = replay_election_day(small_election)
    assert again.recorded == 0
    assert db_counts() == before


@pytest.mark.slow
def test_the_demo_day_on_the_2013_election() -> None:
    """The bundled election: turnout near the official 46%, far lower in the north; the north's
    stations closed early at 18:00; the attack in North Mitrovica; the withdrawal."""
    election_load(read_file(demo_path()))
    election = Election.objects.get(code="ks-2013-local")
    demo_accounts_create(election, "demo-password-1")
    summary = replay_election_day(election)
    assert summary.stations > 2300
    round_ = Round.objects.get(election=election, code="r1")
    board = dashboard(election, round_, Viewer(None, frozenset({"admin"})), now=at("23:00", round_.date))
    national = board.total.turnout["19:00"].share or 0
    assert 0.42 < national < 0.48
    assert 0.28 < (board.total.turnout["15:00"].share or 0) < 0.34
    north = [r for r in board.rows if r.area == "north"]
    assert len(north) == 4
    for row in north:
        assert (row.turnout["19:00"].share or 0) < national / 1.5, row.name
        assert row.statuses.get("closed", 0) == 0
        assert row.statuses.get("closed_early", 0) + row.statuses.get("did_not_open", 0) == row.stations
    closed_early = StationStatus.objects.filter(round=round_, status="closed_early").exclude(
        station__municipality__code="38"
    )
    assert {s.closed_at for s in closed_early} == {at("18:00", round_.date)}
    attack = Incident.objects.get(kind="ballot_box")
    assert attack.municipality.code == "38"
    assert attack.status == "verified"
    assert Withdrawal.objects.get().municipality.code == "38"  # type: ignore[union-attr]
    assert board.total.statuses.get("not_opened", 0) == 0
    assert derived_state_problems(round_) == []  # a second run adds nothing: see the small election's test
