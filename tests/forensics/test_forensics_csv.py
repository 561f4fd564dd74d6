"""Reading station CSVs: column specs by name, index and sum; zips; the long layout; clear errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from tallyroom.rules.forensics import ColumnMapping, CsvMappingError, load_station_csv

HEADER = 'region,uik,"Registered, on the list",early,inside,outside,valid,invalid,"Party ""A""",Party B,Party C,url\n'
ROWS = [
    "North,1,1000,10,500,40,530,20,300,200,30,http://x/1",
    "North,2,800,0,400,20,410,10,100,280,30,http://x/2",
    "South,3,1200,5,700,15,700,20,500,150,50,http://x/3",
]


def write(tmp_path: Path, text: str, name: str = "stations.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def wide(tmp_path: Path) -> Path:
    return write(tmp_path, HEADER + "\n".join(ROWS) + "\n")


def test_columns_by_name_index_and_sum_agree(wide: Path) -> None:
    by_name = ColumnMapping(
        registered="Registered, on the list",
        ballots="early+inside+outside",
        valid="valid",
        invalid="invalid",
        leader='Party "A"',
        entities=('Party "A"', "Party B", "Party C"),
        station=("region", "uik"),
        municipality=("region",),
        link="url",
    )
    by_index = ColumnMapping(
        registered="2",
        ballots="3+4+5",
        valid="6",
        invalid="7",
        leader="8",
        entity_range="8:10",
        station=("0", "1"),
        municipality=("0",),
        link="11",
    )
    a, source = load_station_csv(wide, by_name)
    b, _ = load_station_csv(wide, by_index)
    for table in (a, b):
        assert table.size == 3
        assert table.registered is not None and table.registered.tolist() == [1000, 800, 1200]
        assert table.ballots is not None and table.ballots.tolist() == [550, 420, 720]
        assert table.leader_name == 'Party "A"'
        assert table.station_ids.tolist() == ["North / 1", "North / 2", "South / 3"]
        assert table.municipality_ids.tolist() == ["North", "North", "South"]
        assert table.links == ("http://x/1", "http://x/2", "http://x/3")
    assert source.rows == 3 and source.delimiter == ","
    assert source.mapping["ballots"] == ["3 early", "4 inside", "5 outside"]


def test_leader_only_adds_all_others_and_default_leader(wide: Path) -> None:
    table, _ = load_station_csv(wide, ColumnMapping(valid="valid", leader="Party B"))
    assert table.entity_names == ("Party B", "all others")
    assert table.votes[:, 1].tolist() == [330, 130, 550]
    table, _ = load_station_csv(wide, ColumnMapping(entities=("8", "9", "10")))
    assert table.leader_name == 'Party "A"'  # the most votes overall
    assert table.valid.tolist() == [530, 410, 700]  # the entities added up


def test_semicolons_and_a_zip_with_one_csv(tmp_path: Path) -> None:
    text = (HEADER + "\n".join(ROWS)).replace(",", ";").replace('"Registered; on the list"', "registered")
    path = write(tmp_path, text, "semi.csv")
    with zipfile.ZipFile(tmp_path / "one.zip", "w") as archive:
        archive.write(path, "inner/semi.csv")
    table, source = load_station_csv(
        tmp_path / "one.zip", ColumnMapping(registered="registered", leader="8", valid="6")
    )
    assert source.member == "inner/semi.csv" and source.delimiter == ";"
    assert table.registered is not None and table.registered.sum() == 3000
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.write(path, "a.csv")
        archive.write(path, "b.csv")
    with pytest.raises(CsvMappingError, match="exactly one CSV"):
        load_station_csv(tmp_path / "two.zip", ColumnMapping(leader="8"))


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            ColumnMapping(registered="Registered", leader="8"),
            r"--registered: no column 'Registered'; the columns are: 0 'region'",
        ),
        (ColumnMapping(registered="2", ballots="3+4+99", leader="8"), r"--ballots: column index 99 is out of range"),
        (
            ColumnMapping(ballots="early+insde", leader="8"),
            r"--ballots: no column 'insde' \(in the sum 'early\+insde'\)",
        ),
        (ColumnMapping(registered="region", leader="8"), r"--registered: column 0 'region' has 'North' in data row 1"),
        (ColumnMapping(leader="Party D"), r"--leader: no column 'Party D'"),
        (ColumnMapping(valid="invalid", leader="8"), r"--leader: data row 1 .* more than its 20 valid ballots"),
        (ColumnMapping(entities=("url",)), r"--entity 'url': column 11 'url' has 'http://x/1'"),
        (ColumnMapping(registered="2"), r"give --leader"),
    ],
)
def test_bad_mappings_name_the_column(wide: Path, mapping: ColumnMapping, message: str) -> None:
    with pytest.raises(CsvMappingError, match=message):
        load_station_csv(wide, mapping)


def test_empty_cell_and_negative_count(tmp_path: Path) -> None:
    path = write(tmp_path, "station,registered,leader\n1,100,50\n2,,40\n3,-5,1\n")
    with pytest.raises(CsvMappingError, match=r"an empty cell in data row 2 \(line 3\)"):
        load_station_csv(path, ColumnMapping(registered="registered", leader="leader"))


def test_long_layout(tmp_path: Path) -> None:
    text = (
        "Municipality,Polling Station,Party,Votes\n"
        "One,0101/01,LDK,120\nOne,0101/01,PDK,80\nOne,0101/02,LDK,60\nOne,0101/02,PDK,90\n"
        "Two,0201/01,PDK,30\nTwo,0201/01,LDK,10\nTwo,0201/01,PDK,5\n"
    )
    path = write(tmp_path, text)
    mapping = ColumnMapping(
        station=("Polling Station",), municipality=("Municipality",), entity_column="Party", votes_column="Votes"
    )
    table, _ = load_station_csv(path, mapping)
    assert table.station_ids.tolist() == ["0101/01", "0101/02", "0201/01"]
    assert table.entity_names == ("LDK", "PDK")
    assert table.votes.tolist() == [[120, 80], [60, 90], [10, 35]]
    assert table.leader_name == "PDK" and table.registered is None
    with pytest.raises(CsvMappingError, match="no entity 'AAK'"):
        load_station_csv(path, ColumnMapping(station=("1",), entity_column="2", votes_column="3", leader="AAK"))
    assert np.array_equal(table.valid, table.votes.sum(axis=1))
