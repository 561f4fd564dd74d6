"""Fuzzing the API from its own OpenAPI document (schemathesis, in-process WSGI).

Every operation gets generated requests, valid and invalid, from four callers: anonymous, a station
chair's device token, a municipal official's session and an administrator's session (both with
the second factor done). No answer may be a 5xx, and every answer must be declared in the schema:
status code, content type and body. The small election is loaded and a few rows of each kind are
made first; generated codes and ids are often swapped for theirs, so requests get past the lookups.

Deterministic (derandomized). TALLYROOM_FUZZ_EXAMPLES sets the total number of cases (default
1,500); docs/security.md, "Fuzzing", gives a longer run.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tallyroom.elections.models import Contest
from tallyroom.polling.models import Incident, Observer, ObserverOrganisation, TurnoutReport
from tallyroom.results.models import Complaint, ResultForm
from tests.api.test_api_results import form
from tests.polling import conftest as polling
from tests.polling.conftest import Day, as_device, as_user, iso, key, open_station

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
day = polling.day  # the election-day fixture: users of every role, a chair's device token

TOTAL = int(os.environ.get("TALLYROOM_FUZZ_EXAMPLES", "1500"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CSRF = "fuzzcsrf" * 4  # a csrftoken cookie is 32 letters or digits; the X-CSRFToken header repeats it
Caller = dict[str, dict[str, str]]  # keyword arguments of Case.call: headers and cookies
Known = dict[str, list[Any]]


@contextlib.contextmanager
def in_process() -> Iterator[Any]:
    """The project's WSGI application on the test's database connection. Django's test client
    unhooks the same signal during its requests (and hooks it again after them), which would
    otherwise close the connection after each request."""
    from tallyroom.wsgi import application

    quiet = logging.getLogger("django.request")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # thousands of 4xx answers are expected
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        quiet.setLevel(level)


def session_caller(user: Any) -> Caller:
    client = as_user(user).client  # signed in, second factor included
    return {"cookies": {"sessionid": client.session.session_key, "csrftoken": CSRF}, "headers": {"X-CSRFToken": CSRF}}


@pytest.fixture
def callers(day: Day) -> dict[str, Caller]:
    return {
        "anonymous": {},
        "chair device": {"headers": {"Authorization": f"Bearer {day.token}"}},
        "official session": session_caller(day.users["official"]),
        "admin session": session_caller(day.users["admin"]),
    }


@pytest.fixture
def known(day: Day) -> dict[str, Known]:
    """A row of each kind, made through the API; their codes and ids by parameter name."""
    phone, admin = as_device(day.token), as_user(day.users["admin"])
    open_station(phone)
    made = [
        phone.post("/api/v1/result-forms", form(client_key=key())),
        phone.post(
            "/api/v1/stations/0101C/01R/turnout", {"voters": 100, "reporting_time": "11:00", "client_key": key()}
        ),
        phone.post(
            "/api/v1/incidents",
            {"kind": "other", "severity": "low", "occurred_at": iso("10:00"), "description": "x", "client_key": key()},
        ),
        admin.post(
            "/api/v1/complaints",
            {"election": "test-2025", "municipality": "01", "complainant": "A voter", "subject": "The queue."},
        ),
    ]
    assert [r.status_code for r in made] == [201, 201, 201, 201], [r.content for r in made]
    ids: Known = {
        "form_id": list(ResultForm.objects.values_list("pk", flat=True)),
        "report_id": list(TurnoutReport.objects.values_list("pk", flat=True)),
        "incident_id": list(Incident.objects.values_list("pk", flat=True)),
        "complaint_id": list(Complaint.objects.values_list("pk", flat=True)),
        "contest_id": list(Contest.objects.values_list("pk", flat=True)[:4]),
        "observer_id": list(Observer.objects.values_list("pk", flat=True)),
        "organisation_id": list(ObserverOrganisation.objects.values_list("pk", flat=True)),
        "organisation": list(ObserverOrganisation.objects.values_list("pk", flat=True)),
        "election": ["test-2025"],
        "municipality": ["01", "38"],
        "municipality_code": ["01"],
        "station": ["0101C/01R", "0102B/01R"],
        "round": ["R1", "R2"],
        "username": ["chair", "observer"],
        # Values that pass validation, so some writes get through to the services.
        "occurred_at": [iso("07:05"), iso("13:30"), iso("19:10")],
        "started_at": [iso("07:00")],
        "at": [iso("12:00")],
        "reporting_time": ["11:00", "15:00", "19:00"],
        "votes": [{"BLUE": 300, "GREEN": 200}, {"BLUE": 260, "IND-ARBEN": 240}],
        "client_key": ["fuzz-key-0001", "fuzz-key-0002"],  # reused: replays and conflicts
    }
    # `code` names an election, a municipality or a station, by the path it is in.
    return {
        "/elections/": {**ids, "code": ["test-2025"]},
        "/municipalities/": {**ids, "code": ["01", "38"]},
        "/stations/": {**ids, "code": ["0101C/01R", "0102B/01R"]},
        "": ids,
    }


def with_known_values(draw: Callable[[st.SearchStrategy[Any]], Any], case: schemathesis.Case, known: Known) -> None:
    """Swap some generated codes and ids for real ones (drawn, so the run stays reproducible)."""
    for part in (case.path_parameters, case.query, case.body):
        if not isinstance(part, dict):
            continue
        for name in list(part):
            # False is Hypothesis's simplest boolean: its first examples use the real values.
            keep_generated = draw(st.booleans())
            if name in known and not keep_generated:
                part[name] = draw(st.sampled_from(known[name]))


def fuzz(operation: schemathesis.APIOperation, caller: Caller, known: Known, examples: int) -> dict[int, int]:
    """Run `examples` generated cases, valid and invalid, against one operation; count the answers by status."""
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    statuses: dict[int, int] = {}

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    @given(case=strategy, data=st.data())
    def run(case: schemathesis.Case, data: st.DataObject) -> None:
        with_known_values(data.draw, case, known)
        status = case.call_and_validate(checks=CHECKS, **caller).status_code
        statuses[status] = statuses.get(status, 0) + 1

    run()
    return statuses


def test_every_operation_answers_within_its_schema(callers: dict[str, Caller], known: dict[str, Known]) -> None:
    statuses: dict[int, int] = {}
    failures: list[str] = []
    with in_process() as app:
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        examples = max(2, math.ceil(TOTAL / (len(operations) * len(callers))))
        for who, caller in callers.items():
            for operation in operations:
                values = next(v for prefix, v in known.items() if prefix in operation.path)
                try:
                    for status, count in fuzz(operation, caller, values, examples).items():
                        statuses[status] = statuses.get(status, 0) + count
                except (Exception, BaseExceptionGroup) as exc:
                    failures.append(f"{who}: {operation.label}: {exc}")
    cases = sum(statuses.values())
    print(f"\nfuzzed {cases} cases, {len(operations)} operations x {len(callers)} callers: {sorted(statuses.items())}")
    assert not failures, "\n\n".join(failures)
    assert cases >= min(TOTAL, 1000)
