"""Writes to accounts: users and their roles."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction

from tallyroom.accounts.models import Role, RoleAssignment
from tallyroom.audit.chain import SYSTEM, audit_append
from tallyroom.elections.models import Election, Municipality, PollingStation


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    scope: str


def user_grant_role(
    user: AbstractUser,
    election: Election,
    role: Role,
    *,
    municipality: Municipality | None = None,
    station: PollingStation | None = None,
    actor: str = SYSTEM,
) -> RoleAssignment:
    """Give `user` a role; central administrators also get Django admin access."""
    with transaction.atomic():
        if station is not None and municipality is None:
            municipality = station.municipality
        grant, created = RoleAssignment.objects.get_or_create(
            user=user, election=election, role=role, municipality=municipality, station=station
        )
        if created:
            audit_append("role.granted", "role", grant.pk, actor=actor, payload={"user": user.username, "role": role})
        if role == Role.ADMIN and not (user.is_staff and user.is_superuser):
            user.is_staff = True
            user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
    return grant


def user_create_or_reset(username: str, password: str) -> AbstractUser:
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    user.set_password(password)
    user.save()
    assert isinstance(user, AbstractUser)  # noqa: S101 - the project uses Django's user model
    return user
