"""Within one snapshot, each contest's results are computed once, not once per language and file,
each municipality's standings read (and its page's content built) once, not once per language
and page, the election's counts once for its pages in every language, and the rows every page
looks up (the election, its rounds, the municipality) once.

Neither depends on the language, and a snapshot renders a municipality's page and its station pages
in three languages and its data files in several formats from them. Outside `results_memo()` (the
live site) every call computes afresh.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tallyroom.elections.models import Contest, Round
from tallyroom.results import tabulation


@dataclass
class _Memo:
    results: dict[int, dict[str, Any]] = field(default_factory=dict)  # every contest's: small
    # A few municipalities' reads (standings of every station): the snapshot visits a municipality's
    # pages in every language one after the other, so the last few are all it needs, and a national
    # snapshot (a thousand municipalities of a thousand stations) could not hold them all.
    # One shelf per kind of answer (reads, pages, station pages, the election's counts, rows), so one
    # kind never pushes out another.
    recent: dict[str, OrderedDict[Hashable, Any]] = field(default_factory=dict)


RECENT = 4
_MEMO: ContextVar[_Memo | None] = ContextVar("results_memo", default=None)
T = TypeVar("T")


@contextmanager
def results_memo() -> Iterator[None]:
    token = _MEMO.set(_Memo())
    try:
        yield
    finally:
        _MEMO.reset(token)


def contest_results(contest: Contest) -> dict[str, Any]:
    """`results.selectors.contest_results`, remembered while a `results_memo()` is open. Callers
    only read the answer."""
    return contests_results([contest.pk])[contest.pk]


def contests_results(contest_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """`results.tabulation.contests_results`, remembered with `contest_results`: those not yet read
    are read together (a fixed number of queries however many)."""
    ids = list(contest_ids)
    memo = _MEMO.get()
    if memo is None:
        return tabulation.contests_results(ids)
    missing = [pk for pk in ids if pk not in memo.results]
    if missing:
        memo.results.update(tabulation.contests_results(missing))
    return {pk: memo.results[pk] for pk in ids}


def results_prefetch(municipality_ids: Iterable[int] | None) -> None:
    """Read the results of these municipalities' contests (None: every one) in one go, for the pages
    and files about to be rendered; repeat votes are read as part of the contests they repeat."""
    if _MEMO.get() is None:
        return
    contests = Contest.objects.exclude(round__kind=Round.Kind.REPEAT)
    if municipality_ids is not None:
        contests = contests.filter(municipality_id__in=list(municipality_ids))
    contests_results(contests.values_list("pk", flat=True))


def remembered(key: Hashable, compute: Callable[[], T], shelf: str = "reads") -> T:
    """`compute()`, once per `key` among the last few keys of its shelf while a `results_memo()` is
    open. The answer must not depend on the language, and callers only read it."""
    memo = _MEMO.get()
    if memo is None:
        return compute()
    recent = memo.recent.setdefault(shelf, OrderedDict())
    if key in recent:
        recent.move_to_end(key)
    else:
        recent[key] = compute()
        while len(recent) > RECENT:
            recent.popitem(last=False)
    answer: T = recent[key]
    return answer
