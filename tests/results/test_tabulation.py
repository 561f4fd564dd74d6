"""Tabulation equals the rules engine's answer on the accepted forms, for random counts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tallyroom.elections.models import Contest, PollingStation
from tallyroom.results.models import ContestTally, ResultForm, TallyPreference, TallyVote
from tallyroom.results.selectors import contest_results
from tallyroom.results.services import result_form_submit
from tallyroom.results.tally import tally_recompute
from tallyroom.rules.seats import allocate
from tests.results.conftest import clean_content

STATIONS = ["0101C/01R", "0101C/02D", "0102B/01R"]
REGISTERED = {"0101C/01R": 812, "0101C/02D": 640, "0102B/01R": 905}

station_votes = st.fixed_dictionaries({"BLUE": st.integers(0, 300), "GREEN": st.integers(0, 300)})


@pytest.mark.django_db
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.lists(station_votes, min_size=3, max_size=3), prefs=st.integers(0, 50))
def test_tally_and_seats_equal_the_rules_engine(small_election: Any, counts: list[dict[str, int]], prefs: int) -> None:
    ResultForm.objects.all().delete()
    ContestTally.objects.all().delete()
    TallyVote.objects.all().delete()
    TallyPreference.objects.all().delete()
    assembly = Contest.objects.get(municipality__code="01", kind="assembly")
    expected = {"BLUE": 0, "GREEN": 0}
    for code, votes in zip(STATIONS, counts, strict=True):
        preferences = {"BLUE": {1: min(prefs, votes["BLUE"])}} if votes["BLUE"] else {}
        outcome = result_form_submit(
            station=PollingStation.objects.get(code=code),
            contest=assembly,
            content=clean_content(votes, invalid=0, prefs=preferences, registered=REGISTERED[code]),
            actor="t",
            role="admin",
        )
        if outcome.form.counted:
            for entity, n in votes.items():
                expected[entity] += n
    running = dict(TallyVote.objects.filter(contest=assembly).values_list("entity__code", "votes"))
    assert running == expected
    assert tally_recompute() == []
    results = contest_results(assembly)
    assert {c["entity"]: c["votes"] for c in results["choices"]} == expected
    if sum(expected.values()):
        rules_seats = allocate(expected, 15).seats
        assert results["assembly"]["seats"] == dict(rules_seats)
        assert sum(results["assembly"]["seats"].values()) <= 15


@pytest.mark.django_db
def test_results_explain_the_count(small_election: Any) -> None:
    assembly = Contest.objects.get(municipality__code="01", kind="assembly")
    counts = {
        "0101C/01R": ({"BLUE": 300, "GREEN": 200}, {"BLUE": {1: 40, 2: 150, 3: 90}, "GREEN": {1: 80, 2: 100}}),
        "0102B/01R": ({"BLUE": 350, "GREEN": 250}, {"BLUE": {1: 60, 3: 20}}),
    }
    for code, (votes, prefs) in counts.items():
        result_form_submit(
            station=PollingStation.objects.get(code=code),
            contest=assembly,
            content=clean_content(votes, prefs=prefs, registered=REGISTERED[code]),
            actor="t",
            role="admin",
        )
    results = contest_results(assembly)
    assert results["status"] == "preliminary"
    assert results["stations"] == {
        "total": 3,
        "counted": 2,
        "counted_official": 0,
        "quarantined": 0,
        "annulled": 0,
        "annulled_repeat_pending": 0,
        "pending": 1,
    }
    assert results["choices"] == [
        {"entity": "BLUE", "entity_name": "Blue Party", "votes": 650, "share": "59.09"},
        {"entity": "GREEN", "entity_name": "Green Coalition", "votes": 450, "share": "40.91"},
    ]
    assert results["totals"] == {"valid": 1100, "invalid": 6, "blank": 0, "ballots_cast": 1106}
    # Sainte-Laguë, 650:450 for 15 seats. The 15 largest quotients: BLUE 650/1, 3, 5, ..., 17 (down to
    # 38.2) and GREEN 450/1, 3, ..., 11 (down to 40.9): 9 and 6 (the equal 50s are seats 11 and 12).
    # The lists hold only 3 and 2 candidates, so 10 seats stay vacant.
    assert results["assembly"]["seats"] == {"BLUE": 9, "GREEN": 6}
    assert results["assembly"]["unfilled_seats"] == {"BLUE": 6, "GREEN": 4}
    elected = {e["name"]: e for e in results["assembly"]["elected"]}
    assert set(elected) == {"Drita Gashi", "Ilir Hoxha", "Agim Berisha", "Besnik Morina", "Vlora Krasniqi"}
    assert elected["Drita Gashi"]["preference_votes"] == 150
    assert results["outstanding"] == {"registered_voters": 640, "central_units": 0, "bounded": True}
    assert results["can_change"] is True
