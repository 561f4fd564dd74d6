"""One JSON error format for every 4xx: a code, a message a person can act on, and the field path."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Schema


class ErrorCode(StrEnum):
    INVALID_INPUT = "invalid_input"
    MALFORMED_JSON = "malformed_json"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    TOO_LARGE = "too_large"
    THROTTLED = "throttled"
    INVALID_TRANSITION = "invalid_transition"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    # results (see tallyroom.results.errors.ResultsErrorCode)
    INVALID_FORM = "invalid_form"
    FORM_EXISTS = "form_exists"
    WRONG_STATE = "wrong_state"
    SAME_CLERK = "same_clerk"
    CERTIFIED = "certified"
    NOT_READY = "not_ready"
    STALE = "stale"


class ErrorDetail(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    """The body of every 4xx, as the OpenAPI document declares it."""

    code: ErrorCode
    message: str
    field: str | None
    details: list[ErrorDetail]


class ApiError(Exception):
    """Raised by API code and selectors' callers; rendered by the handler in api.main."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        field: str | None = None,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details or ([{"field": field, "message": message}] if field else [])


def error_body(err: ApiError) -> dict[str, Any]:
    return {
        "code": str(err.code),
        "message": err.message,
        "field": err.field,
        "details": err.details,
    }


def error_response(err: ApiError) -> JsonResponse:
    return JsonResponse(error_body(err), status=err.status)


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 for paths under /api/ in the same format; HTML elsewhere."""
    if request.path.startswith("/api/"):
        return error_response(
            ApiError(404, ErrorCode.NOT_FOUND, f"No API endpoint at {request.path}. See /api/v1/docs.")
        )
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Exception("not found"))
