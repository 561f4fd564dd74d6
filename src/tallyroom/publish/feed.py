"""The live results feed: every contest's results as signed JSON, cut within a moment of each form.

A page snapshot tells the whole story, but each municipality in it costs a page's rendering; at a
national count's pace every municipality changes every second and no page snapshot keeps up. The
feed holds what each form changes: every municipality's contests exactly as
`GET /api/v1/results/municipalities/...` gives them (`tabulation.contests_results`: a fixed number
of reads however many contests), one file per municipality, and per election an index of every
contest's headline figures. It is read in one database snapshot, so the chain head it names and
the figures agree, and it is signed like a page snapshot (a manifest of its files' SHA-256 and
Ed25519 over the manifest), so `tallyroom verify-snapshot` checks it as it stands. A new feed
rewrites only the municipalities changed since the previous one (read off the audit chain) and
links the others' files.

    <snapshot root>/.feed/<chain position>/manifest.json, manifest.sig
        <election>/index.json            every contest's headline: stations counted, votes, seats, mayor
        <election>/<municipality>.json   the municipality's contests in full
    <snapshot root>/.feed/current        the newest; served at /feed/...
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection, transaction
from django.utils.timezone import now as timezone_now

from tallyroom.audit.chain import chain_head
from tallyroom.elections.models import Contest, Municipality, Round
from tallyroom.publish import signing
from tallyroom.publish.changes import changes_between
from tallyroom.publish.files import MANIFEST, SIGNATURE
from tallyroom.publish.snapshot import manifest_bytes, manifest_read
from tallyroom.results.tabulation import contests_results

FEED = ".feed"
FORMAT = "tallyroom-feed/1"
INDEX = "index.json"
KEEP = 5  # a reader may still be fetching from the last few


@dataclass(frozen=True)
class FeedWritten:
    folder: Path
    audit_seq: int
    files: int
    rewritten: int  # municipalities whose file was written afresh
    seconds: float
    created_at: dt.datetime


def feed_root(root: Path) -> Path:
    return root / FEED


def current_feed(root: Path) -> Path | None:
    link = feed_root(root) / "current"
    return link.resolve() if link.is_symlink() and (link / MANIFEST).is_file() else None


def feed_write(out: Path, *, previous: Path | None = None, key: Ed25519PrivateKey | None = None) -> FeedWritten | None:
    """Write a feed into `out` (new), linking from `previous` what did not change since it. None
    (and nothing written) when nothing public changed since `previous`."""
    started = time.perf_counter()
    key = key or signing.private_key_load()
    old = manifest_read(previous) if previous is not None else None
    outer = connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:  # one snapshot of the database: head and tallies agree
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        seq, head_hash = chain_head()
        stale: set[int] | None = None
        if old is not None:
            changes = changes_between(_seq(old), seq, stations=False)
            if not changes.public:
                return None
            stale = None if changes.everything else set(changes.municipalities)
        created_at = timezone_now()
        out.mkdir(parents=True)
        files, rewritten = _fill(out, previous, old, stale, seq)
    manifest: dict[str, object] = {
        "format": FORMAT,
        "created_at": created_at.isoformat(timespec="milliseconds"),
        "audit_head": {"seq": seq, "entry_hash": head_hash},
        "public_key_sha256": signing.key_fingerprint(key.public_key()),
        "files": dict(sorted(files.items())),
    }
    blob = manifest_bytes(manifest)
    (out / MANIFEST).write_bytes(blob)
    (out / SIGNATURE).write_bytes(signing.sign(key, blob))
    return FeedWritten(out, seq, len(files), rewritten, time.perf_counter() - started, created_at)


def _fill(
    out: Path, previous: Path | None, old: dict[str, Any] | None, stale: set[int] | None, seq: int
) -> tuple[dict[str, dict[str, object]], int]:
    old_files: dict[str, dict[str, object]] = dict(old["files"]) if old else {}
    municipalities = list(
        Municipality.objects.order_by("election__code", "code").values_list("pk", "election__code", "code")
    )
    names = {pk: f"{election}/{code}.json" for pk, election, code in municipalities}
    fresh = [pk for pk, _, _ in municipalities if stale is None or pk in stale or names[pk] not in old_files]
    contests: dict[int, list[int]] = {pk: [] for pk in fresh}
    rows = (
        Contest.objects.filter(municipality_id__in=fresh)
        .exclude(round__kind=Round.Kind.REPEAT)  # a repeat vote's results are part of its contest's
        .order_by("round__date", "kind", "pk")
        .values_list("pk", "municipality_id")
    )
    for pk, municipality_id in rows:
        contests[municipality_id].append(pk)
    results = contests_results(pk for ids in contests.values() for pk in ids)
    files: dict[str, dict[str, object]] = {}
    headlines: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for election in {e for _, e, _ in municipalities}:
        (out / election).mkdir()
        headlines[election] = _old_headlines(previous, election) if stale is not None else {}
    for pk, election, code in municipalities:
        name = names[pk]
        if pk in contests:
            shown = [results[c] for c in contests[pk]]
            files[name] = _write(
                out / name, {"election": election, "municipality": code, "audit_seq": seq, "contests": shown}
            )
            headlines[election][code] = [_headline(r) for r in shown]
        elif previous is not None:
            os.link(previous / name, out / name)
            files[name] = old_files[name]
    for election, by_municipality in headlines.items():
        index = {
            "election": election,
            "audit_seq": seq,
            "municipalities": {code: by_municipality.get(code, []) for _, e, code in municipalities if e == election},
        }
        files[f"{election}/{INDEX}"] = _write(out / election / INDEX, index)
    return files, len(contests)


def _old_headlines(previous: Path | None, election: str) -> dict[str, list[dict[str, Any]]]:
    if previous is None:
        return {}
    try:
        index = json.loads((previous / election / INDEX).read_bytes())
    except (OSError, ValueError):
        return {}
    return dict(index.get("municipalities", {}))


def _headline(result: dict[str, Any]) -> dict[str, Any]:
    """What an election-night overview shows of a contest."""
    out: dict[str, Any] = {
        "contest": result["contest"]["id"],
        "kind": result["contest"]["kind"],
        "round": result["contest"]["round"],
        "status": result["status"],
        "stations": {k: result["stations"][k] for k in ("counted", "total")},
        "votes": {c["entity"]: c["votes"] for c in result["choices"]},
    }
    if "assembly" in result:
        out["seats"] = result["assembly"]["seats"]
    else:
        mayor = result["mayor"]
        out["mayor"] = {"status": mayor.get("status"), "elected": mayor.get("elected")}
    return out


def _write(path: Path, data: dict[str, Any]) -> dict[str, object]:
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    path.write_bytes(blob)
    return {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}


def _seq(manifest: dict[str, Any]) -> int:
    return int(manifest["audit_head"]["seq"])


def feed_publish(root: Path) -> FeedWritten | None:
    """Write a new feed under `root/.feed` if anything public changed since the current one, and make
    it current; keep the last few."""
    from tallyroom.publish.services import _exclusive, _point_current

    base = feed_root(root)
    with _exclusive(base):
        for partial in base.glob(".*.partial"):  # left by a writer stopped mid-way
            shutil.rmtree(partial, ignore_errors=True)
        previous = current_feed(root)
        tmp = base / f".{time.time_ns()}.partial"
        written = feed_write(tmp, previous=previous)
        if written is None:
            return None
        folder = base / f"{written.audit_seq:012d}"
        if folder.exists():  # cut at the same position as the current one after all
            shutil.rmtree(tmp)
            return None
        tmp.rename(folder)
        _point_current(base, folder)
        for old in sorted(p for p in base.iterdir() if p.is_dir() and p.name.isdigit())[:-KEEP]:
            shutil.rmtree(old, ignore_errors=True)
        return FeedWritten(
            folder, written.audit_seq, written.files, written.rewritten, written.seconds, written.created_at
        )
