"""`audit verify` reads the current rows in bulk: what it reads must be what each kind's own
serializer reads, and a change behind the chain's back must still be named, entry by entry."""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.contrib.auth.models import User

from tallyroom.audit import chain
from tallyroom.audit.models import AuditEntry
from tallyroom.elections.models import Contest, PollingStation
from tallyroom.polling.models import StationEvent, TurnoutReport
from tallyroom.results.models import ResultPreference, ResultVote
from tallyroom.results.services import data_entry_record, result_form_submit
from tests.polling import conftest as polling
from tests.polling.conftest import Day, as_device, as_user, iso, key, open_station
from tests.results.conftest import clean_content

pytestmark = pytest.mark.django_db
day = polling.day  # the election-day fixture


@pytest.fixture
def busy(day: Day) -> dict[str, int]:
    """A day with a row of every common kind on the chain; the form's id by name."""
    phone, admin = as_device(day.token), as_user(day.users["admin"])
    open_station(phone)
    assert (
        phone.post(
            "/api/v1/stations/0101C/01R/turnout", {"voters": 120, "reporting_time": "11:00", "client_key": key()}
        ).status_code
        == 201
    )
    incident = {
        "kind": "other",
        "severity": "low",
        "occurred_at": iso("10:00"),
        "description": "x",
        "client_key": key(),
    }
    assert phone.post("/api/v1/incidents", incident).status_code == 201
    deployment = {"station": "0101C/01R", "started_at": iso("08:00"), "client_key": key()}
    assert admin.post(f"/api/v1/observers/{day.observer.pk}/deployments", deployment).status_code == 201
    station = PollingStation.objects.get(code="0101C/01R")
    assembly = Contest.objects.get(municipality__code="01", kind="assembly", round__code="R1")
    mayor = Contest.objects.get(municipality__code="01", kind="mayor", round__code="R1")
    with_prefs = clean_content({"BLUE": 300, "GREEN": 200}, prefs={"BLUE": {1: 120, 3: 40}, "GREEN": {2: 15}})
    form = result_form_submit(station=station, contest=assembly, content=with_prefs, actor="chair", role="chair")
    mayor_form = result_form_submit(
        station=station, contest=mayor, content=clean_content({"BLUE": 260, "IND-ARBEN": 240}), actor="c", role="chair"
    )
    clerk = User.objects.create_user("clerk-bulk", password="x" * 16)
    entered = data_entry_record(
        clerk=clerk,
        station=PollingStation.objects.get(code="0102B/01R"),
        contest=assembly,
        content=clean_content({"BLUE": 10, "GREEN": 20}, registered=905),
    )
    return {"form": form.form.pk, "mayor": mayor_form.form.pk, "entered": entered.form.pk}


def test_the_bulk_readers_agree_with_the_serializers(busy: dict[str, int]) -> None:
    ids: dict[str, set[str]] = defaultdict(set)
    for object_type, object_id in AuditEntry.objects.values_list("object_type", "object_id"):
        ids[object_type].add(object_id)
    covered = {"result_form", "station_event", "turnout_report", "incident", "observer", "deployment"}
    assert covered <= set(ids) & set(chain._BULK)
    for object_type, many in chain._BULK.items():
        one = chain._SERIALIZERS[object_type]
        wanted = sorted(ids.get(object_type, set()))
        expected = {i: one(i) for i in wanted}
        assert many([*wanted, "999999", "not-a-number"]) == {i: s for i, s in expected.items() if s is not None}
    states = chain._BULK["result_form"]([str(busy["entered"]), str(busy["form"])])
    assert states[str(busy["entered"])]["content"] == ""  # first blind entry: no numbers yet
    assert states[str(busy["form"])]["content"]


def test_changes_behind_the_chains_back_are_named_in_chain_order(busy: dict[str, int]) -> None:
    assert list(chain.verify()) == []
    ResultPreference.objects.filter(form_id=busy["form"], candidate__position=3).update(votes=41)
    ResultVote.objects.filter(form_id=busy["mayor"], entity__code="IND-ARBEN").delete()
    TurnoutReport.objects.update(voters=121)
    StationEvent.objects.update(reason="edited")

    def last(object_type: str, object_id: object) -> int:
        return AuditEntry.objects.filter(object_type=object_type, object_id=str(object_id)).order_by("-seq")[0].seq

    report, event = TurnoutReport.objects.get(), StationEvent.objects.get()
    expected = sorted(
        [
            (last("result_form", busy["form"]), f"result_form {busy['form']}"),
            (last("result_form", busy["mayor"]), f"result_form {busy['mayor']}"),
            (last("turnout_report", report.pk), f"turnout_report {report.pk}"),
            (last("station_event", event.pk), f"station_event {event.pk}"),
        ]
    )
    found = list(chain.verify(batch=3))  # small pages: the paging is exercised too
    assert [str(f) for f in found] == [
        f"entry #{seq}: {what} was changed outside Tallyroom since this entry" for seq, what in expected
    ]


def test_rows_whose_form_or_choice_is_not_there_are_named(busy: dict[str, int]) -> None:
    """The database does not check the vote rows' references (results.models.UNCHECKED); verify does."""
    assert list(chain.verify()) == []
    missing = 10**9
    ResultVote.objects.create(form_id=busy["form"], entity_id=missing, votes=5)
    ResultPreference.objects.create(form_id=missing, candidate_id=missing, votes=7)
    ResultPreference.objects.create(form_id=missing, candidate_id=missing + 1, votes=1)
    assert [str(f) for f in chain.verify()] == [
        "vote rows whose entity is not there: 1 (written or removed outside Tallyroom)",
        "preference rows whose form is not there: 2 (written or removed outside Tallyroom)",
        "preference rows whose candidate is not there: 2 (written or removed outside Tallyroom)",
    ]
