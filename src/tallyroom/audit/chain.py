"""Appending to and verifying the audit chain. No Django models are imported by callers: they call
`audit_append` inside their own transaction, after their write."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.timezone import now as timezone_now

from tallyroom.audit.models import GENESIS, AuditEntry, AuditHead
from tallyroom.fastsql import insert_rows

# object_type -> function(object_id) -> the row's state as JSON-able data, or None if it is gone.
Serializer = Callable[[str], Any]
# The same for many ids at once, in a few queries: {object_id: state}; an id left out is gone.
BulkSerializer = Callable[[list[str]], dict[str, Any]]
_SERIALIZERS: dict[str, Serializer] = {}
_BULK: dict[str, BulkSerializer] = {}
SYSTEM = "system"


# A check of rows the chain does not name one by one (rows whose parent is gone): yields what it found.
RowCheck = Callable[[], Iterable[str]]
_ROW_CHECKS: list[RowCheck] = []


def register_row_check(check: RowCheck) -> None:
    """Add a check that `audit verify` runs after the data (done once, at app start)."""
    if check not in _ROW_CHECKS:
        _ROW_CHECKS.append(check)


def register(object_type: str, serializer: Serializer, many: BulkSerializer | None = None) -> None:
    """Declare how to read the current state of an audited kind of row (done once, at app start).
    `many` reads a batch of rows and must agree with `serializer`; without it, `audit verify`
    reads row by row, which is fine for kinds with few rows."""
    _SERIALIZERS[object_type] = serializer
    if many is not None:
        _BULK[object_type] = many
    else:
        _BULK.pop(object_type, None)


def digest(state: Any) -> str:
    return hashlib.sha256(_canonical(state).encode("utf-8")).hexdigest()


def digest_rows(rows: Iterable[Any]) -> str:
    """`digest(list(rows))` without the list or its whole text in memory: an election's million
    station rows took ~500 MB that way."""
    hashed = hashlib.sha256(b"[")
    for i, row in enumerate(rows):
        hashed.update(("," if i else "").encode("utf-8") + _canonical(row).encode("utf-8"))
    hashed.update(b"]")
    return hashed.hexdigest()


def _canonical(state: Any) -> str:
    return json.dumps(state, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_hash(
    seq: int,
    created_at: dt.datetime,
    actor: str,
    role: str,
    action: str,
    object_type: str,
    object_id: str,
    payload: Any,
    state_digest: str,
    prev_hash: str,
) -> str:
    fields = {
        "seq": seq,
        "created_at": created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "role": role,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "payload": payload,
        "state_digest": state_digest,
        "prev_hash": prev_hash,
    }
    return digest(fields)


def audit_append(
    action: str,
    object_type: str,
    object_id: object,
    *,
    actor: str = SYSTEM,
    role: str = "",
    payload: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record a change; must run inside the transaction that made it, so both commit or neither."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_append must run inside the writer's transaction")
    serializer = _SERIALIZERS.get(object_type)
    if serializer is None:
        raise KeyError(f"no audit serializer registered for {object_type!r}")
    oid = str(object_id)
    state_digest = digest(serializer(oid))
    AuditHead.objects.get_or_create(id=1)
    head = AuditHead.objects.select_for_update().get(id=1)
    created_at = timezone_now()
    seq = head.seq + 1
    clean_payload = json.loads(json.dumps(payload or {}, default=str))
    new_hash = entry_hash(
        seq, created_at, actor, role, action, object_type, oid, clean_payload, state_digest, head.entry_hash
    )
    entry = AuditEntry.objects.create(
        seq=seq,
        created_at=created_at,
        actor=actor,
        role=role,
        action=action,
        object_type=object_type,
        object_id=oid,
        payload=clean_payload,
        state_digest=state_digest,
        prev_hash=head.entry_hash,
        entry_hash=new_hash,
    )
    AuditHead.objects.filter(id=1).update(seq=seq, entry_hash=new_hash)
    return entry


@dataclass(frozen=True)
class PendingEntry:
    """One entry of a batch: the caller supplies the state its serializer would read back."""

    action: str
    object_type: str
    object_id: str
    state: Any
    payload: dict[str, Any]


def audit_append_many(entries: list[PendingEntry], *, actor: str = SYSTEM, role: str = "") -> None:
    """Append a batch under one lock of the head (bulk ingest). `state` must equal what the
    registered serializer returns for the row after the write; `audit verify` checks it does."""
    if not entries:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_append_many must run inside the writer's transaction")
    AuditHead.objects.get_or_create(id=1)
    head = AuditHead.objects.select_for_update().get(id=1)
    created_at = timezone_now()
    seq, prev = head.seq, head.entry_hash
    at = connection.ops.adapt_datetimefield_value(created_at)  # as the ORM would write it
    rows = []
    for item in entries:
        seq += 1
        text = json.dumps(item.payload, default=str)
        payload = json.loads(text)  # what the column reads back, and what the hash covers
        state_digest = digest(item.state)
        new_hash = entry_hash(
            seq, created_at, actor, role, item.action, item.object_type, item.object_id, payload, state_digest, prev
        )
        # Plain rows, not model instances: a national count appends two million of them.
        rows.append(
            (seq, at, actor, role, item.action, item.object_type, item.object_id, text, state_digest, prev, new_hash)
        )
        prev = new_hash
    insert_rows(AuditEntry, _ENTRY_FIELDS, rows)
    AuditHead.objects.filter(id=1).update(seq=seq, entry_hash=prev)


def chain_head() -> tuple[int, str]:
    head = AuditHead.objects.filter(id=1).first()
    return (head.seq, head.entry_hash) if head else (0, GENESIS)


@dataclass(frozen=True)
class Finding:
    seq: int | None
    message: str

    def __str__(self) -> str:
        return f"entry #{self.seq}: {self.message}" if self.seq is not None else self.message


_ENTRY_FIELDS = (
    "seq",
    "created_at",
    "actor",
    "role",
    "action",
    "object_type",
    "object_id",
    "payload",
    "state_digest",
    "prev_hash",
    "entry_hash",
)


def _pages(query: QuerySet[AuditEntry, tuple[Any, ...]], batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of `query` (whose first column is seq) in seq order, a page at a time (keyset paging:
    each page is one indexed query, and memory stays flat however long the chain is)."""
    last: int | None = None
    while True:
        page = list((query if last is None else query.filter(seq__gt=last)).order_by("seq")[:batch])
        if not page:
            return
        yield page
        last = page[-1][0]


def _one_by_one(serializer: Serializer) -> BulkSerializer:
    return lambda ids: {object_id: serializer(object_id) for object_id in ids}


def _check_data(batch: int) -> Iterator[Finding]:
    """Each object's latest entry against the row as it is now: a page of latest entries at a
    time, and one bulk read per kind of row in the page."""
    later = AuditEntry.objects.filter(
        object_type=OuterRef("object_type"), object_id=OuterRef("object_id"), seq__gt=OuterRef("seq")
    )
    latest = AuditEntry.objects.filter(~Exists(later)).values_list("seq", "object_type", "object_id", "state_digest")
    for page in _pages(latest, batch):
        by_type: dict[str, list[tuple[int, str, str]]] = {}
        for seq, object_type, object_id, state_digest in page:
            by_type.setdefault(object_type, []).append((seq, object_id, state_digest))
        found: list[Finding] = []
        for object_type, rows in by_type.items():
            serializer = _SERIALIZERS.get(object_type)
            if serializer is None:
                found += [Finding(seq, f"unknown object type {object_type!r}") for seq, _, _ in rows]
                continue
            states = _BULK.get(object_type, _one_by_one(serializer))([object_id for _, object_id, _ in rows])
            found += [
                Finding(seq, f"{object_type} {object_id} was changed outside Tallyroom since this entry")
                for seq, object_id, state_digest in rows
                if digest(states.get(object_id)) != state_digest
            ]
        yield from sorted(found, key=lambda f: f.seq or 0)


def verify(batch: int = 5000) -> Iterator[Finding]:
    """Walk the chain; yield each thing that does not hold, first the links, then the data (in the
    order of the entries named). On PostgreSQL it reads one snapshot, so writes committed while it
    runs cannot pass for tampering (SQLite's transactions here take the write lock: not there)."""
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic() if snapshot else contextlib.nullcontext():
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        prev_hash, expected_seq = GENESIS, 1
        for page in _pages(AuditEntry.objects.values_list(*_ENTRY_FIELDS), batch):
            for row in page:
                seq, stored_prev, stored_hash = row[0], row[9], row[10]
                if seq != expected_seq:
                    yield Finding(seq, f"sequence broken: expected #{expected_seq} (an entry was removed or inserted)")
                if stored_prev != prev_hash:
                    yield Finding(seq, "does not link to the entry before it (removed, inserted or reordered)")
                if entry_hash(*row[:10]) != stored_hash:
                    yield Finding(seq, "its content was altered after it was written (hash mismatch)")
                prev_hash, expected_seq = stored_hash, seq + 1
        head_seq, head_hash = chain_head()
        if (head_seq, head_hash) != (expected_seq - 1, prev_hash):
            yield Finding(
                None, f"the chain ends at #{expected_seq - 1} but its head says #{head_seq}: entries were removed"
            )
        yield from _check_data(batch)
        for check in _ROW_CHECKS:
            yield from (Finding(None, message) for message in check())
