"""Open data's reading side: one municipality's stations, contests and counted numbers.

A frame is read in a fixed number of queries whatever the municipality's size, so an export of a
whole election costs a fixed number of queries per municipality and holds one municipality at a
time. Station statuses follow `tallyroom.results.selectors.station_statuses` exactly; a repeat
vote's forms count for the contest it repeats, as in the API.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q

from tallyroom.elections.models import (
    Candidate,
    Contest,
    ContestCandidate,
    ContestEntity,
    Election,
    Municipality,
    PoliticalEntity,
    Round,
)
from tallyroom.elections.selectors import station_rows
from tallyroom.publish.memo import remembered
from tallyroom.results.models import Annulment, Certification, FormState, ResultForm, ResultPreference, ResultVote

COUNTED = "counted"
QUARANTINED = "quarantined"
ANNULLED = "annulled"
ANNULLED_REPEAT_PENDING = "annulled-repeat-pending"
PENDING = "pending"
# Statuses with nothing more to come: the station is counted, or annulled with no repeat vote.
ACCOUNTED = frozenset({COUNTED, ANNULLED})


@dataclass(frozen=True)
class Entity:
    id: int
    code: str
    name: str
    short_name: str
    kind: str
    cec_id: int | None


@dataclass(frozen=True)
class Station:
    id: int
    code: str
    kind: str
    registered: int
    centre_code: str
    centre_name: str


@dataclass(frozen=True)
class CountedForm:
    """The numbers of the form that counts for a station in a contest."""

    id: int
    kind: str  # official | preliminary
    round_code: str  # the round it was voted in: the contest's own, or a repeat vote's
    ballots_cast: int
    invalid: int
    blank: int
    valid: int


@dataclass(frozen=True)
class StationResult:
    station: Station
    status: str
    form: CountedForm | None
    annulments: tuple[int, ...]


@dataclass(frozen=True)
class Choice:
    """A line on the ballot: an entity's list (assembly) or a mayoral candidate, named by entity."""

    entity: Entity
    position: int
    candidate_id: int | None = None
    candidate_name: str = ""
    candidate_gender: str = ""

    @property
    def name(self) -> str:
        return self.candidate_name or self.entity.name


@dataclass(frozen=True)
class ListCandidate:
    id: int
    entity: Entity
    position: int
    name: str
    gender: str


@dataclass(frozen=True)
class AnnulmentRef:
    id: int
    legal_basis: str
    decided_at: dt.datetime
    repeat_round: str | None


@dataclass
class ContestFrame:
    contest: Contest
    end_date: dt.date
    certified_at: dt.datetime | None
    choices: list[Choice]
    stations: list[StationResult]
    list_candidates: list[ListCandidate] = field(default_factory=list)

    @property
    def round(self) -> Round:
        return self.contest.round

    @property
    def counted(self) -> int:
        return sum(1 for s in self.stations if s.status == COUNTED)

    @property
    def complete(self) -> bool:
        return all(s.status in ACCOUNTED for s in self.stations)


@dataclass
class MunicipalityFrame:
    municipality: Municipality
    stations: list[Station]
    contests: list[ContestFrame]
    annulments: dict[int, AnnulmentRef]

    def form_ids(self) -> list[int]:
        return [s.form.id for c in self.contests for s in c.stations if s.form is not None]


def election_entities(election: Election) -> dict[int, Entity]:
    rows = PoliticalEntity.objects.filter(election=election).order_by("code")
    return {
        pk: Entity(pk, code, name, short, kind, cec)
        for pk, code, name, short, kind, cec in rows.values_list("pk", "code", "name", "short_name", "kind", "cec_id")
    }


def export_municipalities(election: Election, municipality: Municipality | None = None) -> list[Municipality]:
    if municipality is not None:
        return [municipality]
    return list(Municipality.objects.filter(election=election).order_by("code"))


FormRow = tuple[int, str, int | None, int, int, int]  # pk, kind, ballots used, invalid, blank, valid


@dataclass
class _Reads:
    """One municipality's rows, read once and looked up by contest and station."""

    counted: dict[int, dict[int, FormRow]] = field(default_factory=lambda: defaultdict(dict))
    held: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    annulled: dict[int, dict[int, list[int]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    annulments: dict[int, AnnulmentRef] = field(default_factory=dict)
    certified: dict[int, dt.datetime] = field(default_factory=dict)
    ballot_entities: dict[int, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    ballot_candidates: dict[int, list[tuple[int, int, int, str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    listed: list[ListCandidate] = field(default_factory=list)


def municipality_frame(municipality: Municipality, entities: dict[int, Entity]) -> MunicipalityFrame:
    """Everything but the votes, in ten queries; once for a municipality's data files in a snapshot."""
    return remembered(("frame", municipality.pk), lambda: _frame_read(municipality, entities))


def _frame_read(municipality: Municipality, entities: dict[int, Entity]) -> MunicipalityFrame:
    contests = list(
        Contest.objects.filter(municipality=municipality)
        .select_related("round__election", "municipality")
        .defer("round__election__definition_packed")
        .order_by("round__date", "round__code", "kind")
    )
    stations = [Station(*row) for row in station_rows(municipality.pk, "pk", "code", "kind", "registered_voters")]
    reads = _read(municipality, [c.pk for c in contests], entities)
    repeats: dict[int, list[Contest]] = defaultdict(list)
    for c in contests:
        if c.round.kind == Round.Kind.REPEAT and c.parent_id is not None:
            repeats[c.parent_id].append(c)
    frames = [
        _contest_frame(contest, [contest, *repeats[contest.pk]], stations, reads, entities)
        for contest in contests
        if contest.round.kind != Round.Kind.REPEAT
    ]
    return MunicipalityFrame(municipality, stations, frames, reads.annulments)


def _read(municipality: Municipality, contest_ids: list[int], entities: dict[int, Entity]) -> _Reads:
    reads = _Reads()
    forms = ResultForm.objects.filter(contest_id__in=contest_ids).filter(
        Q(counted=True) | Q(state=FormState.QUARANTINED)
    )
    for pk, station_id, contest_id, kind, is_counted, used, invalid, blank, valid in forms.order_by("pk").values_list(
        "pk", "station_id", "contest_id", "kind", "counted", "ballots_used", "invalid", "blank", "valid"
    ):
        if is_counted:
            reads.counted[contest_id][station_id] = (pk, kind, used, invalid, blank, valid)
        else:
            reads.held[contest_id].add(station_id)
    annulments = Annulment.objects.filter(contest_id__in=contest_ids).select_related("repeat_contest__round")
    reads.annulments = {
        a.pk: AnnulmentRef(a.pk, a.legal_basis, a.decided_at, a.repeat_contest.round.code if a.repeat_contest else None)
        for a in annulments
    }
    links = Annulment.stations.through.objects.filter(annulment__contest_id__in=contest_ids)
    for annulment_id, station_id, contest_id in links.order_by("annulment_id", "pollingstation_id").values_list(
        "annulment_id", "pollingstation_id", "annulment__contest_id"
    ):
        reads.annulled[contest_id][station_id].append(annulment_id)
    reads.certified = dict(
        Certification.objects.filter(contest_id__in=contest_ids, revoked_at__isnull=True).values_list(
            "contest_id", "certified_at"
        )
    )
    for contest_id, entity_id, position in ContestEntity.objects.filter(contest_id__in=contest_ids).values_list(
        "contest_id", "entity_id", "ballot_position"
    ):
        reads.ballot_entities[contest_id].append((position, entity_id))
    for contest_id, candidate_id, position, entity_id, name, gender in ContestCandidate.objects.filter(
        contest_id__in=contest_ids
    ).values_list(
        "contest_id", "candidate_id", "ballot_position", "candidate__entity_id", "candidate__name", "candidate__gender"
    ):
        reads.ballot_candidates[contest_id].append((position, entity_id, candidate_id, name, gender))
    reads.listed = [
        ListCandidate(pk, entities[entity_id], position, name, gender)
        for pk, entity_id, position, name, gender in Candidate.objects.filter(
            municipality=municipality, office=Candidate.Office.ASSEMBLY
        ).values_list("pk", "entity_id", "position", "name", "gender")
    ]
    return reads


def _contest_frame(
    contest: Contest, family: list[Contest], stations: list[Station], reads: _Reads, entities: dict[int, Entity]
) -> ContestFrame:
    """A contest with its repeat votes folded in, as `station_statuses` sees it."""
    best: dict[int, CountedForm] = {}
    for c in family:  # parent first, then repeats by date: a repeat's form wins
        for station_id, row in reads.counted[c.pk].items():
            best[station_id] = _counted(row, c.round.code)
    on_hold = set().union(*(reads.held[c.pk] for c in family))
    refs: dict[int, list[int]] = defaultdict(list)
    for c in family:
        for station_id, ids in reads.annulled[c.pk].items():
            refs[station_id].extend(ids)
    own = reads.annulled[contest.pk]
    results = []
    for station in stations:
        form = best.get(station.id)
        if form is not None:
            status = COUNTED
        elif station.id in own:
            repeat = any(reads.annulments[a].repeat_round is not None for a in own[station.id])
            status = ANNULLED_REPEAT_PENDING if repeat else ANNULLED
        elif station.id in on_hold:
            status = QUARANTINED
        else:
            status = PENDING
        results.append(StationResult(station, status, form, tuple(sorted(refs[station.id]))))
    choices = _choices(contest, reads.ballot_entities[contest.pk], reads.ballot_candidates[contest.pk], entities)
    order = {ch.entity.id: ch.position for ch in choices}
    listed = [lc for lc in reads.listed if contest.kind == Contest.Kind.ASSEMBLY and lc.entity.id in order]
    listed.sort(key=lambda lc: (order[lc.entity.id], lc.position))
    return ContestFrame(
        contest=contest,
        end_date=max(c.round.date for c in family),
        certified_at=reads.certified.get(contest.pk),
        choices=choices,
        stations=results,
        list_candidates=listed,
    )


def _counted(row: FormRow, round_code: str) -> CountedForm:
    pk, kind, used, invalid, blank, valid = row
    # As the running tally: ballots cast are the ballots used, or valid + invalid where not given.
    return CountedForm(pk, kind, round_code, valid + invalid if used is None else used, invalid, blank, valid)


def _choices(
    contest: Contest,
    entity_rows: list[tuple[int, int]],
    candidate_rows: list[tuple[int, int, int, str, str]],
    entities: dict[int, Entity],
) -> list[Choice]:
    if contest.kind == Contest.Kind.MAYOR:
        return [
            Choice(entities[entity_id], position, candidate_id, name, gender)
            for position, entity_id, candidate_id, name, gender in sorted(candidate_rows)
        ]
    return [Choice(entities[entity_id], position) for position, entity_id in sorted(entity_rows)]


def _counted_form_ids(frame: MunicipalityFrame) -> list[int]:
    """The forms the frame counts: given their ids, PostgreSQL reaches their rows by index; given a
    join to the municipality, it scanned every vote row of a national election (28 million)."""
    return sorted({s.form.id for c in frame.contests for s in c.stations if s.form is not None})


def municipality_votes(frame: MunicipalityFrame) -> dict[int, dict[int, int]]:
    """Votes per counted form and entity."""
    return remembered(("votes", frame.municipality.pk), lambda: _votes_read(frame))


def _votes_read(frame: MunicipalityFrame) -> dict[int, dict[int, int]]:
    out: dict[int, dict[int, int]] = defaultdict(dict)
    rows = ResultVote.objects.filter(form_id__any=_counted_form_ids(frame))
    for form_id, entity_id, votes in rows.values_list("form_id", "entity_id", "votes").iterator(chunk_size=5000):
        out[form_id][entity_id] = votes
    return out


def municipality_preferences(frame: MunicipalityFrame) -> dict[int, dict[int, int]]:
    """Preference votes per counted form and list candidate (as recorded: zeros may be absent)."""
    return remembered(("preferences", frame.municipality.pk), lambda: _preferences_read(frame))


def _preferences_read(frame: MunicipalityFrame) -> dict[int, dict[int, int]]:
    out: dict[int, dict[int, int]] = defaultdict(dict)
    rows = ResultPreference.objects.filter(form_id__any=_counted_form_ids(frame))
    for form_id, candidate_id, votes in rows.values_list("form_id", "candidate_id", "votes").iterator(chunk_size=5000):
        out[form_id][candidate_id] = votes
    return out
