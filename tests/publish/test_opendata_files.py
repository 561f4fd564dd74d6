"""Open-data CSV and JSON: the same numbers as the results API, station by station, byte-stable."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from typing import Any

import pytest
from django.test import Client

from tallyroom.elections.models import Municipality
from tallyroom.publish.opendata import CSV_COLUMNS, PREFERENCE_COLUMNS, DataFormat, export_bytes
from tests.publish.opendata_setup import Counted, counted_fixture  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def api(muni: str) -> dict[str, Any]:
    body: dict[str, Any] = Client().get(f"/api/v1/results/{muni}").json()
    return body


def test_csv_sums_equal_the_api_results_for_every_contest(counted: Counted) -> None:
    rows = rows_of(export_bytes(counted.election, DataFormat.CSV))
    for muni in ("01", "38"):
        for result in api(muni)["contests"]:
            mine = [r for r in rows if r["contest_id"] == str(result["contest"]["id"])]
            votes: Counter[str] = Counter()
            for r in mine:
                votes[r["choice_code"]] += int(r["votes"] or 0)
            assert dict(votes) == {c["entity"]: c["votes"] for c in result["choices"]}
            per_station = {r["station_code"]: r for r in mine}
            counted_rows = [r for r in per_station.values() if r["status"] == "counted"]
            for field in ("ballots_cast", "invalid", "blank", "valid"):
                assert sum(int(r[field]) for r in counted_rows) == result["totals"][field], field
            statuses = Counter(r["status"] for r in per_station.values())
            stations = result["stations"]
            assert statuses["counted"] == stations["counted"]
            assert statuses["quarantined"] == stations["quarantined"]
            assert statuses["annulled"] == stations["annulled"]
            assert statuses["annulled-repeat-pending"] == stations["annulled_repeat_pending"]
            assert statuses["pending"] == stations["pending"]
            assert sum(1 for r in counted_rows if r["form_kind"] == "official") == stations["counted_official"]


def test_csv_has_a_row_per_station_contest_and_choice_with_crlf_and_utf8(counted: Counted) -> None:
    data = export_bytes(counted.election, DataFormat.CSV)
    assert data.startswith((",".join(CSV_COLUMNS) + "\r\n").encode())
    assert data.count(b"\r\n") == data.count(b"\n")
    rows = rows_of(data)
    # 01: 3 stations x (2 assembly lists + 2 mayoral candidates); 38: 2 stations x (1 list + 2 candidates).
    assert len(rows) == 3 * 4 + 2 * 3
    first = rows[0]
    assert first == {
        "election": "test-2025",
        "round": "R1",
        "round_kind": "first",
        "municipality_code": "01",
        "municipality_name": "Deçan",
        "contest_id": first["contest_id"],
        "contest": "assembly",
        "centre_code": "0101C",
        "centre_name": "Shkolla Jeta e Re",
        "station_code": "0101C/01R",
        "station_kind": "regular",
        "registered": "812",
        "status": "counted",
        "form_kind": "official",
        "counted_round": "R1",
        "annulments": "",
        "ballots_cast": "504",
        "invalid": "3",
        "blank": "0",
        "valid": "501",
        "choice_type": "entity",
        "choice_code": "BLUE",
        "choice_name": "Blue Party",
        "ballot_position": "1",
        "votes": "301",
    }
    mayor = [r for r in rows if r["contest"] == "mayor" and r["station_code"] == "0101C/01R"]
    assert [(r["choice_type"], r["choice_code"], r["choice_name"], r["votes"]) for r in mayor] == [
        ("candidate", "BLUE", "Agim Berisha", "200"),
        ("candidate", "IND-ARBEN", "Arben Krasniqi", "210"),
    ]
    assert "Škola Sveti Sava".encode() in data


def test_annulled_and_repeated_stations(counted: Counted) -> None:
    rows = rows_of(export_bytes(counted.election, DataFormat.CSV))
    by_key = defaultdict(list)
    for r in rows:
        by_key[(r["contest"], r["station_code"])].append(r)
    repeated = by_key[("assembly", "0102B/01R")]
    assert {(r["status"], r["round"], r["counted_round"], r["annulments"]) for r in repeated} == {
        ("counted", "R1", "R1-repeat", str(counted.repeat_annulment.pk))
    }
    assert [(r["choice_code"], r["votes"]) for r in repeated] == [("BLUE", "150"), ("GREEN", "140")]
    annulled = by_key[("mayor", "3801A/02R")]
    assert {(r["status"], r["annulments"], r["votes"], r["valid"], r["form_kind"]) for r in annulled} == {
        ("annulled", str(counted.plain_annulment.pk), "", "", "")
    }
    assert {r["status"] for r in by_key[("mayor", "0101C/02D")]} == {"quarantined"}
    assert {r["status"] for r in by_key[("mayor", "0102B/01R")]} == {"pending"}
    assert not any(r["round"] == "R1-repeat" for r in rows)  # the repeat vote is folded in


def test_preferences_csv_lists_counted_forms_preference_votes(counted: Counted) -> None:
    data = export_bytes(counted.election, DataFormat.PREFERENCES)
    rows = rows_of(data)
    assert list(rows[0]) == list(PREFERENCE_COLUMNS)
    got = [
        (r["station_code"], r["form_kind"], r["counted_round"], r["entity_code"], r["candidate_position"], r["votes"])
        for r in rows
    ]
    assert got == [
        ("0101C/01R", "official", "R1", "BLUE", "1", "120"),
        ("0101C/01R", "official", "R1", "BLUE", "2", "80"),
        ("0101C/01R", "official", "R1", "GREEN", "1", "90"),
        ("0101C/02D", "preliminary", "R1", "BLUE", "3", "15"),
        ("0102B/01R", "preliminary", "R1-repeat", "GREEN", "2", "30"),
    ]
    assert rows[0]["candidate_name"] == "Agim Berisha"
    assert rows[0]["candidate_gender"] == "M"


def test_json_contests_are_the_api_results_plus_station_numbers(counted: Counted) -> None:
    body = json.loads(export_bytes(counted.election, DataFormat.JSON))
    assert body["format"] == "tallyroom-open-data/1"
    assert body["election"]["code"] == "test-2025"
    assert [e["code"] for e in body["entities"]] == ["BLUE", "CIV", "GREEN", "IND-ARBEN"]
    assert [m["code"] for m in body["municipalities"]] == ["01", "38"]
    for muni in body["municipalities"]:
        contests = [{k: v for k, v in c.items() if k != "station_results"} for c in muni["contests"]]
        assert contests == api(muni["code"])["contests"]
    decan = body["municipalities"][0]
    assembly = next(c for c in decan["contests"] if c["contest"]["kind"] == "assembly")
    stations = {s["station"]: s for s in assembly["station_results"]}
    assert stations["0101C/01R"]["votes"] == {"BLUE": 301, "GREEN": 200}
    assert stations["0101C/01R"]["preferences"] == {"BLUE": {"1": 120, "2": 80}, "GREEN": {"1": 90}}
    assert stations["0102B/01R"]["counted_round"] == "R1-repeat"
    assert stations["0102B/01R"]["annulments"] == [counted.repeat_annulment.pk]
    assert decan["annulments"][0]["repeat_round"] == "R1-repeat"
    north = body["municipalities"][1]
    mayor = next(c for c in north["contests"] if c["contest"]["kind"] == "mayor")
    assert mayor["status"] == "certified"
    plain = {s["station"]: s for s in mayor["station_results"]}["3801A/02R"]
    assert (plain["status"], plain["votes"], plain["valid"]) == ("annulled", None, None)


def test_a_municipality_file_is_that_municipality_only(counted: Counted) -> None:
    north = Municipality.objects.get(code="38")
    rows = rows_of(export_bytes(counted.election, DataFormat.CSV, north))
    assert {r["municipality_code"] for r in rows} == {"38"}
    assert len(rows) == 2 * 3
    body = json.loads(export_bytes(counted.election, DataFormat.JSON, north))
    assert [m["code"] for m in body["municipalities"]] == ["38"]


@pytest.mark.parametrize("fmt", list(DataFormat))
def test_the_same_database_gives_the_same_bytes(counted: Counted, fmt: DataFormat) -> None:
    first = export_bytes(counted.election, fmt)
    assert export_bytes(counted.election, fmt) == first
    north = Municipality.objects.get(code="38")
    assert export_bytes(counted.election, fmt, north) == export_bytes(counted.election, fmt, north)


def test_queries_grow_with_municipalities_not_stations(counted: Counted, django_assert_max_num_queries: Any) -> None:
    # Two municipalities, five stations: a fixed number of queries per municipality (twelve: the
    # stations' centres are read apart from the stations, by municipality).
    with django_assert_max_num_queries(2 + 2 * 12):
        export_bytes(counted.election, DataFormat.CSV)


@pytest.mark.parametrize("fmt", [DataFormat.CSV, DataFormat.PREFERENCES])
def test_csv_files_are_exactly_what_csv_writer_writes_for_their_rows(counted: Counted, fmt: DataFormat) -> None:
    """The files are written a station's and a choice's fields at a time; names with commas, quotes
    and line breaks must come out as csv.writer would quote them in a whole row."""
    from tallyroom.elections.models import Candidate, PollingCentre

    odd = "School Naim Frashëri\r\nnorth wing"  # a line break alone must be quoted too
    PollingCentre.objects.filter(election=counted.election).update(name=odd)
    Municipality.objects.filter(election=counted.election).update(name_en='Mitrovicë "North", e')
    for candidate in Candidate.objects.filter(municipality__election=counted.election):
        candidate.name = f"Arta\nKrasniqi {candidate.pk}"
        candidate.save(update_fields=["name"])
    data = export_bytes(counted.election, fmt)
    records = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert len(records) > 1 and len({len(r) for r in records}) == 1
    if fmt == DataFormat.PREFERENCES:
        assert all(r[records[0].index("candidate_name")].startswith("Arta\nKrasniqi ") for r in records[1:])
    else:
        assert {r[records[0].index("centre_name")] for r in records[1:]} == {odd}
        assert {r[records[0].index("municipality_name")] for r in records[1:]} == {'Mitrovicë "North", e'}
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(records)
    assert data == buffer.getvalue().encode("utf-8")
