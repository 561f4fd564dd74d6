"""Set-based writes for the hot path: plain rows, no model instances.

PostgreSQL gets COPY (the fastest way in); SQLite gets executemany of one prepared statement.
Table and column names come from the models, never from input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)  # noqa: S101 - concrete columns only
    return str(field.column)


Row = Sequence[int | str | None]


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Row]) -> int:
    table = model._meta.db_table
    cols = [_column(model, c) for c in columns]
    quoted = ", ".join(connection.ops.quote_name(c) for c in cols)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # the psycopg cursor behind Django's wrapper
            with raw.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        batch = list(rows)
        marks = ", ".join(["%s"] * len(cols))
        cursor.executemany(f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})", batch)  # noqa: S608 - names from models
        return len(batch)


def add_to_counts(
    model: type[models.Model], value_column: str, key_columns: Sequence[str], deltas: Iterable[Sequence[int]]
) -> None:
    """`UPDATE model SET value = value + delta WHERE keys = ...` for each (delta, *keys)."""
    table = connection.ops.quote_name(model._meta.db_table)
    value = connection.ops.quote_name(_column(model, value_column))
    where = " AND ".join(f"{connection.ops.quote_name(_column(model, k))} = %s" for k in key_columns)
    rows = [tuple(d) for d in deltas if d[0]]
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {value} = {value} + %s WHERE {where}", rows)  # noqa: S608
