"""The results API: forms in with client keys, blind entry, decisions, and results out, by role."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tallyroom.accounts.models import Role
from tallyroom.accounts.services import user_create_or_reset, user_grant_role
from tallyroom.elections.models import Election, Municipality, PollingStation
from tallyroom.results.models import ResultForm
from tests.conftest import db_counts
from tests.signin import signed_in

pytestmark = pytest.mark.django_db


def form(station: str = "0101C/01R", votes: dict[str, int] | None = None, **extra: Any) -> dict[str, Any]:
    votes = votes or {"BLUE": 300, "GREEN": 200}
    used = sum(v for v in votes.values() if isinstance(v, int)) + 3
    return {
        "station": station,
        "contest": "assembly",
        "votes": votes,
        "invalid": 3,
        "signatures": used,
        "ballots_received": 832,
        "ballots_used": used,
        "ballots_unused": 832 - used - 2,
        "ballots_spoiled": 2,
        **extra,
    }


@pytest.fixture
def users(small_election: Election) -> dict[str, User]:
    out = {}
    station = PollingStation.objects.get(code="0101C/01R")
    for role in Role:
        user = user_create_or_reset(f"u-{role}", "x" * 16)
        scope: dict[str, Any] = {}
        if role == Role.CHAIR:
            scope["station"] = station
        if role == Role.OFFICIAL:
            scope["municipality"] = Municipality.objects.get(code="01")
        user_grant_role(user, small_election, role, **scope)
        out[str(role)] = user
    return out


def as_user(user: User | None) -> Client:
    return signed_in(user) if user is not None else Client()


def post(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def test_chair_submits_once_and_a_retry_replays_the_answer(users: dict[str, User]) -> None:
    chair = as_user(users["chair"])
    first = post(chair, "/api/v1/result-forms", form(), **{"Idempotency-Key": "form-0101C-01R-a"})
    assert first.status_code == 201, first.json()
    assert first.json()["outcome"] == "accepted"
    before = db_counts()
    again = post(chair, "/api/v1/result-forms", form(), **{"Idempotency-Key": "form-0101C-01R-a"})
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert db_counts() == before
    reused = post(
        chair, "/api/v1/result-forms", form(votes={"BLUE": 1, "GREEN": 1}), **{"Idempotency-Key": "form-0101C-01R-a"}
    )
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency_key_reused"
    other = post(chair, "/api/v1/result-forms", form(votes={"BLUE": 301, "GREEN": 199}, client_key="form-other-key"))
    assert other.status_code == 409
    assert other.json()["code"] == "form_exists"
    assert db_counts() == before


@pytest.mark.parametrize(
    ("_case", "body", "status", "code", "field"),
    [
        ("unknown station", form(station="9999X/01R"), 404, "not_found", "station"),
        ("negative count", form(votes={"BLUE": -5, "GREEN": 1}), 422, "invalid_input", "body.payload.votes.BLUE"),
        ("non-integer count", form(invalid=2.5), 422, "invalid_input", "body.payload.invalid"),
        ("string count", form(votes={"BLUE": "12", "GREEN": 1}), 422, "invalid_input", "body.payload.votes.BLUE"),
        ("entity not standing here", form(votes={"BLUE": 1, "GREEN": 1, "CIV": 3}), 422, "invalid_form", "votes.CIV"),
        ("another station's form", form(station="0102B/01R"), 403, "forbidden", None),
        ("unknown field", form(turnout=5), 422, "invalid_input", "body.payload.turnout"),
    ],
)
def test_bad_forms_get_a_clear_4xx_and_store_nothing(
    users: dict[str, User], _case: str, body: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    before = db_counts()
    response = post(as_user(users["chair"]), "/api/v1/result-forms", body, **{"Idempotency-Key": "key-12345678"})
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert response.json()["field"] == field
    assert db_counts() == before


def test_malformed_json_is_a_400(users: dict[str, User]) -> None:
    before = db_counts()
    response = as_user(users["chair"]).post("/api/v1/result-forms", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert db_counts() == before


ENDPOINTS = {
    "submit": ("post", "/api/v1/result-forms"),
    "entry": ("post", "/api/v1/result-forms/entries"),
    "bulk": ("post", "/api/v1/result-forms/bulk"),
    "queue": ("get", "/api/v1/quarantine?election=test-2025"),
    "results": ("get", "/api/v1/results/01"),
}
# Expected status per role: who may do what (accounts' role matrix, results rows).
MATRIX = {
    "submit": {
        "admin": 201,
        "official": 201,
        "chair": 201,
        "clerk": 403,
        "auditor": 403,
        "panel": 403,
        "observer": 403,
        "anonymous": 401,
    },
    "entry": {
        "admin": 201,
        "official": 403,
        "chair": 403,
        "clerk": 201,
        "auditor": 403,
        "panel": 403,
        "observer": 403,
        "anonymous": 401,
    },
    "bulk": {
        "admin": 200,
        "official": 403,
        "chair": 403,
        "clerk": 403,
        "auditor": 403,
        "panel": 403,
        "observer": 403,
        "anonymous": 401,
    },
    "queue": {
        "admin": 200,
        "official": 403,
        "chair": 403,
        "clerk": 403,
        "auditor": 200,
        "panel": 403,
        "observer": 403,
        "anonymous": 401,
    },
    "results": {
        "admin": 200,
        "official": 200,
        "chair": 200,
        "clerk": 200,
        "auditor": 200,
        "panel": 200,
        "observer": 200,
        "anonymous": 200,
    },
}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("role", ["admin", "official", "chair", "clerk", "auditor", "panel", "observer", "anonymous"])
def test_results_role_matrix(users: dict[str, User], endpoint: str, role: str) -> None:
    method, url = ENDPOINTS[endpoint]
    client = as_user(users.get(role))
    if method == "get":
        response = client.get(url)
    elif endpoint == "bulk":
        response = post(
            client,
            url,
            {"election": "test-2025", "forms": [{"station": "0101C/01R", "contest": "assembly", "form": form()}]},
        )
    else:
        response = post(client, url, form(), **{"Idempotency-Key": f"matrix-{role}-{endpoint}"})
    assert response.status_code == MATRIX[endpoint][role], (role, endpoint, response.content[:300])


def test_blind_entry_then_results_over_the_api(users: dict[str, User], small_election: Election) -> None:
    second_clerk = user_create_or_reset("clerk-2", "x" * 16)
    user_grant_role(second_clerk, small_election, Role.CLERK)
    body = form()
    first = post(as_user(users["clerk"]), "/api/v1/result-forms/entries", body)
    assert first.json()["outcome"] == "entered"
    second = post(as_user(second_clerk), "/api/v1/result-forms/entries", body)
    assert second.json()["outcome"] == "accepted"
    results = as_user(None).get("/api/v1/results/01").json()
    assembly = next(c for c in results["contests"] if c["contest"]["kind"] == "assembly")
    assert {c["entity"]: c["votes"] for c in assembly["choices"]} == {"BLUE": 300, "GREEN": 200}
    assert assembly["stations"]["counted_official"] == 1
    assert assembly["status"] == "preliminary"


def test_auditor_decides_over_the_api_and_a_second_decision_is_409(users: dict[str, User]) -> None:
    held = post(
        as_user(users["chair"]),
        "/api/v1/result-forms",
        form(votes={"BLUE": 490, "GREEN": 10}),
        **{"Idempotency-Key": "held-form-0001"},
    ).json()
    assert held["outcome"] == "quarantined"
    assert [f["check"] for f in held["flags"]] == ["dominant_choice"]
    queue = as_user(users["auditor"]).get("/api/v1/quarantine?election=test-2025&check=dominant_choice").json()
    assert [i["id"] for i in queue["items"]] == [held["id"]]
    ok = post(
        as_user(users["auditor"]),
        f"/api/v1/result-forms/{held['id']}/decision",
        {"decision": "accept", "reason": "a one-party village"},
    )
    assert ok.status_code == 200
    assert ok.json()["state"] == "accepted"
    late = post(
        as_user(users["admin"]), f"/api/v1/result-forms/{held['id']}/decision", {"decision": "exclude", "reason": "no"}
    )
    assert late.status_code == 409
    assert late.json()["code"] == "wrong_state"
    assert ResultForm.objects.get().counted
