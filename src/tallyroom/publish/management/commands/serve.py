"""`tallyroom serve`: the WSGI app under a production server (granian by default, gunicorn on
request), static files through WhiteNoise, and beside it the live publisher, whose newest snapshot
answers the public pages (see tallyroom.publish.serving)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


def run_gunicorn(host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    from tallyroom.wsgi import application

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", os.environ.get("TALLYROOM_ACCESS_LOG"))
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("timeout", 120)

        def load(self) -> Any:
            return application

    _App().run()


def run_granian(host: str, port: int, workers: int, threads: int) -> None:
    # Rust's HTTP layer: the snapshot answers election-night readers at a large share of nginx's rate.
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "tallyroom.wsgi:application",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        log_access=bool(os.environ.get("TALLYROOM_ACCESS_LOG")),
        workers_kill_timeout=10,
    ).serve()


class Command(BaseCommand):
    help = "Serve Tallyroom over HTTP (granian or gunicorn), with the live publisher beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=int(os.environ.get("TALLYROOM_WORKERS", "2")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("TALLYROOM_THREADS", "4")))
        parser.add_argument(
            "--server", choices=["granian", "gunicorn"], default=os.environ.get("TALLYROOM_SERVER", "granian")
        )
        parser.add_argument(
            "--no-publish", action="store_true", help="do not run the live publisher (public pages render live)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Tallyroom at http://{options['host']}:{options['port']}/  (Ctrl-C stops)")
        self.stdout.flush()
        publisher = None
        if not options["no_publish"]:
            # Its own process: rendering snapshots must not take a worker from the readers.
            publisher = subprocess.Popen([sys.executable, "-m", "tallyroom.cli", "publish", "--watch"])
        run = run_granian if options["server"] == "granian" else run_gunicorn
        try:
            run(options["host"], options["port"], options["workers"], options["threads"])
        finally:
            if publisher is not None:
                publisher.terminate()
                try:
                    publisher.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    publisher.kill()
