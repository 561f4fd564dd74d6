"""The station list as commissions keep it in spreadsheets: CSV in whatever encoding Excel wrote.

Columns (header names are case-insensitive; Albanian and Serbian headers are accepted):
municipality, centre, centre_name, station, registered, kind (optional).
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass

from tallyroom.elections.definition import Problem

ENCODINGS = ("utf-8-sig", "utf-8", "cp1250", "cp1252")
COLUMNS: dict[str, tuple[str, ...]] = {
    "municipality": ("municipality", "komuna", "opstina", "opština", "municipality_code"),
    "centre": ("centre", "center", "polling_centre", "qendra", "qendra_e_votimit", "centar"),
    "centre_name": (
        "centre_name",
        "center_name",
        "emri_i_qendres",
        "emri",
        "naziv_centra",
        "naziv",
    ),
    "station": ("station", "polling_station", "vendvotimi", "biracko_mesto", "biračko_mesto"),
    "registered": ("registered", "registered_voters", "votues", "votuesit", "biraci", "birači"),
    "kind": ("kind", "type", "lloji", "vrsta"),
}
REQUIRED = ("municipality", "centre", "station", "registered")
# Where the two code pages disagree, a Kosovo file rules out one reading: bytes that are Serbian
# letters in 1250 (č ć đ) read as è æ ð in 1252, and Western letters in 1252 (à ñ ò ø) read as
# Czech, Polish or Hungarian letters (ŕ ń ň ř) in 1250. Count the implausible letters of each.
_UNLIKELY = {
    "cp1250": set("ŕĺľťďěňřůőűăşţąęłńśźżŔĹĽŤĎĚŇŘŮŐŰĂŞŢĄĘŁŃŚŹŻ"),
    "cp1252": set("ÈèÆæÐðÞþ"),
}


@dataclass(frozen=True)
class StationRow:
    row: int
    municipality: str
    centre: str
    centre_name: str
    station: str
    registered: int
    kind: str


def decode(raw: bytes, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding): UTF-8 (with or without BOM) if it reads plausibly, else the likelier code page."""
    if encoding:
        return raw.decode(encoding), encoding
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw.decode("utf-8-sig"), "utf-8-sig"
    candidates: list[tuple[int, int, str, str]] = []
    try:
        text = raw.decode("utf-8")
        candidates.append((-_implausible(text, set()), 2, "utf-8", text))
    except UnicodeDecodeError:
        pass
    for rank, enc in ((1, "cp1250"), (0, "cp1252")):  # ties: UTF-8, then 1250 (Kosovo's Windows default)
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        candidates.append((-_implausible(text, _UNLIKELY[enc]), rank, enc, text))
    if not candidates:
        return raw.decode("latin-1"), "latin-1"
    _, _, enc, text = max(candidates)
    return text, enc


def _implausible(text: str, unlikely: set[str]) -> int:
    """How many characters a Kosovo station list would hardly hold: odd scripts, Latin glued to Cyrillic."""
    count = sum(ch in unlikely or not _plausible(ch) for ch in text)
    return count + sum(
        _is_cyrillic(a) != _is_cyrillic(b) for a, b in itertools.pairwise(text) if a.isalpha() and b.isalpha()
    )


def _is_cyrillic(ch: str) -> bool:
    return 0x400 <= ord(ch) < 0x530


def _plausible(ch: str) -> bool:
    code = ord(ch)
    return code < 0x180 or _is_cyrillic(ch) or 0x2000 <= code < 0x2070 or ch in "€™"


def parse(raw: bytes, encoding: str | None = None) -> tuple[list[StationRow], list[Problem], str]:
    """The well-formed rows, and every problem with its row and column. Any problem means: load nothing."""
    try:
        text, used = decode(raw, encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        return [], [Problem("", f"cannot decode the file as {encoding}: {exc}")], encoding or "?"
    if not text.strip():
        return [], [Problem("", "the file is empty")], used
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader)
    columns, problems = _map_header(header)
    if problems:
        return [], problems, used
    rows: list[StationRow] = []
    seen: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        row, row_problems = _parse_row(number, cells, columns, header)
        problems.extend(row_problems)
        if row is None:
            continue
        if row.station in seen:
            problems.append(
                _at(
                    number,
                    header[columns["station"]],
                    f"duplicate station {row.station!r} (also row {seen[row.station]})",
                )
            )
        seen.setdefault(row.station, number)
        rows.append(row)
    if not rows and not problems:
        problems.append(Problem("", "the file has a header but no stations"))
    return rows, problems, used


def _at(row: int, column: str, message: str) -> Problem:
    return Problem(f'row {row}, column "{column}"', message)


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _map_header(header: list[str]) -> tuple[dict[str, int], list[Problem]]:
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        for field, aliases in COLUMNS.items():
            if _norm(name) in aliases and field not in columns:
                columns[field] = index
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        found = ", ".join(repr(h) for h in header)
        return columns, [Problem("row 1", f"missing column(s) {', '.join(missing)} (found {found})")]
    return columns, []


def _parse_row(
    number: int, cells: list[str], columns: dict[str, int], header: list[str]
) -> tuple[StationRow | None, list[Problem]]:
    def cell(field: str) -> str:
        index = columns.get(field)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    problems = [
        _at(number, header[columns[f]], "is empty") for f in ("municipality", "centre", "station") if not cell(f)
    ]
    registered_text = cell("registered").replace(" ", "").replace("\u00a0", "")
    registered = -1
    if registered_text.isdigit():
        registered = int(registered_text)
    else:
        problems.append(
            _at(
                number,
                header[columns["registered"]],
                f"must be a whole number >= 0 (got {cell('registered')!r})",
            )
        )
    kind = cell("kind").lower() or "regular"
    if kind not in {"regular", "dual", "central"}:
        problems.append(_at(number, header[columns["kind"]], f"must be regular, dual or central (got {kind!r})"))
    if problems:
        return None, problems
    row = StationRow(
        number,
        cell("municipality"),
        cell("centre"),
        cell("centre_name") or cell("centre"),
        cell("station"),
        registered,
        kind,
    )
    return row, []
