"""Bulk ingest: an outcome per form, official forms replacing preliminary ones, the tally exact.

Run on SQLite (bulk_create) and PostgreSQL (COPY with ids drawn from the sequence): same answers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tallyroom.audit.chain import verify
from tallyroom.elections.models import Contest, Election, PollingStation
from tallyroom.results.bulk import BulkItem, result_forms_submit_bulk
from tallyroom.results.models import (
    ContestTally,
    FormKind,
    FormState,
    ResultForm,
    ResultVote,
    TallyPreference,
    TallyVote,
)
from tallyroom.results.tally import tally_recompute
from tests.conftest import db_counts
from tests.results.conftest import clean_content

pytestmark = pytest.mark.django_db

A, B, C = "0101C/01R", "0101C/02D", "0102B/01R"


def data(votes: dict[str, int], **extra: Any) -> dict[str, Any]:
    content = clean_content(votes, registered=600)
    return {**content.as_dict(), "preferences": {}, **extra}


def submit(election: Election, *items: BulkItem) -> list[tuple[str, int | None]]:
    return [(o.status, o.form_id) for o in result_forms_submit_bulk(election, list(items), actor="imp", role="admin")]


def tally(contest: Contest) -> tuple[dict[str, int], int, int]:
    row = ContestTally.objects.get(contest=contest)
    return (
        dict(TallyVote.objects.filter(contest=contest).values_list("entity__code", "votes")),
        row.forms_counted,
        row.valid,
    )


def test_each_form_gets_its_outcome_and_only_accepted_ones_count(small_election: Election, assembly: Contest) -> None:
    outcomes = submit(
        small_election,
        BulkItem(A, "assembly", data({"BLUE": 300, "GREEN": 200}, preferences={"BLUE": {"1": 120}})),
        BulkItem(B, "assembly", data({"BLUE": 590, "GREEN": 1})),  # one entity at 95 %: held
        BulkItem("9999X/01R", "assembly", data({"BLUE": 1, "GREEN": 1})),
        BulkItem(C, "assembly", data({"BLUE": -1, "GREEN": 1})),
        BulkItem(A, "assembly", data({"BLUE": 300, "GREEN": 200}, preferences={"BLUE": {"1": 120}})),
        BulkItem(A, "assembly", data({"BLUE": 301, "GREEN": 200})),
    )
    statuses = [s for s, _ in outcomes]
    assert statuses == ["accepted", "quarantined", "rejected", "rejected", "duplicate", "conflict"]
    accepted = ResultForm.objects.get(pk=outcomes[0][1])
    held = ResultForm.objects.get(pk=outcomes[1][1])
    assert (accepted.state, accepted.counted, accepted.valid, accepted.version) == (FormState.ACCEPTED, True, 500, 1)
    assert (held.state, held.counted) == (FormState.QUARANTINED, False)
    assert held.flags.exists()
    assert accepted.created_at is not None and accepted.updated_at is not None
    assert ResultForm.objects.count() == 2
    assert dict(ResultVote.objects.filter(form=accepted).values_list("entity__code", "votes")) == {
        "BLUE": 300,
        "GREEN": 200,
    }
    assert tally(assembly) == ({"BLUE": 300, "GREEN": 200}, 1, 500)
    assert tally_recompute() == []
    assert list(verify()) == []


def test_a_batch_of_only_refused_forms_stores_nothing(small_election: Election) -> None:
    before = db_counts()
    outcomes = submit(
        small_election, BulkItem("9999X/01R", "assembly", data({"BLUE": 1})), BulkItem(A, "mayor", data({"X": 1}))
    )
    assert [s for s, _ in outcomes] == ["rejected", "rejected"]
    assert db_counts() == before


def test_official_forms_replace_counted_preliminary_ones(small_election: Election, assembly: Contest) -> None:
    [(_, prelim_id)] = submit(small_election, BulkItem(A, "assembly", data({"BLUE": 300, "GREEN": 200})))
    outcomes = submit(
        small_election,
        # A stored preliminary form is replaced by the official one.
        BulkItem(A, "assembly", data({"BLUE": 310, "GREEN": 190}), kind=FormKind.OFFICIAL),
        # In one batch, preliminary then official: the official counts.
        BulkItem(B, "assembly", data({"BLUE": 200, "GREEN": 100})),
        BulkItem(B, "assembly", data({"BLUE": 210, "GREEN": 100}), kind=FormKind.OFFICIAL),
        # Official then preliminary: the preliminary form never steps in.
        BulkItem(C, "assembly", data({"BLUE": 100, "GREEN": 50}), kind=FormKind.OFFICIAL),
        BulkItem(C, "assembly", data({"BLUE": 90, "GREEN": 50})),
    )
    assert [s for s, _ in outcomes] == ["accepted"] * 5
    counted = dict(ResultForm.objects.filter(counted=True).values_list("station__code", "kind"))
    assert counted == {A: "official", B: "official", C: "official"}
    assert ResultForm.objects.get(pk=prelim_id).counted is False
    assert ResultForm.objects.filter(state=FormState.ACCEPTED).count() == 6
    assert tally(assembly) == ({"BLUE": 620, "GREEN": 340}, 3, 960)
    assert ContestTally.objects.get(contest=assembly).official_counted == 3
    assert tally_recompute() == []
    assert list(verify()) == []
    # The same preliminary form again is a duplicate and moves nothing.
    again = submit(small_election, BulkItem(C, "assembly", data({"BLUE": 90, "GREEN": 50})))
    assert again[0][0] == "duplicate"
    assert tally(assembly) == ({"BLUE": 620, "GREEN": 340}, 3, 960)


def test_the_api_takes_the_documented_10000_forms_in_one_request(small_election: Election) -> None:
    from tallyroom.accounts.models import Role
    from tallyroom.accounts.services import user_create_or_reset, user_grant_role
    from tallyroom.results.bulk import MAX_BATCH
    from tests.signin import signed_in

    admin = user_create_or_reset("bulk-admin", "x" * 16)
    user_grant_role(admin, small_election, Role.ADMIN)
    form = data({"BLUE": 300, "GREEN": 200}, preferences={"BLUE": {"1": 120, "2": 30}, "GREEN": {"1": 50}})
    # Unknown stations: each is refused on its own, so the request's size is what is tested.
    forms = [{"station": f"X{i:05d}/01R", "contest": "assembly", "form": form} for i in range(MAX_BATCH)]
    body = json.dumps({"election": small_election.code, "forms": forms})
    assert len(body) > 2_621_440  # more than Django's default request body limit (2.5 MiB)
    before = db_counts()
    response = signed_in(admin).post("/api/v1/result-forms/bulk", body, content_type="application/json")
    assert response.status_code == 200, response.content[:300]
    answer = response.json()
    assert answer["count"] == MAX_BATCH
    assert answer["outcomes"] == {"rejected": MAX_BATCH}
    assert answer["items"][-1]["problems"] == [f"unknown station 'X{MAX_BATCH - 1:05d}/01R'"]
    assert db_counts() == before


REGISTERED = {A: 812, B: 640, C: 905}
NO_COUNTS = ("signatures", "ballots_received", "ballots_used", "ballots_unused", "ballots_spoiled")
ballot = st.tuples(
    st.sampled_from([A, B, C]),
    st.sampled_from([FormKind.PRELIMINARY, FormKind.OFFICIAL]),
    st.fixed_dictionaries({"BLUE": st.integers(0, 400), "GREEN": st.integers(0, 400)}),
    st.integers(0, 30),  # invalid
    st.booleans(),  # the ballot counts left off the form
    st.integers(0, 60),  # preference votes for BLUE's first candidate
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(forms=st.lists(ballot, min_size=1, max_size=8), central=st.booleans())
def test_the_totals_a_batch_adds_are_what_the_database_sums(
    small_election: Election, forms: list[tuple[Any, ...]], central: bool
) -> None:
    """The bulk path sums its forms' totals in Python (TallyDelta); the full recomputation sums the
    stored rows in SQL. Central counting units (no roll), official forms replacing preliminary ones,
    forms without ballot counts, held forms: the two must agree."""
    ResultForm.objects.all().delete()
    for model in (ContestTally, TallyVote, TallyPreference):
        model.objects.all().delete()
    PollingStation.objects.filter(code=C).update(kind="central" if central else "regular")
    items = []
    for code, kind, votes, invalid, no_counts, prefs in forms:
        body = clean_content(votes, invalid=invalid, registered=REGISTERED[code]).as_dict()
        body["preferences"] = {"BLUE": {"1": min(prefs, votes["BLUE"])}} if votes["BLUE"] else {}
        if no_counts:
            body |= dict.fromkeys(NO_COUNTS)
        items.append(BulkItem(code, "assembly", body, kind=kind))
    half = len(items) // 2
    submit(small_election, *items[:half])
    submit(small_election, *items[half:])
    assert tally_recompute() == []
