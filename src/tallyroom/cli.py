"""The `tallyroom` command: every Django management command, by its hyphenated name.

`tallyroom load FILE` runs the `load` command, `tallyroom load-stations FILE.csv` runs
`load_stations`, and so on; `tallyroom help` lists them. DATABASE_URL chooses the database.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tallyroom.settings")
    from django.core.management import execute_from_command_line

    if not args or args[0] in {"-h", "--help"}:
        args = ["help"]
    elif not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")
    execute_from_command_line(["tallyroom", *args])


if __name__ == "__main__":
    main()
