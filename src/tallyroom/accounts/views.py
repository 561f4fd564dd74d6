"""Signing in: the password page, then, for accounts that need it, the second factor: enrolment of an
authenticator app on the first sign-in, a code on every sign-in after. Wrong passwords and codes
count towards the same lockout (django-axes); every step is on the audit chain."""

from __future__ import annotations

from typing import Any

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off, get_failure_limit, get_lockout_response
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView, redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_totp.models import TOTPDevice

from tallyroom.accounts.services import LoginAction, login_record, totp_confirm
from tallyroom.accounts.twofactor import (
    client_ip,
    confirmed_device,
    failures_forgive,
    needs_2fa,
    pending_device,
    qr_svg_data_uri,
    second_factor_due,
    secret_base32,
)


class SignInView(LoginView):
    """Django's login page; a right password for a 2FA account leads on to the code page."""

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # signs in: see signals._logged_in
        user = form.get_user()
        if not needs_2fa(user):
            return response
        name = "two_factor" if confirmed_device(user) is not None else "two_factor_setup"
        return redirect(f"{reverse(name)}?{urlencode({'next': self.get_success_url()})}")


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponseBase:
    """Enter the code from the authenticator app."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    next_url = _next_url(request)
    if not second_factor_due(user):
        return redirect(next_url)
    device = confirmed_device(user)
    if device is None:
        return redirect(f"{reverse('two_factor_setup')}?{urlencode({'next': next_url})}")
    locked = _locked_out(request)
    if locked is not None:
        return locked
    error = ""
    if request.method == "POST":
        token = request.POST.get("otp_token", "").strip()
        error = _too_soon(device)
        if not error and django_otp.verify_token(user, device.persistent_id, token) is not None:
            _verified(request, device)
            return redirect(next_url)
        error = error or _wrong_code(request)
    return render(request, "registration/two_factor.html", {"next": next_url, "error": error})


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponseBase:
    """First sign-in of a 2FA account: add the secret to an authenticator app, prove it with a code."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    next_url = _next_url(request)
    if not second_factor_due(user):
        return redirect(next_url)
    if confirmed_device(user) is not None:
        # A new device replaces a confirmed one only through an operator (`tallyroom totp --reset`):
        # someone holding just the password must not enrol their own phone.
        return redirect(f"{reverse('two_factor')}?{urlencode({'next': next_url})}")
    locked = _locked_out(request)
    if locked is not None:
        return locked
    device = pending_device(user)
    error = ""
    if request.method == "POST":
        token = request.POST.get("otp_token", "").strip()
        error = _too_soon(device)
        if not error and totp_confirm(device, token, ip=client_ip(request)):
            _verified(request, device)
            return redirect(next_url)
        error = error or _wrong_code(request)
    uri = device.config_url
    context = {
        "next": next_url,
        "error": error,
        "secret": secret_base32(device),
        "uri": uri,
        "qr": qr_svg_data_uri(uri),
    }
    return render(request, "registration/two_factor_setup.html", context)


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _verified(request: HttpRequest, device: TOTPDevice) -> None:
    django_otp.login(request, device)
    request.session.cycle_key()  # a new session id for the now fully signed-in session
    username = request.user.get_username()
    login_record(LoginAction.VERIFIED, username, ip=client_ip(request))
    failures_forgive(request, username)


def _too_soon(device: TOTPDevice) -> str:
    """django-otp's own brake: after n wrong codes in a row the next is not even tried for 2^(n-1) s."""
    allowed, _info = device.verify_is_allowed()
    return "" if allowed else _("Too many wrong codes in a row: wait a few seconds, then enter the newest code.")


def _wrong_code(request: HttpRequest) -> str:
    """Count a wrong code like a wrong password (axes; the audit chain via the signal)."""
    user_login_failed.send(
        sender=__name__, credentials={"username": request.user.get_username(), "step": "code"}, request=request
    )
    if getattr(request, "axes_locked_out", False):
        logout(request)  # AxesMiddleware answers with the lockout page
    return _("That code is not right. Enter the code your authenticator app shows now.")


def _locked_out(request: HttpRequest) -> HttpResponse | None:
    """A locked-out account is signed out here too, not only at the password page."""
    credentials = {"username": request.user.get_username()}
    if not AxesProxyHandler.is_locked(request, credentials):
        return None
    logout(request)
    response: HttpResponse = get_lockout_response(request, None, credentials)
    return response


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """django-axes' answer to a locked-out client (AXES_LOCKOUT_CALLABLE): 429 and when to retry."""
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else 0
    context = {"failure_limit": get_failure_limit(request, credentials), "cooloff_minutes": minutes}
    response = render(request, "registration/locked_out.html", context, status=429)
    if minutes:
        response["Retry-After"] = str(minutes * 60)
    return response
