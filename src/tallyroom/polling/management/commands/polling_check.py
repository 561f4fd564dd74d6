"""`tallyroom polling-check`: recompute station statuses and turnout figures from the logs and say
where the derived tables differ (exit 1 if they do)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tallyroom.elections.models import Round
from tallyroom.polling.selectors import derived_state_problems


class Command(BaseCommand):
    help = "Check that station statuses and turnout figures equal what the event and report logs say."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--election", help="only this election (code)")

    def handle(self, *args: Any, **options: Any) -> None:
        rounds = Round.objects.select_related("election").order_by("election__code", "date")
        if options["election"]:
            rounds = rounds.filter(election__code=options["election"])
        problems = 0
        for round_ in rounds:
            found = derived_state_problems(round_)
            problems += len(found)
            for line in found:
                self.stdout.write(f"{round_.election.code}/{round_.code}: {line}")
        if problems:
            self.stderr.write(f"{problems} difference(s) between the derived tables and the logs.")
            sys.exit(1)
        self.stdout.write("Station statuses and turnout figures agree with the logs.")
