"""Open-data files over HTTP: stable URLs, strong ETags, Last-Modified, CORS open for reads.

The version comes from the audit chain before anything is built, so a conditional request that
matches is answered 304 with one query. Only GET, HEAD and OPTIONS (the CORS preflight) are allowed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from tallyroom.api.errors import ApiError, ErrorCode, error_response
from tallyroom.elections.models import Election, Municipality
from tallyroom.publish.opendata import (
    FILE_NAMES,
    FORMAT_VERSION,
    MEDIA_TYPES,
    DataFormat,
    DataVersion,
    data_etag,
    data_version,
    election_summary,
    export_bytes,
)

ALLOWED = ("GET", "HEAD", "OPTIONS")
MAX_AGE = 30  # seconds: results move on election night; conditional requests are cheap
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "ETag, Last-Modified, Content-Disposition, Content-Length",
}
View = Callable[..., HttpResponse]


def _with_headers(response: HttpResponse, version: DataVersion | None = None, etag: str = "") -> HttpResponse:
    for name, value in CORS.items():
        response[name] = value
    if etag:
        response["ETag"] = etag
        response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    if version is not None and version.timestamp is not None:
        response["Last-Modified"] = http_date(version.timestamp)
    return response


def _methods(view: View) -> View:
    """Answer the CORS preflight and refuse writes before the view runs."""

    @csrf_exempt
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = ", ".join(ALLOWED)
            response["Access-Control-Allow-Headers"] = "If-None-Match, If-Modified-Since"
            response["Access-Control-Max-Age"] = "86400"
            response["Allow"] = ", ".join(ALLOWED)
            return _with_headers(response)
        if request.method not in ("GET", "HEAD"):
            response = error_response(
                ApiError(405, ErrorCode.METHOD_NOT_ALLOWED, "Open data is read-only: use GET or HEAD.")
            )
            response["Allow"] = ", ".join(ALLOWED)
            return _with_headers(response)
        return view(request, *args, **kwargs)

    wrapped.__doc__ = view.__doc__
    return wrapped


def _not_found(message: str) -> HttpResponse:
    return _with_headers(error_response(ApiError(404, ErrorCode.NOT_FOUND, message)))


def _conditional(
    request: HttpRequest, version: DataVersion, etag: str, build: Callable[[], HttpResponse]
) -> HttpResponse:
    early = get_conditional_response(request, etag=etag, last_modified=version.timestamp)
    if early is not None:  # 304 Not Modified (or 412 for If-Match): nothing is built
        return _with_headers(early, version, etag)
    response = _with_headers(build(), version, etag)
    if request.method == "HEAD":
        length = len(response.content)
        response.content = b""
        response["Content-Length"] = str(length)
    return response


def _json_response(value: Any) -> HttpResponse:
    body = json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
    return HttpResponse(body, content_type="application/json")


def _election(code: str) -> Election | None:
    return Election.objects.defer("definition_packed").filter(code=code).first()


@_methods
def elections_index(request: HttpRequest) -> HttpResponse:
    """Every election with open data, and where its files are listed."""
    version = data_version()
    etag = data_etag(version, "elections")

    def build() -> HttpResponse:
        rows = Election.objects.defer("definition_packed").order_by("code")
        return _json_response(
            {
                "format": FORMAT_VERSION,
                "data_version": version.as_dict(),
                "elections": [
                    {"code": e.code, "name": e.name_en, "index": reverse("data:index", args=[e.code])} for e in rows
                ],
            }
        )

    return _conditional(request, version, etag, build)


@_methods
def election_index(request: HttpRequest, code: str) -> HttpResponse:
    """The election's files: the whole election's, then each municipality's."""
    found = _election(code)
    if found is None:
        return _not_found(f"No election {code!r}.")
    election = found
    version = data_version()
    etag = data_etag(version, "index", election.code)

    def build() -> HttpResponse:
        files = [_file_entry(election.code, None, fmt) for fmt in DataFormat]
        for muni in Municipality.objects.filter(election=election).order_by("code").values_list("code", flat=True):
            files += [_file_entry(election.code, muni, fmt) for fmt in DataFormat]
        return _json_response(
            {
                "format": FORMAT_VERSION,
                "data_version": version.as_dict(),
                "election": election_summary(election),
                "documentation": "docs/open-data.md in the Tallyroom source",
                "files": files,
            }
        )

    return _conditional(request, version, etag, build)


def file_url_name(fmt: DataFormat, municipality: bool) -> str:
    return "data:" + ("municipality-" if municipality else "") + str(fmt)


def _file_entry(code: str, muni: str | None, fmt: DataFormat) -> dict[str, Any]:
    args = [code, muni] if muni else [code]
    return {
        "scope": "municipality" if muni else "election",
        "municipality": muni,
        "format": str(fmt),
        "media_type": MEDIA_TYPES[fmt],
        "url": reverse(file_url_name(fmt, muni is not None), args=args),
    }


@_methods
def data_file(request: HttpRequest, code: str, fmt: str, municipality: str | None = None) -> HttpResponse:
    """One open-data file of an election or of one of its municipalities."""
    data_format = DataFormat(fmt)
    found = _election(code)
    if found is None:
        return _not_found(f"No election {code!r}.")
    election = found
    muni = None
    if municipality is not None:
        muni = Municipality.objects.filter(election=election, code=municipality).first()
        if muni is None:
            return _not_found(f"No municipality {municipality!r} in election {code!r}.")
    version = data_version()
    etag = data_etag(version, election.code, municipality or "", data_format)

    def build() -> HttpResponse:
        response = HttpResponse(
            export_bytes(election, data_format, muni, version=version), content_type=MEDIA_TYPES[data_format]
        )
        if FILE_NAMES[data_format].endswith(".csv"):
            name = "-".join(p for p in (election.code, municipality, FILE_NAMES[data_format]) if p)
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    return _conditional(request, version, etag, build)
