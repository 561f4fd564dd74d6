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
from tallyroom.publish.changes import Changes, changes_between, municipality_changes_record
from tallyroom.publish.files import MANIFEST
from tallyroom.publish.models import Publication
from tallyroom.publish.snapshot import Stale, Written, lagging_read, lagging_write, manifest_read, snapshot_write

CURRENT = "current"
LAGGING = ".lagging"  # sets of the lagging files, rendered beside the snapshots (see lagging_refresh)
LAGGING_KEEP = 3


def snapshot_root() -> Path:
    return Path(settings.TALLYROOM_SNAPSHOT_ROOT)


def current_snapshot(root: Path | None = None) -> Path | None:
    link = (root or snapshot_root()) / CURRENT
    return link.resolve() if link.is_symlink() and (link / MANIFEST).is_file() else None


@contextmanager
def _exclusive(root: Path, name: str = ".lock") -> Iterator[None]:
    """One publisher at a time per root (and one writer of lagging sets), across processes."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / name).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def snapshot_publish(
    root: Path | None = None,
    *,
    force: bool = False,
    national: bool = True,
    actor: str = "system",
    workers: int | None = None,
) -> Written | None:
    """Publish a new snapshot under `root` if anything public changed since the current one; reuse
    the pages of municipalities and stations that did not change. `national=False` also reuses the large
    election-wide data files (the live publisher refreshes them at a slower pace); with `national`,
    a snapshot whose election-wide files lag is brought up to date even if nothing else changed.
    Returns None when there was nothing to do."""
    root = root or snapshot_root()
    with _exclusive(root):
        for partial in root.glob(".*.partial"):  # left by a publisher stopped mid-write
            shutil.rmtree(partial, ignore_errors=True)
        previous = current_snapshot(root)
        manifest = manifest_read(previous) if previous else {}  # read once: megabytes at national scale
        head, _ = chain_head()
        changes = changes_between(_seq(manifest), head, stations=previous is not None)  # else: all of them
        municipality_changes_record(changes)
        lagging = previous is not None and national and _national_seq(manifest) < _seq(manifest)
        newer = None if national else _newer_lagging(root, _national_seq(manifest) if previous else -1, head)
        if previous is not None and not changes.public and not force and not lagging and newer is None:
            return None
        stale = None if previous is None or changes.everything or force else _stale(changes)
        folder = _fresh(root, f"{timezone_now():%Y%m%dT%H%M%SZ}-{head:09d}")
        tmp = root / f".{folder.name}.partial"
        written = snapshot_write(
            tmp,
            previous=previous,
            stale=stale,
            national=national,
            lagging=newer,
            previous_manifest=manifest or None,
            workers=settings.TALLYROOM_PUBLISH_WORKERS if workers is None else workers,
        )
        tmp.rename(folder)
        written = _moved(written, folder)
        publication_record(written, actor=actor)
        _point_current(root, folder)
        _prune(root)
        return written


def lagging_refresh(root: Path | None = None) -> Path | None:
    """Render a new set of the lagging files (election-wide pages and files, municipalities' data
    files) under `root/.lagging/` if anything public changed since the newest set; the page publisher
    links it into its next snapshot. Runs beside the page publisher, never in its way."""
    root = root or snapshot_root()
    base = root / LAGGING
    with _exclusive(base, ".lock"):
        sets = lagging_sets(root)
        latest = sets[-1] if sets else None
        head, _ = chain_head()
        stale = None
        if latest is not None:
            changes = changes_between(lagging_read(latest)[0], head, stations=False)  # no station pages
            if not changes.public:
                return None
            stale = None if changes.everything else set(changes.municipalities)
        for partial in base.glob(".*.partial"):
            shutil.rmtree(partial, ignore_errors=True)
        tmp = base / f".{head:012d}.partial"
        seq = lagging_write(tmp, previous=latest, stale=stale)
        folder = base / f"{seq:012d}"
        if folder.exists():  # cut at the same position as the newest: nothing new after all
            shutil.rmtree(tmp)
            return None
        tmp.rename(folder)
        for old in sets[:-LAGGING_KEEP]:  # a page publisher may still be linking from the last few
            shutil.rmtree(old, ignore_errors=True)
        return folder


def lagging_sets(root: Path) -> list[Path]:
    base = root / LAGGING
    return sorted(p for p in base.iterdir() if p.is_dir() and p.name.isdigit()) if base.is_dir() else []


def _newer_lagging(root: Path, have: int, head: int) -> Path | None:
    """The newest lagging set cut no later than `head` and newer than `have` (the current snapshot's)."""
    for folder in reversed(lagging_sets(root)):
        seq = int(folder.name)
        if seq <= head:
            return folder if seq > have else None
    return None


def snapshot_publish_to(out: Path, *, actor: str = "system", workers: int = 1) -> Written:
    """A complete snapshot into a folder of the caller's choosing (`tallyroom publish --out`)."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    if out.exists():
        out.rmdir()
    changes = changes_between(0, chain_head()[0], stations=False)
    municipality_changes_record(changes)
    written = snapshot_write(out, workers=workers)
    publication_record(written, actor=actor)
    return written


def _stale(changes: Changes) -> Stale:
    return Stale(frozenset(changes.municipalities), frozenset(changes.stations), frozenset(changes.whole))


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


def _seq(manifest: dict[str, object]) -> int:
    head = manifest.get("audit_head")
    return int(head["seq"]) if isinstance(head, dict) else 0


def _national_seq(manifest: dict[str, object]) -> int:
    return int(str(manifest.get("national_data_seq", 0)))


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
