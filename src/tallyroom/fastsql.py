"""Set-based writes for the hot path: plain rows, or model instances without the ORM's per-value work.

PostgreSQL gets COPY (the fastest way in); SQLite gets executemany of one prepared statement, or
bulk_create. Table and column names come from the models, never from input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connection, models
from django.db.models import Lookup, QuerySet


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)  # noqa: S101 - concrete columns only
    return str(field.column)


Row = Sequence[int | str | bool | dt.datetime | None]  # datetimes as connection.ops adapts them


def constraints_immediate() -> None:
    """Check the transaction's deferred foreign keys at each statement instead of at commit
    (PostgreSQL; SQLite has no such switch). A bulk write's checks then run before it takes the
    audit chain's head, not while it holds it and the other writers wait for it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


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


def insert_int_rows(
    model: type[models.Model], columns: tuple[str, str, str], rows: Sequence[tuple[int, int, int]]
) -> int:
    """`insert_rows` for the vote rows (form, choice, votes): tens of millions at national scale. On
    PostgreSQL the COPY text is written in chunks: an integer needs no quoting, and psycopg's
    per-row `write_row` was a twentieth of the bulk path's time."""
    if connection.vendor != "postgresql":
        return insert_rows(model, columns, rows)
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(_column(model, c)) for c in columns)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
        for start in range(0, len(rows), 20_000):
            copy.write("".join([f"{a}\t{b}\t{c}\n" for a, b, c in rows[start : start + 20_000]]))
    return len(rows)


# Fields whose Python value psycopg writes as is; any other field goes through get_db_prep_save.
_PLAIN_FIELDS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateTimeField",
        "ForeignKey",
        "IntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


def insert_models(objs: Sequence[models.Model]) -> None:
    """Insert new instances of one model and set their primary keys, as bulk_create does (no signals).

    On PostgreSQL the keys are drawn from the table's sequence in one query, then the rows go in by
    COPY: the ORM's per-value preparation was most of bulk_create's cost on the bulk ingest path.
    """
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs, batch_size=2000)
        return
    meta = model._meta
    assert meta.pk is not None  # noqa: S101 - every model has one
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        for obj, pk in zip(objs, ids, strict=True):
            obj.pk = pk
        fields = list(meta.concrete_fields)
        plain = [f.get_internal_type() in _PLAIN_FIELDS for f in fields]
        quoted = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        raw = cursor.cursor
        with raw.copy(f"COPY {connection.ops.quote_name(meta.db_table)} ({quoted}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row(
                    [
                        f.pre_save(obj, True) if is_plain else f.get_db_prep_save(f.pre_save(obj, True), connection)
                        for f, is_plain in zip(fields, plain, strict=True)
                    ]
                )
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def _add_from(model: type[models.Model], keys: Mapping[str, str], values: Mapping[str, str], added: str) -> str:
    """`UPDATE model SET f = f + <added> ... FROM ({source}) AS s WHERE key = s.alias ...`, with the
    source left as `{source}`. `keys` and `values` map the model's fields to the source's columns;
    `added` is the amount for a value column `{}`."""
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    sets = ", ".join(
        f"{qn(_column(model, f))} = {table}.{qn(_column(model, f))} + " + added.format(f"s.{qn(alias)}")
        for f, alias in values.items()
    )
    where = " AND ".join(f"{table}.{qn(_column(model, f))} = s.{qn(alias)}" for f, alias in keys.items())
    return f"UPDATE {table} SET {sets} FROM ({{source}}) AS s WHERE {where}"  # noqa: S608 - names from models


def add_sums(
    model: type[models.Model],
    keys: Mapping[str, str],
    values: Mapping[str, str],
    source: QuerySet[Any, Any],
    sign: int,
) -> None:
    """Add `sign` times the sums of `source` (a values().annotate() query) to the matching rows of
    `model`, in one `UPDATE ... FROM (source)` (PostgreSQL, and SQLite since 3.33).

    `keys` and `values` map the model's fields to the source's output names. The caller holds the
    rows' locks; rows the source does not name are left alone, as are source rows with no target.
    """
    inner, params = source.query.get_compiler(connection=connection).as_sql()
    sql = _add_from(model, keys, values, "%s * COALESCE({}, 0)").format(source=inner)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*([sign] * len(values)), *params])


def add_rows(
    model: type[models.Model], keys: Sequence[str], values: Sequence[str], rows: Sequence[Sequence[int]]
) -> None:
    """Add integer rows (the key fields' values, then the value fields') to the matching rows of
    `model`, as `add_sums` adds a query's sums: one `UPDATE ... FROM` (per chunk of 500 on SQLite)."""
    if not rows:
        return
    names = [f"c{i}" for i in range(len(keys) + len(values))]
    columns_of = dict(zip(values, names[len(keys) :], strict=True))
    sql = _add_from(model, dict(zip(keys, names, strict=False)), columns_of, "{}")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one array per column, whatever the number of rows
            arrays = ", ".join(["%s::bigint[]"] * len(names))
            source = f"SELECT * FROM unnest({arrays}) AS u({', '.join(names)})"  # noqa: S608 - placeholders
            cursor.execute(sql.format(source=source), [list(column) for column in zip(*rows, strict=True)])
            return
        # SQLite names a VALUES list's columns column1, column2, ...
        columns = ", ".join(f"column{i + 1} AS {name}" for i, name in enumerate(names))
        one = "(" + ", ".join(["%s"] * len(names)) + ")"
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            source = f"SELECT {columns} FROM (VALUES {', '.join([one] * len(chunk))})"  # noqa: S608 - placeholders
            cursor.execute(sql.format(source=source), [v for row in chunk for v in row])


@models.Field.register_lookup
class AnyOf(Lookup[Any]):
    """`field__any=values`: the same rows as `__in`, but PostgreSQL gets one array parameter
    (`= ANY(%s)`) instead of an IN list of thousands of placeholders, which the ORM and the driver
    prepare one value at a time (6x slower for the bulk path's 5,000 keys)."""

    lookup_name = "any"
    prepare_rhs = False

    def process_rhs(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        values = [self.lhs.output_field.get_prep_value(v) for v in self.rhs]
        if connection.vendor == "postgresql":
            return "%s", [values]
        return "(" + ", ".join(["%s"] * len(values)) + ")", values

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if not rhs_params or (connection.vendor == "postgresql" and not rhs_params[0]):
            return "1 = 0", []
        operator = "= ANY(%s)" % rhs if connection.vendor == "postgresql" else f"IN {rhs}"  # noqa: UP031
        return f"{lhs} {operator}", [*lhs_params, *rhs_params]


models.ForeignObject.register_lookup(AnyOf)  # related fields keep their own lookup table
