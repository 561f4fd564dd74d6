"""The station list from a commission's spreadsheet: encodings, row/column errors, all-or-nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from tallyroom.elections.models import Election, PollingCentre, PollingStation
from tallyroom.elections.stations_csv import decode, parse
from tests.conftest import db_counts

BAD = Path(__file__).parent / "bad_stations"
BAD_CASES = sorted(p.stem for p in BAD.glob("*.csv"))
ROWS = (
    "Municipality;Centre;Centre name;Station;Registered\n"
    "01;0101C;Shkolla Jeta e Re;0101C/01R;820\n"
    "38;3802B;Škola Đura Jakšić;3802B/01R;450\n"
    "01;0103A;Shkolla Dëshmorët e Kombit – Çarrabreg;0103A/01R;1 204\n"
)


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("load_stations", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("encoding", "raw"),
    [
        ("utf-8", ROWS.encode("utf-8")),
        ("utf-8-sig", ROWS.encode("utf-8-sig")),
        ("cp1250", ROWS.replace("–", "-").encode("cp1250")),
    ],
)
def test_encodings_are_detected(encoding: str, raw: bytes) -> None:
    text, used = decode(raw)
    assert used == encoding
    assert "Škola Đura Jakšić" in text
    assert "Dëshmorët" in text


def test_windows_1252_is_told_from_1250() -> None:
    # Albanian's ë and ç are the same bytes in both; à and ñ would read as ŕ and ń in 1250.
    name = "“Shkolla Nënë Tereza” – Çarshia, Mëmëdheu à la Ñandú"
    raw = f"municipality,centre,centre_name,station,registered\n01,0101C,{name},0101C/01R,5\n"
    text, used = decode(raw.encode("cp1252"))
    assert used == "cp1252"
    assert name in text


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzëçčćđšžABCDËÇČĆĐŠŽ ", min_size=3, max_size=40))
def test_serbian_and_albanian_names_survive_cp1250(name: str) -> None:
    raw = f"municipality,centre,centre_name,station,registered\n01,0101C,{name},0101C/01R,5\n".encode("cp1250")
    rows, problems, _used = parse(raw)
    assert problems == []
    assert rows[0].centre_name == (name.strip() or "0101C")


@pytest.mark.django_db
def test_additions_load_and_changes_need_replace(small_election: Election, tmp_path: Path) -> None:
    path = tmp_path / "stations.csv"
    path.write_bytes(ROWS.encode("cp1250", errors="replace"))
    code, out, _err = run(str(path), "--election", "test-2025")
    assert code == 3  # 0101C/01R changes 812 -> 820
    assert "municipalities[01].stations[0101C/01R].registered: 812 -> 820" in out
    assert not PollingStation.objects.filter(code="3802B/01R").exists()

    code, out, _ = run(str(path), "--election", "test-2025", "--replace")
    assert code == 0, out
    assert PollingStation.objects.get(code="0101C/01R").registered_voters == 820
    assert PollingStation.objects.get(code="0103A/01R").registered_voters == 1204
    assert PollingCentre.objects.get(code="3802B").name == "Škola Đura Jakšić"
    # The stored definition follows, so reloading the CSV is a no-op.
    assert run(str(path), "--election", "test-2025")[0] == 0
    assert "unchanged" in run(str(path))[1]


@pytest.mark.django_db
def test_pure_additions_need_no_replace(small_election: Election, tmp_path: Path) -> None:
    path = tmp_path / "new.csv"
    path.write_text("municipality,centre,centre_name,station,registered,kind\n01,0101C,x,0101C/09D,300,dual\n")
    code, out, _ = run(str(path))
    assert code == 0, out
    station = PollingStation.objects.get(code="0101C/09D")
    assert (station.registered_voters, station.kind, station.registered_estimated) == (300, "dual", False)


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_station_files_name_row_and_column_and_write_nothing(small_election: Election, case: str) -> None:
    expected = (BAD / f"{case}.expected").read_text("utf-8").splitlines()
    before = db_counts()
    code, _, err = run(str(BAD / f"{case}.csv"), "--election", "test-2025")
    assert code == 2
    assert err.splitlines()[:-1] == expected
    assert db_counts() == before


@pytest.mark.django_db
def test_unknown_election_is_a_clear_error(small_election: Election, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("municipality,centre,centre_name,station,registered\n01,0101C,x,0101C/09R,1\n")
    code, _, err = run(str(path), "--election", "nope")
    assert code == 2
    assert "no election with code 'nope'" in err
