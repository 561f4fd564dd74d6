"""`tallyroom serve`: the WSGI app under gunicorn, static files through WhiteNoise."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


def run_server(host: str, port: int, workers: int, threads: int) -> None:
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


class Command(BaseCommand):
    help = "Serve Tallyroom over HTTP (gunicorn)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=int(os.environ.get("TALLYROOM_WORKERS", "2")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("TALLYROOM_THREADS", "4")))

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Tallyroom at http://{options['host']}:{options['port']}/  (Ctrl-C stops)")
        run_server(options["host"], options["port"], options["workers"], options["threads"])
