"""The live publisher: watch the audit chain's head and publish a snapshot shortly after it moves.

Debounced so that a burst of forms makes one snapshot, with a ceiling so that a steady stream of
forms still gets published every `max_delay` seconds. It runs in its own process and only reads
the head, so writers never wait for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.db import close_old_connections

from tallyroom.audit.chain import chain_head
from tallyroom.publish.services import snapshot_publish
from tallyroom.publish.snapshot import Written

log = logging.getLogger(__name__)


def publisher_run(
    root: Path,
    *,
    debounce: float = 1.0,
    max_delay: float = 5.0,
    national_every: float = 30.0,
    poll: float = 0.2,
    should_stop: Callable[[], bool] = lambda: False,
    on_publish: Callable[[Written], None] | None = None,
    recycle_connections: bool = True,
) -> None:
    seen = -1
    first_change = last_change = 0.0
    last_national = float("-inf")
    lagging = False  # the current snapshot's election-wide data files are older than its pages
    pending = True  # publish once at start if the chain moved while nobody watched
    while not should_stop():
        if recycle_connections:  # a long-lived process must survive a database restart
            close_old_connections()
        head, _ = chain_head()
        clock = time.monotonic()
        if head != seen:
            if not pending:
                first_change = clock
            pending, seen, last_change = True, head, clock
        quiet = clock - last_change >= debounce
        overdue = clock - first_change >= max_delay
        written = None
        national = clock - last_national >= national_every
        if pending and (quiet or overdue):
            # Anything committed since `head` (our own publication entry included) moves the head
            # again and is looked at next time; a publication alone publishes nothing.
            written = snapshot_publish(root, national=national)
            pending = False
        elif lagging and national:
            written = snapshot_publish(root, national=True)
        if written is not None:
            lagging = written.national_lags
            if not lagging:
                last_national = clock
            log.info("published %s: %d rendered, %d reused", written.name, written.rendered, written.reused)
            if on_publish:
                on_publish(written)
        time.sleep(poll)
