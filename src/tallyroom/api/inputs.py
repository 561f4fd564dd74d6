"""Input every operation refuses before it runs: text with the NUL character.

PostgreSQL cannot store NUL in a text column (psycopg raises rather than send it), and no election
datum contains one; refused here, in the API's error format, it never reaches a query.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from tallyroom.api.errors import ApiError, ErrorCode, error_response

NUL = "\x00"
MESSAGE = "Text may not contain the NUL character (\\u0000)."


def _nul_paths(value: Any, at: str) -> Iterator[str]:
    """Where in decoded JSON `value` a key or a string holds NUL."""
    if isinstance(value, str):
        if NUL in value:
            yield at
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{at}.{key}"
            if NUL in key:
                yield where
            yield from _nul_paths(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, f"{at}.{index}")


def _first_nul(request: HttpRequest, path_params: dict[str, Any]) -> str | None:
    for name, value in path_params.items():
        if NUL in str(value):
            return f"path.{name}"
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in v for v in values):
            return f"query.{name}"
    # Within JSON, NUL can only be written as the escape \u0000: parse again only when it is there.
    # (Multipart uploads are left alone: their body must not be read here, and their few fields
    # are checked by the operation.)
    if not (request.content_type or "").startswith("multipart/") and b"\\u0000" in request.body:
        try:
            data = json.loads(request.body)
        except ValueError:
            return None  # the operation answers malformed JSON itself
        return next(_nul_paths(data, "body"), None)
    return None


def refuse_nul(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A ninja "view" decorator: wraps each operation's run, before authentication and parsing."""

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **path_params: Any) -> HttpResponseBase:
        field = _first_nul(request, path_params)
        if field is not None:
            return error_response(ApiError(422, ErrorCode.INVALID_INPUT, MESSAGE, field))
        return run(request, *args, **path_params)

    return wrapper
