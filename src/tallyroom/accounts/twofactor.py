"""Who must sign in with a second factor, and the TOTP devices that give it (django-otp).

Administrators, municipal officials and auditors (and any staff or superuser account) prove a code
from an authenticator app after their password; a session that has not is "unverified" and reaches
no staff page and no API operation. Chairs, clerks, panel members and observers sign in with a
password only; station phones use device tokens. TALLYROOM_REQUIRE_2FA=0 turns the rule off.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tallyroom.accounts.models import Role, RoleAssignment

ROLES_2FA = (Role.ADMIN, Role.OFFICIAL, Role.AUDITOR)
DEVICE_NAME = "authenticator"


def needs_2fa(user: AbstractBaseUser | AnonymousUser) -> bool:
    """True for a signed-in user whose account must prove a second factor (cached on the user)."""
    if not settings.TALLYROOM_REQUIRE_2FA or not user.is_authenticated:
        return False
    cached: bool | None = getattr(user, "_tallyroom_needs_2fa", None)
    if cached is None:
        cached = bool(
            getattr(user, "is_superuser", False)
            or getattr(user, "is_staff", False)
            or RoleAssignment.objects.filter(user_id=user.pk, role__in=ROLES_2FA).exists()
        )
        setattr(user, "_tallyroom_needs_2fa", cached)  # noqa: B010 - a per-request cache on the object
    return cached


def is_verified(user: AbstractBaseUser | AnonymousUser) -> bool:
    """The session proved a code (django-otp's middleware sets `is_verified` on request.user)."""
    check = getattr(user, "is_verified", None)
    return bool(check()) if callable(check) else False


def second_factor_due(user: AbstractBaseUser | AnonymousUser) -> bool:
    return needs_2fa(user) and not is_verified(user)


def confirmed_device(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("id").first()


def pending_device(user: AbstractBaseUser) -> TOTPDevice:
    """The unconfirmed device being enrolled: the same secret until it is confirmed."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("id").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def secret_base32(device: TOTPDevice) -> str:
    """The secret as authenticator apps type it in (RFC 4648 base32, no padding)."""
    return base64.b32encode(device.bin_key).decode("ascii").rstrip("=")


def current_code(device: TOTPDevice, at: float | None = None) -> str:
    """The code an authenticator shows at `at` (default now): for tests and `tallyroom totp`."""
    engine = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    engine.time = time.time() if at is None else at
    return f"{engine.token():0{device.digits}d}"


def qr_svg_data_uri(text: str) -> str:
    """A QR code of `text` as an SVG data: URI (drawn here: no network, no inline script or style)."""
    import qrcode
    import qrcode.image.svg

    image: Any = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    svg: bytes = image.to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def key_digest(device: TOTPDevice) -> str:
    """What the audit chain keeps of a secret: enough to see it changed, nothing to log in with."""
    return hashlib.sha256(device.key.encode("ascii")).hexdigest()


def client_ip(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or, behind TALLYROOM_PROXY_COUNT trusted reverse proxies,
    the address the outermost of them saw (X-Forwarded-For read from the right, so a client cannot
    choose it by sending its own header)."""
    proxies = int(getattr(settings, "TALLYROOM_PROXY_COUNT", 0))
    remote = str(request.META.get("REMOTE_ADDR") or "")
    if proxies <= 0:
        return remote
    chain = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
    return chain[-proxies] if len(chain) >= proxies else remote


def failures_forgive(request: HttpRequest, username: str) -> None:
    """A complete sign-in clears this client's login failures for the account. Never a password
    alone while a code is due: that would let a password holder guess codes for ever."""
    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.update_request(request)
    AxesProxyHandler.reset_attempts(ip_address=getattr(request, "axes_ip_address", None), username=username)
