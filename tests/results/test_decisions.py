"""Annulment and repeat voting, runoffs, complaints, certification."""

from __future__ import annotations

import datetime as dt

import pytest

from tallyroom.elections.models import Contest, Election, PollingStation, Round
from tallyroom.results.decisions import (
    annulment_decide,
    certification_blockers,
    complaint_decide,
    complaint_file,
    contest_certify,
)
from tallyroom.results.errors import ResultsError, ResultsErrorCode
from tallyroom.results.models import Complaint, FormState, ResultForm, TallyVote
from tallyroom.results.selectors import contest_results
from tallyroom.results.services import result_form_submit
from tallyroom.results.tally import tally_recompute
from tests.results.conftest import clean_content

pytestmark = pytest.mark.django_db
REGISTERED = {"0101C/01R": 812, "0101C/02D": 640, "0102B/01R": 905, "3801A/01R": 701, "3801A/02R": 688}


def submit(contest: Contest, code: str, votes: dict[str, int]) -> ResultForm:
    return result_form_submit(
        station=PollingStation.objects.get(code=code),
        contest=contest,
        content=clean_content(votes, registered=REGISTERED[code]),
        actor="chair",
        role="chair",
    ).form


def test_mayor_without_majority_goes_to_a_runoff_on_certification(small_election: Election) -> None:
    mayor = Contest.objects.get(municipality__code="38", kind="mayor")
    submit(mayor, "3801A/01R", {"CIV": 300, "BLUE": 290})
    results = contest_results(mayor)
    assert results["mayor"]["status"] == "elected"  # two candidates: plurality (LLE 9.5, two-candidate rule)
    mayor01 = Contest.objects.get(municipality__code="01", kind="mayor")
    for code in ("0101C/01R", "0101C/02D", "0102B/01R"):
        submit(mayor01, code, {"BLUE": 200, "IND-ARBEN": 210})
    assert contest_results(mayor01)["can_change"] is False


def test_annulment_with_repeat_voting_then_the_repeat_counts(small_election: Election) -> None:
    assembly = Contest.objects.get(municipality__code="01", kind="assembly")
    submit(assembly, "0101C/01R", {"BLUE": 300, "GREEN": 200})
    submit(assembly, "0101C/02D", {"BLUE": 250, "GREEN": 200})
    submit(assembly, "0102B/01R", {"BLUE": 380, "GREEN": 300})
    repeat_round = Round.objects.create(
        election=small_election, code="R1-repeat", kind="repeat", date=dt.date(2025, 10, 26)
    )
    station = PollingStation.objects.get(code="0102B/01R")
    annulment = annulment_decide(
        contest=assembly,
        stations=[station],
        legal_basis="LGE Art. 119",
        reason="ballot boxes destroyed",
        actor="cec",
        role="admin",
        incident_refs=["incident-17"],
        repeat_round=repeat_round,
    )
    form = ResultForm.objects.get(station=station, contest=assembly)
    assert (form.state, form.counted) == (FormState.ANNULLED, False)
    results = contest_results(assembly)
    assert results["stations"]["annulled_repeat_pending"] == 1
    assert {c["entity"]: c["votes"] for c in results["choices"]} == {"BLUE": 550, "GREEN": 400}
    assert results["outstanding"]["registered_voters"] == 905
    assert "1 station(s) not yet accounted for" in certification_blockers(assembly)
    repeat = annulment.repeat_contest
    assert repeat is not None and repeat.parent == assembly
    submit(repeat, "0102B/01R", {"BLUE": 150, "GREEN": 140})
    results = contest_results(assembly)
    assert {c["entity"]: c["votes"] for c in results["choices"]} == {"BLUE": 700, "GREEN": 540}
    assert results["stations"]["counted"] == 3
    assert results["can_change"] is False
    contest_certify(assembly, actor="cec", role="admin")
    assert contest_results(assembly)["status"] == "certified"
    with pytest.raises(ResultsError) as info:
        submit(assembly, "0101C/01R", {"BLUE": 1, "GREEN": 1})
    assert info.value.code == ResultsErrorCode.CERTIFIED
    assert tally_recompute() == []


def test_open_complaint_blocks_certification_and_a_recount_sends_the_form_back(small_election: Election) -> None:
    assembly = Contest.objects.get(municipality__code="01", kind="assembly")
    submit(assembly, "0101C/01R", {"BLUE": 300, "GREEN": 200})
    submit(assembly, "0101C/02D", {"BLUE": 250, "GREEN": 200})
    submit(assembly, "0102B/01R", {"BLUE": 380, "GREEN": 300})
    station = PollingStation.objects.get(code="0101C/01R")
    complaint = complaint_file(
        municipality=assembly.municipality,
        complainant="Green Coalition",
        subject="Votes counted twice",
        actor="panel",
        role="panel",
        station=station,
        contest=assembly,
    )
    assert complaint.decide_by - complaint.filed_at == dt.timedelta(hours=72)
    assert certification_blockers(assembly) == ["1 open complaint(s) in the municipality"]
    with pytest.raises(ResultsError) as info:
        contest_certify(assembly, actor="cec", role="admin")
    assert info.value.code == ResultsErrorCode.NOT_READY
    complaint_decide(
        complaint, decision=Complaint.Decision.RECOUNT, reasoning="recount ordered", actor="panel", role="panel"
    )
    form = ResultForm.objects.get(station=station, contest=assembly)
    assert (form.state, form.counted) == (FormState.QUARANTINED, False)
    assert dict(TallyVote.objects.filter(contest=assembly).values_list("entity__code", "votes")) == {
        "BLUE": 630,
        "GREEN": 500,
    }
    assert certification_blockers(assembly) == ["1 station(s) with a quarantined form"]
    with pytest.raises(ResultsError):
        complaint_decide(complaint, decision=Complaint.Decision.REJECTED, reasoning="again", actor="p", role="panel")


def test_first_round_certified_without_majority_creates_the_runoff(small_election: Election) -> None:
    mayor = Contest.objects.get(municipality__code="01", kind="mayor")
    # A third candidate for this test: a mayor race with three candidates can need a runoff.
    from tallyroom.elections.models import Candidate, ContestCandidate, PoliticalEntity

    green = PoliticalEntity.objects.get(code="GREEN")
    vlora = Candidate.objects.create(
        election=small_election,
        municipality=mayor.municipality,
        entity=green,
        office="mayor",
        name="Vlora Krasniqi",
        gender="F",
        position=3,
    )
    ContestCandidate.objects.create(contest=mayor, candidate=vlora, ballot_position=3)
    for code in ("0101C/01R", "0101C/02D", "0102B/01R"):
        submit(mayor, code, {"BLUE": 200, "IND-ARBEN": 150, "GREEN": 120})
    results = contest_results(mayor)
    assert results["mayor"]["status"] == "runoff"
    assert results["mayor"]["finalists"] == ["Agim Berisha", "Arben Krasniqi"]
    contest_certify(mayor, actor="cec", role="admin")
    runoff = Contest.objects.get(parent=mayor, round__kind="runoff")
    assert sorted(runoff.candidates.values_list("name", flat=True)) == ["Agim Berisha", "Arben Krasniqi"]
    assert contest_results(mayor)["mayor"]["runoff_contest"] == runoff.pk
    submit(runoff, "0101C/01R", {"BLUE": 300, "IND-ARBEN": 310})
    r = contest_results(runoff)
    assert r["mayor"]["status"] == "elected"
    assert r["mayor"]["elected"] == "Arben Krasniqi"
    assert r["can_change"] is True


def test_the_api_folds_a_repeat_vote_into_the_contest_it_repeats(small_election: Election) -> None:
    from django.test import Client

    assembly = Contest.objects.get(municipality__code="01", kind="assembly")
    submit(assembly, "0101C/01R", {"BLUE": 300, "GREEN": 200})
    repeat_round = Round.objects.create(election=small_election, code="rep", kind="repeat", date=dt.date(2025, 10, 26))
    annulment = annulment_decide(
        contest=assembly,
        stations=[PollingStation.objects.get(code="0102B/01R")],
        legal_basis="b",
        reason="r",
        actor="cec",
        role="admin",
        repeat_round=repeat_round,
    )
    assert annulment.repeat_contest is not None
    submit(annulment.repeat_contest, "0102B/01R", {"BLUE": 100, "GREEN": 90})
    body = Client().get("/api/v1/results/01").json()
    rounds = [(c["contest"]["kind"], c["contest"]["round"]) for c in body["contests"]]
    assert ("assembly", "rep") not in rounds
    folded = next(c for c in body["contests"] if c["contest"]["kind"] == "assembly")
    assert folded["repeat_voting"] == [{"round": "rep", "date": "2025-10-26", "stations": 1}]
    assert {c["entity"]: c["votes"] for c in folded["choices"]} == {"BLUE": 400, "GREEN": 290}


def test_an_annulled_station_takes_no_new_form_and_a_repeat_vote_only_its_own(small_election: Election) -> None:
    """Either would count a station twice: once through the new form, once through the repeat vote (or
    at all, when its results were annulled for good). Refused with a reason; nothing is written."""
    from tallyroom.results.bulk import BulkItem, result_forms_submit_bulk
    from tests.conftest import db_counts

    assembly = Contest.objects.get(municipality__code="01", kind="assembly")
    mayor = Contest.objects.get(municipality__code="01", kind="mayor")
    repeat_round = Round.objects.create(
        election=small_election, code="R1-repeat", kind="repeat", date=dt.date(2025, 10, 26)
    )
    for contest, repeat in ((assembly, repeat_round), (mayor, None)):  # annulled before any form came
        annulment_decide(
            contest=contest,
            stations=[PollingStation.objects.get(code="0102B/01R")],
            legal_basis="LGE Art. 119.3",
            reason="Ballot boxes destroyed.",
            actor="cec",
            role="admin",
            repeat_round=repeat,
        )
    repeat = Contest.objects.get(parent=assembly)
    before = db_counts()
    for contest, code, error, words in (
        (assembly, "0102B/01R", ResultsErrorCode.ANNULLED, f"count through the repeat vote (contest {repeat.pk})"),
        (mayor, "0102B/01R", ResultsErrorCode.ANNULLED, "count for nothing"),
        (repeat, "0101C/01R", ResultsErrorCode.UNKNOWN_CONTEST, "not in this repeat vote"),
    ):
        with pytest.raises(ResultsError) as refused:
            submit(contest, code, {"BLUE": 300, "GREEN": 200} if contest != mayor else {"BLUE": 300})
        assert refused.value.code is error and words in refused.value.message, refused.value.message
    items = [
        BulkItem("0102B/01R", "assembly", clean_content({"BLUE": 300, "GREEN": 200}, registered=905).as_dict()),
        BulkItem("0101C/01R", "assembly", clean_content({"BLUE": 30, "GREEN": 20}).as_dict(), round="R1-repeat"),
    ]
    outcomes = result_forms_submit_bulk(small_election, items, actor="centre", role="admin")
    assert [(o.status, o.form_id) for o in outcomes] == [("conflict", None), ("rejected", None)]
    assert "annulled" in outcomes[0].problems[0] and "not in this repeat vote" in outcomes[1].problems[0]
    assert db_counts() == before
    submit(repeat, "0102B/01R", {"BLUE": 280, "GREEN": 190})  # the station itself votes again
    assert contest_results(assembly)["stations"]["counted"] == 1
