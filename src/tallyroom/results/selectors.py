"""Reads of results: a contest's totals, stations, seats, elected members and outlook.

Every figure comes from the running tallies; the rules engine turns them into seats and winners.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from tallyroom.elections.models import Contest, PollingStation, Round
from tallyroom.results.models import Annulment, Complaint, FormKind, FormState, ResultForm
from tallyroom.results.tabulation import contests_results


def contest_scope(contest: Contest) -> QuerySet[PollingStation]:
    """The stations that vote in a contest: all of the municipality, or those a repeat vote covers."""
    if contest.round.kind == Round.Kind.REPEAT:
        return PollingStation.objects.filter(annulments__repeat_contest=contest).distinct()
    return PollingStation.objects.filter(municipality_id=contest.municipality_id)


def repeat_contests(contest: Contest) -> list[Contest]:
    return list(contest.continuations.filter(round__kind=Round.Kind.REPEAT))


def station_statuses(
    contest: Contest, family: list[Contest] | None = None, station_ids: Iterable[int] | None = None
) -> dict[int, str]:
    """Per station of the contest: counted-official, counted-preliminary, quarantined, annulled-repeat-
    pending, annulled, pending (nothing counted yet). Repeat votes count for their parent. `family`
    (the contest and its repeat votes) and `station_ids` (its scope), if the caller has read them."""
    family = family if family is not None else [contest, *repeat_contests(contest)]
    counted: dict[int, str] = {}
    held: set[int] = set()
    forms = ResultForm.objects.filter(contest__in=family).filter(Q(counted=True) | Q(state=FormState.QUARANTINED))
    for station_id, kind, is_counted in forms.values_list("station_id", "kind", "counted"):
        if is_counted:
            counted[station_id] = kind
        else:
            held.add(station_id)
    annulled: dict[int, bool] = {}  # station -> a repeat vote is called
    links = Annulment.stations.through.objects.filter(annulment__contest=contest)
    for station_id, repeat_id in links.values_list("pollingstation_id", "annulment__repeat_contest_id"):
        annulled[station_id] = annulled.get(station_id, False) or repeat_id is not None
    out: dict[int, str] = {}
    scope = station_ids if station_ids is not None else contest_scope(contest).values_list("pk", flat=True)
    for station_id in scope:
        if station_id in counted:
            out[station_id] = f"counted-{counted[station_id]}"
        elif station_id in annulled:
            out[station_id] = "annulled-repeat-pending" if annulled[station_id] else "annulled"
        elif station_id in held:
            out[station_id] = "quarantined"
        else:
            out[station_id] = "pending"
    return out


def contest_results(contest: Contest) -> dict[str, Any]:
    """Everything the results page and `GET /api/v1/results/...` show for one contest (see
    `tabulation.contests_results` for many at once)."""
    return contests_results([contest.pk])[contest.pk]


def open_complaints(contest: Contest) -> QuerySet[Complaint]:
    return Complaint.objects.filter(municipality_id=contest.municipality_id, state=Complaint.State.OPEN).filter(
        Q(contest__isnull=True) | Q(contest=contest)
    )


def counted_form_kinds(contest: Contest) -> dict[str, int]:
    return dict(Counter(ResultForm.objects.filter(contest=contest, counted=True).values_list("kind", flat=True)))


__all__ = ["FormKind", "contest_results", "contest_scope", "contests_results", "station_statuses"]
