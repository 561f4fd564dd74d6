"""Within one snapshot, each contest's results are computed once, not once per language and file,
and each municipality's standings read once, not once per language and page.

Neither depends on the language, and a snapshot renders a municipality's page and its station pages
in three languages and its data files in several formats from them. Outside `results_memo()` (the
live site) every call computes afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from tallyroom.elections.models import Contest
from tallyroom.results import selectors

_MEMO: ContextVar[dict[Hashable, Any] | None] = ContextVar("results_memo", default=None)
T = TypeVar("T")


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
    return remembered(("contest_results", contest.pk), lambda: selectors.contest_results(contest))


def remembered(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, once per `key` while a `results_memo()` is open. The answer must not depend on
    the language, and callers only read it."""
    memo = _MEMO.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    answer: T = memo[key]
    return answer
