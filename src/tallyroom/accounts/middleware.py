"""Holds a half-signed-in session (password right, code not yet) at the second-factor page.

Runs after django-otp's OTPMiddleware. Every page of the site (staff pages, the Django admin,
public pages too) sends such a session to enter its code; the API refuses it in its own format
(see api.auth.SessionAuth), and the sign-in pages themselves stay open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from tallyroom.accounts.twofactor import confirmed_device, second_factor_due

# URL names a half-signed-in session may still open.
OPEN = frozenset({"login", "logout", "two_factor", "two_factor_setup", "set_language"})


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is None or match.url_name in OPEN or match.namespace.startswith("api-v1"):
            return None
        user = request.user
        if not second_factor_due(user):
            return None
        name = "two_factor" if confirmed_device(user) is not None else "two_factor_setup"  # type: ignore[arg-type]
        return redirect(f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}")
