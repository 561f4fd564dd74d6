"""The live publisher: watch the audit chain's head and publish a snapshot shortly after it moves.

A change waits `debounce` seconds (so that a burst of forms makes one snapshot), never for quiet: under
a steady stream of forms, whatever arrived while a snapshot was being written is published as soon
as it is done. No change waits longer than `max_delay`. It runs in its own process and only reads
the head, so writers never wait for it. The costly election-wide pages and the data files are
rendered by a second process (`lagging_run`) at a slower pace and linked into the next snapshot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.db import DatabaseError, close_old_connections

from tallyroom.audit.chain import chain_head
from tallyroom.publish.feed import FeedWritten, Stations, feed_publish
from tallyroom.publish.services import lagging_refresh, lagging_sets, snapshot_publish
from tallyroom.publish.snapshot import Written

log = logging.getLogger(__name__)


def publisher_run(
    root: Path,
    *,
    debounce: float = 0.2,
    max_delay: float = 5.0,
    poll: float = 0.05,
    should_stop: Callable[[], bool] = lambda: False,
    on_publish: Callable[[Written], None] | None = None,
    recycle_connections: bool = True,
    retry: float = 2.0,
) -> None:
    """Publish the pages: each snapshot renders what changed and links the rest, and the newest set
    of lagging files (`lagging_run`, in another process) as soon as there is one."""
    seen = -1
    first_change = 0.0
    published_from: float | None = None  # when the last publication began reading the chain
    pending = True  # publish once at start if the chain moved while nobody watched
    lagging_seen = ""
    while not should_stop():
        if recycle_connections:  # a long-lived process must survive a database restart
            close_old_connections()
        try:
            head, _ = chain_head()
        except DatabaseError:
            log.exception("cannot read the audit chain; trying again in %.1f s", retry)
            time.sleep(retry)
            continue
        clock = time.monotonic()
        if head != seen:
            if not pending:  # a move seen after a publication may have happened while it was written
                first_change = clock if published_from is None else published_from
            pending, seen = True, head
        written = None
        published_from = None
        newest = _newest_lagging(root)
        if (pending and clock - first_change >= min(debounce, max_delay)) or newest != lagging_seen:
            # Anything committed since `head` (our own publication entry included) moves the head
            # again and is looked at next time; a publication alone publishes nothing.
            published_from = clock
            try:
                written = snapshot_publish(root, national=False)
            except (OSError, DatabaseError):
                # A full disk, a lost database: the current snapshot stays served, the change stays
                # pending, and the next try (which clears the half-written folder) comes after a pause.
                log.exception("snapshot failed; trying again in %.1f s", retry)
                time.sleep(retry)
                continue
            pending, lagging_seen = False, newest
        if written is not None:
            log.info(
                "published %s in %.2f s: %d rendered, %d spliced, %d reused",
                written.name,
                written.seconds,
                written.rendered,
                written.spliced,
                written.reused,
            )
            if on_publish:
                on_publish(written)
        time.sleep(poll)


def lagging_run(
    root: Path,
    *,
    every: float = 10.0,
    should_stop: Callable[[], bool] = lambda: False,
    on_refresh: Callable[[Path], None] | None = None,
    recycle_connections: bool = True,
) -> None:
    """Refresh the lagging files (election-wide pages and files, municipalities' data files) at most
    every `every` seconds while the chain moves: they are costly, and no page publication waits on them."""
    while not should_stop():
        if recycle_connections:
            close_old_connections()
        started = time.monotonic()
        try:
            folder = lagging_refresh(root)
        except (OSError, DatabaseError):  # as the page publisher: the newest set stays linked; try later
            log.exception("lagging files failed; trying again in %.1f s", every)
            folder = None
        if folder is not None:
            log.info("lagging files at %s in %.2f s", folder.name, time.monotonic() - started)
            if on_refresh:
                on_refresh(folder)
        time.sleep(max(0.05, every - (time.monotonic() - started)))


def feed_run(
    root: Path,
    *,
    poll: float = 0.05,
    should_stop: Callable[[], bool] = lambda: False,
    on_publish: Callable[[FeedWritten], None] | None = None,
    recycle_connections: bool = True,
    retry: float = 2.0,
) -> None:
    """Write a new results feed as soon as the chain head moves. A feed costs a fixed number of reads
    and the changed municipalities' files, so nothing waits for a burst to end: whatever was
    committed while one was written goes into the next."""
    seen, behind = -1, 0
    stations = Stations()
    while not should_stop():
        if recycle_connections:
            close_old_connections()
        try:
            head, _ = chain_head()
            written = feed_publish(root, stations) if head != seen or behind else None
        except (OSError, DatabaseError):
            log.exception("results feed failed; trying again in %.1f s", retry)
            time.sleep(retry)
            continue
        seen = head
        behind = written.behind if written is not None else 0
        if written is not None:
            log.info(
                "feed at #%d in %.3f s: %d municipalities rewritten",
                written.audit_seq,
                written.seconds,
                written.rewritten,
            )
            if on_publish:
                on_publish(written)
        time.sleep(poll)


def _newest_lagging(root: Path) -> str:
    sets = lagging_sets(root)
    return sets[-1].name if sets else ""
