"""The schema's indexes: every foreign key can be searched by an index, and no index repeats another.

Each index costs every insert; at a million stations the result tables take tens of millions of
rows, so a redundant one is paid for that many times. A missing one makes a delete of the row it
points to (or a join from it) read the whole table.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection, models

OURS = {"accounts", "audit", "elections", "polling", "publish", "results"}


def _our_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if m._meta.app_label in OURS and not m._meta.proxy]


def _leading_columns(model: type[models.Model]) -> list[tuple[str, ...]]:
    """The column lists of the model's indexes and unique constraints (partial ones included)."""
    meta = model._meta
    out: list[tuple[str, ...]] = []
    for f in meta.concrete_fields:
        if f.primary_key or f.unique or f.db_index:
            out.append((f.column,))
    for index in meta.indexes:
        out.append(tuple(meta.get_field(name.lstrip("-")).column for name in index.fields))
    for constraint in meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            out.append(tuple(meta.get_field(name).column for name in constraint.fields))
    out.extend(tuple(meta.get_field(name).column for name in together) for together in meta.unique_together)
    return out


def test_every_foreign_key_leads_an_index() -> None:
    missing = []
    for model in _our_models():
        indexed = _leading_columns(model)
        for f in model._meta.concrete_fields:
            if isinstance(f, models.ForeignKey) and not any(cols[0] == f.column for cols in indexed):
                missing.append(f"{model._meta.label}.{f.name}")
    assert missing == []


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the production database's indexes")
def test_no_index_is_a_prefix_of_another_in_the_database() -> None:
    """Read from the database itself, so indexes Django adds on its own (a foreign key's, a
    PostgreSQL LIKE index) count too. A non-unique, non-partial index whose columns begin another
    index's is redundant."""
    redundant = []
    with connection.cursor() as cursor:
        for model in _our_models():
            table = model._meta.db_table
            found = connection.introspection.get_constraints(cursor, table)
            indexes = {name: c for name, c in found.items() if c["index"] or c["unique"] or c["primary_key"]}
            for name, c in indexes.items():
                if c["unique"] or c["primary_key"] or not c["columns"] or _partial(cursor, name):
                    continue
                for other, d in indexes.items():
                    longer = d["columns"] or []
                    if (
                        other != name
                        and c.get("type") == d.get("type")
                        and not _partial(cursor, other)
                        and len(longer) > len(c["columns"])
                        and longer[: len(c["columns"])] == c["columns"]
                    ):
                        redundant.append(f"{table}.{name} (covered by {other})")
                if connection.vendor == "postgresql" and name.endswith("_like") and _hashes(c["columns"]):
                    redundant.append(f"{table}.{name} (a LIKE index on a hash)")
    assert redundant == []


def _hashes(columns: list[str]) -> bool:
    return any(col.endswith(("hash", "sha256")) for col in columns)


def _partial(cursor: object, name: str) -> bool:
    if connection.vendor != "postgresql":
        return False
    cursor.execute("SELECT indpred IS NOT NULL FROM pg_index WHERE indexrelid = %s::regclass", [name])  # type: ignore[attr-defined]
    row = cursor.fetchone()  # type: ignore[attr-defined]
    return bool(row and row[0])


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the production database's constraints")
def test_the_database_checks_every_foreign_key_but_the_vote_rows() -> None:
    """Only the references listed in UNCHECKED go without a database constraint, and no more."""
    from tallyroom.results.models import UNCHECKED

    unchecked = []
    with connection.cursor() as cursor:
        for model in _our_models():
            found = connection.introspection.get_constraints(cursor, model._meta.db_table)
            constrained = {c["columns"][0] for c in found.values() if c["foreign_key"]}
            unchecked += [
                (model._meta.label, f.name)
                for f in model._meta.concrete_fields
                if isinstance(f, models.ForeignKey) and f.column not in constrained
            ]
    assert set(unchecked) == set(UNCHECKED)
