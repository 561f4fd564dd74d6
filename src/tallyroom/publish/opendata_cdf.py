"""Results as a NIST SP 1500-100 v2 Election Results Reporting document (JSON, precinct level).

How our concepts map (docs/open-data.md has the full table): the election's area, municipalities,
polling centres and polling stations are nested ReportingUnits; each non-repeat round is an
Election (a repeat vote is folded into the contest it repeats, as in the API); a mayoral race is a
CandidateContest; an assembly race is a CandidateContest (VoteVariation "proportional") whose
PartySelections carry the list votes and whose CandidateSelections carry the preference votes,
counted as Type "other" / OtherType "preference-votes" so that summing Type "total" gives the valid
votes. Every count is per polling station.

The document holds the election's structure in memory and reads the votes one municipality at a
time; it is written as a stream of chunks in a fixed key order, so the same data gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from tallyroom import __version__
from tallyroom.elections.models import Contest, Election, Municipality, PollingStation, Round
from tallyroom.publish.memo import contest_results
from tallyroom.publish.opendata import DataVersion, utc_text
from tallyroom.publish.opendata_frames import (
    ContestFrame,
    Entity,
    MunicipalityFrame,
    election_entities,
    export_municipalities,
    municipality_frame,
    municipality_preferences,
    municipality_votes,
)

T = "ElectionResults."
TOP = "gp-election"
PREFERENCE = "preference-votes"
NOTES = (
    "Counts are per polling station (ReportingUnit Type precinct). Assembly contests: PartySelection "
    "VoteCounts (Type total) are list votes; CandidateSelection VoteCounts (Type other, OtherType "
    "preference-votes) are preference votes within a list. BallotCounts: Type other, OtherType "
    "'<contest kind>-ballots'; BallotsRejected are invalid ballots, OtherCounts Undervotes are blank "
    "ballots. See docs/open-data.md in Tallyroom."
)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _value(value: Any) -> str:
    """One JSON value as `_json` writes it: a plain int directly (the common case, by the thousand)."""
    return str(value) if type(value) is int else json.dumps(value, ensure_ascii=False)


def _spliced(value: dict[str, Any], key: str, items: list[str]) -> bytes:
    """`_json(value | {key: <items>})` with `key` last, for items already written as JSON text: a
    contest's counts run to thousands of small objects, too many to hand to the json module one by one."""
    head = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return f"{head[:-1]}{',' if value else ''}{json.dumps(key)}:[{','.join(items)}]}}".encode()


def _text(values: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """An InternationalizedText of the non-empty (language, text) pairs."""
    texts = [{"@type": T + "LanguageString", "Content": v, "Language": lang} for lang, v in values if v]
    return {"@type": T + "InternationalizedText", "Text": texts or [_lang("und", "-")]}


def _lang(lang: str, content: str) -> dict[str, str]:
    return {"@type": T + "LanguageString", "Content": content, "Language": lang}


def _local(value: str) -> dict[str, Any]:
    """A name in the language it was given in (not recorded: BCP 47 `und`)."""
    return _text([("und", value)])


def _external(kind: str, value: object) -> dict[str, str]:
    return {"@type": T + "ExternalIdentifier", "Type": "other", "OtherType": kind, "Value": str(value)}


def _array(key: str, items: Iterable[bytes], *, first: bool = False) -> Iterator[bytes]:
    yield (b"" if first else b",") + f'"{key}":['.encode()
    for i, item in enumerate(items):
        yield (b"," if i else b"") + item
    yield b"]"


# --- identifiers: natural codes, so the same election gives the same ids in any database ----------


def muni_id(code: str) -> str:
    return f"gp-m-{code}"


def centre_id(code: str) -> str:
    return f"gp-c-{code}"


def station_id(code: str) -> str:
    return f"gp-s-{code}"


def party_id(code: str) -> str:
    return f"party-{code}"


def _person_key(muni: str, office: str, entity: str, position: int | None) -> str:
    return f"{muni}-{office}-{entity}" + (f"-{position}" if position is not None else "")


def contest_id(frame: ContestFrame) -> str:
    c = frame.contest
    return f"contest-{c.round.code}-{c.municipality.code}-{c.kind}"


@dataclass
class Outcome:
    """What the results say about who won; only set once the contest is settled."""

    certified: bool
    settled: bool
    seats: dict[str, int] = field(default_factory=dict)
    winners: set[int] = field(default_factory=set)  # candidate ids
    runoff: set[int] = field(default_factory=set)

    def candidate_status(self, candidate_id: int) -> str | None:
        if not self.settled:
            return None
        if candidate_id in self.winners:
            return "winner" if self.certified else "projected-winner"
        if candidate_id in self.runoff:
            return "advanced-to-runoff"
        return None


def _outcome(frame: ContestFrame) -> Outcome:
    summary = contest_results(frame.contest)
    certified = summary["status"] == "certified"
    out = Outcome(certified=certified, settled=certified or not summary["can_change"])
    if "assembly" in summary:
        out.seats = dict(summary["assembly"].get("seats", {}))
        out.winners = {e["candidate_id"] for e in summary["assembly"].get("elected", [])}
    else:
        by_name = {ch.candidate_name: ch.candidate_id for ch in frame.choices if ch.candidate_id}
        mayor = summary.get("mayor", {})
        if mayor.get("elected") in by_name:
            out.winners = {by_name[mayor["elected"]]}
        if mayor.get("status") == "runoff":
            out.runoff = {by_name[n] for n in mayor.get("finalists", []) if n in by_name}
    return out


def report_status(contests: list[ContestFrame]) -> str:
    if contests and all(c.certified_at is not None for c in contests):
        return "certified"
    if all(c.complete for c in contests):
        return "unofficial-complete"
    return "unofficial-partial"


def cdf_chunks(election: Election, municipality: Municipality | None, version: DataVersion) -> Iterator[bytes]:
    entities = election_entities(election)
    frames = [municipality_frame(m, entities) for m in export_municipalities(election, municipality)]
    contests = [c for f in frames for c in f.contests]
    generated = version.at or election.created_at
    head = {
        "@type": T + "ElectionReport",
        "Format": "precinct-level",
        "GeneratedDate": utc_text(generated),
        "Issuer": getattr(settings, "TALLYROOM_DATA_ISSUER", "Tallyroom"),
        "IssuerAbbreviation": getattr(settings, "TALLYROOM_DATA_ISSUER_ABBREVIATION", "Tallyroom"),
        "Notes": NOTES,
        "SequenceStart": 1,
        "SequenceEnd": 1,
        "Status": report_status(contests),
        "VendorApplicationId": f"Tallyroom {__version__}",
        "ExternalIdentifier": [
            _external("tallyroom-election", election.code),
            _external("tallyroom-audit-seq", version.seq),
            _external("tallyroom-audit-hash", version.entry_hash),
        ],
    }
    yield _json(head)[:-1]
    used = sorted({ch.entity.id for c in contests for ch in c.choices})
    yield from _array("Party", (_json(_party(entities[e])) for e in used))
    yield from _array("Office", (_json(o) for o in _offices(frames)))
    yield from _array("Person", (_json(p) for p in _persons(frames)))
    yield from _array("GpUnit", (_json(u) for u in _gp_units(election, frames)))
    rounds: dict[int, Round] = {c.round.pk: c.round for c in contests}
    ordered = sorted(rounds.values(), key=lambda r: (r.date, r.code))
    yield from _array("Election", (b"".join(_election(election, r, frames)) for r in ordered))
    yield b"}\n"


def _party(entity: Entity) -> dict[str, Any]:
    out: dict[str, Any] = {
        "@id": party_id(entity.code),
        "@type": T + ("Coalition" if entity.kind == "coalition" else "Party"),
        "Name": _local(entity.name),
    }
    if entity.short_name:
        out["Abbreviation"] = _local(entity.short_name)
    ids = [_external("tallyroom-code", entity.code), _external("tallyroom-entity-kind", entity.kind)]
    if entity.cec_id is not None:
        ids.append(_external("commission-id", entity.cec_id))
    out["ExternalIdentifier"] = ids
    return out


def _offices(frames: list[MunicipalityFrame]) -> Iterator[dict[str, Any]]:
    titles = {Contest.Kind.MAYOR: "Mayor", Contest.Kind.ASSEMBLY: "Municipal Assembly"}
    for frame in frames:
        muni = frame.municipality
        for kind in sorted({c.contest.kind for c in frame.contests}):
            yield {
                "@id": f"office-{muni.code}-{kind}",
                "@type": T + "Office",
                "ElectionDistrictId": muni_id(muni.code),
                "Name": _text([("en", f"{titles[Contest.Kind(kind)]} of {muni.name_en}")]),
            }


def _persons(frames: list[MunicipalityFrame]) -> Iterator[dict[str, Any]]:
    for frame in frames:
        code = frame.municipality.code
        seen: set[int] = set()
        for contest in frame.contests:
            people = [
                (ch.candidate_id, ch.candidate_name, ch.candidate_gender, ch.entity.code, None)
                for ch in contest.choices
                if ch.candidate_id is not None
            ] + [(lc.id, lc.name, lc.gender, lc.entity.code, lc.position) for lc in contest.list_candidates]
            for pk, name, gender, entity, position in people:
                if pk in seen:
                    continue
                seen.add(pk)
                office = contest.contest.kind
                person: dict[str, Any] = {
                    "@id": "person-" + _person_key(code, office, entity, position),
                    "@type": T + "Person",
                    "FullName": _local(name),
                    "PartyId": party_id(entity),
                }
                if gender:
                    person["Gender"] = gender
                yield person


def _gp_units(election: Election, frames: list[MunicipalityFrame]) -> Iterator[dict[str, Any]]:
    yield {
        "@id": TOP,
        "@type": T + "ReportingUnit",
        "Type": "other",
        "OtherType": "election-area",
        "Name": _text([("en", election.name_en), ("sq", election.name_sq), ("sr-Latn", election.name_sr)]),
        "ComposingGpUnitIds": [muni_id(f.municipality.code) for f in frames],
        "VotersRegistered": sum(s.registered for f in frames for s in f.stations),
        "ExternalIdentifier": [_external("tallyroom-election", election.code)],
    }
    for frame in frames:
        muni = frame.municipality
        centres: dict[str, list[str]] = {}
        for s in frame.stations:
            centres.setdefault(s.centre_code, []).append(s.code)
        ids = [_external("tallyroom-code", muni.code)]
        if muni.cec_id is not None:
            ids.append(_external("commission-id", muni.cec_id))
        yield {
            "@id": muni_id(muni.code),
            "@type": T + "ReportingUnit",
            "Type": "municipality",
            "Name": _text([("en", muni.name_en), ("sq", muni.name_sq), ("sr-Latn", muni.name_sr)]),
            "ComposingGpUnitIds": [centre_id(c) for c in sorted(centres)],
            "VotersRegistered": sum(s.registered for s in frame.stations),
            "TotalSubUnits": len(frame.stations),
            "ExternalIdentifier": ids,
        }
        names = {s.centre_code: s.centre_name for s in frame.stations}
        for code in sorted(centres):
            yield {
                "@id": centre_id(code),
                "@type": T + "ReportingUnit",
                "Type": "polling-place",
                "Name": _local(names[code]),
                "ComposingGpUnitIds": [station_id(s) for s in centres[code]],
                "ExternalIdentifier": [_external("tallyroom-code", code)],
            }
        for s in frame.stations:
            unit: dict[str, Any] = {"@id": station_id(s.code), "@type": T + "ReportingUnit", "Type": "precinct"}
            if s.kind == PollingStation.Kind.CENTRAL:
                unit |= {"Type": "other", "OtherType": "central-counting-unit"}
            unit |= {
                "Name": _local(s.code),
                "VotersRegistered": s.registered,
                "ExternalIdentifier": [_external("tallyroom-code", s.code), _external("station-kind", s.kind)],
            }
            yield unit


def _election(election: Election, round_: Round, frames: list[MunicipalityFrame]) -> Iterator[bytes]:
    mine = [(f, [c for c in f.contests if c.round.pk == round_.pk]) for f in frames]
    mine = [(f, cs) for f, cs in mine if cs]
    outcomes = {c.contest.pk: _outcome(c) for _, cs in mine for c in cs}
    round_name = round_.name_en or round_.code
    head = {
        "@type": T + "Election",
        "ElectionScopeId": TOP,
        "Name": _text(
            [
                ("en", f"{election.name_en}: {round_name}"),
                ("sq", f"{election.name_sq}: {round_.name_sq or round_name}" if election.name_sq else ""),
                ("sr-Latn", f"{election.name_sr}: {round_.name_sr or round_name}" if election.name_sr else ""),
            ]
        ),
        "StartDate": round_.date.isoformat(),
        "EndDate": max(c.end_date for _, cs in mine for c in cs).isoformat(),
        "Type": "runoff" if round_.kind == Round.Kind.RUNOFF else "general",
        "ExternalIdentifier": [_external("tallyroom-round", round_.code)],
    }
    yield _json(head)[:-1]
    yield from _array("Candidate", (_json(c) for f, cs in mine for c in _candidates(f, cs, outcomes)))
    yield from _array("BallotCounts", (b for _, cs in mine for c in cs for b in _ballot_counts(c)))
    yield from _array("Contest", (b"".join(chunk) for chunk in _contests(mine, outcomes)))
    yield b"}"


def _candidate_ref(frame: ContestFrame, entity: str, position: int | None) -> str:
    c = frame.contest
    return f"cand-{c.round.code}-" + _person_key(c.municipality.code, c.kind, entity, position)


def _candidates(
    frame: MunicipalityFrame, contests: list[ContestFrame], outcomes: dict[int, Outcome]
) -> Iterator[dict[str, Any]]:
    code = frame.municipality.code
    for contest in contests:
        outcome = outcomes[contest.contest.pk]
        people = [
            (ch.candidate_id, ch.candidate_name, ch.entity.code, None) for ch in contest.choices if ch.candidate_id
        ] + [(lc.id, lc.name, lc.entity.code, lc.position) for lc in contest.list_candidates]
        for pk, name, entity, position in people:
            out: dict[str, Any] = {
                "@id": _candidate_ref(contest, entity, position),
                "@type": T + "Candidate",
                "BallotName": _local(name),
                "PartyId": party_id(entity),
                "PersonId": "person-" + _person_key(code, contest.contest.kind, entity, position),
            }
            status = outcome.candidate_status(pk)
            if status:
                out["PostElectionStatus"] = status
            yield out


def _ballot_counts(contest: ContestFrame) -> Iterator[bytes]:
    """Each counted station's BallotCounts, as `_json` would write the object."""
    head = '{"@type":' + _value(T + "BallotCounts") + ',"BallotsCast":'
    tail = ',"OtherType":' + _value(f"{contest.contest.kind}-ballots") + ',"Type":"other"}'
    for result in contest.stations:
        if result.form is None:
            continue
        form = result.form
        gp_unit = _value(station_id(result.station.code))
        cast, rejected = _value(form.ballots_cast), _value(form.invalid)
        yield f'{head}{cast},"BallotsRejected":{rejected},"GpUnitId":{gp_unit}{tail}'.encode()


def _contests(
    mine: list[tuple[MunicipalityFrame, list[ContestFrame]]], outcomes: dict[int, Outcome]
) -> Iterator[Iterator[bytes]]:
    for frame, contests in mine:
        votes = municipality_votes(frame)
        prefs = municipality_preferences(frame) if any(c.list_candidates for c in contests) else {}
        for contest in contests:
            yield _contest(contest, outcomes[contest.contest.pk], votes, prefs)


def _count(count: int, gp_unit: str, kind: str = "total", other: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"@type": T + "VoteCounts", "Count": count, "GpUnitId": gp_unit}
    if other:
        out["OtherType"] = other
    out["Type"] = kind
    return out


class _Counts:
    """VoteCounts as JSON text, `_json(_count(...))` byte for byte: the station's part written once."""

    def __init__(self, kind: str = "total", other: str = "") -> None:
        self.head = '{"@type":' + _value(T + "VoteCounts") + ',"Count":'
        self.tail = (',"OtherType":' + _value(other) if other else "") + ',"Type":' + _value(kind) + "}"
        self.units: dict[str, str] = {}

    def __call__(self, count: int, gp_unit: str) -> str:
        unit = self.units.get(gp_unit)
        if unit is None:
            unit = self.units[gp_unit] = ',"GpUnitId":' + _value(gp_unit) + self.tail
        return self.head + _value(count) + unit


def _contest(
    contest: ContestFrame,
    outcome: Outcome,
    votes: dict[int, dict[int, int]],
    prefs: dict[int, dict[int, int]],
) -> Iterator[bytes]:
    c = contest.contest
    muni = c.municipality
    counted = [r for r in contest.stations if r.form is not None]
    head: dict[str, Any] = {
        "@id": contest_id(contest),
        "@type": T + "CandidateContest",
        "ElectionDistrictId": muni_id(muni.code),
        "Name": f"{muni.name_en}: {c.kind} ({c.round.code})",
        "NumberElected": c.seats,
        "OfficeIds": [f"office-{muni.code}-{c.kind}"],
        "SubUnitsReported": len(counted),
        "TotalSubUnits": len(contest.stations),
        "VotesAllowed": 1,
        "CountStatus": [
            {"@type": T + "CountStatus", "Status": "completed" if contest.complete else "in-process", "Type": "total"}
        ],
        "ExternalIdentifier": [_external("tallyroom-contest-id", c.pk)],
        "OtherCounts": [
            {"@type": T + "OtherCounts", "GpUnitId": station_id(r.station.code), "Undervotes": r.form.blank}
            for r in counted
            if r.form is not None
        ],
    }
    if c.kind == Contest.Kind.ASSEMBLY:
        head["VoteVariation"] = "proportional"
    elif c.round.kind == Round.Kind.RUNOFF:
        head["VoteVariation"] = "plurality"
    else:
        head |= {"VoteVariation": "majority", "NumberRunoff": 2}
    yield _json(head)[:-1]
    yield from _array("ContestSelection", _selections(contest, outcome, counted, votes, prefs))
    yield b"}"


def _selections(
    contest: ContestFrame,
    outcome: Outcome,
    counted: list[Any],
    votes: dict[int, dict[int, int]],
    prefs: dict[int, dict[int, int]],
) -> Iterator[bytes]:
    c = contest.contest
    base = f"sel-{c.round.code}-{c.municipality.code}-{c.kind}"
    order = 0
    units = [(station_id(r.station.code), votes.get(r.form.id, {})) for r in counted]
    total = _Counts()
    for choice in contest.choices:
        order += 1
        counts = [total(form_votes.get(choice.entity.id, 0), unit) for unit, form_votes in units]
        out: dict[str, Any] = {"@id": f"{base}-{choice.entity.code}"}
        if choice.candidate_id is None:
            out |= {"@type": T + "PartySelection", "PartyIds": [party_id(choice.entity.code)]}
            if outcome.settled and choice.entity.code in outcome.seats:
                seats = _count(outcome.seats[choice.entity.code], muni_id(c.municipality.code), "seats")
                counts.append(_json(seats).decode())
        else:
            out |= {
                "@type": T + "CandidateSelection",
                "CandidateIds": [_candidate_ref(contest, choice.entity.code, None)],
            }
        out["SequenceOrder"] = order
        yield _spliced(out, "VoteCounts", counts)
    preference = _Counts("other", PREFERENCE)
    by_candidate: dict[int, list[str]] = {lc.id: [] for lc in contest.list_candidates}
    for r in counted:  # station order, as the counts are listed
        unit = station_id(r.station.code)
        for candidate_id, n in prefs.get(r.form.id, {}).items():
            if candidate_id in by_candidate:
                by_candidate[candidate_id].append(preference(n, unit))
    for lc in contest.list_candidates:
        order += 1
        head = {
            "@id": f"{base}-{lc.entity.code}-{lc.position}",
            "@type": T + "CandidateSelection",
            "CandidateIds": [_candidate_ref(contest, lc.entity.code, lc.position)],
            "EndorsementPartyIds": [party_id(lc.entity.code)],
            "SequenceOrder": order,
        }
        yield _spliced(head, "VoteCounts", by_candidate[lc.id])
