"""The stored form of a definition: canonical JSON written a municipality at a time, compressed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from hypothesis import given
from hypothesis import strategies as st

from tallyroom.elections.definition import (
    canonical_bytes,
    canonical_chunks,
    canonical_sha256,
    definition_pack,
    definition_unpack,
)
from tallyroom.elections.models import Election
from tallyroom.elections.simulate import simulate_definition

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
scalars = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | text
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=12
)
documents = st.dictionaries(text, values, max_size=5) | st.fixed_dictionaries(
    {"municipalities": st.lists(st.dictionaries(text, values, max_size=4), max_size=5)},
    optional={"code": text, "zeta": values, "Ä": values, "": values},
)


@given(documents)
def test_chunks_are_the_canonical_bytes(doc: dict[str, Any]) -> None:
    assert b"".join(canonical_chunks(doc)) == canonical_bytes(doc)


@given(documents)
def test_a_packed_definition_reads_back_with_the_same_digest(doc: dict[str, Any]) -> None:
    packed = definition_pack(doc)
    assert definition_unpack(packed.data) == doc
    assert packed.sha256 == hashlib.sha256(canonical_bytes(doc)).hexdigest() == canonical_sha256(doc)


def test_the_chunks_of_a_national_definition_are_a_municipality_each() -> None:
    doc = simulate_definition(2_000, 40, seed=3)
    chunks = list(canonical_chunks(doc))
    whole = canonical_bytes(doc)
    assert b"".join(chunks) == whole
    assert max(map(len, chunks)) < len(whole) / 20  # never the whole text at once
    packed = definition_pack(doc)
    assert len(packed.data) < len(whole) / 5
    assert json.loads(json.dumps(definition_unpack(packed.data))) == doc


@pytest.mark.django_db(transaction=True)
def test_the_migration_packs_stored_definitions_keeping_their_digest(small_definition: dict[str, Any]) -> None:
    before = [("elections", "0003_election_base_manager")]
    after = [("elections", "0004_election_definition_packed")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("elections", "Election")
        digest = canonical_sha256(small_definition)
        old.objects.create(
            code="old",
            name_en="Old",
            timezone="Europe/Belgrade",
            polls_open=dt.time(7),
            polls_close=dt.time(19),
            definition=small_definition,
            definition_sha256=digest,
        )
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    election = Election.objects.get(code="old")
    assert election.definition == small_definition
    assert election.definition_sha256 == digest == definition_pack(election.definition).sha256
