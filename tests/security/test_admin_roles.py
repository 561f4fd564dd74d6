"""Roles granted and revoked in the Django admin: each change is on the audit chain, and an
administrator whose role is taken away loses the admin (found by the role matrix's review: the
admin used to write roles behind the chain's back and left a former administrator a superuser)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command

from tallyroom.accounts.models import Role, RoleAssignment
from tallyroom.accounts.services import user_create_or_reset, user_grant_role
from tallyroom.audit.models import AuditEntry
from tallyroom.elections.models import Election
from tests.signin import signed_in

pytestmark = pytest.mark.django_db
ROLES = "/admin/accounts/roleassignment/"


def _user(election: Election, name: str, role: Role) -> Any:
    user = user_create_or_reset(name, "x" * 16)
    user_grant_role(user, election, role)
    return user


def _actions() -> list[tuple[str, str]]:
    return list(AuditEntry.objects.order_by("seq").values_list("action", "actor"))


def _verify() -> str:
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def test_a_role_granted_in_the_admin_is_on_the_chain(small_election: Election) -> None:
    admin = _user(small_election, "commission", Role.ADMIN)
    clerk = user_create_or_reset("new-clerk", "x" * 16)
    before = len(_actions())
    response = signed_in(admin).post(f"{ROLES}add/", {"user": clerk.pk, "election": small_election.pk, "role": "clerk"})
    assert response.status_code == 302
    assert RoleAssignment.objects.filter(user=clerk, role="clerk").count() == 1
    assert _actions()[before:] == [("role.granted", "commission")]
    assert "FAILED" not in _verify()


def test_a_revoked_administrator_loses_the_admin(small_election: Election) -> None:
    admin = _user(small_election, "commission", Role.ADMIN)
    other = _user(small_election, "former", Role.ADMIN)
    former = signed_in(other)
    assert former.get("/admin/").status_code == 200
    grant = RoleAssignment.objects.get(user=other, role="admin")
    before = len(_actions())
    response = signed_in(admin).post(f"{ROLES}{grant.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(pk=grant.pk).exists()
    assert _actions()[before:] == [("role.revoked", "commission")]
    other.refresh_from_db()
    assert (other.is_staff, other.is_superuser) == (False, False)
    refused = former.get("/admin/")
    assert refused.status_code == 302
    assert refused["Location"].startswith("/admin/login/")
    assert former.get(f"{ROLES}add/").status_code == 302
    assert "FAILED" not in _verify()


def test_bulk_revocation_is_on_the_chain_and_a_grant_is_not_edited(small_election: Election) -> None:
    admin = _user(small_election, "commission", Role.ADMIN)
    panel = _user(small_election, "panel-1", Role.PANEL)
    observer = _user(small_election, "observer-1", Role.OBSERVER)
    client = signed_in(admin)
    grants = list(RoleAssignment.objects.filter(user__in=[panel, observer]).values_list("pk", flat=True))
    edit = client.post(
        f"{ROLES}{grants[0]}/change/", {"user": panel.pk, "election": small_election.pk, "role": "admin"}
    )
    assert edit.status_code == 403
    assert RoleAssignment.objects.get(pk=grants[0]).role == "panel"
    before = len(_actions())
    response = client.post(ROLES, {"action": "delete_selected", "_selected_action": grants, "post": "yes"})
    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(pk__in=grants).exists()
    assert _actions()[before:] == [("role.revoked", "commission")] * 2
    assert "FAILED" not in _verify()


def test_the_election_structure_is_read_only_in_the_admin(small_election: Election) -> None:
    from tallyroom.elections.models import PollingStation

    admin = signed_in(_user(small_election, "commission", Role.ADMIN))
    station = PollingStation.objects.get(code="0101C/01R")
    page = f"/admin/elections/pollingstation/{station.pk}/change/"
    assert admin.get(page).status_code == 200  # administrators can look
    changed = admin.post(page, {"code": station.code, "registered_voters": 99999})
    assert changed.status_code == 403
    assert admin.post(f"/admin/elections/pollingstation/{station.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.get("/admin/elections/pollingstation/add/").status_code == 403
    station.refresh_from_db()
    assert station.registered_voters == 812
