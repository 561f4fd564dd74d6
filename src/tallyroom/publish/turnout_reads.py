"""Turnout through the day and what the stations reported, summed per round: for the whole election
and per municipality, from the derived tables election day keeps (one row per station and time)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from tallyroom.elections.models import Election, Round
from tallyroom.polling import state as sm
from tallyroom.polling.models import StationStatus, TurnoutFigure
from tallyroom.publish import standings as st
from tallyroom.publish.memo import remembered


@dataclass(frozen=True)
class TurnoutPoint:
    slot: str
    voters: int
    registered: int  # of the stations with a figure
    stations: int

    @property
    def share(self) -> Decimal | None:
        return st.percent(self.voters, self.registered)


@dataclass
class TurnoutDay:
    round: st.RoundInfo
    points: list[TurnoutPoint] = field(default_factory=list)

    @property
    def latest(self) -> TurnoutPoint | None:
        return self.points[-1] if self.points else None


def turnout_days(rounds: dict[int, st.RoundInfo], **filters: Any) -> dict[int | None, list[TurnoutDay]]:
    """Turnout at each reporting time some station reported for, per round: for the whole election
    (key None) and per municipality. A figure carries a station's latest report forward."""
    rows = (
        TurnoutFigure.objects.filter(**filters)
        .values("municipality_id", "round_id", "slot")
        .annotate(
            sum_voters=Sum("voters"),
            sum_registered=Sum("registered", filter=Q(voters__isnull=False)),
            n=Count("id", filter=Q(voters__isnull=False)),
            n_reported=Count("id", filter=Q(reported=True)),
        )
    )
    reported: set[tuple[int, str]] = set()
    sums: dict[tuple[int | None, int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        if r["n_reported"]:
            reported.add((r["round_id"], r["slot"]))
        for key in (None, r["municipality_id"]):
            acc = sums[(key, r["round_id"], r["slot"])]
            acc[0] += r["sum_voters"] or 0
            acc[1] += r["sum_registered"] or 0
            acc[2] += r["n"]
    out: dict[int | None, dict[int, TurnoutDay]] = defaultdict(dict)
    for (key, round_id, slot), (voters, registered, n) in sorted(sums.items(), key=lambda i: (i[0][1], i[0][2])):
        if (round_id, slot) not in reported or round_id not in rounds:
            continue
        day = out[key].setdefault(round_id, TurnoutDay(rounds[round_id]))
        day.points.append(TurnoutPoint(slot, voters, registered, n))
    return {key: sorted(days.values(), key=lambda d: d.round.date) for key, days in out.items()}


@dataclass
class Activity:
    """What the stations reported on a polling day."""

    round: st.RoundInfo
    stations: int  # where people vote (counting centres never open)
    counts: dict[str, int]

    @property
    def reported(self) -> int:
        return sum(self.counts.values())

    @property
    def opened(self) -> int:
        return sum(n for s, n in self.counts.items() if s in sm.HAS_OPENED)

    @property
    def closed(self) -> int:
        return self.counts.get(sm.Status.CLOSED, 0) + self.counts.get(sm.Status.CLOSED_EARLY, 0)

    @property
    def did_not_open(self) -> int:
        return self.counts.get(sm.Status.DID_NOT_OPEN, 0)


def activity(rounds: dict[int, st.RoundInfo], physical: int, **filters: Any) -> list[Activity]:
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for round_id, status, n in (
        StationStatus.objects.filter(**filters).values_list("round_id", "status").annotate(n=Count("id"))
    ):
        counts[round_id][status] = n
    out = [Activity(rounds[r], physical, c) for r, c in counts.items() if r in rounds]
    return sorted(out, key=lambda a: a.round.date)


def rounds_of(election: Election) -> dict[int, st.RoundInfo]:
    """The election's rounds by id; read once per snapshot, not once per page (callers only read it)."""
    return remembered(
        ("rounds", election.pk),
        lambda: {r.pk: st.RoundInfo.of(r) for r in Round.objects.filter(election=election)},
        "rows",
    )
