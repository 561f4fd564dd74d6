"""The full recomputation checks the running tallies while forms keep arriving, and `fix` rewrites them."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections

from tallyroom.elections.models import Election
from tallyroom.elections.services import election_load
from tallyroom.results import tally
from tallyroom.results.bulk import BulkItem, result_forms_submit_bulk
from tallyroom.results.models import TallyVote
from tests.results.conftest import clean_content

A, C = "0101C/01R", "0102B/01R"


def _form(votes: dict[str, int]) -> dict[str, Any]:
    return {**clean_content(votes, registered=600).as_dict(), "preferences": {}}


def _submit(election: Election, station: str, votes: dict[str, int]) -> None:
    [outcome] = result_forms_submit_bulk(
        election, [BulkItem(station, "assembly", _form(votes))], actor="t", role="admin"
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
