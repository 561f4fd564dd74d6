"""Reads for the public integrity page: the forensics report of an election's counted results.

The analysis is `tallyroom.rules.forensics.analyse` on the station table that `tallyroom forensics`
(without FILE) reads, with the command's defaults (seed 0, 1,000 Monte Carlo replicates, 20 bootstrap
fits), so the page shows the same numbers as the command. The report is cached in the process by the
SHA-256 of the table and the options: three languages and every snapshot of unchanged results cost
one analysis, and the page stays a function of the database alone (a different table is a different
key).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from django.urls import NoReverseMatch, reverse

from tallyroom.elections.models import Election, Municipality, PoliticalEntity, PollingStation
from tallyroom.polling.models import Incident
from tallyroom.polling.selectors import public_incident_kinds_by_station
from tallyroom.publish.slugs import station_slug
from tallyroom.results.forensics_source import station_table
from tallyroom.rules.forensics import ForensicsOptions, StationTable, analyse

#: The command's defaults: the page and `tallyroom forensics` agree to the last digit.
OPTIONS = ForensicsOptions()

#: Estimated fields that make turnout (ballots issued / registered voters) an estimate too.
TURNOUT_FIELDS = ("registered", "turnout", "signatures", "ballots_used")

#: Election-level tests whose input includes turnout.
TURNOUT_TESTS = frozenset(
    {"integer_percentages", "integer_percentages_by_municipality", "turnout_leader_correlation", "fraud_model"}
)

_CACHE: OrderedDict[str, dict[str, Any]] = OrderedDict()
_CACHE_SIZE = 4
_LOCK = threading.Lock()


def table_key(table: StationTable, options: ForensicsOptions = OPTIONS) -> str:
    """SHA-256 of everything `analyse` reads: equal keys, equal reports."""
    digest = hashlib.sha256(repr(sorted(asdict(options).items())).encode())
    for array in (table.station_ids, table.municipality_ids, table.registered, table.ballots, table.valid):
        digest.update(b"-" if array is None else np.ascontiguousarray(array).tobytes())
    digest.update(b"-" if table.invalid is None else table.invalid.tobytes())
    digest.update(np.ascontiguousarray(table.votes).tobytes())
    digest.update(repr((table.entity_names, table.leader, table.votes.shape)).encode())
    return digest.hexdigest()


def report_of(table: StationTable, code: str) -> dict[str, Any]:
    """The forensics report of `table`, computed once per distinct table."""
    key = table_key(table)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    report = analyse(table, OPTIONS, source={"election": code})
    with _LOCK:
        _CACHE[key] = report
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return report


@dataclass(frozen=True)
class Reason:
    """Why a station is listed: kind "turnout" or "share" (robust z), or "whole" (a whole percent in a
    municipality with more of them than chance gives)."""

    kind: str
    entity: str = ""
    value: float | None = None
    median: float | None = None
    z: float | None = None
    turnout_percent: int | None = None
    share_percent: int | None = None
    observed: int | None = None
    expected: float | None = None
    estimated: bool = False  # rests on an estimated turnout


@dataclass(frozen=True)
class FlaggedStation:
    code: str
    url: str | None
    turnout: float | None
    leader_share: float | None
    score: float
    reasons: list[Reason]
    incidents: list[str]


@dataclass
class MunicipalityRow:
    code: str
    name: str
    url: str | None
    stations: int
    mean_turnout: float | None
    mean_share: float | None
    whole: dict[str, Any] | None
    correlation: dict[str, Any] | None
    flagged: list[FlaggedStation] = field(default_factory=list)


@dataclass(frozen=True)
class TestRow:
    test: str
    row: dict[str, Any]
    turnout_based: bool


@dataclass(frozen=True)
class Fingerprint:
    counts: list[list[int]]  # 50 x 50: turnout bins (rows) x leader-share bins (columns)
    deciles: list[dict[str, Any]]  # leader-share band, descending, with counts per turnout decile
    stations: int
    bands: list[int]  # lower edges of the 10-point bands: 0, 10, ..., 90
    corner: int  # turnout and leader's share both at least 95%
    densest: tuple[int, int, int]  # turnout %, share % (lower edges of a 2-point cell), stations


@dataclass(frozen=True)
class IntegrityPage:
    election: Election
    stations_total: int
    stations_analysed: int
    estimates: list[dict[str, Any]]
    turnout_estimated: bool
    report: dict[str, Any] | None = None
    leader: str = ""
    tests: list[TestRow] = field(default_factory=list)
    warnings: list[TestRow] = field(default_factory=list)
    fingerprint: Fingerprint | None = None
    top_whole: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    digits: list[dict[str, Any]] = field(default_factory=list)
    municipalities: list[MunicipalityRow] = field(default_factory=list)
    flagged_total: int = 0
    options: ForensicsOptions = OPTIONS


def _url(name: str, *args: str) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def integrity_page(election: Election) -> IntegrityPage:
    """Everything the integrity page shows, read in a constant number of queries."""
    estimates = list(election.estimates or [])
    turnout_estimated = any(word in str(e.get("field", "")) for e in estimates for word in TURNOUT_FIELDS)
    total = PollingStation.objects.filter(election=election).exclude(kind=PollingStation.Kind.CENTRAL).count()
    empty = IntegrityPage(election, total, 0, estimates, turnout_estimated)
    try:
        table = station_table(election.code)
    except LookupError:
        return empty
    report = report_of(table, election.code)
    entity_label = _entity_labels(election)
    leader = report["election"]["leader"]
    tests = [
        TestRow(t["test"], t, turnout_estimated and t["test"] in TURNOUT_TESTS) for t in report["summary"]["tests"]
    ]
    municipalities = _municipalities(election, report, turnout_estimated, entity_label)
    return replace(
        empty,
        stations_analysed=table.size,
        report=report,
        leader=entity_label.get(leader, leader),
        tests=tests,
        warnings=[t for t in tests if t.row.get("warning")],
        fingerprint=_fingerprint(report),
        top_whole=_top_whole(report),
        digits=[
            {**t, "label": entity_label.get(t["entity"], t["entity"]), "rows": _digit_rows(t)}
            for t in report["digits"]["tests"]
            if t["leader"]
        ],
        municipalities=municipalities,
        flagged_total=len(report["flagged_stations"]),
    )


def _entity_labels(election: Election) -> dict[str, str]:
    return {
        code: short or code
        for code, short in PoliticalEntity.objects.filter(election=election).values_list("code", "short_name")
    }


def _municipalities(
    election: Election, report: dict[str, Any], turnout_estimated: bool, entity_label: dict[str, str]
) -> list[MunicipalityRow]:
    names = {m.code: m for m in Municipality.objects.filter(election=election)}
    rows: dict[str, MunicipalityRow] = {}
    for item in report["municipalities"]:
        code = item["municipality"]
        found = names.get(code)
        rows[code] = MunicipalityRow(
            code=code,
            name=found.name if found else code,
            url=_url("publish:municipality", election.code, code) if found else None,
            stations=item["stations"],
            mean_turnout=item["mean_station_turnout"],
            mean_share=item["mean_station_leader_share"],
            whole=item.get("integer_percentages"),
            correlation=item.get("correlation"),
        )
    flagged = report["flagged_stations"]
    pks = dict(
        PollingStation.objects.filter(election=election, code__in=[f["station"] for f in flagged]).values_list(
            "code", "pk"
        )
    )
    kinds = public_incident_kinds_by_station(election, pks.values()) if pks else {}
    labels = dict(Incident.Kind.choices)
    for item in flagged:
        code = item["station"]
        station = FlaggedStation(
            code=code,
            url=_url("publish:station", election.code, station_slug(code)) if code in pks else None,
            turnout=item["turnout"],
            leader_share=item["leader_share"],
            score=item["score"],
            reasons=[_reason(r, item, turnout_estimated, entity_label) for r in item["reasons"]],
            incidents=[str(labels.get(k, k)) for k in kinds.get(pks.get(code, -1), [])],
        )
        rows[item["municipality"]].flagged.append(station)
    return sorted(rows.values(), key=lambda row: row.code)


def _reason(
    reason: dict[str, Any], station: dict[str, Any], turnout_estimated: bool, entity_label: dict[str, str]
) -> Reason:
    if reason["test"] == "robust_z":
        quantity = reason["quantity"]
        turnout = quantity == "turnout"
        entity = "" if turnout else quantity.split(":", 1)[1]
        return Reason(
            kind="turnout" if turnout else "share",
            entity=entity_label.get(entity, entity),
            value=reason["value"],
            median=reason["municipality_median"],
            z=reason["z"],
            estimated=turnout and turnout_estimated,
        )
    whole_turnout = bool(reason["turnout_whole"])
    return Reason(
        kind="whole",
        turnout_percent=_whole(station["turnout"]) if whole_turnout else None,
        share_percent=_whole(station["leader_share"]) if reason["leader_share_whole"] else None,
        observed=reason["municipality_observed"],
        expected=reason["municipality_expected"],
        estimated=whole_turnout and turnout_estimated,
    )


def _whole(value: float | None) -> int | None:
    return None if value is None else round(100 * value)


def _fingerprint(report: dict[str, Any]) -> Fingerprint | None:
    data = report.get("fingerprint", {})
    if "counts" not in data:
        return None
    counts = np.asarray(data["counts"], dtype=np.int64)  # 100 x 100: turnout x share, 1-point bins
    halved = counts.reshape(50, 2, 50, 2).sum(axis=(1, 3))
    tenths = counts.reshape(10, 10, 10, 10).sum(axis=(1, 3))
    deciles = [
        {"low": 10 * band, "high": 10 * band + 10, "counts": [int(c) for c in tenths[:, band]]}
        for band in range(9, -1, -1)
    ]
    row, column = np.unravel_index(int(np.argmax(halved)), halved.shape)
    return Fingerprint(
        counts=halved.tolist(),
        deciles=deciles,
        bands=list(range(0, 100, 10)),
        stations=int(data["stations"]),
        corner=int(counts[95:, 95:].sum()),
        densest=(2 * int(row), 2 * int(column), int(halved[row, column])),
    )


def _top_whole(report: dict[str, Any], top: int = 5) -> dict[str, list[dict[str, Any]]]:
    """The whole percents with the largest excess over chance, per quantity."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key in ("turnout", "leader_share"):
        block = report["integer_percentages"].get(key)
        if not block:
            continue
        by = block["by_percent"]
        rows = [
            {"percent": p, "observed": o, "expected": e, "excess": o - e}
            for p, o, e in zip(by["percent"], by["observed"], by["expected"], strict=True)
        ]
        rows.sort(key=lambda r: (-r["excess"], r["percent"]))
        out[key] = [r for r in rows[:top] if r["excess"] > 0]
    return out


def _digit_rows(test: dict[str, Any]) -> list[dict[str, Any]]:
    used = test["counts_used"] or 0
    return [
        {
            "digit": digit,
            "observed": int(observed),
            "expected": float(expected),
            "observed_share": observed / used if used else None,
            "expected_share": expected / used if used else None,
        }
        for digit, observed, expected in zip(test["digits"], test["observed"], test["expected"], strict=True)
    ]
