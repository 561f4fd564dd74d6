"""What the API fuzzer found (tests/api/test_fuzz_api.py), pinned: each was a 5xx or an answer
the OpenAPI document did not declare."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tallyroom.polling.models import ObserverOrganisation
from tests.polling import conftest as polling
from tests.polling.conftest import Day, as_device, as_user, key

pytestmark = pytest.mark.django_db
day = polling.day  # the election-day fixture


def refused(response: Any, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert (body["code"], body["field"]) == (code, field)
    assert body["message"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/quarantine?election=test-2025&limit=-1", "query.limit"),  # was a 500: negative slice
        ("/api/v1/quarantine?election=test-2025&offset=-5", "query.offset"),
        ("/api/v1/elections?offset=99999999999999999999", "query.offset"),  # was a 500: past 64 bits
        ("/api/v1/elections?limit=99999999999999999999", "query.limit"),
        ("/api/v1/municipalities/01/stations?limit=1001", "query.limit"),
    ],
)
def test_paging_out_of_range_is_a_422(day: Day, url: str, field: str) -> None:
    refused(as_user(day.users["admin"]).get(url), 422, "invalid_input", field)


def test_a_quarantine_query_without_an_election_names_the_election(day: Day) -> None:
    response = as_user(day.users["admin"]).get("/api/v1/quarantine?election=")
    refused(response, 404, "not_found", "election")


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "1899-12-31T23:00"])
def test_times_out_of_range_are_a_422(day: Day, when: str) -> None:
    phone = as_device(day.token)
    response = phone.post(
        "/api/v1/stations/0101C/01R/events", {"kind": "opened", "occurred_at": when, "client_key": key()}
    )  # was a 500: OverflowError moving the year 9999 between time zones
    refused(response, 422, "invalid_input", "body.payload.occurred_at")


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("get", "/api/v1/elections/test%00", None, "path.code"),
        ("get", "/api/v1/municipalities/01/stations?search=a%00b", None, "query.search"),
        (
            "post",
            "/api/v1/elections/test-2025/observer-organisations",
            {"name": "a\x00b", "kind": "media"},
            "body.name",
        ),
        ("post", "/api/v1/incidents", {"description": "x", "tags": ["ok", "\x00"]}, "body.tags.1"),
    ],
)
def test_the_nul_character_is_a_422(day: Day, method: str, url: str, body: Any, field: str) -> None:
    """PostgreSQL cannot store NUL in text: it was a 500 there."""
    client = as_user(day.users["admin"]).client
    if method == "get":
        response = client.get(url)
    else:
        response = client.post(url, json.dumps(body), content_type="application/json")
    refused(response, 422, "invalid_input", field)


def test_an_organisations_client_key_cannot_name_another_organisation(day: Day) -> None:
    admin = as_user(day.users["admin"])
    url = "/api/v1/elections/test-2025/observer-organisations"
    first = admin.post(url, {"name": "Kosovo Democratic Institute", "kind": "domestic", "client_key": "org-key-1"})
    assert first.status_code == 201, first.content
    again = admin.post(url, {"name": "Kosovo Democratic Institute", "kind": "domestic", "client_key": "org-key-1"})
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    other = admin.post(url, {"name": "Another One", "kind": "media", "client_key": "org-key-1"})  # was a 500
    refused(other, 409, "idempotency_key_reused", "client_key")
    assert ObserverOrganisation.objects.filter(client_key="org-key-1").count() == 1


def test_the_openapi_document_declares_the_error_answers(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert operations
    assert all(op["responses"]["4XX"]["content"]["application/json"]["schema"] for op in operations)
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message", "field", "details"]
    # Local times of day are declared as such: OpenAPI's "time" format demands a UTC offset.
    polls_open = schema["components"]["schemas"]["ElectionOut"]["properties"]["polls_open"]
    assert polls_open.get("format") != "time"
    assert polls_open["pattern"]
