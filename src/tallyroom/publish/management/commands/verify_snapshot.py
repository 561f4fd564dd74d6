"""`tallyroom verify-snapshot DIR --key KEY`: check a downloaded snapshot offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Check that every file of a snapshot is the one the commission signed: the manifest's Ed25519 "
        "signature against KEY (the published public key, PEM), then each file's SHA-256. Exit 1 on any difference."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path)
        parser.add_argument("--key", type=Path, required=True, help="the commission's public key (PEM)")

    def handle(self, *args: Any, **options: Any) -> None:
        from tallyroom.publish.snapshot import snapshot_check

        folder: Path = options["folder"]
        if not folder.is_dir():
            raise CommandError(f"{folder}: not a folder")
        try:
            key = options["key"].read_bytes()
        except OSError as exc:
            raise CommandError(f"{options['key']}: {exc.strerror}") from exc
        problems = snapshot_check(folder, key)
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise SystemExit(1)
        self.stdout.write(f"{folder}: signature valid, every file matches the manifest")
