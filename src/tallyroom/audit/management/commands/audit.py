"""`tallyroom audit verify`: walk the hash chain and check it against the data. Exit 1 on a break."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tallyroom.audit.chain import chain_head, verify


class Command(BaseCommand):
    help = "Audit chain: `verify` checks every link and the current data; `head` prints the chain's tip."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify", "head"])

    def handle(self, *args: Any, **options: Any) -> None:
        seq, head = chain_head()
        if options["action"] == "head":
            self.stdout.write(f"{seq} {head}")
            return
        findings = list(verify())
        if findings:
            self.stderr.write(f"FAILED at {findings[0]}")
            for finding in findings[1:]:
                self.stderr.write(f"  also {finding}")
            sys.exit(1)
        self.stdout.write(f"OK: {seq:,} entries, head {head}")
