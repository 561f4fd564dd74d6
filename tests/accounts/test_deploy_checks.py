"""`tallyroom check --deploy` fails on an unsafe production configuration and names each problem."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

SAFE_KEY = "Vq3-8tKx_pL2mZ9rW4yB7nC1dF6gH0jS5aE2uI8oP3kT9vX4wQ7zR1cY6bN0mLqA"


@pytest.fixture
def safe(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A production configuration with nothing to complain about (as TALLYROOM_SECURE=1 gives)."""
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)  # set by the browser tests; an error here
    key = tmp_path / "signing.pem"
    key.write_text("not read by the check")
    key.chmod(0o600)
    settings.DEBUG = False
    settings.SECRET_KEY = SAFE_KEY
    settings.ALLOWED_HOSTS = ["results.example.org"]
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    settings.TALLYROOM_SIGNING_KEY = key
    return settings


def deploy_check() -> None:
    call_command("check", deploy=True, stdout=io.StringIO(), stderr=io.StringIO())


def test_a_safe_configuration_passes(safe: Any) -> None:
    deploy_check()


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("DEBUG", True, "tallyroom.E001"),
        ("SECRET_KEY", "django-insecure-" + "x" * 50, "tallyroom.E002"),
        ("SECRET_KEY", "short", "tallyroom.E002"),
        ("ALLOWED_HOSTS", ["*"], "tallyroom.E003"),
        ("SESSION_COOKIE_SECURE", False, "tallyroom.E004"),
        ("CSRF_COOKIE_SECURE", False, "tallyroom.E005"),
        ("SECURE_SSL_REDIRECT", False, "tallyroom.E006"),
        ("SESSION_COOKIE_HTTPONLY", False, "tallyroom.E007"),
        ("SECURE_HSTS_SECONDS", 0, "tallyroom.E008"),
        ("TALLYROOM_REQUIRE_2FA", False, "tallyroom.E009"),
        ("AXES_ENABLED", False, "tallyroom.E010"),
        ("PASSWORD_HASHERS", ["django.contrib.auth.hashers.PBKDF2PasswordHasher"], "tallyroom.E011"),
        ("CONTENT_SECURITY_POLICY", {"DIRECTIVES": {"script-src": ["'self'", "'unsafe-inline'"]}}, "tallyroom.E013"),
    ],
)
def test_each_unsafe_setting_fails_the_check(safe: Any, setting: str, value: Any, problem: str) -> None:
    setattr(safe, setting, value)
    with pytest.raises(SystemCheckError) as failed:
        deploy_check()
    assert problem in str(failed.value)


def test_a_missing_protection_fails_the_check(safe: Any) -> None:
    safe.MIDDLEWARE = [m for m in safe.MIDDLEWARE if m != "tallyroom.accounts.middleware.TwoFactorMiddleware"]
    with pytest.raises(SystemCheckError, match=r"tallyroom\.E012.*TwoFactorMiddleware is missing"):
        deploy_check()


def test_a_readable_signing_key_fails_and_a_missing_one_warns(safe: Any, tmp_path: Path) -> None:
    safe.TALLYROOM_SIGNING_KEY.chmod(0o644)
    with pytest.raises(SystemCheckError, match=r"tallyroom\.E015"):
        deploy_check()
    safe.TALLYROOM_SIGNING_KEY = tmp_path / "absent.pem"
    deploy_check()  # a warning (W002): a fresh install has not published yet


def run_cli(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TALLYROOM_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return subprocess.run(
        [sys.executable, "-m", "tallyroom", "check", "--deploy"],
        cwd=tmp_path,
        env={**base, "TALLYROOM_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_exits_1_on_the_demo_configuration_and_0_in_production(tmp_path: Path) -> None:
    demo = run_cli({"TALLYROOM_DEBUG": "1", "TALLYROOM_ALLOWED_HOSTS": "*"}, tmp_path)
    assert demo.returncode == 1
    for problem in ("tallyroom.E001", "tallyroom.E003", "tallyroom.E004", "tallyroom.E008"):
        assert problem in demo.stderr
    production = run_cli(
        {
            "TALLYROOM_SECURE": "1",
            "TALLYROOM_SECRET_KEY": SAFE_KEY,
            "TALLYROOM_ALLOWED_HOSTS": "results.example.org",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",  # not opened by the check
        },
        tmp_path,
    )
    assert production.returncode == 0, production.stderr
    assert "tallyroom.W001" in production.stderr  # SQLite: allowed, with a warning
