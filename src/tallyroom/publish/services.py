"""Publishing: cut a snapshot, sign it, make it the one readers get, and put it on record.

Snapshots live side by side under the snapshot root, each in its own folder named after the audit
chain position it was cut at; `current` is a symlink to the newest, swapped atomically, so a reader
never sees half a snapshot. Earlier snapshots stay (hard links make that cheap) and are listed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.timezone import now as timezone_now

from tallyroom.audit.chain import audit_append, chain_head
from tallyroom.publish.changes import changes_between, municipality_changes_record
from tallyroom.publish.files import MANIFEST
from tallyroom.publish.models import Publication
from tallyroom.publish.snapshot import Written, manifest_read, snapshot_write

CURRENT = "current"


def snapshot_root() -> Path:
    return Path(settings.TALLYROOM_SNAPSHOT_ROOT)


def current_snapshot(root: Path | None = None) -> Path | None:
    link = (root or snapshot_root()) / CURRENT
    return link.resolve() if link.is_symlink() and (link / MANIFEST).is_file() else None


@contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    """One publisher at a time per root, across processes."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def snapshot_publish(
    root: Path | None = None, *, force: bool = False, national: bool = True, actor: str = "system"
) -> Written | None:
    """Publish a new snapshot under `root` if anything public changed since the current one; reuse
    the pages of municipalities that did not change. `national=False` also reuses the large
    election-wide data files (the live publisher refreshes them at a slower pace); with `national`,
    a snapshot whose election-wide files lag is brought up to date even if nothing else changed.
    Returns None when there was nothing to do."""
    root = root or snapshot_root()
    with _exclusive(root):
        for partial in root.glob(".*.partial"):  # left by a publisher stopped mid-write
            shutil.rmtree(partial, ignore_errors=True)
        previous = current_snapshot(root)
        after = _seq_of(previous) if previous else 0
        head, _ = chain_head()
        changes = changes_between(after, head)
        municipality_changes_record(changes)
        lagging = previous is not None and national and _national_lags(previous)
        if previous is not None and not changes.public and not force and not lagging:
            return None
        stale = None if previous is None or changes.everything or force else set(changes.municipalities)
        folder = _fresh(root, f"{timezone_now():%Y%m%dT%H%M%SZ}-{head:09d}")
        tmp = root / f".{folder.name}.partial"
        written = snapshot_write(tmp, previous=previous, stale=stale, national=national)
        tmp.rename(folder)
        written = _moved(written, folder)
        publication_record(written, actor=actor)
        _point_current(root, folder)
        _prune(root)
        return written


def snapshot_publish_to(out: Path, *, actor: str = "system") -> Written:
    """A complete snapshot into a folder of the caller's choosing (`tallyroom publish --out`)."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    if out.exists():
        out.rmdir()
    changes = changes_between(0, chain_head()[0])
    municipality_changes_record(changes)
    written = snapshot_write(out)
    publication_record(written, actor=actor)
    return written


def publication_record(written: Written, *, actor: str) -> Publication:
    with transaction.atomic():
        publication = Publication.objects.create(
            name=written.name,
            created_at=written.created_at,
            audit_seq=written.audit_seq,
            audit_hash=written.audit_hash,
            manifest_sha256=written.manifest_sha256,
            files=written.files,
            size=written.size,
            rendered=written.rendered,
            reused=written.reused,
            seconds=round(written.seconds, 3),
        )
        audit_append(
            "publish",
            "publication",
            publication.pk,
            actor=actor,
            payload={"name": written.name, "audit_seq": written.audit_seq, "manifest": written.manifest_sha256},
        )
    return publication


def publication_state(pk: str) -> Any:
    row = Publication.objects.filter(pk=pk).values("name", "audit_seq", "audit_hash", "manifest_sha256").first()
    return row


def _seq_of(folder: Path) -> int:
    head = manifest_read(folder)["audit_head"]
    return int(head["seq"]) if isinstance(head, dict) else 0


def _national_lags(folder: Path) -> bool:
    manifest = manifest_read(folder)
    return int(str(manifest.get("national_data_seq", 0))) < _seq_of(folder)


def _fresh(root: Path, name: str) -> Path:
    folder, n = root / name, 1
    while folder.exists():
        n += 1
        folder = root / f"{name}-{n}"
    return folder


def _moved(written: Written, folder: Path) -> Written:
    from dataclasses import replace

    return replace(written, name=folder.name, folder=folder)


def _listed(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != CURRENT)


def _point_current(root: Path, folder: Path) -> None:
    tmp = root / f".{CURRENT}.new"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(folder.name)
    os.replace(tmp, root / CURRENT)


def _prune(root: Path) -> None:
    keep = int(settings.TALLYROOM_SNAPSHOTS_KEEP)
    if keep <= 0:
        return
    for old in _listed(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def snapshots_listed(root: Path | None = None) -> list[dict[str, Any]]:
    """Every snapshot still on disk, newest first, with what its manifest says of itself."""
    root = root or snapshot_root()
    if not root.is_dir():
        return []
    out = []
    for folder in reversed(_listed(root)):
        try:
            manifest = json.loads((folder / MANIFEST).read_bytes())
        except (OSError, ValueError):
            continue
        out.append(
            {
                "name": folder.name,
                "created_at": manifest["created_at"],
                "audit_head": manifest["audit_head"],
                "files": len(manifest["files"]),
            }
        )
    return out
