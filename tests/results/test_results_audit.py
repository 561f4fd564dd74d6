"""Every results write is on the chain, and a vote changed behind its back is named."""

from __future__ import annotations

import pytest

from tallyroom.audit.chain import verify
from tallyroom.audit.models import AuditEntry
from tallyroom.elections.models import Contest, PollingStation
from tallyroom.results.models import ResultVote
from tallyroom.results.services import result_form_submit
from tests.results.conftest import clean_content

pytestmark = pytest.mark.django_db


def test_a_vote_count_changed_in_the_database_is_named(assembly: Contest, station: PollingStation) -> None:
    form = result_form_submit(
        station=station,
        contest=assembly,
        content=clean_content({"BLUE": 300, "GREEN": 200}),
        actor="chair",
        role="chair",
    ).form
    entry = AuditEntry.objects.get(action="result_form.submitted")
    assert (entry.actor, entry.role, entry.object_id) == ("chair", "chair", str(form.pk))
    assert list(verify()) == []
    ResultVote.objects.filter(form=form, entity__code="BLUE").update(votes=3000)
    findings = [str(f) for f in verify()]
    assert findings == [f"entry #{entry.seq}: result_form {form.pk} was changed outside Tallyroom since this entry"]


def test_the_whole_pipeline_leaves_a_chain_that_verifies(small_election: object, clerks: tuple) -> None:
    import datetime as dt

    from tallyroom.elections.models import Round
    from tallyroom.results.decisions import annulment_decide, complaint_decide, complaint_file
    from tallyroom.results.models import AuditorDecision, Complaint
    from tallyroom.results.services import data_entry_record, quarantine_decide

    assembly = Contest.objects.get(municipality__code="01", kind="assembly")
    stations = {s.code: s for s in PollingStation.objects.filter(municipality__code="01")}
    result_form_submit(
        station=stations["0101C/01R"],
        contest=assembly,
        content=clean_content({"BLUE": 300, "GREEN": 200}),
        actor="chair",
        role="chair",
    )
    official = clean_content({"BLUE": 299, "GREEN": 201})
    data_entry_record(clerk=clerks[0], station=stations["0101C/01R"], contest=assembly, content=official)
    data_entry_record(clerk=clerks[1], station=stations["0101C/01R"], contest=assembly, content=official)
    held = result_form_submit(
        station=stations["0101C/02D"],
        contest=assembly,
        content=clean_content({"BLUE": 490, "GREEN": 10}, registered=640),
        actor="c",
        role="chair",
    )
    quarantine_decide(auditor=clerks[2], form=held.form, decision=AuditorDecision.Decision.ACCEPT, reason="checked")
    result_form_submit(
        station=stations["0102B/01R"],
        contest=assembly,
        content=clean_content({"BLUE": 380, "GREEN": 300}, registered=905),
        actor="c",
        role="chair",
    )
    complaint = complaint_file(
        municipality=assembly.municipality,
        complainant="x",
        subject="y",
        actor="p",
        role="panel",
        station=stations["0102B/01R"],
        contest=assembly,
    )
    complaint_decide(complaint, decision=Complaint.Decision.RECOUNT, reasoning="z", actor="p", role="panel")
    repeat = Round.objects.create(
        election=assembly.round.election, code="rep", kind="repeat", date=dt.date(2025, 11, 1)
    )
    annulment_decide(
        contest=assembly,
        stations=[stations["0101C/01R"]],
        legal_basis="b",
        reason="r",
        actor="cec",
        role="admin",
        repeat_round=repeat,
    )
    assert [str(f) for f in verify()] == []
