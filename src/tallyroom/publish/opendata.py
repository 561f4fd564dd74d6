"""Open data: an election's or a municipality's results as CSV, JSON and NIST SP 1500-100 v2 JSON.

Builders are generators of bytes, one chunk per municipality, so a big election streams; the same
database gives the same bytes. Their version is the audit chain's latest public entry: every write
appends to the chain, so the chain position names the data, and conditional requests can be
answered from it without building anything. The formats are described in docs/open-data.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tallyroom import __version__
from tallyroom.audit.models import GENESIS, AuditEntry
from tallyroom.elections.models import Contest, Election, Municipality
from tallyroom.publish.changes import PRIVATE
from tallyroom.publish.memo import contest_results
from tallyroom.publish.opendata_frames import (
    MunicipalityFrame,
    StationResult,
    election_entities,
    export_municipalities,
    municipality_frame,
    municipality_preferences,
    municipality_votes,
)

FORMAT_VERSION = "tallyroom-open-data/1"


class DataFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    CDF = "cdf"
    PREFERENCES = "preferences"


FILE_NAMES = {
    DataFormat.CSV: "results.csv",
    DataFormat.JSON: "results.json",
    DataFormat.CDF: "results-cdf.json",
    DataFormat.PREFERENCES: "preferences.csv",
}
MEDIA_TYPES = {
    DataFormat.CSV: "text/csv; charset=utf-8",
    DataFormat.JSON: "application/json",
    DataFormat.CDF: "application/json",
    DataFormat.PREFERENCES: "text/csv; charset=utf-8",
}

CSV_COLUMNS = (
    "election",
    "round",
    "round_kind",
    "municipality_code",
    "municipality_name",
    "contest_id",
    "contest",
    "centre_code",
    "centre_name",
    "station_code",
    "station_kind",
    "registered",
    "status",
    "form_kind",
    "counted_round",
    "annulments",
    "ballots_cast",
    "invalid",
    "blank",
    "valid",
    "choice_type",
    "choice_code",
    "choice_name",
    "ballot_position",
    "votes",
)
PREFERENCE_COLUMNS = (
    "election",
    "round",
    "municipality_code",
    "contest_id",
    "station_code",
    "form_kind",
    "counted_round",
    "entity_code",
    "candidate_position",
    "candidate_name",
    "candidate_gender",
    "votes",
)


@dataclass(frozen=True)
class DataVersion:
    """The audit chain's latest entry that changes anything public."""

    seq: int
    entry_hash: str
    at: dt.datetime | None

    @property
    def timestamp(self) -> int | None:
        return int(self.at.timestamp()) if self.at else None

    def as_dict(self) -> dict[str, Any]:
        return {"audit_seq": self.seq, "audit_hash": self.entry_hash, "at": utc_text(self.at) if self.at else None}


def data_version() -> DataVersion:
    row = (
        AuditEntry.objects.exclude(object_type__in=PRIVATE)
        .order_by("-seq")
        .values_list("seq", "entry_hash", "created_at")
        .first()
    )
    return DataVersion(*row) if row else DataVersion(0, GENESIS, None)


def data_etag(version: DataVersion, *parts: str) -> str:
    """A strong ETag: the same version and file always give the same bytes."""
    key = "|".join((FORMAT_VERSION, __version__, str(version.seq), version.entry_hash, *parts))
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def export_chunks(
    election: Election,
    fmt: DataFormat,
    municipality: Municipality | None = None,
    *,
    version: DataVersion | None = None,
) -> Iterator[bytes]:
    version = version or data_version()
    if fmt == DataFormat.CSV:
        return _results_csv(election, municipality)
    if fmt == DataFormat.PREFERENCES:
        return _preferences_csv(election, municipality)
    if fmt == DataFormat.JSON:
        return _results_json(election, municipality, version)
    from tallyroom.publish.opendata_cdf import cdf_chunks

    return cdf_chunks(election, municipality, version)


def export_bytes(
    election: Election,
    fmt: DataFormat,
    municipality: Municipality | None = None,
    *,
    version: DataVersion | None = None,
) -> bytes:
    return b"".join(export_chunks(election, fmt, municipality, version=version))


def _frames(election: Election, municipality: Municipality | None) -> Iterator[MunicipalityFrame]:
    entities = election_entities(election)
    for muni in export_municipalities(election, municipality):
        yield municipality_frame(muni, entities)


def _csv_fields(values: list[Any]) -> str:
    """Some of a record's fields, quoted as csv.writer quotes them, comma-separated, no line end.

    A station's part of its rows, and a choice's part, are the same on many rows: written once and
    joined, where writing every row's every field cost most of a national snapshot's CSV time.
    Fields are quoted one by one, so the joined text is what writing the whole row would give."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)  # the line end decides quoting too
    return buffer.getvalue()[:-2]


def _cell(value: int | None) -> str:
    return "" if value is None else str(value)


# --- results.csv: one row per station, contest and choice ---------------------------------------


def _results_csv(election: Election, municipality: Municipality | None) -> Iterator[bytes]:
    yield (_csv_fields(list(CSV_COLUMNS)) + "\r\n").encode("utf-8")
    for frame in _frames(election, municipality):
        votes = municipality_votes(frame)
        lines: list[str] = []
        for contest in frame.contests:
            prefix = [
                election.code,
                contest.round.code,
                contest.round.kind,
                frame.municipality.code,
                frame.municipality.name_en,
                contest.contest.pk,
                contest.contest.kind,
            ]
            choice_type = "candidate" if contest.contest.kind == Contest.Kind.MAYOR else "entity"
            choices = [
                (choice.entity.id, _csv_fields([choice_type, choice.entity.code, choice.name, choice.position]))
                for choice in contest.choices
            ]
            for result in contest.stations:
                lines += _station_lines(prefix, choices, result, votes)
        yield "".join(lines).encode("utf-8")


def _station_lines(
    prefix: list[Any], choices: list[tuple[int, str]], result: StationResult, votes: dict[int, dict[int, int]]
) -> list[str]:
    """`prefix`: the columns up to the contest's kind; `choices`: each choice's entity id and its
    columns up to the votes, written."""
    station, form = result.station, result.form
    head = _csv_fields(
        [
            *prefix,
            station.centre_code,
            station.centre_name,
            station.code,
            station.kind,
            station.registered,
            result.status,
            form.kind if form else "",
            form.round_code if form else "",
            ";".join(str(a) for a in result.annulments),
            _cell(form.ballots_cast if form else None),
            _cell(form.invalid if form else None),
            _cell(form.blank if form else None),
            _cell(form.valid if form else None),
        ]
    )
    if form is None:
        return [f"{head},{choice},\r\n" for _, choice in choices]
    form_votes = votes.get(form.id, {})
    return [f"{head},{choice},{form_votes.get(entity_id, 0)}\r\n" for entity_id, choice in choices]


# --- preferences.csv: assembly candidates' preference votes per counted station ------------------


def _preferences_csv(election: Election, municipality: Municipality | None) -> Iterator[bytes]:
    yield (_csv_fields(list(PREFERENCE_COLUMNS)) + "\r\n").encode("utf-8")
    for frame in _frames(election, municipality):
        prefs = municipality_preferences(frame)
        lines: list[str] = []
        for contest in frame.contests:
            if not contest.list_candidates:
                continue
            prefix = [election.code, contest.round.code, frame.municipality.code, contest.contest.pk]
            # A form names a few of the list's candidates: walk those, in ballot order, not the list.
            who = {
                lc.id: _csv_fields([lc.entity.code, lc.position, lc.name, lc.gender]) for lc in contest.list_candidates
            }
            order = {pk: i for i, pk in enumerate(who)}
            for result in contest.stations:
                form = result.form
                if form is None or form.id not in prefs:
                    continue
                form_prefs = prefs[form.id]
                head = _csv_fields([*prefix, result.station.code, form.kind, form.round_code])
                named = sorted((order[pk], pk) for pk in form_prefs if pk in order)
                lines += [f"{head},{who[pk]},{form_prefs[pk]}\r\n" for _, pk in named]
        yield "".join(lines).encode("utf-8")


# --- results.json: the API's contest results plus every station's numbers -----------------------


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _results_json(election: Election, municipality: Municipality | None, version: DataVersion) -> Iterator[bytes]:
    entities = election_entities(election)
    head = {
        "format": FORMAT_VERSION,
        "generator": f"Tallyroom {__version__}",
        "data_version": version.as_dict(),
        "election": election_summary(election),
        "entities": [
            {"code": e.code, "name": e.name, "short_name": e.short_name, "kind": e.kind, "cec_id": e.cec_id}
            for e in entities.values()
        ],
    }
    yield _json(head)[:-1] + b',"municipalities":['
    for i, frame in enumerate(_frames(election, municipality)):
        yield (b"," if i else b"") + _json(_municipality_json(frame))
    yield b"]}\n"


def election_summary(election: Election) -> dict[str, Any]:
    return {
        "code": election.code,
        "name": {"en": election.name_en, "sq": election.name_sq, "sr": election.name_sr},
        "timezone": election.timezone,
        "rounds": [
            {"code": r.code, "kind": r.kind, "date": r.date.isoformat(), "name": r.name_en}
            for r in election.rounds.order_by("date", "code")
        ],
    }


def _municipality_json(frame: MunicipalityFrame) -> dict[str, Any]:
    muni = frame.municipality
    votes = municipality_votes(frame)
    prefs = municipality_preferences(frame)
    contests = []
    for contest in frame.contests:
        choices = [(ch.entity.code, ch.entity.id) for ch in contest.choices]
        listed = {lc.id: (i, lc.entity.code, str(lc.position)) for i, lc in enumerate(contest.list_candidates)}
        stations = [_station_json(r, choices, listed, votes, prefs) for r in contest.stations]
        contests.append({**contest_results(contest.contest), "station_results": stations})  # a copy: memoised
    return {
        "code": muni.code,
        "cec_id": muni.cec_id,
        "name": {"en": muni.name_en, "sq": muni.name_sq, "sr": muni.name_sr},
        "assembly_seats": muni.assembly_seats,
        "registered_voters": sum(s.registered for s in frame.stations),
        "annulments": [
            {
                "id": a.id,
                "legal_basis": a.legal_basis,
                "decided_at": utc_text(a.decided_at),
                "repeat_round": a.repeat_round,
            }
            for a in sorted(frame.annulments.values(), key=lambda a: a.id)
        ],
        "contests": contests,
    }


def _station_json(
    result: StationResult,
    choices: list[tuple[str, int]],
    listed: dict[int, tuple[int, str, str]],
    votes: dict[int, dict[int, int]],
    prefs: dict[int, dict[int, int]],
) -> dict[str, Any]:
    """`choices`: the contest's (entity code, entity id) in ballot order; `listed`: its list candidates'
    place in ballot order, entity code and position, by id."""
    station, form = result.station, result.form
    out: dict[str, Any] = {
        "station": station.code,
        "centre": station.centre_code,
        "kind": station.kind,
        "registered": station.registered,
        "status": result.status,
        "form_kind": form.kind if form else None,
        "counted_round": form.round_code if form else None,
        "annulments": list(result.annulments),
        "ballots_cast": form.ballots_cast if form else None,
        "invalid": form.invalid if form else None,
        "blank": form.blank if form else None,
        "valid": form.valid if form else None,
        "votes": None,
    }
    if form is None:
        return out
    form_votes = votes.get(form.id, {})
    out["votes"] = {code: form_votes.get(entity_id, 0) for code, entity_id in choices}
    if listed:
        form_prefs = prefs.get(form.id, {})
        by_entity: dict[str, dict[str, int]] = {}
        # The form's few preference votes in ballot order, rather than the whole list scanned.
        for _, pk in sorted((listed[pk][0], pk) for pk in form_prefs if pk in listed):
            _, entity, position = listed[pk]
            by_entity.setdefault(entity, {})[position] = form_prefs[pk]
        out["preferences"] = by_entity
    return out


def utc_text(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
