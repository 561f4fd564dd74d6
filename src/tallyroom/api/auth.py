"""Who is calling: a station device (Authorization: Bearer <token>) or a signed-in user (the Django
session, with its CSRF token on writes). Anything else is anonymous and gets 401, and so does the
session of an administrator, official or auditor that has not entered its second-factor code."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from tallyroom.accounts.models import DeviceToken
from tallyroom.accounts.tokens import device_token_find, device_token_touch
from tallyroom.accounts.twofactor import second_factor_due


class DeviceTokenAuth(HttpBearer):
    """A chair's station device. Valid while not revoked or expired and while its user chairs the
    station; `request.auth` is the `DeviceToken`."""

    def authenticate(self, request: HttpRequest, token: str) -> DeviceToken | None:
        from tallyroom.polling.access import device_valid

        device = device_token_find(token.strip())
        if device is None or not device_valid(device):
            return None
        device_token_touch(device)
        return device


class SessionAuth(APIKeyCookie):
    """The web session of a signed-in user. Writes need the CSRF token (header X-CSRFToken), as
    the web forms send it; the check runs only when there is a signed-in user to protect."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if second_factor_due(user):
            raise HttpError(
                401,
                "Two-factor sign-in is not complete: enter the code from your authenticator app at "
                "/accounts/two-factor/.",
            )
        if self.csrf and check_csrf(request) is not None:
            raise HttpError(403, "CSRF check failed: send the X-CSRFToken header with the csrftoken cookie's value.")
        return user


device_or_session = [DeviceTokenAuth(), SessionAuth()]
