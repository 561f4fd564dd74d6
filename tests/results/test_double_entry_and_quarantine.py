"""Counting centre: blind double entry, the auditors' queue, and races between two people."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from django.contrib.auth.models import User
from django.db import close_old_connections, connection

from tallyroom.elections.models import Contest, PollingStation
from tallyroom.results.errors import ResultsError, ResultsErrorCode
from tallyroom.results.models import AuditorDecision, DataEntry, FormKind, FormState, ResultForm, TallyVote
from tallyroom.results.services import data_entry_record, data_entry_resolve, quarantine_decide, result_form_submit
from tallyroom.results.tally import tally_recompute
from tests.results.conftest import clean_content

pytestmark = pytest.mark.django_db


def votes_of(contest: Contest) -> dict[str, int]:
    return dict(TallyVote.objects.filter(contest=contest).values_list("entity__code", "votes"))


def test_two_matching_blind_entries_verify_and_replace_the_preliminary_count(
    assembly: Contest, station: PollingStation, clerks: tuple[User, User, User]
) -> None:
    result_form_submit(
        station=station,
        contest=assembly,
        content=clean_content({"BLUE": 300, "GREEN": 200}),
        actor="chair",
        role="chair",
    )
    official = clean_content({"BLUE": 298, "GREEN": 202})
    first = data_entry_record(clerk=clerks[0], station=station, contest=assembly, content=official)
    assert first.status == "entered"
    assert votes_of(assembly) == {"BLUE": 300, "GREEN": 200}  # the preliminary count stands meanwhile
    second = data_entry_record(clerk=clerks[1], station=station, contest=assembly, content=official)
    assert second.status == "accepted"
    forms = {f.kind: f for f in ResultForm.objects.all()}
    assert forms[FormKind.OFFICIAL].counted
    assert not forms[FormKind.PRELIMINARY].counted
    assert votes_of(assembly) == {"BLUE": 298, "GREEN": 202}
    assert tally_recompute() == []


def test_one_clerk_cannot_type_both_entries(
    assembly: Contest, station: PollingStation, clerks: tuple[User, User, User]
) -> None:
    content = clean_content({"BLUE": 300, "GREEN": 200})
    data_entry_record(clerk=clerks[0], station=station, contest=assembly, content=content)
    with pytest.raises(ResultsError) as info:
        data_entry_record(clerk=clerks[0], station=station, contest=assembly, content=content)
    assert info.value.code == ResultsErrorCode.SAME_CLERK
    assert DataEntry.objects.count() == 1


def test_differing_entries_list_the_fields_and_a_third_entry_settles(
    assembly: Contest, station: PollingStation, clerks: tuple[User, User, User]
) -> None:
    right = clean_content({"BLUE": 300, "GREEN": 200})
    data_entry_record(clerk=clerks[0], station=station, contest=assembly, content=right)
    typo = dataclasses.replace(right, invalid=8)
    outcome = data_entry_record(clerk=clerks[1], station=station, contest=assembly, content=typo)
    assert outcome.status == "disputed"
    assert outcome.differences == ["invalid"]
    assert set(votes_of(assembly).values()) == {0}
    settled = data_entry_resolve(supervisor=clerks[2], form=outcome.form, content=right, role="auditor")
    assert settled.status == "accepted"
    assert votes_of(assembly) == {"BLUE": 300, "GREEN": 200}
    assert ResultForm.objects.get().invalid == 3


def test_auditor_accepts_corrects_or_excludes(
    assembly: Contest, mayor: Contest, station: PollingStation, clerks: tuple[User, User, User]
) -> None:
    auditor = clerks[2]
    held = result_form_submit(
        station=station,
        contest=assembly,
        content=clean_content({"BLUE": 480, "GREEN": 20}),
        actor="chair",
        role="chair",
    )
    assert held.status == "quarantined"
    done = quarantine_decide(
        auditor=auditor,
        form=held.form,
        decision=AuditorDecision.Decision.ACCEPT,
        reason="A one-party village; confirmed by the observers' report.",
    )
    assert done.status == "accepted"
    assert votes_of(assembly) == {"BLUE": 480, "GREEN": 20}

    other = PollingStation.objects.get(code="0102B/01R")
    bad = dataclasses.replace(clean_content({"BLUE": 100, "GREEN": 100}), ballots_used=250)
    held2 = result_form_submit(station=other, contest=assembly, content=bad, actor="chair", role="chair")
    recount = clean_content({"BLUE": 120, "GREEN": 127}, registered=905)
    corrected = quarantine_decide(
        auditor=auditor,
        form=held2.form,
        decision=AuditorDecision.Decision.CORRECT,
        reason="recounted",
        corrected=recount,
        recount={"by": "recount team 3", "at": "2013-11-05T10:00+01:00", "ballots_found": 250},
    )
    assert corrected.form.version == 2
    assert votes_of(assembly) == {"BLUE": 600, "GREEN": 147}

    held3 = result_form_submit(
        station=station,
        contest=mayor,
        content=clean_content({"BLUE": 10, "IND-ARBEN": 490}),
        actor="chair",
        role="chair",
    )
    quarantine_decide(
        auditor=auditor,
        form=held3.form,
        decision=AuditorDecision.Decision.EXCLUDE,
        reason="ballot box stuffing seen by observers",
    )
    assert ResultForm.objects.get(pk=held3.form.pk).state == FormState.EXCLUDED
    assert set(votes_of(mayor).values()) == {0}
    assert tally_recompute() == []


def test_a_second_decision_on_the_same_form_is_refused(
    assembly: Contest, station: PollingStation, clerks: tuple[User, User, User]
) -> None:
    held = result_form_submit(
        station=station,
        contest=assembly,
        content=clean_content({"BLUE": 480, "GREEN": 20}),
        actor="chair",
        role="chair",
    )
    quarantine_decide(auditor=clerks[0], form=held.form, decision=AuditorDecision.Decision.ACCEPT, reason="ok")
    with pytest.raises(ResultsError) as info:
        quarantine_decide(auditor=clerks[1], form=held.form, decision=AuditorDecision.Decision.EXCLUDE, reason="no")
    assert info.value.code == ResultsErrorCode.WRONG_STATE
    assert AuditorDecision.objects.count() == 1


def race(*calls: object) -> list[object]:
    """Run the callables at once in threads, each with its own connection; return result or error."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int, call: object) -> None:
        close_old_connections()
        barrier.wait()
        try:
            results[i] = call()  # type: ignore[operator]
        except ResultsError as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_auditors_at_once_one_wins_one_gets_409(
    assembly: Contest, station: PollingStation, clerks: tuple[User, User, User]
) -> None:
    held = result_form_submit(
        station=station,
        contest=assembly,
        content=clean_content({"BLUE": 480, "GREEN": 20}),
        actor="chair",
        role="chair",
    )
    outcomes = race(
        lambda: quarantine_decide(
            auditor=clerks[0], form=held.form, decision=AuditorDecision.Decision.ACCEPT, reason="ok"
        ),
        lambda: quarantine_decide(
            auditor=clerks[1], form=held.form, decision=AuditorDecision.Decision.EXCLUDE, reason="no"
        ),
    )
    errors = [o for o in outcomes if isinstance(o, ResultsError)]
    assert len(errors) == 1
    assert errors[0].code == ResultsErrorCode.WRONG_STATE
    assert AuditorDecision.objects.count() == 1
    assert tally_recompute() == []


@pytest.mark.django_db(transaction=True)
def test_two_clerks_entering_the_same_form_at_once_lose_nothing(
    assembly: Contest, station: PollingStation, clerks: tuple[User, User, User]
) -> None:
    content = clean_content({"BLUE": 300, "GREEN": 200})
    outcomes = race(
        lambda: data_entry_record(clerk=clerks[0], station=station, contest=assembly, content=content),
        lambda: data_entry_record(clerk=clerks[1], station=station, contest=assembly, content=content),
    )
    assert sorted(getattr(o, "status", "error") for o in outcomes) == ["accepted", "entered"]
    assert sorted(DataEntry.objects.values_list("number", flat=True)) == [1, 2]
    assert votes_of(assembly) == {"BLUE": 300, "GREEN": 200}
    assert tally_recompute() == []
