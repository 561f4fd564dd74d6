"""The read API: pagination, the error format, OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tallyroom.elections.models import Election
from tallyroom.elections.services import election_load

pytestmark = pytest.mark.django_db


def test_elections_list_is_paginated(small_election: Election, client: Client) -> None:
    body = client.get("/api/v1/elections").json()
    assert body["count"] == 1
    item = body["items"][0]
    assert item["code"] == "test-2025"
    assert item["name"]["sr"] == "Test lokalni izbori 2025"
    assert item["timezone"] == "Europe/Belgrade"
    assert item["municipality_count"] == 2
    assert [r["kind"] for r in item["rounds"]] == ["first", "runoff"]
    assert item["settings"]["assembly_method"] == "sainte-lague"


def test_municipalities_with_station_totals(small_election: Election, client: Client) -> None:
    body = client.get("/api/v1/elections/test-2025/municipalities").json()
    assert body["count"] == 2
    by_code = {m["code"]: m for m in body["items"]}
    assert by_code["01"]["registered_voters"] == 812 + 640 + 905
    assert by_code["01"]["station_count"] == 3
    assert by_code["38"]["name"] == {"en": "North Mitrovica", "sq": "Mitrovicë e Veriut", "sr": "Severna Mitrovica"}
    assert by_code["38"]["area"] == "north"
    assert by_code["38"]["registered_estimated"] is False


def test_stations_of_a_municipality_page_by_page(small_election: Election, client: Client) -> None:
    first = client.get("/api/v1/municipalities/01/stations?limit=2").json()
    assert first["count"] == 3
    assert [s["code"] for s in first["items"]] == ["0101C/01R", "0101C/02D"]
    rest = client.get("/api/v1/municipalities/01/stations?limit=2&offset=2").json()
    assert [s["code"] for s in rest["items"]] == ["0102B/01R"]
    assert rest["items"][0]["centre"] == {"code": "0102B", "name": "Shkolla Lidhja e Prizrenit"}


def test_station_list_query_count_does_not_grow_with_stations(small_election: Election, client: Client) -> None:
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/municipalities/01/stations")
    with CaptureQueriesContext(connection) as more:
        client.get("/api/v1/municipalities/38/stations")
    assert len(few) == len(more) <= 4


@pytest.mark.parametrize(
    ("url", "status", "code", "field"),
    [
        ("/api/v1/elections/nope", 404, "not_found", "path.code"),
        ("/api/v1/elections/nope/municipalities", 404, "not_found", "path.code"),
        ("/api/v1/municipalities/77/stations", 404, "not_found", "path.code"),
        ("/api/v1/elections?limit=-1", 422, "invalid_input", "query.limit"),
        ("/api/v1/elections?limit=many", 422, "invalid_input", "query.limit"),
        ("/api/v1/no-such-endpoint", 404, "not_found", None),
    ],
)
def test_every_4xx_has_one_format(
    small_election: Election, client: Client, url: str, status: int, code: str, field: str | None
) -> None:
    response = client.get(url)
    assert response.status_code == status
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "field", "details"}
    assert body["code"] == code
    assert body["field"] == field
    assert len(body["message"]) > 10


def test_municipality_code_shared_by_two_elections_needs_the_election(
    small_election: Election, client: Client, small_definition: dict[str, Any]
) -> None:
    small_definition["code"] = "test-2029"
    election_load(small_definition)
    response = client.get("/api/v1/municipalities/01/stations")
    assert response.status_code == 400
    assert response.json()["code"] == "ambiguous"
    assert response.json()["field"] == "query.election"
    ok = client.get("/api/v1/municipalities/01/stations?election=test-2029")
    assert ok.status_code == 200
    assert ok.json()["count"] == 3


def test_openapi_and_docs_are_served(client: Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "Tallyroom API"
    assert "/api/v1/elections/{code}/municipalities" in spec["paths"]
    assert "/api/v1/municipalities/{code}/stations" in spec["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert 'src="http' not in html
    assert 'href="http' not in html
