"""`tallyroom results recompute [--fix]`: recompute every tally from the counted forms."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tallyroom.results.tally import tally_recompute


class Command(BaseCommand):
    help = "Recompute all results from the stored forms and compare with the running totals (exit 1 on a difference)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["recompute"])
        parser.add_argument("--fix", action="store_true", help="rewrite the running totals from the forms")

    def handle(self, *args: Any, **options: Any) -> None:
        diffs = tally_recompute(fix=options["fix"])
        for diff in diffs:
            self.stderr.write(str(diff))
        if diffs and not options["fix"]:
            self.stderr.write(f"{len(diffs)} difference(s) between the running totals and the forms.")
            sys.exit(1)
        self.stdout.write("fixed" if diffs else "OK: the running totals equal a full recomputation from the forms.")
