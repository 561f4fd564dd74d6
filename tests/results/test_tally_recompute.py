"""The full recomputation checks the running tallies while forms keep arriving, and `fix` rewrites them."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections

from tallyroom.elections.models import Candidate, Contest, Election, PollingStation, Round
from tallyroom.elections.services import election_load
from tallyroom.results import tally
from tallyroom.results.bulk import BulkItem, result_forms_submit_bulk
from tallyroom.results.decisions import annulment_decide
from tallyroom.results.models import TallyPreference, TallyVote
from tallyroom.results.services import result_form_submit
from tests.results.conftest import clean_content

A, B, C = "0101C/01R", "0101C/02D", "0102B/01R"
DAY = dt.date(2025, 10, 26)


def _form(votes: dict[str, int], prefs: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    return {**clean_content(votes, registered=600).as_dict(), "preferences": prefs or {}}


def _submit(
    election: Election, station: str, votes: dict[str, int], prefs: dict[str, dict[str, int]] | None = None
) -> None:
    [outcome] = result_forms_submit_bulk(
        election, [BulkItem(station, "assembly", _form(votes, prefs))], actor="t", role="admin"
    )
    assert outcome.status == "accepted", outcome


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need a database server")
def test_forms_counted_while_it_runs_are_not_differences(
    small_definition: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    election_load(small_definition)
    election = Election.objects.get(code=small_definition["code"])
    _submit(election, A, {"BLUE": 300, "GREEN": 200})
    compare = tally._differences

    def counted_meanwhile(*args: Any) -> Any:
        # Another counting centre commits a form after the forms were summed, before the tallies are read.
        def other() -> None:
            try:
                _submit(Election.objects.get(pk=election.pk), C, {"BLUE": 10, "GREEN": 20})
            finally:
                connections.close_all()

        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
        return compare(*args)

    monkeypatch.setattr(tally, "_differences", counted_meanwhile)
    assert tally.tally_recompute() == []
    monkeypatch.undo()
    assert sum(TallyVote.objects.values_list("votes", flat=True)) == 530  # it did count
    assert tally.tally_recompute() == []


@pytest.mark.django_db
def test_fix_rewrites_a_tampered_tally(small_election: Election) -> None:
    _submit(small_election, A, {"BLUE": 300, "GREEN": 200})
    TallyVote.objects.filter(entity__code="BLUE").update(votes=1)
    [diff] = tally.tally_recompute()
    assert (diff.running, diff.recomputed) == (1, 300)
    call_command("results", "recompute", "--fix", stdout=None)
    assert dict(TallyVote.objects.filter(votes__gt=0).values_list("entity__code", "votes")) == {
        "BLUE": 300,
        "GREEN": 200,
    }
    assert tally.tally_recompute() == []


@pytest.mark.django_db
def test_a_candidates_preferences_are_checked_per_contest_across_a_repeat_vote(small_election: Election) -> None:
    """A candidate's preference votes in the contest and in its repeat vote are two tallies: the check
    sums them apart (the one query per candidate is only for candidates in a single contest)."""
    assembly = Contest.objects.get(municipality__code="01", kind="assembly")
    for code in (A, B):
        _submit(small_election, code, {"BLUE": 300, "GREEN": 200}, {"BLUE": {"1": 120, "2": 30}})
    repeat_round = Round.objects.create(election=small_election, code="R1-repeat", kind="repeat", date=DAY)
    annulment_decide(
        contest=assembly,
        stations=[PollingStation.objects.get(code=B)],
        legal_basis="LGE Art. 119",
        reason="ballot boxes destroyed",
        actor="cec",
        role="admin",
        repeat_round=repeat_round,
    )
    repeat = Contest.objects.get(parent=assembly)
    result_form_submit(
        station=PollingStation.objects.get(code=B),
        contest=repeat,
        content=clean_content({"BLUE": 250, "GREEN": 150}, prefs={"BLUE": {1: 90}}, registered=600),
        actor="t",
        role="admin",
    )
    first = Candidate.objects.get(
        municipality=assembly.municipality, entity__code="BLUE", position=1, office=Candidate.Office.ASSEMBLY
    )
    rows = TallyPreference.objects.filter(candidate=first)
    assert dict(rows.values_list("contest_id", "votes")) == {assembly.pk: 120, repeat.pk: 90}
    assert tally.tally_recompute() == []
    rows.filter(contest=repeat).update(votes=91)
    [diff] = tally.tally_recompute()
    assert (diff.contest_id, diff.running, diff.recomputed) == (repeat.pk, 91, 90)
    rows.filter(contest=repeat).update(votes=90)
    rows.filter(contest=assembly).update(votes=240)  # both stations' votes, as if the annulled still counted
    [diff] = tally.tally_recompute()
    assert (diff.contest_id, diff.running, diff.recomputed) == (assembly.pk, 240, 120)
