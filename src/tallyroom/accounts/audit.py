"""How the audit chain reads a role assignment."""

from __future__ import annotations

from typing import Any

from tallyroom.accounts.models import RoleAssignment


def role_state(pk: str) -> Any:
    grant = (
        RoleAssignment.objects.filter(pk=pk)
        .values("user__username", "election__code", "role", "municipality__code", "station__code")
        .first()
    )
    return dict(grant) if grant else None
