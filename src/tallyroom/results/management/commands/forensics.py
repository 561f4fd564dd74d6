"""``tallyroom forensics [FILE]``: statistical warning signs in station results.

With FILE (a CSV, or a .zip holding one CSV) any election's station-level results can be examined;
the columns are mapped with ``--registered``, ``--ballots``, ``--valid``, ``--invalid`` and
``--leader``, each a header name, a 0-based column index or a sum such as ``5+6+7``. Without FILE
the current election's results come from ``tallyroom.results.forensics_source.station_table``.

The analysis itself is :func:`tallyroom.rules.forensics.analyse` (numpy/scipy, no Django);
docs/forensics.md describes the methods and their validation.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

SOURCE_MODULE = "tallyroom.results.forensics_source"

EXAMPLE = (
    "tallyroom forensics 2011.csv.zip --registered 3 --ballots 5+6+7 --valid 12 --invalid 11 "
    "--leader 26 --entities 21:27 --station region --station tik --station uik "
    "--municipality region --municipality tik --link url --json report.json --plots plots/"
)


class Command(BaseCommand):
    help = (
        "Election forensics: the turnout/leader-share fingerprint and fraud model (Klimek et al. 2012), "
        "integer percentages (Kobak et al. 2016), second- and last-digit tests, and stations that stand "
        "out in their municipality. Prints a report; --json writes all of it, --plots draws the figures. "
        "Flags are warnings for a person to look at, never verdicts."
    )
    requires_system_checks: list[str] = []  # reads a file or the results; writes nothing to the database

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file",
            nargs="?",
            type=Path,
            help="station-level results: a CSV, or a .zip holding one CSV (default: the current election)",
        )
        parser.add_argument("--election", help="election code (without FILE; default: the current election)")
        columns = parser.add_argument_group(
            "columns of FILE", "each a header name, a 0-based column index, or a sum such as 5+6+7"
        )
        columns.add_argument("--registered", help="registered voters")
        columns.add_argument("--ballots", help="ballots issued to voters (e.g. early+inside+outside)")
        columns.add_argument("--valid", help="valid ballots (default: the entities' votes added up)")
        columns.add_argument("--invalid", help="invalid ballots")
        columns.add_argument(
            "--leader",
            help="the entity to examine (default: the one with the most votes); in the long layout, the entity's name",
        )
        columns.add_argument(
            "--entity", action="append", default=[], help="an entity's votes (repeatable; a sum joins columns)"
        )
        columns.add_argument("--entities", help="a range of entity columns by index, both ends included: 21:27")
        columns.add_argument(
            "--station",
            action="append",
            default=[],
            help="column(s) naming the station (repeatable; default: row number)",
        )
        columns.add_argument(
            "--municipality", action="append", default=[], help="column(s) naming the municipality (repeatable)"
        )
        columns.add_argument("--link", help="column with each station's page (URL), kept with flagged stations")
        columns.add_argument("--entity-column", help="long layout: the column holding the entity of each row")
        columns.add_argument("--votes-column", help="long layout: the column holding the votes of each row")
        columns.add_argument("--encoding", default="utf-8-sig", help="text encoding of FILE (default UTF-8)")
        columns.add_argument("--delimiter", help="field delimiter (default: guessed from the header line)")
        analysis = parser.add_argument_group("analysis")
        analysis.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
        analysis.add_argument("--reps", type=int, default=1000, help="Monte Carlo replicates (default 1000)")
        analysis.add_argument("--seed", type=int, default=0, help="random seed (default 0): same seed, same report")
        analysis.add_argument(
            "--integer-tolerance",
            type=float,
            default=0.05,
            help="distance in percentage points within which a percentage counts as whole (default 0.05; 0: exact)",
        )
        analysis.add_argument(
            "--min-denominator", type=int, default=100, help="smallest denominator tested for whole percents (100)"
        )
        analysis.add_argument(
            "--turnout-from",
            choices=["ballots", "cast"],
            default="ballots",
            help="turnout from ballots issued (default) or ballots cast (valid + invalid)",
        )
        analysis.add_argument(
            "--share-of",
            choices=["valid", "cast"],
            default="valid",
            help="the leader's share of valid ballots (default) or of ballots cast (valid + invalid)",
        )
        analysis.add_argument("--z-threshold", type=float, default=3.5, help="robust z that flags a station (3.5)")
        analysis.add_argument("--bootstrap", type=int, default=20, help="bootstrap fits of the fraud model (20)")
        output = parser.add_argument_group("output")
        output.add_argument("--json", type=Path, help="write the whole report as JSON to this path")
        output.add_argument("--plots", type=Path, help="draw the figures (PNG and SVG) into this directory")
        output.add_argument("--top", type=int, default=15, help="flagged stations to print (default 15)")
        output.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        from tallyroom.rules.forensics import ForensicsInputError, ForensicsOptions, analyse, planned_units
        from tallyroom.rules.forensics.text import format_report

        try:
            settings = ForensicsOptions(
                alpha=options["alpha"],
                reps=options["reps"],
                seed=options["seed"],
                integer_tolerance=options["integer_tolerance"],
                min_denominator=options["min_denominator"],
                turnout_from=options["turnout_from"],
                share_of=options["share_of"],
                z_threshold=options["z_threshold"],
                fraud_bootstrap=options["bootstrap"],
            )
        except ForensicsInputError as error:
            raise CommandError(str(error)) from error
        plots_units = 3 if options["plots"] else 0
        bar = _progress_bar(planned_units(settings) + 1 + plots_units, options["quiet"])
        try:
            table, source = self._table(options)
            bar.update(1)
            try:
                report = analyse(table, settings, progress=bar.update, source=source)
            except ForensicsInputError as error:
                raise CommandError(str(error)) from error
            report["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            if options["json"]:
                path: Path = options["json"]
                path.parent.mkdir(parents=True, exist_ok=True)
                # dumps, not dump: dump streams through the pure-Python encoder (several times slower)
                text = json.dumps(report, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
                path.write_text(text, encoding="utf-8")
            written: list[Path] = []
            if options["plots"]:
                from tallyroom.rules.forensics.plots import draw_plots

                written = draw_plots(report, options["plots"])
                bar.update(plots_units)
        finally:
            bar.close()
        self.stdout.write(format_report(report, top=options["top"]))
        if options["json"]:
            self.stdout.write(f"report written to {options['json']}")
        for path in written:
            self.stdout.write(f"figure written to {path}")

    def _table(self, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from tallyroom.rules.forensics import ColumnMapping, ForensicsInputError, load_station_csv

        if options["file"] is None:
            return _current_election(options["election"])
        mapping = ColumnMapping(
            registered=options["registered"],
            ballots=options["ballots"],
            valid=options["valid"],
            invalid=options["invalid"],
            leader=options["leader"],
            entities=tuple(options["entity"]),
            entity_range=options["entities"],
            station=tuple(options["station"]),
            municipality=tuple(options["municipality"]),
            link=options["link"],
            entity_column=options["entity_column"],
            votes_column=options["votes_column"],
        )
        try:
            table, source = load_station_csv(
                options["file"], mapping, encoding=options["encoding"], delimiter=options["delimiter"]
            )
        except ForensicsInputError as error:
            raise CommandError(str(error)) from error
        return table, source.as_dict()


def _current_election(code: str | None) -> tuple[Any, dict[str, Any]]:
    """The current (or the named) election's station table, from the results pipeline."""
    if importlib.util.find_spec(SOURCE_MODULE) is None:
        raise CommandError(f"no results recorded yet; give a CSV, e.g. {EXAMPLE}")
    module = importlib.import_module(SOURCE_MODULE)
    try:
        table = module.station_table(code)
    except LookupError as error:
        raise CommandError(f"no results recorded yet ({error}); give a CSV") from error
    return table, {"election": code or "current"}


class _NoBar:
    def update(self, units: int = 1) -> None:
        del units

    def close(self) -> None:
        pass


def _progress_bar(total: int, quiet: bool) -> Any:
    """tqdm on stderr when it is a terminal (and not --quiet); shown only if the run takes a while."""
    if quiet or not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, desc="forensics", unit="step", delay=1.0, leave=False)
