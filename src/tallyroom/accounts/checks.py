"""`tallyroom check --deploy`: refuse a production configuration that is not safe.

Django's own deploy checks only warn; these are errors, so the command exits 1 and names each one.
Warnings are for what a small deployment may choose knowingly (SQLite, no signing key yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

SECURE_HINT = "Serve over HTTPS and set TALLYROOM_SECURE=1 (docs/security.md)."
DEV_KEY_PREFIXES = ("django-insecure", "bench-", "test", "dev", "changeme", "secret")
MIDDLEWARE_NEEDED = {
    "django_otp.middleware.OTPMiddleware": "second-factor sessions",
    "tallyroom.accounts.middleware.TwoFactorMiddleware": "the second-factor gate",
    "csp.middleware.CSPMiddleware": "the Content-Security-Policy header",
    "axes.middleware.AxesMiddleware": "login throttling",
    "django.middleware.csrf.CsrfViewMiddleware": "CSRF protection",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "X-Frame-Options",
}


@register(Tags.security, deploy=True)
def deploy_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if settings.DEBUG:
        problems.append(
            Error(
                "DEBUG is on: tracebacks and settings leak to anyone.",
                hint="Unset TALLYROOM_DEBUG.",
                id="tallyroom.E001",
            )
        )
    problems += _secret_key()
    if not settings.ALLOWED_HOSTS or "*" in settings.ALLOWED_HOSTS:
        problems.append(
            Error(
                "ALLOWED_HOSTS is empty or '*': any Host header is accepted.",
                hint="Set TALLYROOM_ALLOWED_HOSTS to the site's host names.",
                id="tallyroom.E003",
            )
        )
    problems += _transport()
    problems += _sign_in()
    problems += _headers()
    problems += _storage()
    return problems


def _secret_key() -> list[CheckMessage]:
    key = str(getattr(settings, "SECRET_KEY", ""))
    if len(key) < 50 or len(set(key)) < 5 or key.lower().startswith(DEV_KEY_PREFIXES):
        return [
            Error(
                "SECRET_KEY is short, simple or a development key: sessions and CSRF tokens can be forged.",
                hint="Set TALLYROOM_SECRET_KEY to 50+ random characters, or let Tallyroom create tallyroom-secret.key.",
                id="tallyroom.E002",
            )
        ]
    return []


def _transport() -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    for name, message, ident in [
        ("SESSION_COOKIE_SECURE", "the session cookie is sent over plain HTTP", "tallyroom.E004"),
        ("CSRF_COOKIE_SECURE", "the CSRF cookie is sent over plain HTTP", "tallyroom.E005"),
        ("SECURE_SSL_REDIRECT", "plain HTTP requests are not redirected to HTTPS", "tallyroom.E006"),
        ("SESSION_COOKIE_HTTPONLY", "scripts can read the session cookie", "tallyroom.E007"),
    ]:
        if not getattr(settings, name, False):
            problems.append(Error(f"{name} is off: {message}.", hint=SECURE_HINT, id=ident))
    if int(getattr(settings, "SECURE_HSTS_SECONDS", 0) or 0) < 86400:
        problems.append(
            Error(
                "HSTS is off or shorter than a day: a browser may be downgraded to plain HTTP.",
                hint=SECURE_HINT,
                id="tallyroom.E008",
            )
        )
    return problems


def _sign_in() -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if not getattr(settings, "TALLYROOM_REQUIRE_2FA", False):
        problems.append(
            Error(
                "Two-factor sign-in is off: a stolen password opens an administrator's, official's or auditor's "
                "account.",
                hint="Unset TALLYROOM_REQUIRE_2FA (it is on by default).",
                id="tallyroom.E009",
            )
        )
    if not getattr(settings, "AXES_ENABLED", True):
        problems.append(
            Error("Login throttling (django-axes) is off.", hint="Unset AXES_ENABLED.", id="tallyroom.E010")
        )
    hashers = list(getattr(settings, "PASSWORD_HASHERS", []))
    if not hashers or not hashers[0].endswith("Argon2PasswordHasher"):
        problems.append(
            Error(
                "New passwords are not hashed with Argon2 first.",
                hint="Put django.contrib.auth.hashers.Argon2PasswordHasher first in PASSWORD_HASHERS.",
                id="tallyroom.E011",
            )
        )
    return problems


def _headers() -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    for middleware, what in MIDDLEWARE_NEEDED.items():
        if middleware not in settings.MIDDLEWARE:
            problems.append(Error(f"{middleware} is missing: no {what}.", id="tallyroom.E012"))
    directives = (getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}).get("DIRECTIVES", {})
    scripts = directives.get("script-src") or directives.get("default-src") or []
    if not scripts or any(s in ("'unsafe-inline'", "'unsafe-eval'", "*") for s in scripts):
        problems.append(
            Error(
                "The Content-Security-Policy allows inline or foreign scripts (or sets none).",
                hint="Keep script-src to 'self' in CONTENT_SECURITY_POLICY.",
                id="tallyroom.E013",
            )
        )
    if "'none'" not in (directives.get("frame-ancestors") or []):
        problems.append(Error("The Content-Security-Policy lets other sites frame these pages.", id="tallyroom.E014"))
    return problems


def _storage() -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        problems.append(
            Warning(
                "The database is SQLite: one machine, one writer at a time, no replica.",
                hint="For a national count use PostgreSQL (DATABASE_URL=postgresql://...).",
                id="tallyroom.W001",
            )
        )
    key = getattr(settings, "TALLYROOM_SIGNING_KEY", None)
    if not key or not Path(key).is_file():
        problems.append(
            Warning(
                "No publication signing key: snapshots cannot be signed, so readers cannot check them.",
                hint="Create one with `tallyroom publication-key` or set TALLYROOM_SIGNING_KEY (docs/publication.md).",
                id="tallyroom.W002",
            )
        )
    elif Path(key).stat().st_mode & 0o077:
        problems.append(
            Error(
                f"The publication signing key {key} can be read by other users of this machine.",
                hint=f"chmod 600 {key}",
                id="tallyroom.E015",
            )
        )
    return problems
