# ruff: noqa: N818 - the names say what the answer is (409 Conflict), as HTTP does
"""Why a submission was refused: a status, a stable code and a message a person can act on.

The API renders these in its one error format; the web forms show the message beside the form.
"""

from __future__ import annotations

from django.utils.functional import Promise


class PollingError(Exception):
    status = 422
    code = "invalid_input"

    def __init__(self, message: str | Promise, field: str | None = None) -> None:
        self.message = str(message)
        self.field = field
        super().__init__(self.message)


class InvalidInput(PollingError):
    """The submission cannot be right whatever the station's state (422)."""


class NotFound(PollingError):
    status = 404
    code = "not_found"


class Forbidden(PollingError):
    status = 403
    code = "forbidden"


class Conflict(PollingError):
    """The submission contradicts what is already recorded (409)."""

    status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class KeyReused(Conflict):
    code = "idempotency_key_reused"


class TooLarge(PollingError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(PollingError):
    status = 415
    code = "unsupported_media_type"
