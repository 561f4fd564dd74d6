"""Sign-ins, failures and lockouts onto the audit chain. Django sends `user_logged_in` when a password
is accepted (on /accounts/login/ or the admin's login page) and `user_login_failed` for a wrong one;
the second-factor pages send `user_login_failed` for a wrong code. django-axes counts each failure in
its own receiver; ours runs after it (see `connect`), so it knows whether this failure began a
lockout."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest

from tallyroom.accounts.services import LoginAction, login_record
from tallyroom.accounts.twofactor import client_ip, failures_forgive, needs_2fa


def connect() -> None:
    """Called from AccountsConfig.ready."""
    import axes.signals  # noqa: F401 - connects axes' receivers, so they run before ours

    user_login_failed.connect(_login_failed, dispatch_uid="tallyroom.accounts.login_failed")
    user_logged_in.connect(_logged_in, dispatch_uid="tallyroom.accounts.logged_in")


def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **_: Any) -> None:
    """A password accepted through a page of the site. A test client's force_login or a shell's
    login() has no routed request: nothing happened at the door to record."""
    if request is None or getattr(request, "resolver_match", None) is None:
        return
    due = needs_2fa(user)
    login_record(LoginAction.PASSWORD, user.get_username(), ip=client_ip(request), second_factor_due=due)
    if due:
        request.session.set_expiry(int(settings.TALLYROOM_STAFF_SESSION_HOURS * 3600))
    else:  # signed in completely: this client's failures for the account are forgiven
        failures_forgive(request, user.get_username())


def _login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any) -> None:
    from axes.helpers import get_failure_limit

    if request is None:  # a shell's authenticate(): no client to record
        return
    username = str(credentials.get("username", ""))
    ip = client_ip(request)
    login_record(LoginAction.FAILED, username, ip=ip, step=str(credentials.get("step", "password")))
    # While locked, axes keeps counting (and restarts the cool-off); the chain keeps the moment it began.
    failures = getattr(request, "axes_failures_since_start", None)
    if getattr(request, "axes_locked_out", False) and failures == get_failure_limit(request, credentials):
        login_record(LoginAction.LOCKED_OUT, username, ip=ip, failures=failures)
