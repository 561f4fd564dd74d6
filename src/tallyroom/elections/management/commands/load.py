"""`tallyroom load FILE`: load an election definition, all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tallyroom.elections.definition import DefinitionError, read_file
from tallyroom.elections.services import ChangesNeedReplace, election_load

EXIT_INVALID = 2
EXIT_NEEDS_REPLACE = 3


class Command(BaseCommand):
    help = "Load an election definition file (JSON or JSON.gz). Exit 2 on errors, 3 if --replace is needed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--replace", action="store_true", help="apply changes to an election already loaded")
        parser.add_argument("--check", action="store_true", help="validate only; write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            outcome = election_load(read_file(path), replace=options["replace"], check_only=options["check"])
        except DefinitionError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            self.stderr.write(f"{path}: {len(exc.problems)} problem(s); nothing was loaded.")
            sys.exit(EXIT_INVALID)
        except ChangesNeedReplace as exc:
            for line in exc.changes:
                self.stdout.write(line)
            self.stderr.write(
                f"Election {exc.code!r} is already loaded and {path} differs in {len(exc.changes)} place(s) "
                "(listed above). Nothing was changed; run again with --replace to apply them."
            )
            sys.exit(EXIT_NEEDS_REPLACE)
        for line in outcome.changes:
            self.stdout.write(line)
        counts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in outcome.counts.items())
        verb = {
            "created": "loaded",
            "unchanged": "unchanged (already loaded)",
            "replaced": "replaced",
            "valid": "valid",
        }[outcome.status]
        self.stdout.write(f"Election {outcome.election_code}: {verb}. {counts}.")
