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
