"""Loading election definitions: all-or-nothing, idempotent, changes only with --replace."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from tallyroom.elections.definition import DefinitionError, validate
from tallyroom.elections.models import Candidate, Contest, Election, Municipality, PollingStation
from tallyroom.elections.services import ChangesNeedReplace, election_load
from tests.conftest import SMALL, db_counts

BAD = Path(__file__).parent / "bad_definitions"
BAD_CASES = sorted(p.stem for p in BAD.glob("*.json"))


def run_load(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("load", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_load_creates_the_whole_structure() -> None:
    code, out, _ = run_load(str(SMALL))
    assert code == 0
    assert "Election test-2025: loaded." in out
    election = Election.objects.get(code="test-2025")
    assert election.timezone == "Europe/Belgrade"
    assert [r.code for r in election.rounds.all()] == ["R1", "R2"]
    assert Municipality.objects.get(election=election, code="38").area == "north"
    assert Municipality.objects.get(election=election, code="01").name_sr == "Dečani"
    stations = PollingStation.objects.filter(election=election)
    assert sorted(s.code for s in stations) == ["0101C/01R", "0101C/02D", "0102B/01R", "3801A/01R", "3801A/02R"]
    assert sum(s.registered_voters for s in stations) == 812 + 640 + 905 + 701 + 688
    assert PollingStation.objects.get(code="0101C/02D").kind == "dual"
    contests = Contest.objects.filter(round__election=election)
    assert sorted((c.municipality.code, c.kind, c.seats) for c in contests) == [
        ("01", "assembly", 15),
        ("01", "mayor", 1),
        ("38", "assembly", 19),
        ("38", "mayor", 1),
    ]
    assembly = contests.get(municipality__code="01", kind="assembly")
    assert [e.code for e in assembly.entities.order_by("contestentity__ballot_position")] == ["BLUE", "GREEN"]
    mayor = contests.get(municipality__code="38", kind="mayor")
    assert [c.name for c in mayor.candidates.order_by("contestcandidate__ballot_position")] == [
        "Milan Jovanović",
        "Agim Berisha II",
    ]
    drita = Candidate.objects.get(name="Drita Gashi")
    assert (drita.gender, drita.position, drita.entity.code, drita.office) == ("F", 2, "BLUE", "assembly")


@pytest.mark.django_db
def test_loading_the_same_file_twice_changes_nothing() -> None:
    assert run_load(str(SMALL))[0] == 0
    before = db_counts()
    updated_at = Election.objects.get().updated_at
    code, out, _ = run_load(str(SMALL))
    assert code == 0
    assert "unchanged" in out
    assert db_counts() == before
    assert Election.objects.get().updated_at == updated_at


@pytest.mark.django_db
def test_same_content_in_another_key_order_is_the_same_definition(small_definition: dict[str, Any]) -> None:
    election_load(small_definition)
    reordered = json.loads(json.dumps(small_definition, sort_keys=True))
    assert election_load(reordered).status == "unchanged"


@pytest.mark.django_db
def test_a_changed_file_is_refused_without_replace_and_applied_with_it(
    tmp_path: Path, small_definition: dict[str, Any]
) -> None:
    election_load(small_definition)
    changed = small_definition
    changed["municipalities"][0]["stations"][2]["registered"] = 915
    changed["municipalities"][1]["stations"].pop()  # 3801A/02R goes
    changed["municipalities"][1]["stations"].append({"code": "3801A/03R", "centre": "3801A", "registered": 10})
    changed["entities"][0]["name"] = "Blue Party of Kosovo"
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(changed), "utf-8")
    before = db_counts()

    code, out, err = run_load(str(path))
    assert code == 3
    assert out.splitlines() == [
        "entities[BLUE].name: 'Blue Party' -> 'Blue Party of Kosovo'",
        "municipalities[01].stations[0102B/01R].registered: 905 -> 915",
        "municipalities[38].stations[3801A/02R]: removed",
        "municipalities[38].stations[3801A/03R]: added",
    ]
    assert "--replace" in err
    assert db_counts() == before
    assert PollingStation.objects.get(code="0102B/01R").registered_voters == 905

    code, out, _ = run_load(str(path), "--replace")
    assert code == 0
    assert "replaced" in out
    assert PollingStation.objects.get(code="0102B/01R").registered_voters == 915
    assert not PollingStation.objects.filter(code="3801A/02R").exists()
    assert PollingStation.objects.get(code="3801A/03R").registered_voters == 10
    # After replacing, the new file is the loaded one.
    assert run_load(str(path))[0] == 0
    assert election_load(changed).status == "unchanged"


@pytest.mark.django_db
def test_replace_keeps_row_identity(small_definition: dict[str, Any]) -> None:
    election_load(small_definition)
    station_pk = PollingStation.objects.get(code="0101C/01R").pk
    candidate_pk = Candidate.objects.get(name="Drita Gashi").pk
    small_definition["municipalities"][0]["stations"][0]["registered"] = 999
    small_definition["municipalities"][0]["assembly"][0]["candidates"][1]["name"] = "Drita Gashi-Krasniqi"
    with pytest.raises(ChangesNeedReplace):
        election_load(small_definition)
    election_load(small_definition, replace=True)
    assert PollingStation.objects.get(code="0101C/01R").pk == station_pk
    assert Candidate.objects.get(name="Drita Gashi-Krasniqi").pk == candidate_pk


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_definition_exits_2_names_each_problem_and_writes_nothing(case: str) -> None:
    expected = (BAD / f"{case}.expected").read_text("utf-8").splitlines()
    assert expected, f"{case}.expected lists no problem"
    before = db_counts()
    code, _out, err = run_load(str(BAD / f"{case}.json"))
    assert code == 2
    lines = err.splitlines()
    assert lines[:-1] == expected
    assert lines[-1].endswith(f"{len(expected)} problem(s); nothing was loaded.")
    assert db_counts() == before


@pytest.mark.django_db
def test_bad_file_leaves_a_loaded_election_untouched(small_election: Election) -> None:
    before = db_counts()
    definition = small_election.definition
    code, _, _ = run_load(str(BAD / "many-problems.json"), "--replace")
    assert code == 2
    assert db_counts() == before
    assert Election.objects.get().definition == definition


def test_validate_reports_every_problem_of_the_issue_example(small_definition: dict[str, Any]) -> None:
    small_definition["municipalities"][1]["stations"][1]["registered"] = -3
    problems = [str(p) for p in validate(small_definition)]
    assert problems == ["municipalities[1].stations[1].registered: must be >= 0 (got -3)"]


def test_problems_sort_naturally(small_definition: dict[str, Any]) -> None:
    stations = small_definition["municipalities"][0]["stations"]
    for i in range(12):
        stations.append({"code": f"0101C/{i + 10}R", "centre": "0101C", "registered": -1})
    with pytest.raises(DefinitionError) as info:
        election_load(small_definition)
    paths = [p.path for p in info.value.problems]
    assert paths == [f"municipalities[0].stations[{i}].registered" for i in range(3, 15)]


@pytest.mark.django_db
def test_database_constraints_hold_without_python_validation(small_election: Election) -> None:
    station = PollingStation.objects.get(code="0101C/01R")
    with pytest.raises(IntegrityError), transaction.atomic():
        PollingStation.objects.filter(pk=station.pk).update(registered_voters=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PollingStation.objects.create(
            election=small_election,
            municipality=station.municipality,
            centre=station.centre,
            code=station.code,
            registered_voters=1,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Contest.objects.filter(kind="mayor").update(seats=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Candidate.objects.filter(name="Drita Gashi").update(gender="Q")


@pytest.mark.django_db
def test_gzip_definitions_load(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "small.json.gz"
    path.write_bytes(gzip.compress(SMALL.read_bytes()))
    assert run_load(str(path))[0] == 0
    assert Election.objects.filter(code="test-2025").exists()


@pytest.mark.django_db
def test_the_stored_definition_is_read_only_when_asked_for() -> None:
    """Megabytes at national scale: neither a lookup nor a related access (`municipality.election`)
    fetches it; touching `.definition` does."""
    assert run_load(str(SMALL))[0] == 0
    municipality = Municipality.objects.get(code="01")
    with CaptureQueriesContext(connection) as queries:
        election = municipality.election
        assert election.code == "test-2025"
        assert Election.objects.get(code="test-2025").timezone == "Europe/Belgrade"
    assert len(queries) == 2
    assert all("definition" not in q["sql"].replace("definition_sha256", "") for q in queries.captured_queries)
    with CaptureQueriesContext(connection) as queries:
        assert election.definition["code"] == "test-2025"
    assert len(queries) == 1 and '"definition_packed"' in queries.captured_queries[0]["sql"]
