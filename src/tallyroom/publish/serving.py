"""Serve the public site from the newest snapshot, in front of Django.

Election night is many readers and few writers: a public page or data file that the current
snapshot holds is answered from memory without touching Django or the database; everything else
(the API, staff pages, pages not published yet) goes to Django as usual.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tallyroom.publish.files import MANIFEST, file_name

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".pem": "application/x-pem-file",
    ".sig": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}
# The same protections the dynamic pages carry; wsgi.py passes the CSP from settings.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def csp_header(directives: dict[str, list[str]]) -> str:
    """django-csp's DIRECTIVES as one header value."""
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def security_headers(csp: str = DEFAULT_CSP) -> list[tuple[str, str]]:
    return [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", csp),
    ]


# Never answered from a snapshot, whatever it holds.
PRIVATE_PREFIXES = ("api/", "admin/", "accounts/", "count/", "election-day/", "i18n/", "snapshots/")


class _Snapshot:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = folder.name
        manifest = json.loads((folder / MANIFEST).read_bytes())
        self.files: dict[str, str] = {name: meta["sha256"] for name, meta in manifest["files"].items()}
        self.files[MANIFEST] = ""
        self.cache: OrderedDict[str, bytes] = OrderedDict()
        self.cached_bytes = 0


class SnapshotServer:
    """WSGI middleware: `SnapshotServer(django_app, root)`."""

    def __init__(
        self,
        app: WSGIApp,
        root: Path,
        *,
        cache_bytes: int = 256 << 20,
        recheck: float = 0.25,
        csp: str = DEFAULT_CSP,
        prefix: str = "",
    ) -> None:
        """`prefix` (e.g. "feed/"): the URL path under which `root`'s files are served, for the
        results feed beside the site's snapshots."""
        self.app = app
        self.prefix = prefix
        self.headers = security_headers(csp)
        self.root = root
        self.cache_limit = cache_bytes
        self.recheck = recheck
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._checked = 0.0
        self._target = ""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method in ("GET", "HEAD"):
            path = environ.get("PATH_INFO", "/")
            name = _private_free(path)
            if self.prefix and name is not None:
                name = name[len(self.prefix) :] if name.startswith(self.prefix) else None
            snapshot = self.current() if name is not None else None
            if snapshot is not None and name is not None and name in snapshot.files:
                return self._answer(snapshot, name, environ, start_response, head=method == "HEAD")
        return self.app(environ, start_response)

    def current(self) -> _Snapshot | None:
        clock = time.monotonic()
        if clock - self._checked < self.recheck:
            return self._snapshot
        with self._lock:
            self._checked = clock
            link = self.root / "current"
            try:
                target = os.readlink(link)
            except OSError:
                self._snapshot, self._target = None, ""
                return None
            if target != self._target:
                try:
                    self._snapshot = _Snapshot((self.root / target).resolve())
                    self._target = target
                except (OSError, ValueError, KeyError):
                    return self._snapshot  # keep serving the last good one
            return self._snapshot

    def _answer(
        self, snapshot: _Snapshot, name: str, environ: dict[str, Any], start_response: StartResponse, *, head: bool
    ) -> Iterable[bytes]:
        digest = snapshot.files[name]
        etag = f'"{digest[:32]}"' if digest else f'"{snapshot.name}"'
        headers = [
            ("ETag", etag),
            ("Cache-Control", "public, max-age=2"),
            ("X-Tallyroom-Snapshot", snapshot.name),
            *self.headers,
        ]
        if name.startswith("data/") or name == MANIFEST or self.prefix:
            headers.append(("Access-Control-Allow-Origin", "*"))
        if environ.get("HTTP_IF_NONE_MATCH") == etag:
            start_response("304 Not Modified", headers)
            return [b""]
        body = self._read(snapshot, name)
        headers += [
            ("Content-Type", TYPES.get(Path(name).suffix, "application/octet-stream")),
            ("Content-Length", str(len(body))),
        ]
        start_response("200 OK", headers)
        return [b""] if head else [body]

    def _read(self, snapshot: _Snapshot, name: str) -> bytes:
        body = snapshot.cache.get(name)
        if body is not None:
            return body
        body = (snapshot.folder / name).read_bytes()
        with self._lock:
            snapshot.cache[name] = body
            snapshot.cached_bytes += len(body)
            while snapshot.cached_bytes > self.cache_limit and snapshot.cache:
                _, dropped = snapshot.cache.popitem(last=False)
                snapshot.cached_bytes -= len(dropped)
        return body


def _private_free(path: str) -> str | None:
    """The snapshot file for a public URL path, or None for paths only Django answers."""
    if ".." in path or "\x00" in path:
        return None
    bare = path.lstrip("/")
    for prefix in ("sq/", "sr-latn/"):
        if bare.startswith(prefix):
            bare = bare[len(prefix) :]
            break
    if bare.startswith(PRIVATE_PREFIXES):
        return None
    return file_name(path)
