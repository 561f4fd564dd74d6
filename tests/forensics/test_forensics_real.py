"""The Russian elections of 2011 and 2012 through the command, as given (zips), with pinned numbers.

Pinned figures are those of docs/forensics.md (seed 0). Observed counts and station counts are
exact; the Monte Carlo null mean has error sd / sqrt(1000) (about 4 stations here), so the excess
is pinned to within 15; the fraud model's point estimates are pinned to one grid step.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command

RUSSIA = [
    Path(os.environ.get("TALLYROOM_SHARED_DATA", "/nonexistent")) / "real" / "russia",
    Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "russia",
    Path("/work/shared/data/real/russia"),
]
DATA = next((path for path in RUSSIA if (path / "2011.csv.zip").is_file()), None)
needs_data = pytest.mark.skipif(DATA is None, reason="the shared Russian election data is not here")

COMMON = [
    "--registered",
    "3",
    "--ballots",
    "5+6+7",
    "--valid",
    "12",
    "--invalid",
    "11",
    "--station",
    "region",
    "--station",
    "tik",
    "--station",
    "uik",
    "--municipality",
    "region",
    "--municipality",
    "tik",
    "--link",
    "url",
    "--quiet",
    "--bootstrap",
    "2",
]
EXPECTED = {
    # year: leader column, entities, stations, integer observed, integer excess, f_incremental, f_extreme
    "2011": ("26", "21:27", 95_225, 17_937, 1_089, 0.455, 0.07),
    "2012": ("25", "21:25", 95_415, 17_932, 1_033, 0.2, 0.04),
}


@needs_data
@pytest.mark.parametrize("year", ["2011", "2012"])
def test_russian_election(year: str, tmp_path: Path) -> None:
    assert DATA is not None
    leader, entities, stations, observed, excess, f_i, f_e = EXPECTED[year]
    path = tmp_path / f"{year}.json"
    out = io.StringIO()
    call_command(
        "forensics",
        str(DATA / f"{year}.csv.zip"),
        "--leader",
        leader,
        "--entities",
        entities,
        *COMMON,
        "--json",
        str(path),
        stdout=out,
    )
    report = json.loads(path.read_text("utf-8"))
    integers = report["integer_percentages"]
    print(
        year,
        report["election"]["stations"],
        integers["observed"],
        integers["excess"],
        integers["excess_std"],
        report["fraud_model"]["f_incremental"],
        report["fraud_model"]["f_extreme"],
    )
    assert report["election"]["stations"] == stations
    assert integers["p_value"] == pytest.approx(1 / 1001)
    assert integers["excess"] > 5 * integers["excess_std"]
    if observed is not None:
        assert integers["observed"] == observed
        assert integers["excess"] == pytest.approx(excess, abs=15)
        assert report["fraud_model"]["f_incremental"] == pytest.approx(f_i, abs=0.006)
        assert report["fraud_model"]["f_extreme"] == pytest.approx(f_e, abs=0.006)
    assert report["summary"]["warnings"][0].startswith("More stations report a whole-percent")
    assert any(item.get("link", "").startswith("http://www.vybory.izbirkom.ru") for item in report["flagged_stations"])
