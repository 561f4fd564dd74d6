"""The chair's preliminary form: checked, counted or held, never duplicated."""

from __future__ import annotations

import dataclasses

import pytest

from tallyroom.elections.models import Contest, PollingStation
from tallyroom.results.content import ballot_of, parse_content
from tallyroom.results.errors import ResultsError, ResultsErrorCode
from tallyroom.results.models import ContestTally, FormState, ResultForm, TallyPreference, TallyVote
from tallyroom.results.services import result_form_submit
from tallyroom.results.tally import tally_recompute
from tests.conftest import db_counts
from tests.results.conftest import clean_content

pytestmark = pytest.mark.django_db


def tally_votes(contest: Contest) -> dict[str, int]:
    return dict(TallyVote.objects.filter(contest=contest).values_list("entity__code", "votes"))


def test_a_clean_form_is_accepted_and_counted(assembly: Contest, station: PollingStation) -> None:
    content = clean_content({"BLUE": 300, "GREEN": 200}, prefs={"BLUE": {1: 120, 2: 90}, "GREEN": {1: 50}})
    outcome = result_form_submit(station=station, contest=assembly, content=content, actor="chair", role="chair")
    assert outcome.status == "accepted"
    assert outcome.form.counted
    assert tally_votes(assembly) == {"BLUE": 300, "GREEN": 200}
    tally = ContestTally.objects.get(contest=assembly)
    assert (tally.forms_counted, tally.valid, tally.invalid, tally.registered_counted) == (1, 500, 3, 812)
    prefs = dict(TallyPreference.objects.filter(contest=assembly, votes__gt=0).values_list("candidate__name", "votes"))
    assert prefs == {"Agim Berisha": 120, "Drita Gashi": 90, "Vlora Krasniqi": 50}
    assert tally_recompute() == []


def test_the_same_form_again_is_a_duplicate_and_a_different_one_a_conflict(
    assembly: Contest, station: PollingStation
) -> None:
    content = clean_content({"BLUE": 300, "GREEN": 200})
    result_form_submit(station=station, contest=assembly, content=content, actor="chair", role="chair")
    before = db_counts()
    again = result_form_submit(station=station, contest=assembly, content=content, actor="chair", role="chair")
    assert again.status == "duplicate"
    assert db_counts() == before
    with pytest.raises(ResultsError) as info:
        result_form_submit(
            station=station,
            contest=assembly,
            content=clean_content({"BLUE": 301, "GREEN": 200}),
            actor="chair",
            role="chair",
        )
    assert info.value.code == ResultsErrorCode.FORM_EXISTS
    assert info.value.status == 409
    assert db_counts() == before
    assert tally_votes(assembly) == {"BLUE": 300, "GREEN": 200}


def test_replacing_a_preliminary_form_moves_the_tally(assembly: Contest, station: PollingStation) -> None:
    result_form_submit(
        station=station,
        contest=assembly,
        content=clean_content({"BLUE": 300, "GREEN": 200}),
        actor="chair",
        role="chair",
    )
    outcome = result_form_submit(
        station=station,
        contest=assembly,
        content=clean_content({"BLUE": 310, "GREEN": 190}),
        actor="chair",
        role="chair",
        replace=True,
        reason="typo in BLUE",
    )
    assert outcome.form.version == 2
    assert tally_votes(assembly) == {"BLUE": 310, "GREEN": 190}
    assert tally_recompute() == []


@pytest.mark.parametrize(
    ("_case", "votes", "invalid", "check"),
    [
        ("votes do not add to ballots used", {"BLUE": 300, "GREEN": 200}, 3, "ballots_used_mismatch"),
        ("one entity has 96%", {"BLUE": 480, "GREEN": 20}, 3, "dominant_choice"),
        ("invalid above 10%", {"BLUE": 300, "GREEN": 200}, 80, "high_invalid_share"),
    ],
)
def test_suspicious_forms_are_held_with_named_reasons(
    assembly: Contest, station: PollingStation, _case: str, votes: dict[str, int], invalid: int, check: str
) -> None:
    content = clean_content(votes, invalid=invalid)
    if check == "ballots_used_mismatch":
        content = dataclasses.replace(content, ballots_used=(content.ballots_used or 0) + 7)
    outcome = result_form_submit(station=station, contest=assembly, content=content, actor="chair", role="chair")
    assert outcome.status == "quarantined"
    assert check in {f["check"] for f in outcome.flags}
    form = ResultForm.objects.get()
    assert form.state == FormState.QUARANTINED
    assert not form.counted
    assert set(tally_votes(assembly).values()) == {0}


@pytest.mark.parametrize(
    ("_case", "data", "problems"),
    [
        (
            "unknown entity",
            {"votes": {"BLUE": 1, "GREEN": 1, "RED": 4}, "invalid": 0},
            ["votes.RED: is not on this contest's ballot (on it: BLUE, GREEN)"],
        ),
        ("missing entity", {"votes": {"BLUE": 1}, "invalid": 0}, ["votes.GREEN: is required (enter 0 for no votes)"]),
        (
            "negative",
            {"votes": {"BLUE": -1, "GREEN": 1}, "invalid": 0},
            ["votes.BLUE: must be a whole number >= 0 (got -1)"],
        ),
        (
            "not a number",
            {"votes": {"BLUE": "12", "GREEN": 1}, "invalid": 0},
            ["votes.BLUE: must be a whole number >= 0 (got '12')"],
        ),
        (
            "fractional",
            {"votes": {"BLUE": 1, "GREEN": 1}, "invalid": 1.5},
            ["invalid: must be a whole number (got 1.5)"],
        ),
        ("no invalid", {"votes": {"BLUE": 1, "GREEN": 1}}, ["invalid: is required"]),
        (
            "preference off the list",
            {"votes": {"BLUE": 1, "GREEN": 1}, "invalid": 0, "preferences": {"BLUE": {"9": 1}}},
            ["preferences.BLUE.9: no candidate at position 9 on BLUE's list"],
        ),
    ],
)
def test_malformed_content_is_rejected_at_the_edge(
    assembly: Contest, _case: str, data: dict[str, object], problems: list[str]
) -> None:
    content, found = parse_content(data, ballot_of(assembly))
    assert content is None
    assert [str(p) for p in found] == problems


def test_mayoral_forms_take_votes_by_the_candidates_entity(mayor: Contest) -> None:
    ballot = ballot_of(mayor)
    assert ballot.entities == ("BLUE", "IND-ARBEN")
    _, problems = parse_content(
        {"votes": {"BLUE": 1, "IND-ARBEN": 2}, "invalid": 0, "preferences": {"BLUE": {"1": 1}}}, ballot
    )
    assert [str(p) for p in problems] == ["preferences: a mayoral form has no preference votes"]


def test_a_station_of_another_municipality_is_refused(assembly: Contest) -> None:
    north = PollingStation.objects.get(code="3801A/01R")
    with pytest.raises(ResultsError) as info:
        result_form_submit(
            station=north, contest=assembly, content=clean_content({"BLUE": 1, "GREEN": 1}), actor="x", role="admin"
        )
    assert info.value.code == ResultsErrorCode.UNKNOWN_CONTEST
