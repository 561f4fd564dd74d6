"""Writes to the election structure. One function per use case, one transaction each."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import models, transaction
from django.db.models import ProtectedError

from tallyroom.audit.chain import SYSTEM, audit_append
from tallyroom.elections.definition import (
    DefinitionError,
    Packed,
    Problem,
    definition_pack,
    validate,
    with_defaults,
)
from tallyroom.elections.diff import describe_changes
from tallyroom.elections.models import (
    Candidate,
    Contest,
    ContestCandidate,
    ContestEntity,
    Election,
    Municipality,
    PoliticalEntity,
    PollingCentre,
    PollingStation,
    Round,
)
from tallyroom.elections.stations_csv import StationRow


@dataclass
class LoadOutcome:
    status: Literal["created", "unchanged", "replaced", "valid"]
    election_code: str
    changes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class ChangesNeedReplace(Exception):  # noqa: N818 - a refusal, not a failure
    """The election exists with a different definition; `changes` says how it differs."""

    def __init__(self, code: str, changes: list[str]) -> None:
        self.code = code
        self.changes = changes
        super().__init__(f"election {code!r} is already loaded with a different definition")


def election_load(doc: Any, *, replace: bool = False, check_only: bool = False, actor: str = SYSTEM) -> LoadOutcome:
    """Load a whole definition all-or-nothing; identical reloads are no-ops."""
    problems = validate(doc)
    if problems:
        raise DefinitionError(problems)
    doc = with_defaults(doc)
    code = doc["code"]
    existing = Election.objects.filter(code=code).first()
    if check_only:
        changes = list(describe_changes(existing.definition, doc)) if existing else []
        return LoadOutcome("valid", code, changes, _counts(doc))
    packed = definition_pack(doc)
    digest = packed.sha256
    if existing and existing.definition_sha256 == digest:
        return LoadOutcome("unchanged", code, [], _counts(doc))
    changes = list(describe_changes(existing.definition, doc)) if existing else []
    if existing and not replace:
        raise ChangesNeedReplace(code, changes)
    try:
        with transaction.atomic():
            election = existing or Election(code=code)
            _apply(election, doc, packed)
            audit_append(
                "election.replaced" if existing else "election.loaded",
                "election",
                code,
                actor=actor,
                payload={"definition_sha256": digest, "changes": changes[:200], "change_count": len(changes)},
            )
    except ProtectedError as exc:
        raise DefinitionError(
            [Problem("", f"cannot remove rows that recorded data depends on: {exc.args[0]}")]
        ) from exc
    return LoadOutcome("replaced" if existing else "created", code, changes, _counts(doc))


def _counts(doc: dict[str, Any]) -> dict[str, int]:
    munis = doc["municipalities"]
    return {
        "municipalities": len(munis),
        "centres": sum(len(m["centres"]) for m in munis),
        "stations": sum(len(m["stations"]) for m in munis),
        "registered_voters": sum(s["registered"] for m in munis for s in m["stations"]),
        "entities": len(doc["entities"]),
        "candidates": sum(len(lst["candidates"]) for m in munis for lst in m.get("assembly", []))
        + sum(len(m.get("mayor", [])) for m in munis),
    }


def _time(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def _apply(election: Election, doc: dict[str, Any], packed: Packed) -> None:
    names = doc["name"]
    election.name_en = names["en"]
    election.name_sq = names.get("sq", "")
    election.name_sr = names.get("sr", "")
    election.timezone = doc["timezone"]
    election.polls_open = _time(doc["polls_open"])
    election.polls_close = _time(doc["polls_close"])
    election.turnout_times = doc["turnout_times"]
    election.settings = doc["settings"]
    election.estimates = doc["estimates"]
    election.source = doc["source"]
    election.definition_packed = packed.data
    election.definition_sha256 = packed.sha256
    election.save()

    sync = _Sync(election)
    rounds = sync.rows(
        Round,
        "code",
        {
            r["code"]: {
                "kind": r["kind"],
                "date": dt.date.fromisoformat(r["date"]),
                "name_en": r.get("name", {}).get("en", ""),
                "name_sq": r.get("name", {}).get("sq", ""),
                "name_sr": r.get("name", {}).get("sr", ""),
            }
            for r in doc["rounds"]
        },
        keep_extra=True,
    )  # runoff and repeat rounds created by the count stay
    entities = sync.rows(
        PoliticalEntity,
        "code",
        {
            e["code"]: {
                "name": e["name"],
                "short_name": e.get("short_name", ""),
                "kind": e["kind"],
                "cec_id": e.get("cec_id"),
                "aliases": e.get("aliases", []),
            }
            for e in doc["entities"]
        },
    )
    munis_doc = doc["municipalities"]
    munis = sync.rows(
        Municipality,
        "code",
        {
            m["code"]: {
                "cec_id": m.get("cec_id"),
                "name_en": m["name"]["en"],
                "name_sq": m["name"]["sq"],
                "name_sr": m["name"]["sr"],
                "area": m.get("area", ""),
                "assembly_seats": m["assembly_seats"],
            }
            for m in munis_doc
        },
    )
    centres = _sync_by_code(
        sync,
        PollingCentre,
        (
            (c["code"], {"municipality_id": munis[m["code"]].pk, "name": c["name"]})
            for m in munis_doc
            for c in m["centres"]
        ),
    )
    _sync_by_code(
        sync,
        PollingStation,
        (
            (
                s["code"],
                {
                    "municipality_id": munis[m["code"]].pk,
                    "centre_id": centres[s["centre"]],
                    "registered_voters": s["registered"],
                    "kind": s.get("kind", "regular"),
                    "registered_estimated": s.get("registered_estimated", False),
                },
            )
            for m in munis_doc
            for s in m["stations"]
        ),
    )
    del centres
    candidates = sync.rows(Candidate, _candidate_key, _wanted_candidates(munis_doc, munis, entities))
    first_round = next(rounds[r["code"]] for r in doc["rounds"] if r["kind"] == "first")
    _sync_first_round_contests(sync, first_round, munis_doc, munis, entities, candidates)
    sync.delete_leftovers()


CHUNK = 10_000


def _sync_by_code(
    sync: _Sync, model: type[PollingCentre | PollingStation], wanted: Iterator[tuple[str, dict[str, Any]]]
) -> dict[str, int]:
    """Centres and stations a chunk at a time, by code (so a station may move between municipalities);
    their ids by code. A national list (a million stations, a quarter of a million centres) held as
    model instances would take gigabytes."""
    ids: dict[str, int] = {}
    while True:
        chunk: dict[Hashable, dict[str, Any]] = dict(itertools.islice(wanted, CHUNK))
        if not chunk:
            break
        scope = models.Q(election=sync.election, code__in=list(chunk))
        synced = sync.rows(model, "code", chunk, scope=scope, related=(), keep_extra=True)
        ids.update((str(code), obj.pk) for code, obj in synced.items())
    rows = model._default_manager.filter(election=sync.election).values_list("pk", "code").iterator(CHUNK)
    sync.leftovers(model, [pk for pk, code in rows if code not in ids])
    return ids


def _candidate_key(obj: Candidate) -> Hashable:
    if obj.office == Candidate.Office.MAYOR:
        return (obj.municipality.code, "mayor", obj.name)
    return (obj.municipality.code, "assembly", obj.entity.code, obj.position)


def _wanted_candidates(
    munis_doc: list[dict[str, Any]], munis: dict[Hashable, Any], entities: dict[Hashable, Any]
) -> dict[Hashable, dict[str, Any]]:
    wanted: dict[Hashable, dict[str, Any]] = {}
    for m in munis_doc:
        muni = munis[m["code"]]
        for lst in m.get("assembly", []):
            for c in lst["candidates"]:
                wanted[(m["code"], "assembly", lst["entity"], c["position"])] = {
                    "municipality": muni,
                    "entity": entities[lst["entity"]],
                    "office": "assembly",
                    "name": c["name"],
                    "gender": c["gender"],
                    "position": c["position"],
                    "position_estimated": c.get("position_estimated", False),
                }
        for pos, c in enumerate(m.get("mayor", []), start=1):
            wanted[(m["code"], "mayor", c["name"])] = {
                "municipality": muni,
                "entity": entities[c["entity"]],
                "office": "mayor",
                "name": c["name"],
                "gender": c.get("gender", ""),
                "position": pos,
                "position_estimated": False,
            }
    return wanted


def _sync_first_round_contests(
    sync: _Sync,
    first_round: Round,
    munis_doc: list[dict[str, Any]],
    munis: dict[Hashable, Any],
    entities: dict[Hashable, Any],
    candidates: dict[Hashable, Any],
) -> None:
    wanted: dict[Hashable, dict[str, Any]] = {}
    for m in munis_doc:
        if m.get("assembly"):
            wanted[(m["code"], "assembly")] = {
                "round": first_round,
                "municipality": munis[m["code"]],
                "kind": "assembly",
                "seats": m["assembly_seats"],
            }
        if m.get("mayor"):
            wanted[(m["code"], "mayor")] = {
                "round": first_round,
                "municipality": munis[m["code"]],
                "kind": "mayor",
                "seats": 1,
            }
    contests = sync.rows(
        Contest,
        lambda c: (c.municipality.code, c.kind),
        wanted,
        scope=models.Q(round=first_round),
    )
    ballot_entities: dict[Hashable, dict[str, Any]] = {}
    ballot_candidates: dict[Hashable, dict[str, Any]] = {}
    for m in munis_doc:
        for pos, lst in enumerate(m.get("assembly", []), start=1):
            contest = contests[(m["code"], "assembly")]
            ballot_entities[(m["code"], lst["entity"])] = {
                "contest": contest,
                "entity": entities[lst["entity"]],
                "ballot_position": pos,
            }
        for pos, c in enumerate(m.get("mayor", []), start=1):
            ballot_candidates[(m["code"], c["name"])] = {
                "contest": contests[(m["code"], "mayor")],
                "candidate": candidates[(m["code"], "mayor", c["name"])],
                "ballot_position": pos,
            }
    sync.rows(
        ContestEntity,
        lambda r: (r.contest.municipality.code, r.entity.code),
        ballot_entities,
        scope=models.Q(contest__round=first_round),
        related=("contest__municipality", "entity"),
    )
    sync.rows(
        ContestCandidate,
        lambda r: (r.contest.municipality.code, r.candidate.name),
        ballot_candidates,
        scope=models.Q(contest__round=first_round, contest__kind="mayor"),
        related=("contest__municipality", "candidate"),
    )


class _Sync:
    """Match rows by natural key: update what changed, create what is new, delete the rest last."""

    def __init__(self, election: Election) -> None:
        self.election = election
        self._leftovers: list[tuple[type[models.Model], list[int]]] = []

    def rows(
        self,
        model: type[models.Model],
        key: str | Callable[[Any], Hashable],
        wanted: dict[Hashable, dict[str, Any]],
        *,
        scope: models.Q | None = None,
        related: Iterable[str] | None = None,  # None: every foreign key but the election
        keep_extra: bool = False,
    ) -> dict[Hashable, Any]:
        keyfn: Callable[[Any], Hashable] = (lambda o: getattr(o, key)) if isinstance(key, str) else key
        qs = model._default_manager.filter(scope if scope is not None else models.Q(election=self.election))
        rel = (
            tuple(related)
            if related is not None
            else tuple(f.name for f in model._meta.get_fields() if f.many_to_one and f.name not in {"election"})
        )
        existing = {keyfn(o): o for o in qs.select_related(*rel)} if rel else {keyfn(o): o for o in qs}
        has_election = any(f.name == "election" for f in model._meta.get_fields())
        result: dict[Hashable, Any] = {}
        to_create: list[models.Model] = []
        to_update: list[models.Model] = []
        changed_fields: set[str] = set()
        for ident, values in wanted.items():
            obj = existing.pop(ident, None)
            if obj is None:
                extra: dict[str, Any] = {"election": self.election} if has_election else {}
                if isinstance(key, str):
                    extra[key] = ident
                obj = model(**extra, **values)
                to_create.append(obj)
            else:
                diff = {name for name, value in values.items() if getattr(obj, name) != value}
                for name in diff:
                    setattr(obj, name, values[name])
                if diff:
                    to_update.append(obj)
                    changed_fields |= diff
            result[ident] = obj
        model._default_manager.bulk_create(to_create, batch_size=2000)
        if to_update:
            model._default_manager.bulk_update(to_update, sorted(changed_fields), batch_size=2000)
        if existing and not keep_extra:
            self._leftovers.append((model, [o.pk for o in existing.values()]))
        return result

    def leftovers(self, model: type[models.Model], pks: list[int]) -> None:
        if pks:
            self._leftovers.append((model, pks))

    def delete_leftovers(self) -> None:
        for model, pks in reversed(self._leftovers):
            model._default_manager.filter(pk__in=pks).delete()


def election_load_stations(
    election_code: str, rows: list[StationRow], *, replace: bool = False, problems: Sequence[Problem] = ()
) -> LoadOutcome:
    """Merge a station list into a loaded election; anything but additions needs `replace`."""
    election = Election.objects.filter(code=election_code).first()
    if election is None:
        raise DefinitionError([Problem("", f"no election with code {election_code!r}; load its definition first")])
    doc, merge_problems = _merge_station_rows(election.definition, rows)
    if problems or merge_problems:
        raise DefinitionError([*problems, *merge_problems])
    changes = list(describe_changes(election.definition, doc))  # `.definition` is a fresh copy per read
    only_additions = all(line.endswith(": added") or ": added " in line for line in changes)
    if changes and not only_additions and not replace:
        raise ChangesNeedReplace(election_code, changes)
    if not changes:
        return LoadOutcome("unchanged", election_code, [], _counts(doc))
    outcome = election_load(doc, replace=True)
    outcome.changes = changes
    return outcome


def _merge_station_rows(doc: dict[str, Any], rows: list[StationRow]) -> tuple[dict[str, Any], list[Problem]]:
    """`doc` with the rows merged in (changed in place)."""
    munis = {m["code"]: m for m in doc["municipalities"]}
    centre_home = {c["code"]: m["code"] for m in doc["municipalities"] for c in m["centres"]}
    station_home = {s["code"]: (m["code"], s) for m in doc["municipalities"] for s in m["stations"]}
    problems: list[Problem] = []
    for row in rows:
        where = f"row {row.row}"
        muni = munis.get(row.municipality)
        if muni is None:
            problems.append(Problem(f'{where}, column "municipality"', f"unknown municipality {row.municipality!r}"))
            continue
        home = centre_home.setdefault(row.centre, row.municipality)
        if home != row.municipality:
            problems.append(
                Problem(
                    f'{where}, column "centre"',
                    f"centre {row.centre!r} belongs to municipality {home!r}",
                )
            )
            continue
        if not any(c["code"] == row.centre for c in muni["centres"]):
            muni["centres"].append({"code": row.centre, "name": row.centre_name})
        found = station_home.get(row.station)
        if found and found[0] != row.municipality:
            problems.append(
                Problem(
                    f'{where}, column "station"',
                    f"station {row.station!r} belongs to municipality {found[0]!r}",
                )
            )
            continue
        station = found[1] if found else {"code": row.station}
        station.update({"centre": row.centre, "registered": row.registered})
        station.pop("registered_estimated", None)  # a commission's list is official, not an estimate
        if row.kind != "regular" or "kind" in station:
            station["kind"] = row.kind
        if not found:
            muni["stations"].append(station)
            station_home[row.station] = (row.municipality, station)
    return doc, problems
