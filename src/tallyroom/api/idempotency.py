"""Client keys: a submission sent twice (a retry on a flaky connection) is recorded once.

Each submission carries a key the client generated (`Idempotency-Key` header, or a `client_key`
field; the header wins). The first successful answer is kept with the key, per client (a device, or
a user's web session). A retry with the same key and the same request gets that answer again, with
its status, and writes nothing; the same key with a different request is refused with 409.
Refused submissions keep nothing, so a retry after a refusal is tried afresh.

The key row is inserted before the work runs, inside the same transaction: a concurrent duplicate
waits on the unique index (PostgreSQL) or on the database lock (SQLite), then finds the answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from tallyroom.accounts.models import IdempotentRequest
from tallyroom.api.errors import ApiError, ErrorCode

HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"^[\x21-\x7e]{8,200}$")


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    replayed: bool = False


def client_key(request: HttpRequest | None, body_key: str | None, *, required: bool = True) -> str:
    """The submission's key: the header if sent, else the body's `client_key`."""
    header = request.headers.get(HEADER) if request is not None else None
    key = (header or body_key or "").strip()
    if not key:
        if not required:
            return ""
        raise ApiError(
            422,
            ErrorCode.INVALID_INPUT,
            f"Every submission carries a client-generated key: send the {HEADER} header or a client_key field.",
            "client_key",
        )
    if not KEY_RE.fullmatch(key):
        raise ApiError(
            422,
            ErrorCode.INVALID_INPUT,
            "A client key is 8 to 200 visible ASCII characters, e.g. a UUID.",
            "client_key",
        )
    return key


def request_digest(scope: str, data: Any) -> str:
    blob = json.dumps([scope, data], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def idempotent(*, actor: str, key: str, scope: str, data: Any, run: Callable[[], tuple[int, Any]]) -> Answer:
    """Run `run` once per (actor, key); `data` is what identifies the request (without the key)."""
    wanted = request_digest(scope, data)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotentRequest.objects.create(actor=actor, key=key, scope=scope, request_sha256=wanted)
        except IntegrityError:
            record = IdempotentRequest.objects.get(actor=actor, key=key)
            if record.request_sha256 != wanted or record.scope != scope:
                raise ApiError(
                    409,
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "This client key was already used for a different submission; generate a new key for a new one.",
                    "client_key",
                ) from None
            return Answer(record.status_code, record.response, replayed=True)
        status, body = run()
        record.status_code = status
        record.response = json.loads(json.dumps(body, default=str))
        record.save(update_fields=["status_code", "response"])
    return Answer(status, record.response)
