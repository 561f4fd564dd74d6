"""Within one snapshot, each contest's results are computed once, not once per language and file.

`contest_results` does not depend on the language, and a snapshot renders a municipality's page in
three languages and its data files in several formats from it. Outside `results_memo()` (the live
site) every call computes afresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from tallyroom.elections.models import Contest
from tallyroom.results import selectors

_MEMO: ContextVar[dict[int, dict[str, Any]] | None] = ContextVar("contest_results_memo", default=None)


@contextmanager
def results_memo() -> Iterator[None]:
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def contest_results(contest: Contest) -> dict[str, Any]:
    """`results.selectors.contest_results`, remembered while a `results_memo()` is open. Callers
    only read the answer."""
    memo = _MEMO.get()
    if memo is None:
        return selectors.contest_results(contest)
    if contest.pk not in memo:
        memo[contest.pk] = selectors.contest_results(contest)
    return memo[contest.pk]
