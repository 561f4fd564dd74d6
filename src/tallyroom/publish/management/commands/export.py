"""`tallyroom export --format csv|json|cdf|preferences --out PATH`: the open-data files, byte for byte
what /data/... serves (see docs/open-data.md)."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tallyroom.elections.models import Election, Municipality
from tallyroom.publish.opendata import DataFormat, export_chunks


class Command(BaseCommand):
    help = "Write an election's (or one municipality's) results as open data: CSV, JSON or NIST CDF JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, choices=[str(f) for f in DataFormat])
        parser.add_argument("--out", required=True, help="file to write, or - for standard output")
        parser.add_argument("--election", help="election code (default: the only election loaded)")
        parser.add_argument("--municipality", help="municipality code: only this municipality")

    def handle(self, *args: Any, **options: Any) -> None:
        election = _election(options["election"])
        municipality = None
        if options["municipality"]:
            municipality = Municipality.objects.filter(election=election, code=options["municipality"]).first()
            if municipality is None:
                raise CommandError(f"No municipality {options['municipality']!r} in election {election.code!r}.")
        started = time.perf_counter()
        chunks = export_chunks(election, DataFormat(options["format"]), municipality)
        if options["out"] == "-":
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        out = Path(options["out"])
        partial = out.with_name(out.name + ".partial")
        digest, size = hashlib.sha256(), 0
        with partial.open("wb") as fh:  # a reader never sees half a file
            for chunk in chunks:
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        os.replace(partial, out)
        seconds = time.perf_counter() - started
        self.stdout.write(f"Wrote {out}: {size:,} bytes in {seconds:.1f} s, SHA-256 {digest.hexdigest()}")


def _election(code: str | None) -> Election:
    elections = Election.objects.defer("definition_packed").order_by("code")
    if code:
        found = elections.filter(code=code).first()
        if found is None:
            raise CommandError(f"No election {code!r}.")
        return found
    codes = list(elections.values_list("code", flat=True)[:10])
    if len(codes) != 1:
        raise CommandError(
            "Name the election with --election CODE"
            + (f" (one of {', '.join(codes)})." if codes else "; none is loaded.")
        )
    return elections.get(code=codes[0])
