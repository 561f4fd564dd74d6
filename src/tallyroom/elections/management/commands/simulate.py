"""`tallyroom simulate --stations N --municipalities M --seed S [--out DIR] [--load]`: a synthetic
election with its whole day, as replayable files and/or loaded into the database (docs/simulate.md)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tallyroom.elections.definition import DefinitionError
from tallyroom.elections.services import ChangesNeedReplace
from tallyroom.elections.simulate import simulate_definition
from tallyroom.elections.simulate_files import simulate_write
from tallyroom.elections.simulate_load import LoadSummary, simulate_load
from tallyroom.results.bulk import MAX_BATCH


class Command(BaseCommand):
    help = "Simulate an election and its day: write replayable files (--out) and/or load them (--load)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stations", type=int, required=True)
        parser.add_argument("--municipalities", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--code", default="sim", help="the election's code (default: sim)")
        parser.add_argument("--out", type=Path, help="directory for definition.json and the *.jsonl.gz files")
        parser.add_argument("--load", action="store_true", help="load into the database (DATABASE_URL)")
        parser.add_argument("--batch", type=int, default=5000, help="forms per transaction when loading")
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            help="election day YYYY-MM-DD (default 2030-10-06); a past day lets the files be replayed over HTTP",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stations, municipalities = options["stations"], options["municipalities"]
        if not options["out"] and not options["load"]:
            raise CommandError("Say what to do with it: --out DIR, --load, or both.")
        if stations < 1 or not 1 <= municipalities <= stations:
            raise CommandError("Need at least one station, and between 1 and --stations municipalities.")
        if not 2 <= options["batch"] <= MAX_BATCH:
            raise CommandError(f"--batch is between 2 and {MAX_BATCH:,}.")
        definition = simulate_definition(stations, municipalities, seed=options["seed"], code=options["code"])
        if options["date"]:
            _move_rounds(definition, options["date"])
        if options["out"]:
            started = time.perf_counter()
            counts = simulate_write(definition, options["seed"], options["out"])
            self.stdout.write(
                f"Wrote {options['out']} in {time.perf_counter() - started:.1f} s: {counts['stations']:,} stations, "
                f"{counts['events']:,} events, {counts['turnout']:,} turnout reports, "
                f"{counts['incidents']:,} incidents, {counts['forms']:,} forms."
            )
        if options["load"]:
            self._load(definition, options["seed"], options["batch"])

    def _load(self, definition: dict[str, Any], seed: int, batch: int) -> None:
        started = time.perf_counter()

        def progress(summary: LoadSummary, total: int) -> None:
            seconds = time.perf_counter() - started
            self.stdout.write(f"  {summary.stations:,} / {total:,} stations loaded ({seconds:.0f} s)")

        try:
            summary = simulate_load(definition, seed, batch=batch, progress=progress)
        except DefinitionError as exc:
            raise CommandError("; ".join(str(p) for p in exc.problems[:5])) from None
        except ChangesNeedReplace as exc:
            raise CommandError(
                f"Election {exc.code!r} is loaded with a different definition ({len(exc.changes)} changes): "
                "use another --code, or the same arguments as before."
            ) from None
        for line in summary.lines():
            self.stdout.write(line)
        self.stdout.write(f"Loaded in {time.perf_counter() - started:.1f} s.")


def _move_rounds(definition: dict[str, Any], day: dt.date) -> None:
    """The first round on `day`, the others as many days after it as before."""
    first = dt.date.fromisoformat(definition["rounds"][0]["date"])
    for round_ in definition["rounds"]:
        round_["date"] = (day + (dt.date.fromisoformat(round_["date"]) - first)).isoformat()
