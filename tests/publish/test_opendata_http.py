"""/data/...: stable URLs, media types, ETag and Last-Modified with 304s that build nothing, CORS,
read-only methods, and `tallyroom export` writing the very same bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tallyroom.elections.models import Municipality
from tallyroom.publish.opendata import DataFormat, export_bytes
from tests.publish.opendata_setup import Counted, contest, counted_fixture, submit  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db
FILES = {"results.csv": "csv", "results.json": "json", "results-cdf.json": "cdf", "preferences.csv": "preferences"}


@pytest.mark.parametrize(("name", "fmt"), FILES.items())
def test_each_file_is_served_with_its_type_and_validators(counted: Counted, name: str, fmt: str) -> None:
    for prefix, muni in (("/data/test-2025/", None), ("/data/test-2025/38/", "38")):
        response = Client().get(prefix + name)
        assert response.status_code == 200
        municipality = Municipality.objects.get(code=muni) if muni else None
        assert response.content == export_bytes(counted.election, DataFormat(fmt), municipality)
        media = "text/csv; charset=utf-8" if name.endswith(".csv") else "application/json"
        assert response["Content-Type"] == media
        assert response["Access-Control-Allow-Origin"] == "*"
        assert response["ETag"].startswith('"') and len(response["ETag"]) == 34
        assert response["Last-Modified"].endswith(" GMT")
        assert response["Cache-Control"].startswith("public, max-age=")
        if name.endswith(".csv"):
            expected = f"test-2025-{muni}-{name}" if muni else f"test-2025-{name}"
            assert response["Content-Disposition"] == f'attachment; filename="{expected}"'


def test_url_names_are_stable(small_election: Any) -> None:
    assert reverse("data:csv", args=["test-2025"]) == "/data/test-2025/results.csv"
    assert reverse("data:cdf", args=["test-2025"]) == "/data/test-2025/results-cdf.json"
    assert reverse("data:municipality-json", args=["test-2025", "01"]) == "/data/test-2025/01/results.json"
    assert reverse("data:municipality-preferences", args=["test-2025", "01"]) == "/data/test-2025/01/preferences.csv"
    assert reverse("data:index", args=["test-2025"]) == "/data/test-2025/index.json"


def test_conditional_requests_answer_304_without_building(counted: Counted, django_assert_max_num_queries: Any) -> None:
    client = Client()
    url = "/data/test-2025/results-cdf.json"
    first = client.get(url)
    etag, modified = first["ETag"], first["Last-Modified"]
    with django_assert_max_num_queries(2):  # the election and the audit chain's position
        again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert (again["ETag"], again["Access-Control-Allow-Origin"]) == (etag, "*")
    since = client.get(url, headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200
    # Every file has its own ETag for the same data.
    assert client.get("/data/test-2025/results.csv")["ETag"] != etag
    # A new count moves the audit chain: the old validators no longer match.
    submit(contest("01", "mayor"), "0102B/01R", {"BLUE": 100, "IND-ARBEN": 90})
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert b'"gp-s-0102B/01R"' in changed.content


def test_cors_preflight_and_read_only_methods(counted: Counted) -> None:
    client = Client()
    url = "/data/test-2025/01/results.csv"
    preflight = client.options(url, headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert preflight["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert "If-None-Match" in preflight["Access-Control-Allow-Headers"]
    for method in (client.post, client.put, client.delete, client.patch):
        refused = method(url)
        assert refused.status_code == 405
        assert refused["Allow"] == "GET, HEAD, OPTIONS"
        assert refused.json()["code"] == "method_not_allowed"
    head = client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert int(head["Content-Length"]) == len(client.get(url).content)


def test_unknown_election_or_municipality_is_a_json_404_with_cors(counted: Counted) -> None:
    for url in ("/data/nope/results.csv", "/data/test-2025/99/results.csv", "/data/nope/index.json"):
        response = Client().get(url)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert response["Access-Control-Allow-Origin"] == "*"


def test_the_index_lists_every_file_and_each_answers(counted: Counted) -> None:
    client = Client()
    assert client.get("/data/").json()["elections"] == [
        {"code": "test-2025", "name": "Test municipal elections 2025", "index": "/data/test-2025/index.json"}
    ]
    index = client.get("/data/test-2025/index.json")
    assert index.content == client.get("/data/test-2025/").content
    files = json.loads(index.content)["files"]
    assert len(files) == 4 * 3  # the election and its two municipalities, four files each
    for entry in files:
        response = client.get(entry["url"])
        assert response.status_code == 200, entry["url"]
        assert response["Content-Type"] == entry["media_type"]


@pytest.mark.parametrize("fmt", list(DataFormat))
def test_export_writes_the_served_bytes(counted: Counted, tmp_path: Path, fmt: DataFormat) -> None:
    name = {v: k for k, v in FILES.items()}[str(fmt)]
    out = tmp_path / name
    call_command("export", format=str(fmt), out=str(out), election="test-2025")
    assert out.read_bytes() == Client().get(f"/data/test-2025/{name}").content
    call_command("export", format=str(fmt), out=str(out), election="test-2025", municipality="01")
    assert out.read_bytes() == Client().get(f"/data/test-2025/01/{name}").content
    assert not list(tmp_path.glob("*.partial"))
