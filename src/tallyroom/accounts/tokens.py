"""Station device tokens: issued to a chair for one station and one round, shown once, kept hashed.

The token is `trd_` and 43 random URL-safe characters (256 bits). The database keeps its SHA-256
only, so a copy of the database does not let anyone report for a station.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.timezone import now as timezone_now

from tallyroom.accounts.models import DeviceToken, Role, RoleAssignment
from tallyroom.audit.chain import SYSTEM, audit_append
from tallyroom.elections.models import PollingStation, Round

PREFIX = "trd_"


class TokenRefused(ValueError):  # noqa: N818 - a refusal, as elections.services' ChangesNeedReplace
    """The token cannot be issued as asked; the message says why."""


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def device_token_find(token: str) -> DeviceToken | None:
    """The token's row, whatever its state (the caller checks validity)."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    return (
        DeviceToken.objects.select_related("user", "station__election", "station__municipality", "round")
        .defer("station__election__definition_packed")
        .filter(token_sha256=token_sha256(token))
        .first()
    )


def device_token_issue(
    *,
    user: User,
    station: PollingStation,
    round_: Round,
    expires_at: dt.datetime,
    label: str = "",
    actor: str = SYSTEM,
    role: str = "",
    issued_by: User | None = None,
) -> tuple[DeviceToken, str]:
    """A new token for `user`, who must chair `station`; returns the row and the token (shown once)."""
    if round_.election_id != station.election_id:
        raise TokenRefused("the round is not of the station's election")
    if not RoleAssignment.objects.filter(
        user_id=user.pk, election_id=station.election_id, role=Role.CHAIR, station=station
    ).exists():
        raise TokenRefused(f"{user.get_username()} does not chair station {station.code}")
    if expires_at <= timezone_now():
        raise TokenRefused("the expiry is in the past")
    token = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        row = DeviceToken.objects.create(
            user=user,
            station=station,
            round=round_,
            token_sha256=token_sha256(token),
            label=label[:100],
            expires_at=expires_at,
            created_by=issued_by,
        )
        audit_append(
            "device_token.issued",
            "device_token",
            row.pk,
            actor=actor,
            role=role,
            payload={"user": user.get_username(), "station": station.code, "round": round_.code},
        )
    return row, token


def device_token_revoke(
    *, device: DeviceToken, actor: str = SYSTEM, role: str = "", revoked_by: User | None = None
) -> DeviceToken:
    with transaction.atomic():
        row = DeviceToken.objects.select_for_update().get(pk=device.pk)
        if row.revoked_at is None:
            row.revoked_at = timezone_now()
            row.revoked_by = revoked_by
            row.save(update_fields=["revoked_at", "revoked_by"])
            audit_append("device_token.revoked", "device_token", row.pk, actor=actor, role=role, payload={})
    return row


def device_token_touch(device: DeviceToken) -> None:
    """Note when a token was last used, at most once a minute (telemetry: not audited)."""
    now = timezone_now()
    if device.last_used_at is None or now - device.last_used_at > dt.timedelta(minutes=1):
        DeviceToken.objects.filter(pk=device.pk).update(last_used_at=now)
        device.last_used_at = now


def device_token_state(pk: str) -> Any:
    row = (
        DeviceToken.objects.filter(pk=pk)
        .values(
            "user__username",
            "station__code",
            "round__code",
            "token_sha256",
            "label",
            "created_at",
            "expires_at",
            "revoked_at",
        )
        .first()
    )
    return dict(row) if row else None
