"""Read any station-level results CSV (or a .zip holding one) into a :class:`StationTable`.

Columns are named by a *column spec*: a header name exactly as in the file, a 0-based column
index, or a sum such as ``5+6+7`` (ballots issued early, inside and outside the station are
separate lines of a Russian protocol). A header that itself contains ``+`` is matched whole first.

Two layouts:

* wide (one row per station, one column per entity): ``entities`` lists the entity columns (or
  ``entity_range`` gives a range of indices such as ``21:27``, both ends included);
* long (one row per station and entity, as the Kosovo 2013 files): ``entity_column`` names the
  column that holds the entity and ``votes_column`` its votes; ``station`` columns identify the
  station and rows are summed per station and entity.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tallyroom.rules.forensics.table import ForensicsInputError, IntArray, StationTable

_RANGE = re.compile(r"^\s*(\d+)\s*[:\-]\s*(\d+)\s*$")


class CsvMappingError(ForensicsInputError):
    """A column spec does not fit the file; the message names the option and the column."""


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns hold what. Every value is a column spec (see the module docstring)."""

    registered: str | None = None
    ballots: str | None = None
    valid: str | None = None
    invalid: str | None = None
    leader: str | None = None
    entities: tuple[str, ...] = ()
    entity_range: str | None = None
    station: tuple[str, ...] = ()
    municipality: tuple[str, ...] = ()
    link: str | None = None
    entity_column: str | None = None
    votes_column: str | None = None


@dataclass(frozen=True)
class CsvSource:
    """What was read, for the report."""

    path: str
    member: str | None
    rows: int
    columns: int
    delimiter: str
    mapping: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "zip_member": self.member,
            "rows": self.rows,
            "columns": self.columns,
            "delimiter": self.delimiter,
            "mapping": self.mapping,
        }


def read_table_text(path: Path, encoding: str = "utf-8-sig") -> tuple[str, str | None]:
    """The CSV text of ``path``: the file itself, or the one .csv/.txt/.tsv inside a .zip."""
    if not path.is_file():
        raise CsvMappingError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [
                info.filename
                for info in archive.infolist()
                if not info.is_dir()
                and not info.filename.startswith("__MACOSX/")
                and Path(info.filename).suffix.lower() in {".csv", ".txt", ".tsv"}
            ]
            if len(members) != 1:
                found = ", ".join(members) or "none"
                raise CsvMappingError(f"{path}: a zip must hold exactly one CSV file (found: {found})")
            data = archive.read(members[0])
            member: str | None = members[0]
    else:
        data = path.read_bytes()
        member = None
    try:
        return data.decode(encoding), member
    except UnicodeDecodeError as error:
        raise CsvMappingError(f"{path}: not {encoding} text ({error}); pass --encoding") from error


def sniff_delimiter(first_line: str) -> str:
    """The most frequent of comma, semicolon and tab outside quotes in the header line."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in (",", ";", "\t")}
    return max(counts, key=lambda delimiter: counts[delimiter])


def read_rows(
    path: Path, encoding: str = "utf-8-sig", delimiter: str | None = None
) -> tuple[list[str], list[list[str]], str, str | None]:
    """Header, data rows, the delimiter used and the zip member name (None for a plain file)."""
    text, member = read_table_text(path, encoding)
    first_line = text.split("\n", 1)[0]
    delimiter = delimiter or sniff_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvMappingError(f"{path}: the file is empty") from None
    rows = [row for row in reader if row and (row[0].strip() or any(cell.strip() for cell in row))]
    width = len(header)
    for row in rows:
        if len(row) < width:  # short rows: the missing cells are empty
            row.extend([""] * (width - len(row)))
    if not rows:
        raise CsvMappingError(f"{path}: a header but no data rows")
    return [name.strip() for name in header], rows, delimiter, member


def describe_columns(header: Sequence[str], limit: int = 60) -> str:
    shown = ", ".join(f"{index} {name!r}" for index, name in enumerate(header[:limit]))
    return shown + (f", … ({len(header)} columns)" if len(header) > limit else "")


def resolve_spec(option: str, spec: str, header: Sequence[str]) -> list[int]:
    """Column indices of a spec: a header name, a 0-based index, or a ``+`` sum of those."""

    def one(term: str) -> int | None:
        stripped = term.strip()
        if stripped in header:
            matches = [index for index, name in enumerate(header) if name == stripped]
            if len(matches) > 1:
                raise CsvMappingError(
                    f"{option}: the header {stripped!r} names {len(matches)} columns "
                    f"({', '.join(map(str, matches))}); give the column index instead"
                )
            return matches[0]
        if re.fullmatch(r"\d+", stripped):
            index = int(stripped)
            if index < len(header):
                return index
            raise CsvMappingError(
                f"{option}: column index {index} is out of range: the file has {len(header)} columns "
                f"(0–{len(header) - 1})"
            )
        return None

    whole = one(spec)
    if whole is not None:
        return [whole]
    if "+" in spec:
        indices: list[int] = []
        for term in spec.split("+"):
            index = one(term)
            if index is None:
                raise CsvMappingError(
                    f"{option}: no column {term.strip()!r} (in the sum {spec!r}); the columns are: "
                    + describe_columns(header)
                )
            indices.append(index)
        return indices
    raise CsvMappingError(f"{option}: no column {spec.strip()!r}; the columns are: " + describe_columns(header))


def resolve_range(option: str, spec: str, header: Sequence[str]) -> list[int]:
    match = _RANGE.match(spec)
    if not match:
        raise CsvMappingError(f"{option}: {spec!r} is not a range of column indices such as 21:27")
    start, end = int(match.group(1)), int(match.group(2))
    if start > end or end >= len(header):
        raise CsvMappingError(
            f"{option}: {spec!r} is not a range within the file's {len(header)} columns (0–{len(header) - 1})"
        )
    return list(range(start, end + 1))


def _column_label(index: int, header: Sequence[str]) -> str:
    return f"column {index} {header[index]!r}"


def parse_counts(option: str, index: int, header: Sequence[str], cells: Sequence[str]) -> IntArray:
    """Whole, non-negative numbers of one column; the error names the column, row and value."""
    try:
        values = np.fromiter(map(int, cells), dtype=np.int64, count=len(cells))
    except (ValueError, OverflowError):
        values = np.zeros(len(cells), dtype=np.int64)
        for row, cell in enumerate(cells):
            text = cell.strip()
            try:
                number = float(text.replace(" ", "").replace("\u00a0", ""))
            except ValueError:
                number = float("nan")
            if not np.isfinite(number) or number != int(number):
                shown = repr(str(text)) if text else "an empty cell"
                raise CsvMappingError(
                    f"{option}: {_column_label(index, header)} has {shown} in data row {row + 1} "
                    f"(line {row + 2}), not a whole number"
                ) from None
            values[row] = int(number)
    if np.any(values < 0):
        row = int(np.flatnonzero(values < 0)[0])
        raise CsvMappingError(
            f"{option}: {_column_label(index, header)} has the negative count {int(values[row])} in data row "
            f"{row + 1} (line {row + 2})"
        )
    return values


_COLUMNS: dict[tuple[int, int, int], list[str]] = {}


def _cells(rows: Sequence[Sequence[str]], index: int) -> Sequence[str]:
    """One column of ``rows`` (kept while the same rows are being read: sums reuse columns)."""
    key = (id(rows), len(rows), index)
    if key not in _COLUMNS:
        if len(_COLUMNS) > 64 or any(k[0] != id(rows) for k in _COLUMNS):
            _COLUMNS.clear()
        _COLUMNS[key] = [row[index] if index < len(row) else "" for row in rows]
    return _COLUMNS[key]


def _sum_columns(option: str, indices: list[int], header: Sequence[str], rows: Sequence[Sequence[str]]) -> IntArray:
    total = np.zeros(len(rows), dtype=np.int64)
    for index in indices:
        total += parse_counts(option, index, header, _cells(rows, index))
    return total


def _labels(indices: list[int], header: Sequence[str], rows: Sequence[Sequence[str]]) -> np.ndarray[Any, Any]:
    if not indices:
        return np.array([f"row {row + 1}" for row in range(len(rows))], dtype=np.str_)
    parts = [_cells(rows, index) for index in indices]
    if len(parts) == 1:
        return np.array(parts[0], dtype=np.str_)
    return np.array(list(map(" / ".join, zip(*parts, strict=True))), dtype=np.str_)


def _text(indices: list[int], header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    parts = [_cells(rows, index) for index in indices]
    return list(map(" / ".join, zip(*parts, strict=True))) if len(parts) > 1 else list(parts[0])


def load_station_csv(
    path: Path,
    mapping: ColumnMapping,
    *,
    encoding: str = "utf-8-sig",
    delimiter: str | None = None,
) -> tuple[StationTable, CsvSource]:
    """Read ``path`` (CSV, or a zip with one CSV) with ``mapping`` into a station table."""
    header, rows, used_delimiter, member = read_rows(path, encoding, delimiter)
    resolved: dict[str, Any] = {}

    def spec(option: str, value: str | None) -> list[int] | None:
        if value is None:
            return None
        indices = resolve_spec(option, value, header)
        resolved[option.lstrip("-")] = [f"{index} {header[index]}" for index in indices]
        return indices

    station_cols = [index for value in mapping.station for index in resolve_spec("--station", value, header)]
    municipality_cols = [
        index for value in mapping.municipality for index in resolve_spec("--municipality", value, header)
    ]
    link_cols = spec("--link", mapping.link)
    if station_cols:
        resolved["station"] = [f"{index} {header[index]}" for index in station_cols]
    if municipality_cols:
        resolved["municipality"] = [f"{index} {header[index]}" for index in municipality_cols]

    if mapping.entity_column is not None or mapping.votes_column is not None:
        if mapping.entity_column is None or mapping.votes_column is None:
            raise CsvMappingError("the long layout needs both --entity-column and --votes-column")
        table = _load_long(path, header, rows, mapping, station_cols, municipality_cols, link_cols, spec)
    else:
        table = _load_wide(header, rows, mapping, station_cols, municipality_cols, link_cols, spec, resolved)
    source = CsvSource(
        path=str(path),
        member=member,
        rows=len(rows),
        columns=len(header),
        delimiter=used_delimiter,
        mapping=resolved,
    )
    return table, source


def _optional_counts(
    option: str, indices: list[int] | None, header: Sequence[str], rows: Sequence[Sequence[str]]
) -> IntArray | None:
    return None if indices is None else _sum_columns(option, indices, header, rows)


def _entity_columns(
    entity_specs: list[tuple[str, list[int]]],
    leader_cols: list[int] | None,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
) -> tuple[list[str], list[IntArray], int | None]:
    """Names and votes of the entities, the leader's among them (first when it is not one of them)."""
    names = [name for name, _ in entity_specs]
    columns = [_sum_columns(f"--entity {name!r}", indices, header, rows) for name, indices in entity_specs]
    if leader_cols is None:
        return names, columns, None
    position = next((i for i, (_, indices) in enumerate(entity_specs) if indices == leader_cols), None)
    if position is not None:
        return names, columns, position
    names.insert(0, " + ".join(header[index] for index in leader_cols))
    columns.insert(0, _sum_columns("--leader", leader_cols, header, rows))
    return names, columns, 0


def _load_wide(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    mapping: ColumnMapping,
    station_cols: list[int],
    municipality_cols: list[int],
    link_cols: list[int] | None,
    spec: Any,
    resolved: dict[str, Any],
) -> StationTable:
    registered = _optional_counts("--registered", spec("--registered", mapping.registered), header, rows)
    ballots = _optional_counts("--ballots", spec("--ballots", mapping.ballots), header, rows)
    invalid = _optional_counts("--invalid", spec("--invalid", mapping.invalid), header, rows)
    valid_cols = spec("--valid", mapping.valid)
    leader_cols = spec("--leader", mapping.leader)

    entity_specs: list[tuple[str, list[int]]] = []
    for value in mapping.entities:
        indices = resolve_spec("--entity", value, header)
        entity_specs.append((" + ".join(header[index] for index in indices), indices))
    if mapping.entity_range is not None:
        for index in resolve_range("--entities", mapping.entity_range, header):
            entity_specs.append((header[index], [index]))
    if entity_specs:
        resolved["entities"] = [name for name, _ in entity_specs]

    names, columns, leader_index = _entity_columns(entity_specs, leader_cols, header, rows)
    if not columns:
        raise CsvMappingError("give --leader (the entity to examine) or the entity columns (--entity/--entities)")

    votes = np.column_stack(columns)
    valid = _sum_columns("--valid", valid_cols, header, rows) if valid_cols is not None else votes.sum(axis=1)
    if valid_cols is not None and not entity_specs:
        # Only the leader is known: the rest of the valid votes form one "all others" column.
        others = valid - votes[:, 0]
        if np.any(others < 0):
            row = int(np.flatnonzero(others < 0)[0])
            raise CsvMappingError(
                f"--leader: data row {row + 1} (line {row + 2}) gives the leader {int(votes[row, 0])} votes, "
                f"more than its {int(valid[row])} valid ballots (--valid)"
            )
        votes = np.column_stack([votes[:, 0], others])
        names.append("all others")
    elif np.any(votes.sum(axis=1) > valid):
        row = int(np.flatnonzero(votes.sum(axis=1) > valid)[0])
        raise CsvMappingError(
            f"data row {row + 1} (line {row + 2}): the entity columns add up to {int(votes[row].sum())} votes, "
            f"more than its {int(valid[row])} valid ballots (--valid)"
        )
    if leader_index is None:
        leader_index = int(np.argmax(votes.sum(axis=0)))
    return StationTable(
        station_ids=_labels(station_cols, header, rows),
        municipality_ids=_labels(municipality_cols, header, rows) if municipality_cols else np.full(len(rows), "all"),
        registered=registered,
        ballots=ballots,
        valid=valid,
        invalid=invalid,
        votes=votes,
        entity_names=tuple(names),
        leader=leader_index,
        links=None if link_cols is None else _text(link_cols, header, rows),
    )


def _load_long(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    mapping: ColumnMapping,
    station_cols: list[int],
    municipality_cols: list[int],
    link_cols: list[int] | None,
    spec: Any,
) -> StationTable:
    if not station_cols:
        raise CsvMappingError("the long layout needs --station: the column(s) that identify a station")
    entity_cols = spec("--entity-column", mapping.entity_column) or []
    votes_cols = spec("--votes-column", mapping.votes_column) or []
    entity_labels = _labels(entity_cols, header, rows)
    votes = _sum_columns("--votes-column", votes_cols, header, rows)
    keys = _labels(station_cols, header, rows)
    station_names, first_row, station_index = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first_row, kind="stable")  # stations in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    station_index = rank[station_index.reshape(-1)]
    first_row = first_row[order]
    entity_names, entity_index = np.unique(entity_labels, return_inverse=True)
    matrix = np.zeros((order.size, entity_names.size), dtype=np.int64)
    np.add.at(matrix, (station_index, entity_index.reshape(-1)), votes)
    first_rows = [rows[int(index)] for index in first_row]

    def per_station(option: str, value: str | None) -> IntArray | None:
        indices = spec(option, value)
        return None if indices is None else _sum_columns(option, indices, header, first_rows)

    registered = per_station("--registered", mapping.registered)
    ballots = per_station("--ballots", mapping.ballots)
    invalid = per_station("--invalid", mapping.invalid)
    valid_given = per_station("--valid", mapping.valid)
    valid = matrix.sum(axis=1) if valid_given is None else valid_given
    names = [str(name) for name in entity_names]
    if mapping.leader is not None:
        if mapping.leader not in names:
            raise CsvMappingError(
                f"--leader: no entity {mapping.leader!r} in {path.name}'s column "
                f"{header[entity_cols[0]]!r} (entities: {', '.join(names[:40])})"
            )
        leader = names.index(mapping.leader)
    else:
        leader = int(np.argmax(matrix.sum(axis=0)))
    return StationTable(
        station_ids=station_names[order],
        municipality_ids=_labels(municipality_cols, header, first_rows)
        if municipality_cols
        else np.full(order.size, "all"),
        registered=registered,
        ballots=ballots,
        valid=valid,
        invalid=invalid,
        votes=matrix,
        entity_names=tuple(names),
        leader=leader,
        links=None if link_cols is None else _text(link_cols, header, first_rows),
    )
