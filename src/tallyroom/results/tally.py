"""Running totals per contest, changed in the same transaction as the forms they count.

Writers lock the contests' tally rows in primary-key order before touching any total, so two
transactions counting forms of the same contests never deadlock and never lose an update.
A full recomputation from the counted forms must give exactly the running totals.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, transaction
from django.db.models import Case, Count, F, Max, Min, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from tallyroom.elections.models import Candidate, Contest
from tallyroom.fastsql import add_rows, add_sums
from tallyroom.results.models import (
    ContestTally,
    FormKind,
    ResultForm,
    ResultPreference,
    ResultVote,
    TallyPreference,
    TallyVote,
)

TOTAL_FIELDS = ("forms_counted", "official_counted", "registered_counted", "ballots_used", "invalid", "blank", "valid")


def tally_ensure(contest_ids: Iterable[int]) -> None:
    """Create the zeroed tally rows of contests that have none yet (ballot entities, list candidates)."""
    ids = sorted(set(contest_ids))
    missing = set(ids) - set(ContestTally.objects.filter(contest_id__in=ids).values_list("contest_id", flat=True))
    if not missing:
        return
    ContestTally.objects.bulk_create([ContestTally(contest_id=c) for c in sorted(missing)], ignore_conflicts=True)
    for contest in Contest.objects.filter(pk__in=missing).order_by("pk"):
        entity_ids = _ballot_entity_ids(contest)
        TallyVote.objects.bulk_create(
            [TallyVote(contest=contest, entity_id=e) for e in entity_ids], ignore_conflicts=True
        )
        if contest.kind == Contest.Kind.ASSEMBLY:
            candidates = Candidate.objects.filter(
                municipality_id=contest.municipality_id, office=Candidate.Office.ASSEMBLY, entity_id__in=entity_ids
            ).values_list("pk", flat=True)
            TallyPreference.objects.bulk_create(
                [TallyPreference(contest=contest, candidate_id=c) for c in candidates], ignore_conflicts=True
            )


def _ballot_entity_ids(contest: Contest) -> list[int]:
    if contest.kind == Contest.Kind.MAYOR:
        return list(contest.candidates.values_list("entity_id", flat=True))
    return list(contest.entities.values_list("pk", flat=True))


def tally_lock(contest_ids: Iterable[int]) -> None:
    """Lock the tallies of these contests, in primary-key order (call before counting forms)."""
    ids = sorted(set(contest_ids))
    tally_ensure(ids)
    list(ContestTally.objects.filter(contest_id__in=ids).order_by("pk").select_for_update().values_list("pk"))


def tally_apply(form_ids: Sequence[int], sign: int) -> None:
    """Add (sign=+1) or remove (sign=-1) these forms' numbers; the caller holds the tally locks.

    Three set-based statements whatever the number of forms, entities and candidates."""
    if not form_ids:
        return
    ids = list(form_ids)
    add_sums(
        ContestTally,
        {"contest": "k_contest"},
        {name: name for name in TOTAL_FIELDS},
        ResultForm.objects.filter(pk__any=ids).values(k_contest=F("contest_id")).annotate(**_form_sums()).order_by(),
        sign,
    )
    add_sums(
        TallyVote,
        {"contest": "k_contest", "entity": "k_choice"},
        {"votes": "total"},
        ResultVote.objects.filter(form_id__any=ids)
        .values(k_contest=F("form__contest_id"), k_choice=F("entity_id"))
        .annotate(total=Sum("votes"))
        .order_by(),
        sign,
    )
    add_sums(
        TallyPreference,
        {"contest": "k_contest", "candidate": "k_choice"},
        {"votes": "total"},
        ResultPreference.objects.filter(form_id__any=ids)
        .values(k_contest=F("form__contest_id"), k_choice=F("candidate_id"))
        .annotate(total=Sum("votes"))
        .order_by(),
        sign,
    )


@dataclass
class TallyDelta:
    """What new forms add to their contests' totals, summed from the rows a writer already holds
    (the bulk path) instead of read back from the database. Must agree with `tally_apply(ids, +1)`."""

    totals: dict[int, list[int]] = field(default_factory=dict)  # contest -> TOTAL_FIELDS, in order
    votes: Counter[tuple[int, int]] = field(default_factory=Counter)  # (contest, entity)
    preferences: Counter[tuple[int, int]] = field(default_factory=Counter)  # (contest, candidate)

    def add(
        self,
        form: ResultForm,
        registered: int | None,
        votes: Iterable[tuple[int, int]],
        preferences: Iterable[tuple[int, int]],
    ) -> None:
        """One counted form; `registered` is its station's roll (None for a central counting unit)."""
        contest = form.contest_id
        used = form.ballots_used if form.ballots_used is not None else form.valid + form.invalid
        row = (1, form.kind == FormKind.OFFICIAL, registered or 0, used, form.invalid, form.blank, form.valid)
        totals = self.totals.setdefault(contest, [0] * len(TOTAL_FIELDS))
        for i, value in enumerate(row):
            totals[i] += value
        for choice, count in votes:
            self.votes[contest, choice] += count
        for choice, count in preferences:
            self.preferences[contest, choice] += count


def tally_add(delta: TallyDelta) -> None:
    """Add a delta to the running totals; the caller holds the tally locks. Three statements."""
    add_rows(ContestTally, ("contest",), TOTAL_FIELDS, [(c, *t) for c, t in delta.totals.items()])
    add_rows(TallyVote, ("contest", "entity"), ("votes",), [(*k, v) for k, v in delta.votes.items()])
    add_rows(TallyPreference, ("contest", "candidate"), ("votes",), [(*k, v) for k, v in delta.preferences.items()])


def _form_sums() -> dict[str, Sum | Count]:
    used = Coalesce(F("ballots_used"), F("valid") + F("invalid"))
    return {
        "forms_counted": Count("pk"),
        "official_counted": Count("pk", filter=Q(kind=FormKind.OFFICIAL)),
        "registered_counted": Sum(
            Case(When(station__kind="central", then=Value(0)), default=F("station__registered_voters"))
        ),
        "ballots_used": Sum(used),
        "invalid": Sum("invalid"),
        "blank": Sum("blank"),
        "valid": Sum("valid"),
    }


@dataclass(frozen=True)
class TallyDifference:
    contest_id: int
    what: str
    running: int
    recomputed: int

    def __str__(self) -> str:
        return f"contest {self.contest_id} {self.what}: running {self.running}, recomputed {self.recomputed}"


# The recomputation hashes the counted forms (2,000,000 at national scale) to join 40,000,000 vote
# and preference rows to them: with PostgreSQL's default 4 MB the hash spills to disk in 16 batches.
# 64 MB kept it in one and took the recomputation from 8.1 to 6.0 s (BENCHMARKS.md); more was slower.
RECOMPUTE_WORK_MEM = "64MB"


def tally_recompute(contest_ids: Iterable[int] | None = None, *, fix: bool = False) -> list[TallyDifference]:
    """Recompute every total from the counted forms; list each difference (and rewrite if `fix`).

    Every read sees the same moment, so forms counted while it runs never show as differences: the
    check reads one snapshot (REPEATABLE READ on PostgreSQL, when no transaction is open already);
    `fix` locks the tallies first (writers wait) and rewrites in the same transaction."""
    with transaction.atomic():
        _prepare_reads(locking=fix)
        ids = _contest_ids(contest_ids)
        if fix:
            tally_lock(ids)
        diffs, fresh_totals = _compare(ids, whole=contest_ids is None)
        if fix and diffs:
            _rewrite(ids, fresh_totals)
    return diffs


def _prepare_reads(*, locking: bool) -> None:
    db = connections["default"]
    if db.vendor != "postgresql":
        return  # SQLite: one writer at a time, and reads in a transaction see one state already
    with db.cursor() as cursor:
        if not locking and len(db.atomic_blocks) == 1 and not db.savepoint_ids:
            # The first statement of the transaction this call opened (the caller had none open).
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor.execute(f"SET LOCAL work_mem = '{RECOMPUTE_WORK_MEM}'")


def _contest_ids(contest_ids: Iterable[int] | None) -> list[int]:
    contests = (
        ContestTally.objects.all()
        if contest_ids is None
        else ContestTally.objects.filter(contest_id__in=list(contest_ids))
    )
    return sorted(contests.values_list("contest_id", flat=True))


def _compare(ids: list[int], *, whole: bool) -> tuple[list[TallyDifference], dict[int, dict[str, int]]]:
    counted = ResultForm.objects.filter(contest_id__in=ids, counted=True)
    # One join to the forms (not a join plus an IN subquery): half the work at national scale.
    counted_rows: dict[str, Any] = {"form__counted": True}
    if not whole:
        counted_rows["form__contest_id__in"] = ids
    fresh_totals = {row["contest_id"]: row for row in counted.values("contest_id").annotate(**_form_sums())}
    fresh_votes: dict[tuple[int, int], int] = defaultdict(int)
    for row in (
        ResultVote.objects.filter(**counted_rows).values("form__contest_id", "entity_id").annotate(total=Sum("votes"))
    ):
        fresh_votes[(row["form__contest_id"], row["entity_id"])] = row["total"]
    return _differences(ids, fresh_totals, fresh_votes, _fresh_preferences(counted_rows)), fresh_totals


def _fresh_preferences(counted_rows: dict[str, Any]) -> dict[tuple[int, int], int]:
    """Preference votes per (contest, candidate), summed per candidate with the lowest and highest
    contest of its forms; only candidates whose forms span contests (a repeat vote) are summed again
    per contest. Grouped by contest and candidate at once, PostgreSQL's statistics multiply the two
    columns' distinct counts (2,000 contests by 34,000 candidates at national scale) and it plans for
    tens of millions of groups in one process: 9 s against 5 s."""
    fresh: dict[tuple[int, int], int] = defaultdict(int)
    rows = ResultPreference.objects.filter(**counted_rows).values("candidate_id")
    spread = []
    for row in rows.annotate(total=Sum("votes"), low=Min("form__contest_id"), high=Max("form__contest_id")):
        if row["low"] == row["high"]:
            fresh[(row["low"], row["candidate_id"])] = row["total"]
        else:
            spread.append(row["candidate_id"])
    if spread:
        again = ResultPreference.objects.filter(**counted_rows, candidate_id__in=spread)
        for row in again.values("form__contest_id", "candidate_id").annotate(total=Sum("votes")):
            fresh[(row["form__contest_id"], row["candidate_id"])] = row["total"]
    return fresh


def _differences(
    ids: list[int],
    fresh_totals: dict[int, dict[str, int]],
    fresh_votes: dict[tuple[int, int], int],
    fresh_prefs: dict[tuple[int, int], int],
) -> list[TallyDifference]:
    diffs: list[TallyDifference] = []
    for tally in ContestTally.objects.filter(contest_id__in=ids).order_by("contest_id"):
        fresh = fresh_totals.get(tally.contest_id, {})
        for name in TOTAL_FIELDS:
            if getattr(tally, name) != (fresh.get(name) or 0):
                diffs.append(TallyDifference(tally.contest_id, name, getattr(tally, name), fresh.get(name) or 0))
    for vote in TallyVote.objects.filter(contest_id__in=ids).order_by("contest_id", "entity_id"):
        want = fresh_votes.pop((vote.contest_id, vote.entity_id), 0)
        if vote.votes != want:
            diffs.append(TallyDifference(vote.contest_id, f"votes of entity {vote.entity_id}", vote.votes, want))
    for pref in TallyPreference.objects.filter(contest_id__in=ids).order_by("contest_id", "candidate_id"):
        want = fresh_prefs.pop((pref.contest_id, pref.candidate_id), 0)
        if pref.votes != want:
            diffs.append(
                TallyDifference(pref.contest_id, f"preferences of candidate {pref.candidate_id}", pref.votes, want)
            )
    for (contest_id, entity_id), want in fresh_votes.items():
        diffs.append(TallyDifference(contest_id, f"votes of entity {entity_id} (no tally row)", 0, want))
    return diffs


def _rewrite(ids: list[int], fresh_totals: dict[int, dict[str, int]]) -> None:
    for contest_id in ids:
        fresh = fresh_totals.get(contest_id, {})
        ContestTally.objects.filter(contest_id=contest_id).update(**{n: fresh.get(n) or 0 for n in TOTAL_FIELDS})
    TallyVote.objects.filter(contest_id__in=ids).update(votes=0)
    TallyPreference.objects.filter(contest_id__in=ids).update(votes=0)
    # Totals are already fresh; add only the votes and preferences back.
    for row in (
        ResultVote.objects.filter(form__counted=True, form__contest_id__any=ids)
        .values("form__contest_id", "entity_id")
        .annotate(total=Sum("votes"))
    ):
        TallyVote.objects.filter(contest_id=row["form__contest_id"], entity_id=row["entity_id"]).update(
            votes=row["total"]
        )
    for row in (
        ResultPreference.objects.filter(form__counted=True, form__contest_id__any=ids)
        .values("form__contest_id", "candidate_id")
        .annotate(total=Sum("votes"))
    ):
        TallyPreference.objects.filter(contest_id=row["form__contest_id"], candidate_id=row["candidate_id"]).update(
            votes=row["total"]
        )
