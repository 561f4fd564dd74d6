"""The only way to reach protected rows: each helper answers "may this user act here?".

Written with one condition per line so coverage shows every branch is tested (Zulip's style).
A refusal never says whether the row exists.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from tallyroom.accounts.models import Role, RoleAssignment
from tallyroom.elections.models import PollingStation


class AccessDenied(PermissionError):  # noqa: N818 - reads as the domain says it
    """The user may not act on this row (or it does not exist: the two are not told apart)."""


def user_roles(user: AbstractBaseUser | AnonymousUser, election_id: int) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(RoleAssignment.objects.filter(user_id=user.pk, election_id=election_id).values_list("role", flat=True))


def access_station_for_report(
    user: AbstractBaseUser | AnonymousUser, election_id: int, station_code: str
) -> PollingStation:
    """A station its chair, its municipality's officials or the central commission may report for."""
    if not user.is_authenticated:
        raise AccessDenied
    station = PollingStation.objects.filter(election_id=election_id, code=station_code).first()
    if station is None:
        raise AccessDenied
    grants = RoleAssignment.objects.filter(user_id=user.pk, election_id=election_id)
    if grants.filter(role=Role.ADMIN).exists():
        return station
    if grants.filter(role=Role.OFFICIAL, municipality_id=station.municipality_id).exists():
        return station
    if grants.filter(role=Role.CHAIR, station_id=station.pk).exists():
        return station
    raise AccessDenied
