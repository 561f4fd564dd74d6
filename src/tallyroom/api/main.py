"""The JSON API at /api/v1/: django-ninja, typed, OpenAPI at /api/v1/openapi.json."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from tallyroom.api.errors import ApiError, ErrorCode, error_response

api = NinjaAPI(
    title="Tallyroom API",
    version="1",
    description="Municipal elections from the opening of the polls to certified results. "
    "Every 4xx answers {code, message, field, details}.",
    urls_namespace="api-v1",
)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    details: list[dict[str, str]] = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", ())]
        details.append({"field": ".".join(loc), "message": str(err.get("msg", "invalid"))})
    if any(d["message"].startswith("JSON decode error") or "json" in d["field"].lower() for d in details):
        return error_response(
            ApiError(400, ErrorCode.MALFORMED_JSON, "Cannot parse the request body: it is not valid JSON.")
        )
    first = details[0] if details else {"field": "", "message": "invalid input"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    if len(details) > 1:
        message += f" (and {len(details) - 1} more problem(s), see details)"
    return error_response(ApiError(422, ErrorCode.INVALID_INPUT, message, first["field"] or None, details))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(ApiError(404, ErrorCode.NOT_FOUND, str(exc) or "Not found."))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(ApiError(401, ErrorCode.UNAUTHENTICATED, "Sign in or send a valid device token."))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {
        401: ErrorCode.UNAUTHENTICATED,
        403: ErrorCode.FORBIDDEN,
        404: ErrorCode.NOT_FOUND,
        405: ErrorCode.METHOD_NOT_ALLOWED,
        409: ErrorCode.CONFLICT,
        413: ErrorCode.TOO_LARGE,
        429: ErrorCode.THROTTLED,
    }
    if exc.status_code == 400 and "parse" in str(exc).lower():
        return error_response(
            ApiError(400, ErrorCode.MALFORMED_JSON, "Cannot parse the request body: it is not valid JSON.")
        )
    return error_response(ApiError(exc.status_code, codes.get(exc.status_code, ErrorCode.INVALID_INPUT), str(exc)))


from tallyroom.api import elections as _elections  # noqa: E402  (routers register on import)

api.add_router("", _elections.router)
api.add_router("", "tallyroom.api.polling.router")
api.add_router("", "tallyroom.api.results.router")
