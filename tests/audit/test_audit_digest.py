"""A state digest streamed row by row is the digest of the whole list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tallyroom.audit.chain import digest, digest_rows

cells = (
    st.none()
    | st.integers()
    | st.text(max_size=6)
    | st.datetimes(timezones=st.just(dt.UTC))
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=3)
)


@given(st.lists(st.tuples(cells, cells, cells) | st.lists(cells, max_size=3), max_size=20))
def test_streamed_rows_digest_as_the_list(rows: list[Any]) -> None:
    assert digest_rows(iter(rows)) == digest(rows)
