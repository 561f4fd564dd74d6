"""Where each station stands in each contest, for many stations and contests at once.

The same rules as `results.selectors.station_statuses` (a repeat vote's form counts for the contest
it repeats; an annulment outranks a quarantined form), computed from rows loaded once, so that a page
about 238 stations costs the same few queries as a page about one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import connections
from django.db.models import Case, Count, F, Q, When
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tallyroom.elections.models import Contest, Election, PollingStation, Round, localized
from tallyroom.results.models import Annulment, Certification, FormState, ResultForm

STATUS_LABELS: dict[str, Promise] = {
    "counted-official": _("counted (official)"),
    "counted-preliminary": _("counted (preliminary)"),
    "quarantined": _("under review"),
    "annulled-repeat-pending": _("annulled; repeat voting ordered"),
    "annulled": _("annulled"),
    "pending": _("not yet counted"),
}
ROUND_KIND_LABELS: dict[str, Promise] = {
    Round.Kind.FIRST: _("First round"),
    Round.Kind.RUNOFF: _("Runoff"),
    Round.Kind.REPEAT: _("Repeat voting"),
}


def percent(part: int, whole: int) -> Decimal | None:
    """part/whole as a percentage with two decimals, rounded half up (as the API's shares)."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RoundInfo:
    id: int
    code: str
    kind: str
    date: dt.date
    name_en: str  # the round's own names, "" where it has none (its kind's label is shown)
    name_sq: str = ""
    name_sr: str = ""

    @classmethod
    def of(cls, round_: Round) -> RoundInfo:
        return cls(round_.pk, round_.code, round_.kind, round_.date, round_.name_en, round_.name_sq, round_.name_sr)

    @property
    def name(self) -> str:
        """In the active language when read: what is read once serves a page in every language."""
        return localized(self, "name") or str(ROUND_KIND_LABELS[self.kind])


@dataclass(frozen=True)
class ContestRef:
    id: int
    kind: str
    municipality_id: int
    round: RoundInfo
    parent_id: int | None
    seats: int

    @property
    def is_repeat(self) -> bool:
        return self.round.kind == Round.Kind.REPEAT

    @property
    def kind_label(self) -> str:
        return str(Contest.Kind(self.kind).label)


@dataclass(frozen=True)
class Decision:
    """An annulment, as the public reads it."""

    id: int
    contest_id: int
    legal_basis: str
    reason: str
    decided_at: dt.datetime
    repeat_round: RoundInfo | None
    station_ids: tuple[int, ...]


@dataclass
class Standing:
    """One station in one contest."""

    status: str = "pending"
    counted_form: int | None = None  # the id of the form in the tally
    repeat_round: RoundInfo | None = None  # set when a repeat vote's form is the one counted
    decisions: list[Decision] = field(default_factory=list)
    ballots_cast: int | None = None
    valid: int | None = None

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self.status])

    @property
    def counted(self) -> bool:
        return self.status.startswith("counted-")


@dataclass(frozen=True)
class FormRow:
    id: int
    station_id: int
    contest_id: int
    kind: str
    state: str
    counted: bool
    ballots_used: int | None
    valid: int


@dataclass
class Progress:
    """ "X of Y stations counted", and whether the results are certified."""

    counted: int = 0
    total: int = 0
    contests: int = 0
    certified: int = 0

    @property
    def status(self) -> str:
        return "certified" if self.contests and self.certified == self.contests else "preliminary"


def contests_load(**filters: object) -> dict[int, ContestRef]:
    rows = Contest.objects.filter(**filters).select_related("round").order_by("round__date", "kind", "pk")
    return {
        c.pk: ContestRef(c.pk, c.kind, c.municipality_id, RoundInfo.of(c.round), c.parent_id, c.seats) for c in rows
    }


def forms_load(contest_ids: Iterable[int]) -> list[FormRow]:
    fields = ("pk", "station_id", "contest_id", "kind", "state", "counted", "ballots_used", "valid")
    return [FormRow(*row) for row in ResultForm.objects.filter(contest_id__in=list(contest_ids)).values_list(*fields)]


def decisions_load(contests: dict[int, ContestRef]) -> list[Decision]:
    rows = list(
        Annulment.objects.filter(contest_id__in=list(contests)).values_list(
            "pk", "contest_id", "legal_basis", "reason", "decided_at", "repeat_contest_id"
        )
    )
    links: dict[int, list[int]] = defaultdict(list)
    through = Annulment.stations.through.objects.filter(annulment_id__in=[r[0] for r in rows])
    for annulment_id, station_id in through.values_list("annulment_id", "pollingstation_id").order_by("pk"):
        links[annulment_id].append(station_id)
    out = []
    for pk, contest_id, basis, reason, decided_at, repeat_id in rows:
        repeat = contests[repeat_id].round if repeat_id in contests else None
        out.append(Decision(pk, contest_id, basis, reason, decided_at, repeat, tuple(links[pk])))
    return out


def certified_load(contest_ids: Iterable[int]) -> dict[int, dt.datetime]:
    rows = Certification.objects.filter(contest_id__in=list(contest_ids), revoked_at__isnull=True)
    return dict(rows.values_list("contest_id", "certified_at"))


def main_of(contests: dict[int, ContestRef]) -> dict[int, int]:
    """Each contest's id -> the contest its results count for (a repeat vote's parent; else itself)."""
    return {pk: (c.parent_id if c.is_repeat and c.parent_id in contests else pk) for pk, c in contests.items()}


def standings(
    contests: dict[int, ContestRef],
    stations_by_municipality: dict[int, list[int]],
    forms: list[FormRow],
    decisions: list[Decision],
) -> dict[int, dict[int, Standing]]:
    """main contest id -> station id -> Standing, for every station of the contest's municipality."""
    main = main_of(contests)
    out: dict[int, dict[int, Standing]] = {}
    for pk, c in contests.items():
        if main[pk] == pk:
            out[pk] = {sid: Standing() for sid in stations_by_municipality.get(c.municipality_id, [])}
    counted: dict[tuple[int, int], FormRow] = {}
    held: set[tuple[int, int]] = set()
    for f in forms:
        key = (main[f.contest_id], f.station_id)
        if f.counted:
            counted[key] = f
        elif f.state == FormState.QUARANTINED:
            held.add(key)
    for d in decisions:
        for sid in d.station_ids:
            if sid in out.get(d.contest_id, {}):
                out[d.contest_id][sid].decisions.append(d)
    for contest_id, by_station in out.items():
        for sid, s in by_station.items():
            _settle(s, counted.get((contest_id, sid)), (contest_id, sid) in held, contests, contest_id)
    return out


def _settle(s: Standing, form: FormRow | None, held: bool, contests: dict[int, ContestRef], contest_id: int) -> None:
    """Counted outranks annulled, which outranks quarantined (as `station_statuses`)."""
    if form is not None:
        s.status = f"counted-{form.kind}"
        s.counted_form = form.id
        s.ballots_cast, s.valid = form.ballots_used, form.valid
        if form.contest_id != contest_id:
            s.repeat_round = contests[form.contest_id].round
    elif s.decisions:
        repeat = any(d.repeat_round is not None for d in s.decisions)
        s.status = "annulled-repeat-pending" if repeat else "annulled"
    elif held:
        s.status = "quarantined"


@dataclass
class Counts:
    """How many stations count: what the "X of Y counted" lines need, without a row per station."""

    stations: dict[int, int] = field(default_factory=dict)  # municipality id -> stations
    contests: dict[int, int] = field(default_factory=dict)  # main contest id -> stations counting a form
    rounds: dict[tuple[int, int], int] = field(default_factory=dict)  # (round, municipality) -> stations
    # counted in every main contest of the round in the municipality


def _round_groups(contests: dict[int, ContestRef]) -> dict[tuple[int, int], list[int]]:
    """(round id, municipality id) -> the main contests of that round in that municipality."""
    main = main_of(contests)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for pk, c in contests.items():
        if main[pk] == pk:
            groups[c.round.id, c.municipality_id].append(pk)
    return groups


def counts_of(contests: dict[int, ContestRef], table: dict[int, dict[int, Standing]]) -> Counts:
    """The counts of a standings table (a municipality's pages have the table anyway)."""
    out = Counts()
    for pk, by_station in table.items():
        if by_station:
            out.stations[contests[pk].municipality_id] = len(by_station)
        if n := sum(1 for s in by_station.values() if s.counted):
            out.contests[pk] = n
    for key, ids in _round_groups(contests).items():
        stations = table[ids[0]].keys()
        if n := sum(1 for sid in stations if all(table[pk][sid].counted for pk in ids)):
            out.rounds[key] = n
    return out


def counts_load(election: Election, contests: dict[int, ContestRef]) -> Counts:
    """`counts_of` a whole election's table, counted by the database: at a million stations the
    table itself would take seconds and gigabytes to build."""
    out = Counts()
    stations = PollingStation.objects.filter(election=election).values("municipality_id").annotate(n=Count("pk"))
    out.stations = dict(stations.values_list("municipality_id", "n"))
    # A repeat vote's form counts for the contest it repeats, in that contest's round.
    repeat = Q(contest__round__kind=Round.Kind.REPEAT, contest__parent__isnull=False)
    main = Case(When(repeat, then=F("contest__parent_id")), default=F("contest_id"))
    main_round = Case(When(repeat, then=F("contest__parent__round_id")), default=F("contest__round_id"))
    forms = ResultForm.objects.filter(counted=True, contest__round__election=election)
    by_contest = forms.values(main_contest=main).annotate(n=Count("station_id", distinct=True))
    out.contests = {pk: n for pk, n in by_contest.values_list("main_contest", "n") if pk in contests}
    per_station = forms.values("station_id", main_round=main_round, muni=F("contest__municipality_id")).annotate(
        n=Count(main, distinct=True)
    )
    sql, params = per_station.values_list("main_round", "muni", "n").query.sql_with_params()
    wanted = {key: len(ids) for key, ids in _round_groups(contests).items()}
    with connections[per_station.db].cursor() as cursor:
        cursor.execute(f"SELECT main_round, muni, n, COUNT(*) FROM ({sql}) s GROUP BY main_round, muni, n", params)  # noqa: S608 (the inner query is Django's, with its parameters)
        for round_id, muni, n, stations_counted in cursor.fetchall():
            if wanted.get((round_id, muni)) == n:
                out.rounds[round_id, muni] = stations_counted
    return out


def progress_by_round(
    contests: dict[int, ContestRef],
    table: dict[int, dict[int, Standing]],
    certified: dict[int, dt.datetime],
) -> list[tuple[RoundInfo, Progress]]:
    return progress_of(contests, counts_of(contests, table), certified)


def progress_of(
    contests: dict[int, ContestRef], counts: Counts, certified: dict[int, dt.datetime]
) -> list[tuple[RoundInfo, Progress]]:
    """Per round (repeat votes folded into the round they repeat): a station is counted once every
    contest of the round in its municipality counts a form of it."""
    rounds: dict[int, RoundInfo] = {}
    by_round: dict[int, Progress] = defaultdict(Progress)
    for (round_id, muni), ids in _round_groups(contests).items():
        rounds[round_id] = contests[ids[0]].round
        p = by_round[round_id]
        p.contests += len(ids)
        p.certified += sum(1 for pk in ids if pk in certified)
        p.total += counts.stations.get(muni, 0)
        p.counted += counts.rounds.get((round_id, muni), 0)
    out = [(rounds[round_id], p) for round_id, p in by_round.items()]
    out.sort(key=lambda item: (item[0].date, item[0].code))
    return out


def contest_progress(
    contest_id: int, table: dict[int, dict[int, Standing]], certified: dict[int, dt.datetime]
) -> Progress:
    by_station = table.get(contest_id, {})
    return Progress(
        counted=sum(1 for s in by_station.values() if s.counted),
        total=len(by_station),
        contests=1,
        certified=1 if contest_id in certified else 0,
    )


def contest_progress_of(c: ContestRef, counts: Counts, certified: dict[int, dt.datetime]) -> Progress:
    return Progress(
        counted=counts.contests.get(c.id, 0),
        total=counts.stations.get(c.municipality_id, 0),
        contests=1,
        certified=1 if c.id in certified else 0,
    )
