"""Demo accounts: one per role, so every page of the demo can be tried."""

from __future__ import annotations

import secrets

from tallyroom.accounts.models import Role
from tallyroom.accounts.services import DemoAccount, totp_enrol, user_create_or_reset, user_grant_role
from tallyroom.accounts.twofactor import ROLES_2FA, confirmed_device, secret_base32
from tallyroom.elections.models import Election, Municipality, PollingStation

# The demo's official works for Prishtinë and its chair at that municipality's first station.
DEMO_MUNICIPALITY = "19"


def demo_accounts_create(election: Election, password: str | None = None) -> list[DemoAccount]:
    muni = (
        Municipality.objects.filter(election=election, code=DEMO_MUNICIPALITY).first()
        or Municipality.objects.filter(election=election).order_by("code").first()
    )
    station = PollingStation.objects.filter(municipality=muni).exclude(kind="central").order_by("code").first()
    accounts = []
    for role in Role:
        username = {
            Role.ADMIN: "admin",
            Role.OFFICIAL: "official",
            Role.CHAIR: "chair",
            Role.CLERK: "clerk",
            Role.AUDITOR: "auditor",
            Role.PANEL: "panel",
            Role.OBSERVER: "observer",
        }[role]
        pw = password or secrets.token_urlsafe(9)
        user = user_create_or_reset(username, pw)
        scope = "all municipalities"
        if role == Role.OFFICIAL and muni:
            user_grant_role(user, election, role, municipality=muni)
            scope = f"municipality {muni.code} {muni.name_en}"
        elif role == Role.CHAIR and station:
            user_grant_role(user, election, role, station=station)
            scope = f"station {station.code}"
        else:
            user_grant_role(user, election, role)
        secret = uri = ""
        if role in ROLES_2FA:
            # Kept across runs, so an authenticator app set up once keeps working.
            device = confirmed_device(user) or totp_enrol(user)
            secret, uri = secret_base32(device), device.config_url
        accounts.append(DemoAccount(username, pw, str(role.label), scope, secret, uri))
    return accounts
