"""`tallyroom forensics FILE.csv`: mapping options, the JSON report's keys, plots, clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tallyroom.results.management.commands import forensics as forensics_command
from tallyroom.rules.forensics.simulate import simulate_election

from . import fake_source

FAST = ["--quiet", "--reps", "100", "--bootstrap", "2"]


@pytest.fixture(scope="module")
def election_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated election with stuffing and round numbers in 10% of stations, as a protocol-like CSV."""
    table = simulate_election(1500, 20, seed=4, stuffing_share=0.1, rounding_share=1.0).table
    assert table.registered is not None and table.ballots is not None and table.invalid is not None
    path = tmp_path_factory.mktemp("forensics") / "protocols.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "municipality",
                "station",
                "registered",
                "early",
                "inside",
                "outside",
                "valid",
                "invalid",
                *table.entity_names,
            ]
        )
        for i in range(table.size):
            ballots = int(table.ballots[i])
            early, outside = ballots // 20, ballots // 10
            writer.writerow(
                [
                    table.municipality_ids[i],
                    table.station_ids[i],
                    int(table.registered[i]),
                    early,
                    ballots - early - outside,
                    outside,
                    int(table.valid[i]),
                    int(table.invalid[i]),
                    *[int(v) for v in table.votes[i]],
                ]
            )
    return path


def run(*args: Any) -> str:
    out = io.StringIO()
    call_command("forensics", *[str(arg) for arg in args], stdout=out)
    return out.getvalue()


def test_report_json_and_plots(election_csv: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "out" / "report.json"
    text = run(
        election_csv,
        "--registered",
        "registered",
        "--ballots",
        "early+inside+outside",
        "--valid",
        "valid",
        "--invalid",
        "invalid",
        "--leader",
        "Entity 1",
        "--entities",
        "8:12",
        "--station",
        "station",
        "--municipality",
        "municipality",
        "--json",
        report_path,
        "--plots",
        tmp_path / "plots",
        *FAST,
    )
    assert "Integer percentages" in text and "Worth a look" in text
    report = json.loads(report_path.read_text("utf-8"))
    integers = report["integer_percentages"]
    for key in ("observed", "expected", "excess", "excess_std", "excess_ci95", "p_value", "stations_tested"):
        assert key in integers
    assert integers["excess"] > 5 * integers["excess_std"]
    assert integers["turnout"]["excess"] > 0 and integers["leader_share"]["excess"] > 0
    assert len(integers["by_percent"]["observed"]) == 99
    assert len(report["histograms"]["turnout"]) == 1001
    assert len(report["fingerprint"]["counts"]) == 100
    assert {"f_incremental", "f_extreme", "f_incremental_ci95", "histograms"} <= set(report["fraud_model"])
    assert {test["kind"] for test in report["digits"]["tests"]} == {"second_digit", "last_digit"}
    assert report["election"]["stations"] == 1500
    assert report["source"]["mapping"]["ballots"] == ["3 early", "4 inside", "5 outside"]
    flagged = report["flagged_stations"]
    assert flagged and all({"station", "municipality", "score", "reasons"} <= set(item) for item in flagged)
    assert all(reason["message"] for item in flagged for reason in item["reasons"])
    assert report["summary"]["warnings"] and report["caveat"].startswith("These are statistical warning signs")
    assert len(report["municipalities"]) == 20
    for name in ("fingerprint", "integer_percentages", "digits"):
        assert (tmp_path / "plots" / f"{name}.png").stat().st_size > 1000
        assert (tmp_path / "plots" / f"{name}.svg").read_text("utf-8").lstrip().startswith("<?xml")


def test_same_numbers_by_column_index(election_csv: Path, tmp_path: Path) -> None:
    by_name, by_index = tmp_path / "a.json", tmp_path / "b.json"
    run(
        election_csv,
        "--registered",
        "registered",
        "--ballots",
        "early+inside+outside",
        "--valid",
        "valid",
        "--leader",
        "Entity 1",
        "--json",
        by_name,
        *FAST,
    )
    run(
        election_csv,
        "--registered",
        "2",
        "--ballots",
        "3+4+5",
        "--valid",
        "6",
        "--leader",
        "8",
        "--json",
        by_index,
        *FAST,
    )
    a, b = (json.loads(path.read_text("utf-8")) for path in (by_name, by_index))
    assert a["integer_percentages"]["excess"] == b["integer_percentages"]["excess"]
    assert a["fraud_model"]["f_extreme"] == b["fraud_model"]["f_extreme"]


def test_bad_mapping_names_the_column(election_csv: Path) -> None:
    with pytest.raises(CommandError, match=r"--ballots: no column 'insde' \(in the sum 'early\+insde'\)"):
        run(election_csv, "--registered", "registered", "--ballots", "early+insde", "--leader", "8", "--quiet")
    with pytest.raises(CommandError, match=r"--registered: column 0 'municipality' has 'M\d+' in data row 1"):
        run(election_csv, "--registered", "0", "--leader", "8", "--quiet")


def test_without_a_file_and_without_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forensics_command, "SOURCE_MODULE", "tallyroom.results.no_such_module")
    with pytest.raises(CommandError, match="no results recorded yet; give a CSV"):
        run("--quiet")


def test_without_a_file_reads_the_results_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(forensics_command, "SOURCE_MODULE", "tests.forensics.fake_source")
    text = run("--election", "demo-2013", "--json", tmp_path / "r.json", *FAST)
    assert fake_source.CALLS[-1] == "demo-2013"
    assert "800 stations in 8 municipalities" in text
    assert json.loads((tmp_path / "r.json").read_text("utf-8"))["source"] == {"election": "demo-2013"}
    with pytest.raises(CommandError, match="no results recorded yet"):
        run("--election", "none-yet", "--quiet")
