"""`tallyroom load-stations FILE.csv`: a commission's station list into a loaded election."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tallyroom.elections.definition import DefinitionError
from tallyroom.elections.management.commands.load import EXIT_INVALID, EXIT_NEEDS_REPLACE
from tallyroom.elections.models import Election
from tallyroom.elections.services import ChangesNeedReplace, election_load_stations
from tallyroom.elections.stations_csv import parse


class Command(BaseCommand):
    help = (
        "Load polling stations from CSV (columns municipality, centre, centre_name, station, registered, kind). "
        "Encodings UTF-8, UTF-8 with BOM, Windows-1250 and Windows-1252 are detected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--election", help="election code (needed when several are loaded)")
        parser.add_argument("--encoding", help="override encoding detection, e.g. cp1250")
        parser.add_argument("--replace", action="store_true", help="apply changes to existing stations")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        code = options["election"] or self._only_election()
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        rows, problems, encoding = parse(raw, options["encoding"])
        try:
            outcome = election_load_stations(code, rows, replace=options["replace"], problems=problems)
        except DefinitionError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            self.stderr.write(f"{path} ({encoding}): {len(exc.problems)} problem(s); nothing was loaded.")
            sys.exit(EXIT_INVALID)
        except ChangesNeedReplace as exc:
            for line in exc.changes:
                self.stdout.write(line)
            self.stderr.write(
                f"{path} changes {len(exc.changes)} existing value(s) of election {code!r} (listed above). "
                "Nothing was changed; run again with --replace to apply them."
            )
            sys.exit(EXIT_NEEDS_REPLACE)
        for line in outcome.changes:
            self.stdout.write(line)
        self.stdout.write(
            f"{path} ({encoding}): {len(rows):,} station row(s); election {code} {outcome.status}, "
            f"now {outcome.counts['stations']:,} stations, {outcome.counts['registered_voters']:,} registered voters."
        )

    def _only_election(self) -> str:
        codes = list(Election.objects.values_list("code", flat=True)[:2])
        if len(codes) != 1:
            raise CommandError("give --election CODE" if codes else "no election is loaded; run `tallyroom load` first")
        return codes[0]
