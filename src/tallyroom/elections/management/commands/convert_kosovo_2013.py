"""``convert_kosovo_2013``: rebuild the Kosovo 2013 demo files from the shared dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Convert the Kosovo 2013 local-election dataset (KushtrimVisoka/datasets) into the demo "
        "election definition and results bundle (gzip'd JSON). Needs no database."
    )
    requires_system_checks: list[str] = []  # a file conversion: no models, no database

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            type=Path,
            help="the dataset directory (default: $TALLYROOM_SHARED_DATA, else "
            "../shared/data/real/kosovo-2013 beside the repository)",
        )
        parser.add_argument("--out-definition", type=Path, help="default: the packaged demo file")
        parser.add_argument("--out-results", type=Path, help="default: the packaged demo file")

    def handle(self, *args: Any, **options: Any) -> None:
        from tallyroom.elections import kosovo2013

        source = options["source"] or kosovo2013.find_source_dir()
        if source is None or not (Path(source) / kosovo2013.FILES["assembly"]).is_file():
            raise CommandError(
                f"no Kosovo 2013 dataset at {source or 'the default places'}; pass --source DIR "
                "or set TALLYROOM_SHARED_DATA"
            )
        default_definition, default_results = kosovo2013.default_outputs()
        out_definition = options["out_definition"] or default_definition
        out_results = options["out_results"] or default_results
        definition, results = kosovo2013.convert(Path(source))
        for path, document in ((out_definition, definition), (out_results, results)):
            data = kosovo2013.encode(document)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self.stdout.write(f"wrote {path} ({len(data):,} bytes)")
        stations = sum(len(m["stations"]) for m in definition["municipalities"])
        self.stdout.write(
            f"{len(definition['municipalities'])} municipalities, {stations:,} stations, "
            f"{len(definition['entities'])} entities"
        )
