"""Static, signed snapshots of the whole public site and its open data.

A snapshot is a folder any static host can serve: one `index.html` per page and language, the data
files, the site's own static assets, `manifest.json` (the SHA-256 and size of every file, the audit
chain head it was cut at) and `manifest.sig` (Ed25519 over the manifest's bytes). Pages are rendered
by calling the public views in-process, so a snapshot shows exactly what the live pages show.

A new snapshot re-renders only the municipalities whose rows changed since the previous one (read
off the audit chain, see `changes.py`) and hard-links the rest from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.http import HttpResponseBase
from django.test import RequestFactory
from django.urls import NoReverseMatch, resolve, reverse
from django.utils import translation
from django.utils.timezone import now as timezone_now

from tallyroom.audit.chain import chain_head
from tallyroom.elections.models import Election, Municipality, PollingStation
from tallyroom.publish import signing
from tallyroom.publish.files import FORMAT, MANIFEST, PUBLIC_KEY, SIGNATURE, file_name
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
    national: bool = False  # an election-wide data file: large, so refreshed at most every so often


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
    stations: dict[int, list[str]] = {}
    for municipality_id, code in PollingStation.objects.order_by("code").values_list("municipality_id", "code"):
        stations.setdefault(municipality_id, []).append(code)
    for lang in languages():
        with translation.override(lang):
            items += _paths([_url("publish:home")])
            for election in elections:
                items += _paths([_url("publish:election", election.code)])
                items += _paths([_url("integrity:election", election.code)])
                for pk, code in municipalities.get(election.pk, []):
                    items += _paths([_url("publish:municipality", election.code, code)], pk)
                    for slug in (station_slug(s) for s in stations.get(pk, [])):
                        url = _url("publish:station", election.code, slug)
                        if url is not None:
                            items.append(Item(url, pk, (lang, election.code, pk)))
    items += _paths([_url("data:elections")])
    formats = [str(fmt) for fmt in FILE_NAMES]
    for election in elections:
        items += _paths([_url("data:index", election.code)])
        items += [Item(url, None, None, True) for f in formats if (url := _url(f"data:{f}", election.code))]
        for pk, code in municipalities.get(election.pk, []):
            items += _paths([_url(f"data:municipality-{f}", election.code, code) for f in formats], pk)
    return items


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


def _station_pages(lang: str, election_code: str, municipality_id: int) -> dict[str, bytes]:
    from tallyroom.publish.views import station_pages_render

    with translation.override(lang):
        municipality = Municipality.objects.select_related("election").get(pk=municipality_id)
        return station_pages_render(municipality.election, municipality)


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


def snapshot_write(
    out: Path,
    *,
    previous: Path | None = None,
    stale: set[int] | None = None,
    national: bool = True,
    key: Ed25519PrivateKey | None = None,
) -> Written:
    """Write a complete snapshot into `out` (which must not exist yet). With `previous`, files of
    municipalities not in `stale` are hard-linked from it instead of rendered, and so are the
    election-wide data files unless `national` asks for them afresh."""
    started = time.perf_counter()
    key = key or signing.private_key_load()
    seq, head_hash = chain_head()  # cut first: anything later shows in the next snapshot
    created_at = timezone_now()
    old_manifest = manifest_read(previous) if previous else {}
    old = _manifest_files(previous) if previous else {}
    national_seq = seq
    out.mkdir(parents=True)
    files: dict[str, dict[str, object]] = {}
    rendered = reused = 0
    bulk: dict[tuple[str, str, int], dict[str, bytes]] = {}
    for item in site_items():
        name = file_name(item.path)
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        unchanged = stale is not None and item.municipality_id is not None and item.municipality_id not in stale
        keep_national = item.national and not national and "national_data_seq" in old_manifest
        if keep_national:
            national_seq = int(str(old_manifest["national_data_seq"]))
        if previous is not None and (unchanged or keep_national) and name in old:
            os.link(previous / name, target)
            files[name] = old[name]
            reused += 1
            continue
        if item.station_of is not None:
            if item.station_of not in bulk:  # a municipality's station pages from one read
                bulk = {item.station_of: _station_pages(*item.station_of)}
            data = bulk[item.station_of][item.path]
        else:
            data = render(item.path)
        target.write_bytes(data)
        files[name] = _entry(data)
        rendered += 1
    for url, source in static_files():
        name = file_name(url)
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, out / name)
        files[name] = _entry((out / name).read_bytes())
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
    blob = (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    (out / MANIFEST).write_bytes(blob)
    (out / SIGNATURE).write_bytes(signing.sign(key, blob))
    return Written(
        name=out.name,
        folder=out,
        files=len(files),
        size=sum(int(str(f["size"])) for f in files.values()),
        rendered=rendered,
        reused=reused,
        seconds=time.perf_counter() - started,
        manifest_sha256=hashlib.sha256(blob).hexdigest(),
        audit_seq=seq,
        audit_hash=head_hash,
        created_at=created_at,
        national_data_seq=national_seq,
    )


def _entry(data: bytes) -> dict[str, object]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _manifest_files(folder: Path) -> dict[str, dict[str, object]]:
    files = manifest_read(folder)["files"]
    return files if isinstance(files, dict) else {}


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
