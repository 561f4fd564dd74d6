"""How the audit chain reads a role assignment, a sign-in and an account's second factor."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice

from tallyroom.accounts.models import RoleAssignment
from tallyroom.accounts.twofactor import key_digest


def role_state(pk: str) -> Any:
    grant = (
        RoleAssignment.objects.filter(pk=pk)
        .values("user__username", "election__code", "role", "municipality__code", "station__code")
        .first()
    )
    return dict(grant) if grant else None


def login_state(username: str) -> Any:
    """A sign-in changes no audited row: the entry itself (who, when, from where) is the record."""
    return {"username": username}


def user_state(pk: str) -> Any:
    """An account's second factor: which confirmed TOTP secrets it has (as digests, never the key)."""
    user = get_user_model().objects.filter(pk=pk).first()
    if user is None:
        return None
    devices = TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("id")
    return {"username": user.get_username(), "totp": [key_digest(d) for d in devices]}
