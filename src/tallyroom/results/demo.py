"""The demo's count: the real 2013 results replayed through the whole pipeline.

Preliminary forms from the stations, the counting centre's official forms, the auditors' queue,
the attack in North Mitrovica (no count there, the station annulled and the vote repeated on
17 November), a complaint left open in Prizren, certification, 25 mayoral runoffs and their count.
Deterministic and idempotent: a second run adds nothing.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from tallyroom.elections.demo import RESULTS, demo_path
from tallyroom.elections.models import Candidate, Contest, Election, Municipality, PollingStation, Round
from tallyroom.results.bulk import BulkItem, result_forms_submit_bulk
from tallyroom.results.decisions import (
    annulment_decide,
    certification_blockers,
    complaint_file,
    contest_certify,
    repeat_round_create,
)
from tallyroom.results.models import AuditorDecision, Complaint, FormKind, FormState, ResultForm
from tallyroom.results.services import quarantine_decide

ATTACKED_MUNICIPALITY = "38"  # North Mitrovica: masked men destroyed ballot boxes on 3 November
REPEAT_DATE = dt.date(2013, 11, 17)
COMPLAINT_MUNICIPALITY = "20"  # Prizren: a complaint about its assembly count stays open
HELD_MUNICIPALITY = "13"  # Lipjan: the auditors have not finished its queue
BATCH = 2000


@dataclass
class CountSummary:
    forms: Counter[str]
    certified: int
    runoffs: int
    quarantined_left: int

    def __str__(self) -> str:
        forms = ", ".join(f"{n:,} {k}" for k, n in sorted(self.forms.items()))
        return (
            f"count replayed: {forms}; {self.certified} contests certified, {self.runoffs} runoffs, "
            f"{self.quarantined_left} forms left in the auditors' queue"
        )


def replay_count(election: Election, *, seed: int = 2013) -> CountSummary:
    bundle = json.loads(gzip.decompress(demo_path(RESULTS).read_bytes()))
    rng = f"demo-{seed}"
    stations = {s.code: s for s in PollingStation.objects.filter(election=election).select_related("municipality")}
    names = _mayor_entities(election)
    positions = _list_positions(election)
    attacked = _attacked_stations(election)
    tally: Counter[str] = Counter()
    first = election.rounds.get(kind=Round.Kind.FIRST)

    def items(kind: FormKind) -> Iterator[BulkItem]:
        for code in sorted(bundle["assembly"]):
            station = stations.get(code)
            if station is None or code in attacked:
                continue
            yield from _station_items(bundle, station, names, positions, kind, rng, first.code)

    for kind in (FormKind.PRELIMINARY, FormKind.OFFICIAL):
        tally.update(_submit(election, items(kind)))
    _audit_queue(election)
    _exclude_missing(election, bundle, Round.Kind.FIRST)
    _attack_and_repeat(election, bundle, stations, names, positions, attacked, rng, tally)
    _complaint(election)
    certified = _certify(election)
    runoff_items = list(_runoff_items(election, bundle, stations, names, rng))
    tally.update(_submit(election, iter(runoff_items)))
    _exclude_missing(election, bundle, Round.Kind.RUNOFF)
    _audit_queue(election)
    certified += _certify(election, round_kind=Round.Kind.RUNOFF)
    runoffs = Contest.objects.filter(round__election=election, round__kind=Round.Kind.RUNOFF).count()
    held = ResultForm.objects.filter(contest__round__election=election, state=FormState.QUARANTINED).count()
    return CountSummary(tally, certified, runoffs, held)


def _submit(election: Election, items: Iterator[BulkItem]) -> Counter[str]:
    counts: Counter[str] = Counter()
    batch: list[BulkItem] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            counts.update(o.status for o in result_forms_submit_bulk(election, batch, actor="demo", role="admin"))
            batch = []
    if batch:
        counts.update(o.status for o in result_forms_submit_bulk(election, batch, actor="demo", role="admin"))
    return counts


def _mayor_entities(election: Election) -> dict[tuple[str, str], str]:
    """(municipality code, candidate name) -> entity code."""
    rows = Candidate.objects.filter(election=election, office=Candidate.Office.MAYOR).values_list(
        "municipality__code", "name", "entity__code"
    )
    return {(m, n): e for m, n, e in rows}


def _list_positions(election: Election) -> dict[tuple[str, str, str], int]:
    """(municipality code, entity code, candidate name) -> list position."""
    rows = Candidate.objects.filter(election=election, office=Candidate.Office.ASSEMBLY).values_list(
        "municipality__code", "entity__code", "name", "position"
    )
    return {(m, e, n): p for m, e, n, p in rows}


def _attacked_stations(election: Election) -> set[str]:
    """The stations of North Mitrovica's first polling centre, where the ballot boxes were destroyed."""
    centre = (
        PollingStation.objects.filter(election=election, municipality__code=ATTACKED_MUNICIPALITY)
        .exclude(kind=PollingStation.Kind.CENTRAL)
        .order_by("code")
        .values_list("centre_id", flat=True)
        .first()
    )
    return set(PollingStation.objects.filter(centre_id=centre).values_list("code", flat=True))


def _content(
    votes: Mapping[str, int],
    invalid: int,
    station: PollingStation,
    ballot: list[str],
    seed: str,
    preferences: Mapping[str, Mapping[int, int]] | None = None,
) -> dict[str, Any]:
    """A reconciling paper form around the real valid votes (the rest is estimated, see docs/demo-data.md).
    Its random parts are seeded by station and contest, so every run writes the same form."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible demo, not a secret
    full = {code: int(votes.get(code, 0)) for code in ballot}
    used = sum(full.values()) + invalid
    spoiled = rng.choice((0, 0, 0, 1, 2)) if used else 0
    received = max(used + spoiled, -(-station.registered_voters * 105 // 100))
    data: dict[str, Any] = {
        "votes": full,
        "invalid": invalid,
        "signatures": used,
        "ballots_received": received,
        "ballots_used": used,
        "ballots_unused": received - used - spoiled,
        "ballots_spoiled": spoiled,
        "committee_signed": True,
    }
    if preferences:
        data["preferences"] = {e: {str(p): v for p, v in c.items() if v} for e, c in preferences.items()}
    return data


def _station_items(
    bundle: Mapping[str, Any],
    station: PollingStation,
    names: Mapping[tuple[str, str], str],
    positions: Mapping[tuple[str, str, str], int],
    kind: FormKind,
    rng: str,
    round_code: str,
) -> Iterator[BulkItem]:
    muni = station.municipality.code
    code = station.code
    assembly_votes = bundle["assembly"].get(code, {})
    ballot = sorted(assembly_votes)
    prefs_by_name = bundle["preference_votes_by_station"].get(code, {})
    prefs = {
        e: {positions[(muni, e, n)]: v for n, v in c.items() if (muni, e, n) in positions}
        for e, c in prefs_by_name.items()
    }
    invalid = bundle["invalid_ballots"]["assembly"].get(code, 0)
    # Preference votes are counted at the counting centre, not by the station on the night.
    data = _content(
        assembly_votes, invalid, station, ballot, f"{rng}:{code}:assembly", prefs if kind == FormKind.OFFICIAL else None
    )
    data["votes"] = assembly_votes | dict.fromkeys(_missing_entities(station, assembly_votes), 0)
    yield BulkItem(code, "assembly", data, round_code, kind)
    mayor = bundle["mayor_round1"].get(code)
    if mayor:
        votes = {names[(muni, n)]: v for n, v in mayor.items() if (muni, n) in names}
        invalid = bundle["invalid_ballots"]["mayor_round1"].get(code, 0)
        data = _content(votes, invalid, station, sorted(votes), f"{rng}:{code}:mayor")
        data["votes"] = votes | dict.fromkeys(_missing_mayor(station, votes), 0)
        yield BulkItem(code, "mayor", data, round_code, kind)


_BALLOT_CACHE: dict[tuple[int, str], list[str]] = {}


def _ballot_of(station: PollingStation, kind: str) -> list[str]:
    key = (station.municipality_id, kind)
    if key not in _BALLOT_CACHE:
        contest = Contest.objects.filter(
            municipality_id=station.municipality_id, kind=kind, round__kind=Round.Kind.FIRST
        ).first()
        if contest is None:
            _BALLOT_CACHE[key] = []
        elif kind == "assembly":
            _BALLOT_CACHE[key] = list(contest.entities.values_list("code", flat=True))
        else:
            _BALLOT_CACHE[key] = list(contest.candidates.values_list("entity__code", flat=True))
    return _BALLOT_CACHE[key]


def _missing_entities(station: PollingStation, votes: Mapping[str, int]) -> list[str]:
    return [e for e in _ballot_of(station, "assembly") if e not in votes]


def _missing_mayor(station: PollingStation, votes: Mapping[str, int]) -> list[str]:
    return [e for e in _ballot_of(station, "mayor") if e not in votes]


def _auditor() -> User:
    user, _ = User.objects.get_or_create(username="auditor")
    return user


def _audit_queue(election: Election) -> None:
    """The auditors accept the held forms after checking them, except one municipality's queue."""
    auditor = _auditor()
    held = (
        ResultForm.objects.filter(contest__round__election=election, state=FormState.QUARANTINED)
        .exclude(contest__municipality__code=HELD_MUNICIPALITY, contest__kind=Contest.Kind.ASSEMBLY)
        .select_related("contest", "station")
        .order_by("pk")
    )
    for form in held:
        checks = ", ".join(sorted(form.flags.filter(cleared_at__isnull=True).values_list("check_code", flat=True)))
        quarantine_decide(
            auditor=auditor,
            form=form,
            decision=AuditorDecision.Decision.ACCEPT,
            reason=f"Checked against the paper form and the observers' reports ({checks}): the count stands.",
        )


def _attack_and_repeat(
    election: Election,
    bundle: Mapping[str, Any],
    stations: Mapping[str, PollingStation],
    names: Mapping[tuple[str, str], str],
    positions: Mapping[tuple[str, str, str], int],
    attacked: set[str],
    rng: str,
    tally: Counter[str],
) -> None:
    muni = Municipality.objects.get(election=election, code=ATTACKED_MUNICIPALITY)
    repeat = Round.objects.filter(election=election, kind=Round.Kind.REPEAT, date=REPEAT_DATE).first()
    if repeat is None:
        repeat = repeat_round_create(election, code="r1-repeat-38", date=REPEAT_DATE, actor="cec", role="admin")
    targets = [stations[c] for c in sorted(attacked)]
    for contest in Contest.objects.filter(municipality=muni, round__kind=Round.Kind.FIRST).order_by("kind"):
        if contest.annulments.exists():
            continue
        annulment_decide(
            contest=contest,
            stations=targets,
            legal_basis="LGE Art. 119.3 (CEC decision of 4 November 2013)",
            reason="Masked men stormed the polling centre and destroyed the ballot boxes; no count is possible.",
            actor="cec",
            role="admin",
            incident_refs=[f"station:{c}" for c in sorted(attacked)],
            repeat_round=repeat,
        )
    items = []
    for code in sorted(attacked):
        for item in _station_items(bundle, stations[code], names, positions, FormKind.OFFICIAL, rng, repeat.code):
            items.append(item)
    tally.update(_submit(election, iter(items)))


def _exclude_missing(election: Election, bundle: Mapping[str, Any], round_kind: str) -> None:
    """Stations the source has no count for in a round (three Prizren stations appear only in the
    runoff; most counting-centre batches only in the first round): the commission excludes them
    from that round's results, as it published a list of excluded stations in 2013."""
    rnd = election.rounds.get(kind=round_kind)
    for contest in Contest.objects.filter(round=rnd).select_related("municipality").order_by("pk"):
        if contest.municipality.code == ATTACKED_MUNICIPALITY and round_kind == Round.Kind.FIRST:
            continue  # annulled with a repeat vote instead
        key = {"assembly": "assembly", "mayor": "mayor_round1" if round_kind == Round.Kind.FIRST else "mayor_runoff"}
        source = bundle[key[contest.kind]]
        done = set(ResultForm.objects.filter(contest=contest).values_list("station_id", flat=True))
        done |= set(PollingStation.objects.filter(annulments__contest=contest).values_list("pk", flat=True))
        missing = [
            s
            for s in PollingStation.objects.filter(municipality_id=contest.municipality_id).order_by("code")
            if s.code not in source and s.pk not in done
        ]
        if missing:
            annulment_decide(
                contest=contest,
                stations=missing,
                legal_basis="CEC decision on polling stations excluded from results",
                reason="No result form for these stations in this round (not in the published station results).",
                actor="cec",
                role="admin",
            )


def _complaint(election: Election) -> None:
    muni = Municipality.objects.get(election=election, code=COMPLAINT_MUNICIPALITY)
    if Complaint.objects.filter(municipality=muni).exists():
        return
    contest = Contest.objects.get(municipality=muni, kind=Contest.Kind.ASSEMBLY, round__kind=Round.Kind.FIRST)
    complaint_file(
        municipality=muni,
        contest=contest,
        complainant="A political entity standing in Prizren",
        subject="Preference votes in one polling centre were recorded for the wrong candidates.",
        actor="panel",
        role="panel",
    )


def _certify(election: Election, round_kind: str = Round.Kind.FIRST) -> int:
    done = 0
    for contest in Contest.objects.filter(round__election=election, round__kind=round_kind).order_by("pk"):
        if contest.certifications.filter(revoked_at__isnull=True).exists():
            continue
        if certification_blockers(contest):
            continue
        with transaction.atomic():
            contest_certify(contest, actor="cec", role="admin")
        done += 1
    return done


def _runoff_items(
    election: Election,
    bundle: Mapping[str, Any],
    stations: Mapping[str, PollingStation],
    names: Mapping[tuple[str, str], str],
    rng: str,
) -> Iterator[BulkItem]:
    runoff = election.rounds.filter(kind=Round.Kind.RUNOFF).first()
    if runoff is None:
        return
    contests = {c.municipality.code: c for c in Contest.objects.filter(round=runoff).select_related("municipality")}
    for code in sorted(bundle["mayor_runoff"]):
        station = stations.get(code)
        if station is None or station.municipality.code not in contests:
            continue
        muni = station.municipality.code
        votes = {names[(muni, n)]: v for n, v in bundle["mayor_runoff"][code].items() if (muni, n) in names}
        finalists = list(contests[muni].candidates.values_list("entity__code", flat=True))
        if set(votes) - set(finalists):
            continue  # the data's finalists differ from the count's (should not happen)
        invalid = bundle["invalid_ballots"].get("mayor_runoff", {}).get(code, 0)
        data = _content(votes, invalid, station, finalists, f"{rng}:{code}:runoff")
        yield BulkItem(code, "mayor", data, runoff.code, FormKind.OFFICIAL)
