"""Static, signed snapshots of the whole public site and its open data.

A snapshot is a folder any static host can serve: one `index.html` per page and language, the data
files, the site's own static assets, `manifest.json` (the SHA-256 and size of every file, the audit
chain head it was cut at) and `manifest.sig` (Ed25519 over the manifest's bytes). Pages are rendered
by calling the public views in-process, so a snapshot shows exactly what the live pages show.

A new snapshot re-renders only what changed since the previous one (read off the audit chain, see
`changes.py`) and hard-links the rest from it: the pages and data files of the municipalities that
changed, the station pages of the stations that changed (or all of a municipality's, when something
about the whole municipality changed), and the election-wide pages. A station page shows one thing
about the other stations, the state of its municipality's count ("X of Y stations counted", last
updated); on the municipality's other station pages that block is replaced in the previous bytes
rather than rendering the pages again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import connections
from django.db.models import Count
from django.http import HttpResponseBase
from django.test import RequestFactory
from django.urls import NoReverseMatch, resolve, reverse
from django.utils import translation
from django.utils.timezone import now as timezone_now

from tallyroom.audit.chain import chain_head
from tallyroom.elections.models import Election, Municipality, PollingStation
from tallyroom.publish import signing
from tallyroom.publish.files import FORMAT, MANIFEST, PUBLIC_KEY, SIGNATURE, file_name
from tallyroom.publish.memo import remembered, results_memo, results_prefetch
from tallyroom.publish.opendata import FILE_NAMES
from tallyroom.publish.slugs import station_slug


class SnapshotError(RuntimeError):
    """A page that should be published did not render."""


@dataclass(frozen=True)
class Item:
    """One file of the site: a URL path, and the municipality whose changes make it stale (None:
    every snapshot renders it afresh)."""

    path: str
    municipality_id: int | None = None
    station_of: tuple[str, str, int] | None = None  # (language, election code, municipality): rendered in bulk
    national: bool = False  # election-wide and costly (data files, integrity): refreshed every so often
    station_id: int | None = None  # a station page's station


@dataclass(frozen=True)
class Stale:
    """What a new snapshot renders afresh; the rest comes from the previous snapshot."""

    municipalities: frozenset[int] = frozenset()  # their pages and data files
    stations: frozenset[int] = frozenset()  # station pages
    whole: frozenset[int] = frozenset()  # municipalities whose every station page is rendered

    @classmethod
    def of(cls, stale: Stale | set[int] | frozenset[int]) -> Stale:
        """A plain set of municipalities: everything of theirs."""
        if isinstance(stale, Stale):
            return stale
        return cls(frozenset(stale), frozenset(), frozenset(stale))


@dataclass(frozen=True)
class Written:
    name: str
    folder: Path
    files: int
    size: int
    rendered: int
    reused: int
    seconds: float
    manifest_sha256: str
    audit_seq: int
    audit_hash: str
    created_at: dt.datetime
    national_data_seq: int  # the chain position the election-wide data files were cut at
    spliced: int = 0  # station pages written from the previous bytes with their municipality's new count

    @property
    def national_lags(self) -> bool:
        return self.national_data_seq < self.audit_seq


def languages() -> list[str]:
    return [code for code, _ in settings.LANGUAGES]


def _url(name: str, *args: str) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def site_items() -> list[Item]:
    """Every page in every language and every open-data file, for every election."""
    items: list[Item] = []
    elections = list(Election.objects.order_by("code"))
    municipalities: dict[int, list[tuple[int, str]]] = {}
    for pk, election_id, code in Municipality.objects.order_by("code").values_list("pk", "election_id", "code"):
        municipalities.setdefault(election_id, []).append((pk, code))
    national_scale = _national_scale(elections)
    stations: dict[int, list[tuple[int, str]]] = {}
    rows = (
        PollingStation.objects.exclude(election_id__in=national_scale)
        .order_by("code")
        .values_list("pk", "municipality_id", "code")
    )
    for pk, municipality_id, code in rows:
        stations.setdefault(municipality_id, []).append((pk, code))
    for lang in languages():
        with translation.override(lang):
            # The election-wide pages read every municipality: they lag with the election-wide files.
            items += [Item(url, national=True) for url in [_url("publish:home")] if url]
            for election in elections:
                items += [Item(url, national=True) for url in [_url("publish:election", election.code)] if url]
                # The forensic tests read every station of the election: with the election-wide files.
                integrity = [] if election.pk in national_scale else [_url("integrity:election", election.code)]
                items += [Item(url, national=True) for url in integrity if url]
    # A municipality's pages in every language one after the other: what they read is read once.
    for election in elections:
        station_urls = {}
        for lang in languages():
            with translation.override(lang):
                station_urls[lang] = _station_url(election.code)
        for pk, code in municipalities.get(election.pk, []):
            for lang, station_url in station_urls.items():
                with translation.override(lang):
                    items += _paths([_url("publish:municipality", election.code, code)], pk)
                    for station_id, station in stations.get(pk, []):
                        url = station_url(station_slug(station))
                        if url is not None:
                            items.append(Item(url, pk, (lang, election.code, pk), station_id=station_id))
    items += _paths([_url("data:elections")])
    formats = [str(fmt) for fmt in FILE_NAMES]
    for election in elections:
        items += _paths([_url("data:index", election.code)])
        whole = [] if election.pk in national_scale else formats
        items += [Item(url, None, None, True) for f in whole if (url := _url(f"data:{f}", election.code))]
        for pk, code in municipalities.get(election.pk, []):
            urls = [_url(f"data:municipality-{f}", election.code, code) for f in formats]
            items += [Item(url, pk, national=True) for url in urls if url]
    return items


_PLAIN_SLUG = re.compile(r"[A-Za-z0-9_.-]+")


def _station_url(election_code: str) -> Callable[[str], str | None]:
    """`reverse` of a station page, for thousands of stations: one reverse and a substitution where
    the slug needs no quoting (a reverse costs 40 µs; 8,000 of them were a fifth of a snapshot)."""
    mark = "station-slug-mark"
    template = _url("publish:station", election_code, mark)
    if template is None or template.count(mark) != 1:
        return lambda slug: _url("publish:station", election_code, slug)
    head, tail = template.split(mark)

    def url(slug: str) -> str | None:
        return head + slug + tail if _PLAIN_SLUG.fullmatch(slug) else _url("publish:station", election_code, slug)

    return url


def _national_scale(elections: list[Election]) -> set[int]:
    """Elections too large for a snapshot to hold a page per station (a million stations: three
    million pages) or election-wide files (gigabytes). Their snapshots hold the election's and every
    municipality's pages and files, which show every station's numbers; station pages, the integrity
    page and the election-wide files are answered live."""
    limit = int(settings.TALLYROOM_SNAPSHOT_MAX_STATIONS)
    sizes = PollingStation.objects.values("election_id").annotate(n=Count("pk")).values_list("election_id", "n")
    return {election_id for election_id, n in sizes if n > limit} & {e.pk for e in elections}


def _paths(paths: Iterable[str | None], municipality_id: int | None = None) -> list[Item]:
    return [Item(p, municipality_id) for p in paths if p is not None]


def render(path: str) -> bytes:
    """The bytes the live site answers for `path`, rendered without a network round trip."""
    lang = _language_of(path)
    factory = RequestFactory()
    with translation.override(lang):
        match = resolve(path)
        request = factory.get(path)
        request.LANGUAGE_CODE = lang
        response: HttpResponseBase = match.func(request, *match.args, **match.kwargs)
        if hasattr(response, "render") and callable(response.render):
            response.render()
    if response.status_code != 200:
        raise SnapshotError(f"{path} answered {response.status_code}")
    if response.streaming:
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content  # type: ignore[attr-defined, no-any-return]


def _station_pages(
    lang: str, election_code: str, municipality_id: int, station_ids: Collection[int] | None = None
) -> dict[str, bytes]:
    from tallyroom.publish.views import station_pages_render

    with translation.override(lang):
        municipality = remembered(
            ("municipality", municipality_id),
            lambda: Municipality.objects.select_related("election").get(pk=municipality_id),
            "rows",
        )
        return station_pages_render(municipality.election, municipality, station_ids)


# A station page's one block about the other stations (templates/publish/_status.html): the same on
# every station page of a municipality in a language. Everything a reader typed is escaped, so the
# tag can only come from the template.
_STATUS_START = b'<section class="status"'
_STATUS_END = b"</section>"


def _status_span(page: bytes) -> tuple[int, int] | None:
    start = page.find(_STATUS_START)
    if start < 0 or page.find(_STATUS_START, start + 1) >= 0:
        return None
    end = page.find(_STATUS_END, start)
    return None if end < 0 else (start, end + len(_STATUS_END))


@dataclass
class _Batch:
    """A municipality's station pages in one language: those rendered afresh, and the others' previous
    bytes with the municipality's new status block to put in them."""

    rendered: dict[str, bytes]
    old: dict[str, tuple[bytes, tuple[int, int]]]
    block: bytes = b""

    def spliced(self, path: str) -> bytes:
        data, (start, end) = self.old[path]
        return data[:start] + self.block + data[end:]


def _station_batch(
    key: tuple[str, str, int], items: list[Item], previous: Path | None, stale: Stale | None, old: Collection[str]
) -> _Batch:
    municipality_id = key[2]
    if previous is None or stale is None or municipality_id in stale.whole:
        return _Batch(_station_pages(*key), {})
    wanted = {i.station_id for i in items if i.station_id in stale.stations or file_name(i.path) not in old}
    kept: dict[str, tuple[bytes, tuple[int, int]]] = {}
    if municipality_id in stale.municipalities:  # the count moved: every other page gets the new block
        for item in items:
            if item.station_id in wanted:
                continue
            data = (previous / file_name(item.path)).read_bytes()
            span = _status_span(data)
            if span is None:
                wanted.add(item.station_id)
            else:
                kept[item.path] = (data, span)
        if kept and not wanted:
            wanted.add(items[0].station_id)  # rendered for its block
    fresh = _station_pages(*key, [pk for pk in wanted if pk is not None]) if wanted else {}
    if not kept:
        return _Batch(fresh, {})
    sample = next(iter(fresh.values()))
    span = _status_span(sample)
    if span is None:  # not a page this module understands: render them all
        return _Batch(_station_pages(*key), {})
    return _Batch(fresh, kept, sample[span[0] : span[1]])


def _language_of(path: str) -> str:
    first = path.strip("/").split("/", 1)[0]
    codes = languages()
    return first if first in codes and first != settings.LANGUAGE_CODE else settings.LANGUAGE_CODE


def static_files() -> Iterator[tuple[str, Path]]:
    """The project's own static assets (not Django admin's or Swagger's), as (URL path, source)."""
    from django.contrib.staticfiles import finders

    own = Path(settings.BASE_DIR).resolve()
    seen: set[str] = set()
    for finder in finders.get_finders():
        for rel, storage in finder.list([]):
            source = Path(storage.path(rel)).resolve()
            if own in source.parents and rel not in seen:
                seen.add(rel)
                yield settings.STATIC_URL + rel.replace(os.sep, "/"), source


@cache
def _static_assets() -> list[tuple[str, bytes, dict[str, object]]]:
    """The static assets' snapshot names, bytes and manifest entries, read once per process: finding
    them took a tenth of an incremental snapshot. (A changed asset shows after a restart.)"""
    assets = []
    for url, source in static_files():
        data = source.read_bytes()
        assets.append((file_name(url), data, _entry(data)))
    return assets


class _Writer:
    """Fills a snapshot folder file by file: rendered, hard-linked from the previous one, or spliced."""

    def __init__(
        self,
        out: Path,
        previous: Path | None,
        stale: Stale | None,
        items: list[Item],
        old: dict[str, dict[str, object]],  # the previous snapshot's files, as its manifest lists them
    ) -> None:
        self.out, self.previous, self.stale = out, previous, stale
        # Paths as strings joined by hand: a snapshot links thousands of files, and os.path.join
        # of Path objects was a tenth of an incremental snapshot.
        self.out_prefix = os.fspath(out) + os.sep
        self.made: set[str] = set()
        self.helper: threading.Thread | None = None
        self.old = old
        self.files: dict[str, dict[str, object]] = {}
        self.counts = {"rendered": 0, "reused": 0, "spliced": 0}
        self.by_key: dict[tuple[str, str, int], list[Item]] = {}
        for item in items:
            if item.station_of is not None:
                self.by_key.setdefault(item.station_of, []).append(item)
        self.batch_key: tuple[str, str, int] | None = None
        self.batch = _Batch({}, {})

    def place(self, name: str) -> None:
        """Make the file's folder, unless the helper (`make_folders`) or an earlier file made it."""
        folder = name.rpartition("/")[0]
        if folder not in self.made:
            os.makedirs(self.out_prefix + folder, exist_ok=True)
            self.made.add(folder)

    def make_folders(self, names: list[str]) -> None:
        """Make the folders of `names` from the last one back, in a thread, while the snapshot is
        filled from the first: every page is a folder, and on ext4 a mkdir costs 40-90 µs, a third of
        a snapshot that renders little. Whichever comes first makes a folder; the other skips it."""
        folders = list(dict.fromkeys(n.rpartition("/")[0] for n in names))

        def run() -> None:
            for folder in reversed(folders):
                if folder not in self.made:
                    try:
                        os.makedirs(self.out_prefix + folder, exist_ok=True)
                    except OSError:
                        return  # `place` makes it, or says why it cannot
                    self.made.add(folder)

        self.helper = threading.Thread(target=run, name="snapshot-folders", daemon=True)
        self.helper.start()

    def done(self) -> None:
        if self.helper is not None:
            self.helper.join()

    def reuse(self, name: str) -> bool:
        return self.previous is not None and self.link(self.previous, name, self.old)

    def link(self, source: Path, name: str, entries: dict[str, dict[str, object]]) -> bool:
        if name not in entries:
            return False
        os.link(os.fspath(source) + os.sep + name, self.out_prefix + name)
        self.files[name] = entries[name]
        self.counts["reused"] += 1
        return True

    def write(self, name: str, data: bytes, how: str) -> None:
        with open(self.out_prefix + name, "wb") as f:
            f.write(data)
        self.files[name] = _entry(data)
        self.counts[how] += 1

    def page(self, item: Item, name: str) -> None:
        stale, municipality_id = self.stale, item.municipality_id
        settled = stale is not None and municipality_id is not None and municipality_id not in stale.municipalities
        if settled and stale is not None and item.station_id not in stale.stations and self.reuse(name):
            return
        if item.station_of is None:
            self.write(name, render(item.path), "rendered")
        else:
            self.station_page(item, item.station_of, name)

    def station_page(self, item: Item, key: tuple[str, str, int], name: str) -> None:
        if key != self.batch_key:  # a municipality's station pages from one read
            self.batch_key = key
            self.batch = _station_batch(key, self.by_key[key], self.previous, self.stale, self.old)
        if item.path in self.batch.rendered:
            self.write(name, self.batch.rendered[item.path], "rendered")
        elif item.path not in self.batch.old:
            if not self.reuse(name):
                self.write(name, _station_pages(*key, [item.station_id or 0])[item.path], "rendered")
        elif (data := self.batch.spliced(item.path)) == self.batch.old[item.path][0]:
            self.reuse(name)  # the count's state did not move in this language
        else:
            self.write(name, data, "spliced")


@dataclass(frozen=True)
class _Plan:
    """What every process filling a snapshot needs to know."""

    out: Path
    previous: Path | None
    stale: Stale | None
    old_files: dict[str, dict[str, object]]
    old_national_seq: int | None  # the previous snapshot's, if it says
    national: bool  # render the lagging files afresh
    lagging: Path | None  # or take them from this newer set
    fresh_set: tuple[int, dict[str, dict[str, object]]] | None
    seq: int


Filled = tuple[dict[str, dict[str, object]], dict[str, int], int]  # files, counts, national data seq

# An incremental snapshot is filled by several processes only from this many stale municipalities on:
# below, forking and connecting cost more than they save.
PARALLEL_FROM = 4


def _fill(plan: _Plan, items: list[Item]) -> Filled:
    """Write `items` into the snapshot: rendered, linked from the previous snapshot or lagging set,
    or spliced. A municipality's items must all be in one call (its station pages go together)."""
    writer = _Writer(plan.out, plan.previous, plan.stale, items, plan.old_files)
    names = [file_name(item.path) for item in items]
    writer.make_folders(names)
    national_seq = plan.seq
    try:
        with results_memo():
            results_prefetch(_results_wanted(plan, items))
            for item, name in zip(items, names, strict=True):
                writer.place(name)
                if item.national and not plan.national:
                    fresh = plan.fresh_set
                    if fresh is not None and plan.lagging is not None and writer.link(plan.lagging, name, fresh[1]):
                        national_seq = min(national_seq, fresh[0])
                        continue
                    if plan.old_national_seq is not None and writer.reuse(name):
                        national_seq = min(national_seq, plan.old_national_seq)
                        continue
                if item.national:  # afresh, all of them: a data file states the chain position it was cut at
                    writer.write(name, render(item.path), "rendered")
                    continue
                writer.page(item, name)
    finally:
        writer.done()
    return writer.files, writer.counts, national_seq


def _results_wanted(plan: _Plan, items: list[Item]) -> set[int]:
    """The municipalities whose contests' results this fill will show: every one it holds an item of
    from scratch or when it renders the lagging files, else only the stale ones."""
    municipalities = {i.municipality_id for i in items if i.municipality_id is not None}
    if plan.stale is None or plan.national:
        return municipalities
    return municipalities & plan.stale.municipalities


def _fill_forked(plan: _Plan, items: list[Item]) -> Filled:
    try:
        return _fill(plan, items)
    finally:
        connections.close_all()


def _fill_parallel(plan: _Plan, items: list[Item], workers: int) -> Filled:
    """`_fill` in forked processes. A municipality's items stay in one process; the municipalities
    that render (all of them from scratch, else the stale ones) are dealt out in turn, and so is the
    rest (links, mostly)."""
    chunks: list[list[Item]] = [[] for _ in range(workers)]
    municipalities = sorted({i.municipality_id for i in items if i.municipality_id is not None})
    rendering = municipalities if plan.stale is None else [m for m in municipalities if m in plan.stale.municipalities]
    turn = {m: n % workers for n, m in enumerate(rendering)}
    for n, item in enumerate(items):
        muni = item.municipality_id
        chunks[turn.get(muni, muni) % workers if muni is not None else n % workers].append(item)
    connections.close_all()  # a forked child must not share the parent's connection
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.starmap(_fill_forked, [(plan, chunk) for chunk in chunks])
    files: dict[str, dict[str, object]] = {}
    counts = {"rendered": 0, "reused": 0, "spliced": 0}
    national_seq = plan.seq
    for chunk_files, chunk_counts, chunk_seq in results:
        files.update(chunk_files)
        national_seq = min(national_seq, chunk_seq)
        for k, v in chunk_counts.items():
            counts[k] += v
    return files, counts, national_seq


def snapshot_write(
    out: Path,
    *,
    previous: Path | None = None,
    stale: Stale | set[int] | None = None,
    national: bool = True,
    lagging: Path | None = None,
    key: Ed25519PrivateKey | None = None,
    workers: int = 1,
    previous_manifest: dict[str, object] | None = None,
) -> Written:
    """Write a complete snapshot into `out` (which must not exist yet). With `previous`, what `stale`
    does not name is hard-linked from it instead of rendered (a set names whole municipalities), and
    so are the lagging files (see `lagging_write`) unless `national` asks for them afresh; `lagging`
    is a newer set of them to take instead. A snapshot from scratch, or one that renders at least
    `PARALLEL_FROM` municipalities, is filled by `workers` processes (PostgreSQL only: each reads on
    its own connection). `previous_manifest` is the previous snapshot's manifest if the caller has
    read it already."""
    started = time.perf_counter()
    key = key or signing.private_key_load()
    seq, head_hash = chain_head()  # cut first: anything later shows in the next snapshot
    created_at = timezone_now()
    if previous is not None and previous_manifest is None:
        previous_manifest = manifest_read(previous)
    old_manifest = previous_manifest or {}
    out.mkdir(parents=True)
    items = site_items()
    stale_plan = Stale.of(stale) if stale is not None and previous is not None else None
    old_files = old_manifest.get("files")
    old_manifest_files = old_files if isinstance(old_files, dict) else {}
    old_national = old_manifest.get("national_data_seq")
    plan = _Plan(
        out=out,
        previous=previous,
        stale=stale_plan,
        old_files=old_manifest_files,
        old_national_seq=int(str(old_national)) if old_national is not None else None,
        national=national,
        lagging=lagging,
        fresh_set=lagging_read(lagging) if lagging is not None else None,
        seq=seq,
    )
    many = stale_plan is None or len(stale_plan.municipalities) >= PARALLEL_FROM
    db = connections["default"]
    # Forked processes read on their own connections: they would not see a transaction still open here.
    if workers > 1 and many and db.vendor == "postgresql" and not db.in_atomic_block:
        files, counts, national_seq = _fill_parallel(plan, items, workers)
    else:
        files, counts, national_seq = _fill(plan, items)
    for name, data, entry in _static_assets():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        if old_manifest_files.get(name) == entry and previous is not None:
            os.link(os.fspath(previous) + os.sep + name, os.fspath(out) + os.sep + name)
        else:
            (out / name).write_bytes(data)
        files[name] = entry
    public_pem = signing.public_key_pem(key)
    (out / PUBLIC_KEY).write_bytes(public_pem)
    files[PUBLIC_KEY] = _entry(public_pem)
    manifest = {
        "format": FORMAT,
        "created_at": created_at.isoformat(timespec="seconds"),
        "audit_head": {"seq": seq, "entry_hash": head_hash},
        "national_data_seq": national_seq,
        "elections": list(Election.objects.order_by("code").values_list("code", flat=True)),
        "public_key_sha256": signing.key_fingerprint(key.public_key()),
        "files": dict(sorted(files.items())),
    }
    blob = manifest_bytes(manifest)
    (out / MANIFEST).write_bytes(blob)
    (out / SIGNATURE).write_bytes(signing.sign(key, blob))
    return Written(
        name=out.name,
        folder=out,
        files=len(files),
        size=sum(int(str(f["size"])) for f in files.values()),
        rendered=counts["rendered"],
        reused=counts["reused"],
        seconds=time.perf_counter() - started,
        manifest_sha256=hashlib.sha256(blob).hexdigest(),
        audit_seq=seq,
        audit_hash=head_hash,
        created_at=created_at,
        national_data_seq=national_seq,
        spliced=counts["spliced"],
    )


LAGGING_MANIFEST = "lagging.json"


def lagging_write(out: Path, *, previous: Path | None = None, stale: set[int] | None = None) -> int:
    """Render the lagging files (the election-wide pages and files, every municipality's data files)
    into `out`, apart from the live snapshots, so that the publisher of pages never waits for them.
    With `previous` (an earlier set), the data files of municipalities not in `stale` are linked from
    it. Returns the chain position the set was cut at; `lagging.json` lists its files."""
    seq, _ = chain_head()
    old = lagging_read(previous)[1] if previous is not None else {}
    out.mkdir(parents=True)
    writer = _Writer(out, previous, None, [], old)
    with results_memo():
        results_prefetch(None)  # the election-wide files show every contest
        for item in site_items():
            if not item.national:
                continue
            name = file_name(item.path)
            writer.place(name)
            settled = stale is not None and item.municipality_id is not None and item.municipality_id not in stale
            if not (settled and writer.reuse(name)):
                writer.write(name, render(item.path), "rendered")
    (out / LAGGING_MANIFEST).write_text(json.dumps({"seq": seq, "files": writer.files}, sort_keys=True))
    return seq


_FILES_MARK = "@@files@@"


def manifest_bytes(manifest: dict[str, object]) -> bytes:
    """The manifest as signed: indented, keys sorted, one line per file (thousands of them: the
    indenting encoder is pure Python and took a tenth of a snapshot; the compact one is C). Inside
    a JSON string a quote is always escaped, so `}, "` only ever separates two entries."""
    files = manifest["files"]
    if not isinstance(files, dict):
        raise TypeError("a manifest's files are a mapping of names to entries")
    text = json.dumps({**manifest, "files": _FILES_MARK}, indent=1, sort_keys=True, ensure_ascii=False)
    listed = json.dumps(files, sort_keys=True, ensure_ascii=False)[1:-1].replace('}, "', '},\n  "')
    block = "{\n  " + listed + "\n }" if files else "{}"
    return (text.replace(json.dumps(_FILES_MARK), block, 1) + "\n").encode("utf-8")


def lagging_read(folder: Path) -> tuple[int, dict[str, dict[str, object]]]:
    data = json.loads((folder / LAGGING_MANIFEST).read_bytes())
    return int(data["seq"]), dict(data["files"])


def _entry(data: bytes) -> dict[str, object]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def manifest_read(folder: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / MANIFEST).read_bytes())
    return data


def snapshot_check(folder: Path, public_key_pem: bytes) -> list[str]:
    """Every way a copy of a snapshot differs from what was signed; empty when it holds."""
    try:
        public_key = signing.public_key_load(public_key_pem)
    except signing.SigningKeyError as exc:
        return [f"the key: {exc}"]
    try:
        blob = (folder / MANIFEST).read_bytes()
        manifest = json.loads(blob)
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST}: unreadable ({exc.__class__.__name__})"]
    problems = []
    try:
        signature = (folder / SIGNATURE).read_bytes()
    except OSError:
        problems.append(f"{SIGNATURE}: missing")
    else:
        if not signing.signature_valid(public_key, blob, signature):
            problems.append(f"{SIGNATURE}: the manifest is not signed by this key (forged or altered manifest)")
    for name, meta in sorted(files.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        data = path.read_bytes()
        if len(data) != meta.get("size") or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            problems.append(f"{name}: altered (SHA-256 differs from the manifest)")
    listed = set(files) | {MANIFEST, SIGNATURE}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name not in listed:
            problems.append(f"{name}: not in the manifest (added after publication)")
    return problems
