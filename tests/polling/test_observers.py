"""Observers: organisations, accreditation (apply, approve with a badge, revoke or refuse),
deployments, and the withdrawal of an organisation's staff from an area in one act."""

from __future__ import annotations

import pytest

from tallyroom.accounts.models import Role
from tallyroom.accounts.services import user_create_or_reset, user_grant_role
from tallyroom.audit.chain import verify
from tallyroom.polling.models import Deployment, Observer, Withdrawal
from tallyroom.polling.selectors import observed_station_ids
from tests.conftest import db_counts
from tests.polling.conftest import Day, as_user, iso, key

pytestmark = pytest.mark.django_db


def deploy(api: object, observer_id: int, station: str, hhmm: str) -> object:
    return api.post(  # type: ignore[attr-defined]
        f"/api/v1/observers/{observer_id}/deployments",
        {"station": station, "started_at": iso(hhmm), "client_key": key()},
    )


def test_accreditation_from_application_to_revocation(day: Day) -> None:
    admin = as_user(day.users["admin"])
    org = admin.post(
        "/api/v1/elections/test-2025/observer-organisations",
        {"name": "OSCE Mission in Kosovo", "kind": "international"},
    )
    assert org.status_code == 201
    org_id = org.json()["id"]
    applied = admin.post(
        "/api/v1/elections/test-2025/observers",
        {"organisation": org_id, "full_name": "Besnik Morina", "client_key": key()},
    )
    assert applied.status_code == 201
    observer = applied.json()
    assert (observer["status"], observer["badge_number"]) == ("applied", "")
    # Not accredited yet: cannot be deployed.
    before = db_counts()
    assert deploy(admin, observer["id"], "0101C/01R", "07:00").status_code == 409  # type: ignore[attr-defined]
    assert db_counts() == before
    approved = admin.post(f"/api/v1/observers/{observer['id']}/approve", {"badge_number": "OSCE-0001"})
    assert approved.json()["status"] == "approved"
    assert approved.json()["badge_number"] == "OSCE-0001"
    second = admin.post(
        "/api/v1/elections/test-2025/observers",
        {"organisation": org_id, "full_name": "Ana Nikolić", "client_key": key()},
    ).json()
    clash = admin.post(f"/api/v1/observers/{second['id']}/approve", {"badge_number": "OSCE-0001"})
    assert clash.status_code == 409
    refused = admin.post(f"/api/v1/observers/{second['id']}/refuse", {"reason": "Application incomplete."})
    assert refused.json()["status"] == "refused"
    assert deploy(admin, observer["id"], "0101C/01R", "07:00").status_code == 201  # type: ignore[attr-defined]
    assert observed_station_ids(day.round) >= {day.station.pk}
    revoked = admin.post(f"/api/v1/observers/{observer['id']}/revoke", {"reason": "Campaigned at the station."})
    assert revoked.json()["status"] == "revoked"
    deployment = Deployment.objects.get(observer_id=observer["id"])
    assert deployment.end_reason == "revoked"
    assert deployment.ended_at is not None
    assert admin.post(f"/api/v1/observers/{observer['id']}/approve", {}).status_code == 409
    assert list(verify()) == []


def test_an_observer_applies_for_themselves_and_moves_between_stations(day: Day) -> None:
    newcomer = user_create_or_reset("newcomer", "x" * 16)
    user_grant_role(newcomer, day.election, Role.OBSERVER)
    me = as_user(newcomer)
    body = {"organisation": day.organisation.pk, "full_name": "Drilon Shala", "client_key": key()}
    assert me.post("/api/v1/elections/test-2025/observers", body).status_code == 403  # for someone else
    mine = me.post("/api/v1/elections/test-2025/observers", body | {"username": "newcomer"})
    assert mine.status_code == 201
    assert mine.json()["username"] == "newcomer"
    assert me.post(f"/api/v1/observers/{mine.json()['id']}/approve", {}).status_code == 403
    as_user(day.users["admin"]).post(f"/api/v1/observers/{mine.json()['id']}/approve", {})
    # The accredited observer records their own arrival at stations; the earlier one ends.
    assert deploy(me, mine.json()["id"], "0101C/01R", "07:10").status_code == 201  # type: ignore[attr-defined]
    assert deploy(me, mine.json()["id"], "3801A/01R", "09:00").status_code == 201  # type: ignore[attr-defined]
    rows = list(Deployment.objects.filter(observer_id=mine.json()["id"]).order_by("started_at"))
    assert [(d.station.code, d.end_reason) for d in rows] == [("0101C/01R", "moved"), ("3801A/01R", "")]
    # Not someone else's.
    assert deploy(me, day.observer.pk, "0101C/01R", "09:30").status_code == 403  # type: ignore[attr-defined]


def test_an_organisation_withdraws_its_staff_from_an_area_in_one_act(day: Day) -> None:
    admin = as_user(day.users["admin"])
    org = admin.post(
        "/api/v1/elections/test-2025/observer-organisations",
        {"name": "OSCE Mission in Kosovo", "kind": "international"},
    ).json()
    staff = []
    for n, station in enumerate(["3801A/01R", "3801A/02R", "0101C/01R"]):
        person = admin.post(
            "/api/v1/elections/test-2025/observers",
            {"organisation": org["id"], "full_name": f"Staff {n}", "client_key": key()},
        ).json()
        admin.post(f"/api/v1/observers/{person['id']}/approve", {})
        assert deploy(admin, person["id"], station, "07:00").status_code == 201  # type: ignore[attr-defined]
        staff.append(person["id"])
    # Another organisation's observer in the north stays.
    assert deploy(admin, day.observer.pk, "3801A/02R", "07:30").status_code == 201  # type: ignore[attr-defined]
    coverage = {r["municipality"]: r for r in admin.get("/api/v1/elections/test-2025/observer-coverage").json()}
    assert coverage["38"]["observed"] == 2
    assert coverage["38"]["observers"] == 3

    official = as_user(day.users["official"])  # municipality 01 only
    refused = official.post(
        f"/api/v1/observer-organisations/{org['id']}/withdrawals",
        {"municipality": "38", "occurred_at": iso("17:55"), "reason": "x", "client_key": key()},
    )
    assert refused.status_code == 403
    body = {
        "municipality": "38",
        "occurred_at": iso("17:55"),
        "reason": "The organisation withdrew its staff from North Mitrovica after the attack.",
        "client_key": key(),
    }
    withdrawn = admin.post(f"/api/v1/observer-organisations/{org['id']}/withdrawals", body)
    assert withdrawn.status_code == 201, withdrawn.content
    assert withdrawn.json()["deployments_ended"] == 2
    ended = {d.observer_id: d for d in Deployment.objects.filter(observer__organisation_id=org["id"])}
    assert ended[staff[0]].end_reason == ended[staff[1]].end_reason == "withdrawn"
    assert ended[staff[0]].withdrawal == Withdrawal.objects.get()
    assert ended[staff[2]].ended_at is None  # Deçan is not the area
    assert Deployment.objects.get(observer=day.observer).ended_at is None  # nor is another organisation
    coverage = {r["municipality"]: r for r in admin.get("/api/v1/elections/test-2025/observer-coverage").json()}
    assert coverage["38"]["observed"] == 1
    # The retry is harmless; an area with no such municipality is refused.
    assert admin.post(f"/api/v1/observer-organisations/{org['id']}/withdrawals", body).json() == withdrawn.json()
    unknown = admin.post(
        f"/api/v1/observer-organisations/{org['id']}/withdrawals",
        {"area": "atlantis", "occurred_at": iso("18:00"), "reason": "x", "client_key": key()},
    )
    assert unknown.status_code == 404
    by_area = admin.post(
        f"/api/v1/observer-organisations/{org['id']}/withdrawals",
        {"area": "north", "occurred_at": iso("18:00"), "reason": "All of the north.", "client_key": key()},
    )
    assert by_area.status_code == 201
    assert by_area.json()["deployments_ended"] == 0  # already out
    assert Observer.objects.filter(organisation_id=org["id"], status="approved").count() == 3  # still accredited
    assert list(verify()) == []
