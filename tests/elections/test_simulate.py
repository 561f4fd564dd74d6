"""The simulated election and its day, without a database: deterministic, varied, consistent, streamed."""

from __future__ import annotations

import gzip
import hashlib
import json
import statistics
import tracemalloc
from collections import Counter, defaultdict
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from tallyroom.elections.simulate import simulate_definition, simulate_forms, station_draws
from tallyroom.elections.simulate_day import simulate_day, simulate_stations
from tallyroom.elections.simulate_files import FILES, simulate_write
from tallyroom.polling import turnout as tr


def _digest(items: Any) -> str:
    return hashlib.sha256(repr(list(items)).encode()).hexdigest()


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return simulate_definition(3000, 30, seed=5)


def test_same_seed_same_day_and_forms(definition: dict[str, Any]) -> None:
    again = simulate_definition(3000, 30, seed=5)
    assert again == definition
    assert _digest(simulate_day(definition, 5)) == _digest(simulate_day(again, 5))
    assert _digest(simulate_forms(definition, 5)) == _digest(simulate_forms(again, 5))


def test_other_seed_other_day_and_forms(definition: dict[str, Any]) -> None:
    other = simulate_definition(3000, 30, seed=6)
    assert other != definition
    assert _digest(simulate_day(definition, 5)) != _digest(simulate_day(definition, 6))
    assert _digest(simulate_forms(definition, 5)) != _digest(simulate_forms(other, 6))


def test_forms_unchanged_by_the_shared_draws() -> None:
    """simulate_forms gives the numbers it gave before the day was added (benchmarks compare them)."""
    forms = list(simulate_forms(simulate_definition(300, 5, seed=7), seed=7))
    assert hashlib.sha256(json.dumps(forms).encode()).hexdigest() == (
        "030a3a7ec91d54cc7d0cee1ea8a4fb935544501279ea6b6e7632d1f9fbd6559f"
    )


def test_turnout_ends_at_the_forms_ballots_used(definition: dict[str, Any]) -> None:
    forms = {(s, c): f for s, c, f in simulate_forms(definition, 5)}
    for day in simulate_day(definition, 5):
        figures = [t.voters for t in day.turnout]
        assert figures == sorted(figures), day.station  # cumulative: never down
        assert [t.at for t in day.turnout] == sorted(t.at for t in day.turnout)
        assert figures[-1] == day.voters
        assert forms[(day.station, "assembly")]["ballots_used"] == day.voters
        assert forms[(day.station, "mayor")]["ballots_used"] == day.voters


def test_the_day_follows_the_station_state_machine(definition: dict[str, Any]) -> None:
    from tallyroom.polling import state as sm

    kinds: Counter[str] = Counter()
    for day in simulate_day(definition, 5):
        events = [sm.Event(sm.Kind(e.kind), e.at, n, e.reason) for n, e in enumerate(day.events)]
        final = sm.replay(events)
        assert final.status in {sm.Status.CLOSED, sm.Status.CLOSED_EARLY}
        assert all(e.reason for e in day.events if sm.Kind(e.kind) in sm.NEEDS_REASON)
        assert all(t.at >= day.events[0].at for t in day.turnout)  # no figure before the opening
        if final.status == sm.Status.CLOSED_EARLY:
            assert final.closed_at is not None
            assert day.turnout[-1].at == final.closed_at and day.turnout[-1].slot == ""
        kinds.update(e.kind for e in day.events)
    assert kinds["opened"] == 3000
    assert 0 < kinds["closed_early"] < 100
    assert 0 < kinds["suspended"] == kinds["resumed"] < 150


def test_turnout_varies_by_municipality(definition: dict[str, Any]) -> None:
    rates: dict[str, list[float]] = defaultdict(list)
    for draw in station_draws(definition, 5):
        rates[draw.municipality].append(draw.voters / draw.registered)
    means = [statistics.mean(r) for r in rates.values()]
    assert max(means) - min(means) > 0.15
    within = statistics.mean(statistics.pstdev(r) for r in rates.values())
    assert within > 0.01  # stations differ too


def test_preference_votes_concentrate_on_a_few_candidates(definition: dict[str, Any]) -> None:
    top3 = total = 0
    for _station, _contest, form in islice(simulate_forms(definition, 5), 2000):
        for counts in form.get("preferences", {}).values():
            ranked = sorted(counts.values(), reverse=True)
            top3 += sum(ranked[:3])
            total += sum(ranked)
    assert total > 0
    assert top3 / total > 0.7


def test_incidents_are_few_and_cluster_in_a_few_municipalities() -> None:
    definition = simulate_definition(20_000, 40, seed=11)
    by_muni: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    severities: Counter[str] = Counter()
    for day in simulate_day(definition, 11):
        for incident in day.incidents:
            by_muni[incident.municipality] += 1
            kinds[incident.kind] += 1
            severities[incident.severity] += 1
            assert incident.station == day.station and incident.description
    total = sum(by_muni.values())
    assert 20 < total < 1000  # a small rate: a few per thousand stations
    top = sum(n for _, n in by_muni.most_common(4))  # a tenth of the municipalities
    assert top / total > 0.5
    assert len(kinds) >= 4 and len(severities) >= 3


def test_reports_stay_within_the_registered_voters(definition: dict[str, Any]) -> None:
    registered = {s["code"]: s["registered"] for m in definition["municipalities"] for s in m["stations"]}
    for day in simulate_day(definition, 5):
        most = tr.limit(registered[day.station], 0.05)
        assert all(0 <= t.voters <= most for t in day.turnout)  # none is held for review


def test_keys_are_unique_and_carry_the_seed(definition: dict[str, Any]) -> None:
    keys: list[str] = []
    for day in simulate_day(definition, 5):
        keys += [e.client_key for e in day.events] + [t.client_key for t in day.turnout]
        keys += [i.client_key for i in day.incidents]
    assert len(keys) == len(set(keys))
    assert all(k.startswith("sim:5:") and len(k) <= 200 for k in keys)


def _lines(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_files_are_byte_identical_and_fit_the_api_schemas(tmp_path: Path) -> None:
    from tallyroom.api.polling import EventIn, IncidentIn, TurnoutIn
    from tallyroom.api.results import BulkForm, BulkIn

    definition = simulate_definition(400, 4, seed=9)
    first = simulate_write(definition, 9, tmp_path / "a")
    second = simulate_write(simulate_definition(400, 4, seed=9), 9, tmp_path / "b")
    assert first == second
    names = ["definition.json", *(f"{f}.jsonl.gz" for f in FILES)]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert json.loads((tmp_path / "a" / "definition.json").read_text("utf-8")) == definition
    events = _lines(tmp_path / "a" / "events.jsonl.gz")
    turnout = _lines(tmp_path / "a" / "turnout.jsonl.gz")
    incidents = _lines(tmp_path / "a" / "incidents.jsonl.gz")
    forms = _lines(tmp_path / "a" / "forms.jsonl.gz")
    assert [len(events), len(turnout), len(incidents), len(forms)] == [
        first["events"],
        first["turnout"],
        first["incidents"],
        first["forms"],
    ]
    assert first["stations"] == 400 and first["forms"] == 800 and first["incidents"] > 0
    for line in events:
        EventIn.model_validate(line["body"])
    for line in turnout:
        TurnoutIn.model_validate(line["body"])
    for line in incidents:
        IncidentIn.model_validate(line)
    BulkIn.model_validate({"election": definition["code"], "forms": forms})
    assert BulkForm.model_validate(forms[0]).form == next(simulate_forms(definition, 9))[2]


def _peak(stations: int) -> tuple[int, int]:
    """(rows generated, peak bytes traced) streaming the day and forms of `stations` stations."""
    definition = simulate_definition(stations, 20, seed=2)
    tracemalloc.start()
    try:
        rows = 0
        for sim in simulate_stations(definition, 2):
            rows += len(sim.day.events) + len(sim.day.turnout) + 2
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return rows, peak


def test_streams_in_bounded_memory() -> None:
    """Four times the stations, about the same peak: nothing is held (tracemalloc is slow, so modest sizes)."""
    rows_small, peak_small = _peak(1500)
    rows_large, peak_large = _peak(6000)
    assert rows_large > 4 * rows_small * 0.9
    assert peak_large < 1.5 * peak_small + 100_000, (peak_small, peak_large)
    # A form alone is over 1 KB as Python objects: holding 6,000 stations' output would take > 12 MB.
    assert peak_large < 2_000_000, peak_large
