"""Signing a test client in the way the site does, second factor included.

`force_login` alone leaves an administrator's, official's or auditor's session unverified, and the
site then answers it with the code page (or 401 from the API). `signed_in` also records a verified
TOTP device in the session, as the code page does after a right code (django_otp.login)."""

from __future__ import annotations

import base64
import time
from typing import Any

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tallyroom.accounts.twofactor import DEVICE_NAME, confirmed_device, needs_2fa


def verify_session(client: Client, user: Any) -> None:
    """Mark the client's (signed-in) session as having passed the second factor."""
    device = confirmed_device(user) or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def signed_in(user: Any, client: Client | None = None) -> Client:
    client = client or Client()
    client.force_login(user)
    if hasattr(user, "_tallyroom_needs_2fa"):
        del user._tallyroom_needs_2fa  # roles may have changed since it was cached
    if needs_2fa(user):
        verify_session(client, user)
    return client


def totp_now(secret: str) -> str:
    """The code an authenticator app shows now for a base32 secret, as typed from the setup page."""
    engine = TOTP(base64.b32decode(secret + "=" * (-len(secret) % 8)))
    engine.time = time.time()
    return f"{engine.token():06d}"
