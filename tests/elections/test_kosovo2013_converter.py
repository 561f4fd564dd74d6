"""The Kosovo 2013 demo converter: schema, official totals, data consistency, reproducibility.

No database: these run with or without pytest-django (``-p no:django``).
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tallyroom.elections import kosovo2013 as k

SOURCE = k.find_source_dir()
SCHEMA = Path(k.__file__).parent / "schema" / "election-definition.schema.json"
needs_data = pytest.mark.skipif(SOURCE is None, reason="the shared Kosovo 2013 dataset is not here")

# kosovo-rules.md §6: the 25 runoffs, and the 13 municipalities decided in round 1
RUNOFFS = {
    "Gjakovë", "Gjilan", "Dragash", "Klinë", "Kamenicë", "Mitrovicë", "Lipjan", "Novobërdë",
    "Obiliq", "Rahovec", "Pejë", "Prishtinë", "Prizren", "Shtërpcë", "Suharekë", "Ferizaj", "Viti",
    "Vushtrri", "Malishevë", "Junik", "Graçanicë", "Ranillug", "Partesh", "Kllokot",
    "Mitrovicë e Veriut",
}  # fmt: skip
ROUND1_DECIDED = {
    "Drenas", "Kaçanik", "Skënderaj", "Shtime", "Fushë Kosovë", "Istog", "Podujevë", "Deçan",
    "Mamushë", "Hani i Elezit", "Leposaviq", "Zveçan", "Zubin Potoku",
}  # fmt: skip


@pytest.fixture(scope="module")
def converted() -> tuple[dict[str, Any], dict[str, Any]]:
    assert SOURCE is not None
    return k.convert(SOURCE)


@pytest.fixture(scope="module")
def definition(converted: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return converted[0]


@pytest.fixture(scope="module")
def results(converted: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return converted[1]


def rows(name: str) -> list[dict[str, str]]:
    assert SOURCE is not None
    with (SOURCE / name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def municipality_of(station: str) -> str:
    return station[3:5] if station[:2] in ("CB", "BM") else station[:2]


def stations_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["code"]: s for m in definition["municipalities"] for s in m["stations"]}


# --- pure helpers (no data needed) ----------------------------------------------------------


def test_apportion_is_exact_and_respects_floors() -> None:
    assert k.apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert k.apportion(100, [1, 2, 97], [10, 0, 0]) == [10, 2, 88]
    assert sum(k.apportion(1_792_913, [3, 7, 11, 13])) == 1_792_913
    with pytest.raises(ValueError, match="floors"):
        k.apportion(5, [1, 1], [3, 3])


def test_station_codes() -> None:
    assert k.station_code("0101C/01R") == "0101C/01R"
    assert k.station_code("CB120/013") == "CB220/013"  # the mayor's batch is the assembly's
    assert k.station_kind("0101C/02D") == "dual"
    assert k.station_kind("0101C/01R") == "regular"
    assert k.station_kind("BM204/003") == "central"
    with pytest.raises(ValueError, match="unexpected"):
        k.station_code("0101C-01R")


def test_text_fixes() -> None:
    assert k.fix_text("GRAÐANSKA  INICIJATIVA") == "GRAĐANSKA INICIJATIVA"
    assert k.fold("Radojica Ðokić") == k.fold("RADOJICA ĐOKIC") == "RADOJICA DOKIC"


def test_seat_table_follows_the_law_and_the_list_caps() -> None:
    assert k.MUNICIPALITIES["19"].seats == 51
    assert {k.MUNICIPALITIES[c].seats for c in k.NORTH} == {19}
    assert all(15 <= m.seats <= 41 or code == "19" for code, m in k.MUNICIPALITIES.items())
    assert sum(m.population or 0 for m in k.MUNICIPALITIES.values()) == 1_739_825  # census 2011
    assert k.band_seats(9_403) == 15
    assert k.band_seats(10_675) == 19
    assert k.band_seats(27_324) == 21
    assert k.band_seats(94_556) == 35
    assert k.band_seats(177_781) == 41


# --- the definition -------------------------------------------------------------------------


@needs_data
def test_definition_validates_against_the_schema(definition: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = [f"{list(e.path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(definition)]
    assert errors == []


@needs_data
def test_top_level(definition: dict[str, Any]) -> None:
    assert definition["code"] == "ks-2013-local"
    assert definition["timezone"] == "Europe/Belgrade"
    assert (definition["polls_open"], definition["polls_close"]) == ("07:00", "19:00")
    assert definition["turnout_times"] == ["11:00", "15:00", "19:00"]
    rounds = [(r["kind"], r["date"]) for r in definition["rounds"]]
    assert rounds == [("first", "2013-11-03"), ("runoff", "2013-12-01")]
    fields = {e["field"] for e in definition["estimates"]}
    assert "municipalities[].stations[].registered" in fields


@needs_data
def test_municipalities(definition: dict[str, Any]) -> None:
    municipalities = definition["municipalities"]
    assert [m["code"] for m in municipalities] == [f"{i:02d}" for i in range(1, 39)]
    assert [m["cec_id"] for m in municipalities] == list(range(1, 39))
    for m in municipalities:
        assert all(m["name"][lang] for lang in ("en", "sq", "sr"))
    assert {m["code"] for m in municipalities if m.get("area") == "north"} == {"12", "28", "29", "38"}
    by_code = {m["code"]: m for m in municipalities}
    assert by_code["29"]["name"]["sq"] == "Zveçan"
    assert by_code["38"]["name"]["sr"] == "Severna Mitrovica"


@needs_data
def test_registered_voters_sum_to_the_official_total(definition: dict[str, Any]) -> None:
    stations = stations_of(definition).values()
    assert sum(s["registered"] for s in stations) == 1_792_913
    assert all(s["registered_estimated"] is True for s in stations)
    assert all(s["registered"] == 0 for s in stations if s["kind"] == "central")


@needs_data
def test_registered_covers_every_vote(definition: dict[str, Any], results: dict[str, Any]) -> None:
    """Every polling station's register holds its largest count in any contest or round."""
    stations = stations_of(definition)
    invalid = results["invalid_ballots"]
    for contest in ("assembly", "mayor_round1", "mayor_runoff"):
        for code, counts in results[contest].items():
            if stations[code]["kind"] == "central":
                continue  # counting batches: their voters are registered at home
            ballots = sum(counts.values()) + invalid[contest].get(code, 0)
            assert stations[code]["registered"] >= ballots, (contest, code)


@needs_data
def test_structure_matches_the_data(definition: dict[str, Any]) -> None:
    stations = stations_of(definition)
    centres = {c["code"] for m in definition["municipalities"] for c in m["centres"]}
    data_stations = {r["Polling Station"] for r in rows(k.FILES["assembly"])}
    data_centres = {r["Polling Center"] for r in rows(k.FILES["assembly"])}
    assert (len(data_stations), len(data_centres)) == (2_552, 849)
    runoff_only = {"2031A/01D", "2057A/01D", "2067A/02D"}  # Prizren: no round-1 results
    zvecan = {code for code in stations if code.startswith("29")}
    assert len(zvecan) == 16
    assert all(re.fullmatch(r"29\d{2}B/\d{2}[RD]", code) for code in zvecan)
    assert set(stations) == data_stations | runoff_only | zvecan
    assert len(stations) == 2_571
    assert len(centres) == 849 + 2 + 11 == 862
    kinds = Counter(s["kind"] for s in stations.values())
    assert kinds == {"regular": 1_559 + 5, "dual": 787 + 3 + 11, "central": 157 + 49}


@needs_data
def test_entities_lists_and_mayors(definition: dict[str, Any]) -> None:
    entities = {e["code"]: e for e in definition["entities"]}
    assert len(entities) == 103
    assert entities["AAK-LDD"]["kind"] == "coalition"
    assert entities["GIS"]["kind"] == "initiative"
    assert entities["LDK"]["aliases"] == ["Lidhja Demokratike e Kosovës"]
    assert entities["E046"]["kind"] == "independent"  # Rufki Suma, Hani i Elezit
    pshdk = entities["PSHDK"]
    assert pshdk["aliases"] == ["PARTIA SHQIPTARE DEMOKRISTIANE E KOSOVËS (PSHDK)"]
    municipalities = definition["municipalities"]
    candidates = [c for m in municipalities for lst in m["assembly"] for c in lst["candidates"]]
    assert len(candidates) == 7_652
    assert Counter(c["gender"] for c in candidates) == {"M": 5_054, "F": 2_598}
    assert sum(len(m["mayor"]) for m in municipalities) == 222
    zvecan = municipalities[28]
    assert zvecan["assembly"] == [] and zvecan["mayor"] == []
    for m in municipalities:
        for lst in m["assembly"]:
            positions = [c["position"] for c in lst["candidates"]]
            assert positions == list(range(1, len(positions) + 1))
            assert len(positions) <= k.list_cap(m["assembly_seats"]), m["code"]


@needs_data
def test_seats_are_the_smallest_consistent_with_the_lists(definition: dict[str, Any]) -> None:
    sizes = [15, *range(19, 42, 2), 51]
    for m in definition["municipalities"]:
        longest = max((len(lst["candidates"]) for lst in m["assembly"]), default=0)
        smallest = next(s for s in sizes if k.list_cap(s) >= longest)
        if m["code"] not in k.NORTH:
            assert m["assembly_seats"] == smallest, m["code"]


# --- the results bundle ---------------------------------------------------------------------


@needs_data
def test_bundle_shape(results: dict[str, Any], definition: dict[str, Any]) -> None:
    assert results["format"] == "tallyroom-kosovo2013-results/1"
    assert results["election"] == "ks-2013-local"
    stations = stations_of(definition)
    entity_codes = {e["code"] for e in definition["entities"]}
    mayors = {(m["code"], c["name"]) for m in definition["municipalities"] for c in m["mayor"]}
    for contest in ("assembly", "mayor_round1", "mayor_runoff"):
        assert set(results[contest]) <= set(stations)
    for counts in results["assembly"].values():
        assert set(counts) <= entity_codes
    for contest in ("mayor_round1", "mayor_runoff"):
        for code, counts in results[contest].items():
            assert {(municipality_of(code), name) for name in counts} <= mayors


@needs_data
def test_municipal_totals_match_the_municipality_files(results: dict[str, Any], definition: dict[str, Any]) -> None:
    codes = {e["cec_id"]: e["code"] for e in definition["entities"]}
    expected: Counter[tuple[str, str]] = Counter()
    for row in rows(k.FILES["assembly_mun"]):  # both spellings add up
        expected[(f"{int(row['id']):02d}", codes[int(row["Party_ID"])])] += int(row["Votes"])
    got: Counter[tuple[str, str]] = Counter()
    for station, counts in results["assembly"].items():
        for entity, votes in counts.items():
            got[(municipality_of(station), entity)] += votes
    assert +got == +expected
    for contest, name in (("mayor_round1", "mayor1_mun"), ("mayor_runoff", "runoff_mun")):
        expected_mayor: Counter[tuple[str, str]] = Counter()
        for row in rows(k.FILES[name]):
            expected_mayor[(f"{int(row['id']):02d}", k.fold(row["Candidate"]))] += int(row["Votes"])
        got_mayor: Counter[tuple[str, str]] = Counter()
        for station, counts in results[contest].items():
            for candidate, votes in counts.items():
                got_mayor[(municipality_of(station), k.fold(candidate))] += votes
        assert +got_mayor == +expected_mayor


@needs_data
def test_preference_votes(results: dict[str, Any], definition: dict[str, Any]) -> None:
    assembly = results["assembly"]
    per_station = results["preference_votes_by_station"]
    for mun, lists in results["preference_votes"].items():
        for entity, prefs in lists.items():
            entity_votes = sum(c.get(entity, 0) for s, c in assembly.items() if municipality_of(s) == mun)
            assert sum(prefs.values()) <= entity_votes
            spread: Counter[str] = Counter()
            for station, by_entity in per_station.items():
                if municipality_of(station) == mun:
                    spread.update(by_entity.get(entity, {}))
            assert +spread == +Counter(prefs), (mun, entity)
    for station, by_entity in per_station.items():
        for entity, prefs in by_entity.items():
            assert sum(prefs.values()) <= assembly[station][entity]
    # a candidate who is not a list's first keeps the file's figure (both spellings)
    data = Counter((f"{int(r['id']):02d}", r["Candidate"]) for r in rows(k.FILES["candidates"]))
    assert data[("01", "ABAZ PEPAJ")] == 1
    assert results["preference_votes"]["01"]["LDK"]["ABAZ PEPAJ"] == 109
    assert results["preference_votes"]["01"]["PSHDK"]["HAJDAR REXHAHMETAJ"] == 87 - sum(
        v for n, v in results["preference_votes"]["01"]["PSHDK"].items() if n != "HAJDAR REXHAHMETAJ"
    )


@needs_data
def test_runoffs(results: dict[str, Any], definition: dict[str, Any]) -> None:
    names = {m["code"]: m["name"]["sq"] for m in definition["municipalities"]}
    runoff = set(results["runoff_municipalities"])
    assert len(runoff) == 25
    assert {names[c] for c in runoff} == RUNOFFS
    finalists: dict[str, set[str]] = {}
    for station, counts in results["mayor_runoff"].items():
        finalists.setdefault(municipality_of(station), set()).update(counts)
    assert all(len(f) == 2 for f in finalists.values())


@needs_data
def test_first_round_majorities(results: dict[str, Any], definition: dict[str, Any]) -> None:
    """Strict majority of valid votes exactly where kosovo-rules.md §6 says round 1 decided."""
    totals: dict[str, Counter[str]] = {}
    for station, counts in results["mayor_round1"].items():
        totals.setdefault(municipality_of(station), Counter()).update(counts)
    names = {m["code"]: m["name"]["sq"] for m in definition["municipalities"]}
    decided = {names[m] for m, c in totals.items() if 2 * max(c.values()) > sum(c.values())}
    assert decided == ROUND1_DECIDED - {"Zveçan"}  # Zveçan: no data
    assert len(decided) == 12
    assert not decided & {names[c] for c in results["runoff_municipalities"]}


@needs_data
def test_invalid_ballots_add_up(results: dict[str, Any]) -> None:
    invalid = results["invalid_ballots"]
    assert all(v >= 0 for contest in invalid.values() for v in contest.values())
    cast = sum(sum(c.values()) + invalid["assembly"][s] for s, c in results["assembly"].items())
    assert 820_000 < cast < 830_371  # the official total less Zveçan's share


# --- the files in the repository ------------------------------------------------------------


def test_encoding_is_reproducible() -> None:
    document = {"b": [1, 2], "a": "Zveçan"}
    data = k.encode(document)
    assert data == k.encode(dict(reversed(list(document.items()))))
    assert data[4:8] == b"\0\0\0\0"  # gzip mtime
    assert gzip.decompress(data) == '{"a":"Zveçan","b":[1,2]}'.encode()


@needs_data
def test_demo_files_are_up_to_date(converted: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The packaged files are exactly a fresh conversion (compare the JSON: zlib may differ)."""
    for path, document in zip(k.default_outputs(), converted, strict=True):
        fresh = k.encode(document)
        stored = path.read_bytes()
        assert gzip.decompress(stored) == gzip.decompress(fresh), f"{path} is stale: run convert_kosovo_2013"
        assert len(stored) < 3_000_000


@needs_data
def test_conversion_is_deterministic(converted: tuple[dict[str, Any], dict[str, Any]]) -> None:
    assert SOURCE is not None
    again = k.convert(SOURCE)
    assert [k.encode(d) for d in again] == [k.encode(d) for d in converted]
