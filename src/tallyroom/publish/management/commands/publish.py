"""`tallyroom publish`: write a signed static snapshot of the public site and its open data."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tallyroom.publish.snapshot import Written


class Command(BaseCommand):
    help = (
        "Write the whole public site as static files with a signed manifest. --out DIR writes one complete "
        "snapshot there; without it, a new snapshot goes under the snapshot root and becomes the one served "
        "(only changed municipalities are re-rendered); --watch keeps publishing after each change."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, help="an empty or new folder for one complete snapshot")
        parser.add_argument("--root", type=Path, help="snapshot root (default: TALLYROOM_SNAPSHOT_ROOT)")
        parser.add_argument("--force", action="store_true", help="publish even if nothing changed")
        parser.add_argument(
            "--workers", type=int, default=1, help="with --out on PostgreSQL: render in this many processes"
        )
        parser.add_argument("--watch", action="store_true", help="publish shortly after every change, until stopped")
        parser.add_argument("--debounce", type=float, default=settings.TALLYROOM_PUBLISH_DEBOUNCE)
        parser.add_argument("--max-delay", type=float, default=5.0)
        parser.add_argument(
            "--national-every",
            type=float,
            default=settings.TALLYROOM_PUBLISH_NATIONAL_EVERY,
            help="seconds between refreshes of the lagging files (election-wide pages and data files) under --watch",
        )
        parser.add_argument("--lagging", action="store_true", help=argparse.SUPPRESS)  # --watch's second process
        parser.add_argument("--feed", action="store_true", help=argparse.SUPPRESS)  # and its third

    def handle(self, *args: Any, **options: Any) -> None:
        from tallyroom.publish.services import snapshot_publish, snapshot_publish_to, snapshot_root

        if options["out"] is not None:
            if options["watch"]:
                raise CommandError("--watch publishes under the snapshot root; leave out --out")
            try:
                self._report(snapshot_publish_to(options["out"], actor="cli", workers=options["workers"]))
            except FileExistsError as exc:
                raise CommandError(str(exc)) from exc
            return
        root = options["root"] or snapshot_root()
        if options["lagging"]:
            self._lagging(root, options["national_every"])
            return
        if options["feed"]:
            self._feed(root)
            return
        if options["watch"]:
            self._watch(root, options["debounce"], options["max_delay"], options["national_every"])
            return
        written = snapshot_publish(root, force=options["force"], actor="cli")
        if written is None:
            self.stdout.write("Nothing changed since the current snapshot.")
        else:
            self._report(written)

    def _report(self, written: Written) -> None:
        self.stdout.write(
            f"Published {written.folder}: {written.files} files ({written.size / 1e6:.1f} MB), "
            f"{written.rendered} rendered, {written.reused} reused, in {written.seconds:.1f} s; "
            f"audit head #{written.audit_seq}; manifest SHA-256 {written.manifest_sha256}"
        )

    def _watch(self, root: Path, debounce: float, max_delay: float, national_every: float) -> None:
        from tallyroom.publish.publisher import publisher_run

        stop = {"now": False}

        def _stop(*_: object) -> None:
            # Stop at once, even mid-snapshot: a half-written folder is never made current and is
            # cleared by the next publisher.
            stop["now"] = True
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.stdout.write(f"Publishing under {root} after each change (debounce {debounce} s)")
        self.stdout.flush()
        command = [sys.executable, "-m", "tallyroom.cli", "publish", "--lagging", "--root", str(root)]
        lagging = subprocess.Popen([*command, "--national-every", str(national_every)])  # noqa: S603 - our own CLI
        feed = subprocess.Popen([sys.executable, "-m", "tallyroom.cli", "publish", "--feed", "--root", str(root)])  # noqa: S603
        try:
            publisher_run(
                root,
                debounce=debounce,
                max_delay=max_delay,
                should_stop=lambda: stop["now"],
                on_publish=self._report,
            )
        finally:
            for helper in (lagging, feed):
                helper.terminate()
            for helper in (lagging, feed):
                try:
                    helper.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    helper.kill()

    def _lagging(self, root: Path, every: float) -> None:
        from tallyroom.publish.publisher import lagging_run

        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        # The lagging files may lag; the pages may not: on a busy machine this process rendering the
        # election-wide files took half the page publisher's core.
        os.nice(settings.TALLYROOM_LAGGING_NICE)
        parent = os.getppid()
        lagging_run(root, every=every, should_stop=lambda: os.getppid() != parent)  # orphaned: stop

    def _feed(self, root: Path) -> None:
        from tallyroom.publish.publisher import feed_run

        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        parent = os.getppid()
        feed_run(root, should_stop=lambda: os.getppid() != parent)  # orphaned: stop
