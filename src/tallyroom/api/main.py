"""The JSON API at /api/v1/: django-ninja, typed, OpenAPI at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from csp.decorators import csp_update
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.schema import OpenAPISchema

from tallyroom.api.errors import ApiError, ErrorCode, ErrorOut, error_response
from tallyroom.api.inputs import refuse_nul


class TallyroomAPI(NinjaAPI):
    """Declares the one error format as every operation's 4XX answer in the OpenAPI document, so
    clients (and the schema fuzzer, tests/api/test_fuzz_api.py) know what a refusal looks like."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        error = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(error.pop("$defs", {}))
        components["Error"] = error
        answer = {
            "description": "Refused: {code, message, field, details} (400 malformed, 401 unauthenticated, "
            "403 forbidden, 404 not found, 409 conflict, 413 too large, 415 unsupported media type, "
            "422 invalid input, 429 throttled)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.setdefault("responses", {}).setdefault("4XX", answer)
        return schema


api = TallyroomAPI(
    title="Tallyroom API",
    version="1",
    description="Municipal elections from the opening of the polls to certified results. "
    "Every 4xx answers {code, message, field, details}.",
    urls_namespace="api-v1",
    # Swagger UI (vendored) sets style attributes as it draws: allowed on the docs page only.
    docs_decorator=csp_update({"style-src": ["'unsafe-inline'"]}),
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

api.add_decorator(refuse_nul, mode="view")
api.add_router("", _elections.router)
api.add_router("", "tallyroom.api.polling.router")
api.add_router("", "tallyroom.api.results.router")
