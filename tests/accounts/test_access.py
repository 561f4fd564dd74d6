"""Roles and the access helpers: a chair reaches only their own station."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction

from tallyroom.accounts.access import AccessDenied, access_station_for_report, user_roles
from tallyroom.accounts.demo import demo_accounts_create
from tallyroom.accounts.models import Role, RoleAssignment
from tallyroom.accounts.services import user_create_or_reset, user_grant_role
from tallyroom.elections.models import Election, Municipality, PollingStation

pytestmark = pytest.mark.django_db


def test_chair_official_admin_scopes(small_election: Election) -> None:
    station = PollingStation.objects.get(code="0101C/01R")
    other_station_same_muni = PollingStation.objects.get(code="0102B/01R")
    north_station = PollingStation.objects.get(code="3801A/01R")
    chair = user_create_or_reset("chair1", "x" * 16)
    user_grant_role(chair, small_election, Role.CHAIR, station=station)
    official = user_create_or_reset("official38", "x" * 16)
    user_grant_role(official, small_election, Role.OFFICIAL, municipality=north_station.municipality)
    admin = user_create_or_reset("cec", "x" * 16)
    user_grant_role(admin, small_election, Role.ADMIN)
    observer = user_create_or_reset("obs", "x" * 16)
    user_grant_role(observer, small_election, Role.OBSERVER)

    assert access_station_for_report(chair, small_election.pk, "0101C/01R") == station
    for user, code in [
        (chair, other_station_same_muni.code),
        (chair, north_station.code),
        (official, station.code),
        (observer, station.code),
        (AnonymousUser(), station.code),
        (admin, "9999X/01R"),
        (chair, "9999X/01R"),
    ]:
        with pytest.raises(AccessDenied):
            access_station_for_report(user, small_election.pk, code)
    assert access_station_for_report(official, small_election.pk, "3801A/02R").code == "3801A/02R"
    assert access_station_for_report(admin, small_election.pk, "3801A/02R").code == "3801A/02R"
    assert user_roles(chair, small_election.pk) == {"chair"}
    assert user_roles(AnonymousUser(), small_election.pk) == set()
    assert User.objects.get(username="cec").is_superuser


def test_roles_are_constrained_in_the_database(small_election: Election) -> None:
    user = user_create_or_reset("u", "x" * 16)
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleAssignment.objects.create(user=user, election=small_election, role=Role.CHAIR)
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleAssignment.objects.create(user=user, election=small_election, role=Role.OFFICIAL)
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleAssignment.objects.create(user=user, election=small_election, role="king")
    RoleAssignment.objects.create(user=user, election=small_election, role=Role.AUDITOR)
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleAssignment.objects.create(user=user, election=small_election, role=Role.AUDITOR)


def test_demo_accounts_one_per_role(small_election: Election) -> None:
    accounts = demo_accounts_create(small_election, "demo-password-1")
    assert sorted(a.username for a in accounts) == sorted(
        ["admin", "official", "chair", "clerk", "auditor", "panel", "observer"]
    )
    chair = User.objects.get(username="chair")
    assert chair.check_password("demo-password-1")
    grant = RoleAssignment.objects.get(user=chair)
    assert grant.station is not None
    assert grant.station.municipality == Municipality.objects.get(election=small_election, code="01")
    # Again with random passwords: same users, same grants, new passwords.
    again = demo_accounts_create(small_election)
    assert RoleAssignment.objects.count() == 7
    assert User.objects.get(username="chair").check_password(
        next(a.password for a in again if a.role == str(Role.CHAIR.label))
    )
