"""Writes to accounts: users, their roles, their sign-ins and second factors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AbstractUser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from tallyroom.accounts.models import Role, RoleAssignment
from tallyroom.accounts.twofactor import DEVICE_NAME
from tallyroom.audit.chain import SYSTEM, audit_append
from tallyroom.elections.models import Election, Municipality, PollingStation


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    scope: str
    totp_secret: str = ""  # base32, for an authenticator app; empty for roles without 2FA
    totp_uri: str = ""


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


def user_revoke_role(grant: RoleAssignment, *, actor: str = SYSTEM) -> None:
    """Take a role away. The Django admin access that came with the last administrator role goes
    with it: staff flags left behind would keep a former administrator in the admin as a superuser."""
    with transaction.atomic():
        user = grant.user
        pk, role = grant.pk, grant.role
        payload = {"user": user.get_username(), "role": role}
        grant.delete()
        audit_append("role.revoked", "role", pk, actor=actor, payload=payload)
        if role == Role.ADMIN and not RoleAssignment.objects.filter(user_id=user.pk, role=Role.ADMIN).exists():
            user.is_staff = False
            user.is_superuser = False
            user.save(update_fields=["is_staff", "is_superuser"])


def user_create_or_reset(username: str, password: str) -> AbstractUser:
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    user.set_password(password)
    user.save()
    assert isinstance(user, AbstractUser)  # noqa: S101 - the project uses Django's user model
    return user


# --- sign-in and second factor --------------------------------------------------------------------


class LoginAction(StrEnum):
    PASSWORD = "login.password"  # noqa: S105 - an action's name: the password was right (a code may be due)
    VERIFIED = "login.verified"  # the second factor was right: the session is complete
    FAILED = "login.failed"  # a wrong password or code
    LOCKED_OUT = "login.locked_out"  # too many failures: throttled until the cool-off ends
    TOTP_ENROLLED = "totp.enrolled"
    TOTP_RESET = "totp.reset"


def login_record(action: LoginAction, username: str, *, ip: str = "", **details: Any) -> None:
    """One sign-in event on the audit chain (who, from where, what happened)."""
    name = username[:80]
    with transaction.atomic():
        audit_append(action, "login", name, actor=name or "anonymous", payload={"ip": ip, **details})


def totp_confirm(device: TOTPDevice, token: str, *, ip: str = "") -> bool:
    """Confirm an enrolment: the code from the authenticator proves it holds the secret."""
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if locked.confirmed or not locked.verify_token(token):
            return False
        locked.confirmed = True
        locked.save(update_fields=["confirmed"])
        user = locked.user
        audit_append(
            LoginAction.TOTP_ENROLLED, "user", user.pk, actor=user.get_username(), payload={"ip": ip, "how": "self"}
        )
    device.confirmed = True
    return True


def totp_enrol(user: AbstractBaseUser, *, actor: str = SYSTEM, key: str | None = None) -> TOTPDevice:
    """Give `user` a confirmed device at once (operators and the demo); replaces any earlier one."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user_id=user.pk).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True, **({"key": key} if key else {}))
        audit_append(LoginAction.TOTP_ENROLLED, "user", user.pk, actor=actor, payload={"how": "operator"})
    return device


def totp_reset(user: AbstractBaseUser, *, actor: str = SYSTEM) -> int:
    """Remove the user's devices (a lost phone): the next sign-in enrols a new one."""
    with transaction.atomic():
        removed: int = TOTPDevice.objects.filter(user_id=user.pk).delete()[0]
        audit_append(LoginAction.TOTP_RESET, "user", user.pk, actor=actor, payload={})
    return removed
