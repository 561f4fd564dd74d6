"""The live results feed: every contest's results as signed JSON, cut within a moment of each form.

A page snapshot tells the whole story, but each municipality in it costs a page's rendering; at a
national count's pace every municipality changes every second and no page snapshot keeps up. The
feed holds what each form changes, in two tiers:

- per election, an index of every contest's headline (stations counted of all, votes, seats or the
  mayor's decision: `headlines.contests_headlines`), recomputed in every feed for every municipality
  that changed;
- per municipality, its contests exactly as `GET /api/v1/results/<municipality>` gives them
  (`tabulation.contests_results`), rewritten for at most `TALLYROOM_FEED_FULL_PER_CUT` of the
  municipalities waiting, the longest-waiting first (at demo size, all of them every time).

A feed is read in one database snapshot, so the chain head it names and the figures agree, and it
is signed like a page snapshot (a manifest of its files' SHA-256 and Ed25519 over the manifest), so
`tallyroom verify-snapshot` checks it as it stands. What did not change is hard-linked from the
previous feed.

    <snapshot root>/.feed/<chain position>-<time>/manifest.json, manifest.sig
        <election>/index.json            by municipality: headlines, latest change, full file's position
        <election>/<municipality>.json   the municipality's contests in full
    <snapshot root>/.feed/current        the newest; served at /feed/...
"""

from __future__ import annotations

import dataclasses
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
from django.conf import settings
from django.db import connection, transaction
from django.utils.timezone import now as timezone_now

from tallyroom.audit.chain import chain_head
from tallyroom.elections.models import Contest, Municipality, Round
from tallyroom.publish import signing
from tallyroom.publish.changes import changes_between
from tallyroom.publish.files import MANIFEST, SIGNATURE
from tallyroom.publish.snapshot import manifest_bytes, manifest_read
from tallyroom.results.headlines import contests_headlines
from tallyroom.results.tabulation import contests_results
from tallyroom.results.tally_reads import station_counts

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
    behind: int = 0  # municipalities whose full file waits for a later feed


def feed_root(root: Path) -> Path:
    return root / FEED


def current_feed(root: Path) -> Path | None:
    link = feed_root(root) / "current"
    return link.resolve() if link.is_symlink() and (link / MANIFEST).is_file() else None


class Stations:
    """Stations per municipality, kept by a long-running feed process between feeds (a million rows
    to count each time): they change only when an election is loaded, an entry that touches
    everything, and are read again then, and at least every `max_age` seconds."""

    def __init__(self, max_age: float = 60.0) -> None:
        self.max_age = max_age
        self.counts: dict[int, int] | None = None
        self.read_at = 0.0

    def get(self, everything: bool) -> dict[int, int]:
        if self.counts is None or everything or time.monotonic() - self.read_at > self.max_age:
            self.counts, self.read_at = station_counts(), time.monotonic()
        return self.counts


def feed_write(
    out: Path,
    *,
    previous: Path | None = None,
    key: Ed25519PrivateKey | None = None,
    stations: Stations | None = None,
) -> FeedWritten | None:
    """Write a feed into `out` (new), linking from `previous` what did not change since it. None
    (and nothing written) when nothing public changed since `previous` and no municipality's file
    is behind."""
    started = time.perf_counter()
    key = key or signing.private_key_load()
    old = manifest_read(previous) if previous is not None else None
    outer = connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:  # one snapshot of the database: head and tallies agree
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        seq, head_hash = chain_head()
        changed: dict[int, int] | None = None  # municipality -> the latest change's position (None: all)
        if old is not None:
            changes = changes_between(_seq(old), seq, stations=False)
            if not changes.public and not old.get("behind"):
                return None
            changed = None if changes.everything else {m: at for m, (at, _) in changes.municipalities.items()}
        created_at = timezone_now()
        out.mkdir(parents=True)
        counts = (stations or Stations()).get(changed is None)
        filled = _Fill(out, previous, old, seq, counts)
        filled.run(changed)
    manifest: dict[str, object] = {
        "format": FORMAT,
        "created_at": created_at.isoformat(timespec="milliseconds"),
        "audit_head": {"seq": seq, "entry_hash": head_hash},
        "behind": filled.behind,
        "public_key_sha256": signing.key_fingerprint(key.public_key()),
        "files": dict(sorted(filled.files.items())),
    }
    blob = manifest_bytes(manifest)
    (out / MANIFEST).write_bytes(blob)
    (out / SIGNATURE).write_bytes(signing.sign(key, blob))
    elapsed = time.perf_counter() - started
    return FeedWritten(out, seq, len(filled.files), filled.rewritten, elapsed, created_at, filled.behind)


class _Fill:
    """The files of one feed: every index afresh where something changed, and the municipalities'
    full files of the longest-waiting `TALLYROOM_FEED_FULL_PER_CUT` of those behind."""

    def __init__(
        self, out: Path, previous: Path | None, old: dict[str, Any] | None, seq: int, counts: dict[int, int]
    ) -> None:
        self.out, self.previous, self.seq, self.counts = out, previous, seq, counts
        self.old_files: dict[str, dict[str, object]] = dict(old["files"]) if old else {}
        self.files: dict[str, dict[str, object]] = {}
        self.rewritten = 0
        self.behind = 0

    def run(self, changed: dict[int, int] | None) -> None:
        rows = Municipality.objects.order_by("election__code", "code").values_list("pk", "election__code", "code")
        municipalities = [(pk, election, code) for pk, election, code in rows]
        elections = sorted({e for _, e, _ in municipalities})
        old = {e: self._old_index(e) for e in elections} if self.previous is not None else {}
        state: dict[int, dict[str, Any]] = {}  # municipality -> its entry in the index
        for pk, election, code in municipalities:
            entry = old.get(election, {}).get(code)
            fresh = entry is None or changed is None or pk in changed
            if entry is None or changed is None:
                entry = {"contests": [], "changed_seq": self.seq, "full_seq": -1}
            elif pk in changed:
                entry = {**entry, "changed_seq": changed[pk]}
            state[pk] = {**entry, "fresh": fresh}
        contests = _contests_of([pk for pk, entry in state.items() if entry["fresh"]])
        headlines = contests_headlines((c for ids in contests.values() for c in ids), self.counts)
        for pk, ids in contests.items():
            state[pk]["contests"] = [headlines[c] for c in ids]
        names = {pk: f"{election}/{code}.json" for pk, election, code in municipalities}
        behind = sorted(
            (entry["full_seq"], pk)
            for pk, entry in state.items()
            if entry["full_seq"] < entry["changed_seq"] or names[pk] not in self.old_files
        )
        limit = len(behind) if self.previous is None else int(settings.TALLYROOM_FEED_FULL_PER_CUT)
        self._full(municipalities, state, {pk for _, pk in behind[:limit]})
        self.behind = max(0, len(behind) - limit)
        for election in elections:
            index = {
                "election": election,
                "audit_seq": self.seq,
                "municipalities": {
                    code: {k: v for k, v in state[pk].items() if k != "fresh"}
                    for pk, e, code in municipalities
                    if e == election
                },
            }
            self.files[f"{election}/{INDEX}"] = _write(self.out / election / INDEX, index)

    def _full(
        self, municipalities: list[tuple[int, str, str]], state: dict[int, dict[str, Any]], now: set[int]
    ) -> None:
        contests = _contests_of(sorted(now))
        results = contests_results(c for ids in contests.values() for c in ids)
        for election in {e for _, e, _ in municipalities}:
            (self.out / election).mkdir()
        for pk, election, code in municipalities:
            name = f"{election}/{code}.json"
            if pk in now:
                shown = [results[c] for c in contests[pk]]
                data = {"election": election, "municipality": code, "audit_seq": self.seq, "contests": shown}
                self.files[name] = _write(self.out / name, data)
                state[pk]["full_seq"] = self.seq
                self.rewritten += 1
            elif self.previous is not None and name in self.old_files:
                os.link(self.previous / name, self.out / name)
                self.files[name] = self.old_files[name]

    def _old_index(self, election: str) -> dict[str, dict[str, Any]]:
        try:
            index = json.loads((self.previous / election / INDEX).read_bytes()) if self.previous else {}
        except (OSError, ValueError):
            return {}
        return dict(index.get("municipalities", {}))


def _contests_of(municipality_ids: list[int]) -> dict[int, list[int]]:
    """Each municipality's contests in the API's order (a repeat vote's results are its contest's)."""
    contests: dict[int, list[int]] = {pk: [] for pk in municipality_ids}
    rows = (
        Contest.objects.filter(municipality_id__in=municipality_ids)
        .exclude(round__kind=Round.Kind.REPEAT)
        .order_by("round__date", "kind", "pk")
        .values_list("pk", "municipality_id")
    )
    for pk, municipality_id in rows:
        contests[municipality_id].append(pk)
    return contests


def _write(path: Path, data: dict[str, Any]) -> dict[str, object]:
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    path.write_bytes(blob)
    return {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}


def _seq(manifest: dict[str, Any]) -> int:
    return int(manifest["audit_head"]["seq"])


def feed_publish(root: Path, stations: Stations | None = None) -> FeedWritten | None:
    """Write a new feed under `root/.feed` if anything public changed since the current one, and make
    it current; keep the last few."""
    from tallyroom.publish.services import _exclusive, _point_current

    base = feed_root(root)
    with _exclusive(base):
        for partial in base.glob(".*.partial"):  # left by a writer stopped mid-way
            shutil.rmtree(partial, ignore_errors=True)
        previous = current_feed(root)
        tmp = base / f".{time.time_ns()}.partial"
        written = feed_write(tmp, previous=previous, stations=stations)
        if written is None:
            return None
        # Named by chain position, then time: a feed that only catches up files has the same position.
        folder = base / f"{written.audit_seq:012d}-{time.time_ns()}"
        tmp.rename(folder)
        _point_current(base, folder)
        for old in sorted(p for p in base.iterdir() if p.is_dir() and p.name[:12].isdigit())[:-KEEP]:
            shutil.rmtree(old, ignore_errors=True)
        return dataclasses.replace(written, folder=folder)
