"""The NIST SP 1500-100 v2 export: valid against NIST's schema, every reference resolves, and its
station-level counts add up to the results API's totals."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.test import Client

from tallyroom.elections.models import Municipality
from tallyroom.publish.opendata import DataFormat, export_bytes
from tests.publish.opendata_setup import Counted, counted_fixture  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db
SCHEMA_PATH = Path(__file__).parents[2] / "src/tallyroom/publish/schema/NIST_V2_election_results_reporting.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text("utf-8"))
    return loaded


def validate(document: dict[str, Any], schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def check_references(document: dict[str, Any], schema: dict[str, Any]) -> None:
    """NIST's `refTypes`: every id property names an object of an allowed @type, and @ids are unique."""
    types: dict[str, str] = {}
    for obj in walk(document):
        if "@id" in obj:
            assert obj["@id"] not in types, f"duplicate @id {obj['@id']}"
            types[obj["@id"]] = obj["@type"]
    definitions = schema["definitions"]
    for obj in walk(document):
        props = definitions[obj["@type"]]["properties"]
        for key, value in obj.items():
            spec = props[key]
            allowed = spec.get("refTypes") or spec.get("items", {}).get("refTypes")
            if allowed:
                for ref in value if isinstance(value, list) else [value]:
                    assert types.get(ref) in allowed, f"{obj['@type']}.{key} -> {ref!r} ({types.get(ref)})"


def test_the_election_cdf_validates_and_references_resolve(counted: Counted, schema: dict[str, Any]) -> None:
    document = json.loads(export_bytes(counted.election, DataFormat.CDF))
    validate(document, schema)
    check_references(document, schema)
    assert document["Status"] == "unofficial-partial"
    assert document["Format"] == "precinct-level"
    assert [e["Type"] for e in document["Election"]] == ["general"]
    first = document["Election"][0]
    assert (first["StartDate"], first["EndDate"]) == ("2025-10-12", "2025-10-26")  # the repeat vote included
    units = {u["@id"]: u for u in document["GpUnit"]}
    assert units["gp-election"]["ComposingGpUnitIds"] == ["gp-m-01", "gp-m-38"]
    assert units["gp-m-01"]["ComposingGpUnitIds"] == ["gp-c-0101C", "gp-c-0102B"]
    assert units["gp-c-0101C"]["ComposingGpUnitIds"] == ["gp-s-0101C/01R", "gp-s-0101C/02D"]
    assert units["gp-s-0101C/02D"]["VotersRegistered"] == 640
    assert units["gp-election"]["VotersRegistered"] == sum(
        u["VotersRegistered"] for u in units.values() if u["Type"] == "precinct"
    )


def test_cdf_counts_add_up_to_the_api_totals(counted: Counted) -> None:
    document = json.loads(export_bytes(counted.election, DataFormat.CDF))
    contests = {c["ExternalIdentifier"][0]["Value"]: c for e in document["Election"] for c in e["Contest"]}
    parties = {p["@id"]: p["ExternalIdentifier"][0]["Value"] for p in document["Party"]}
    candidates = {c["@id"]: c["PartyId"] for e in document["Election"] for c in e["Candidate"]}
    ballots = Counter()
    for e in document["Election"]:
        for b in e["BallotCounts"]:
            ballots[(b["OtherType"], "ballots_cast")] += b["BallotsCast"]
            ballots[(b["OtherType"], "invalid")] += b["BallotsRejected"]
    api_ballots: Counter[tuple[str, str]] = Counter()
    for muni in ("01", "38"):
        for result in Client().get(f"/api/v1/results/{muni}").json()["contests"]:
            contest = contests[str(result["contest"]["id"])]
            totals: Counter[str] = Counter()
            for selection in contest["ContestSelection"]:
                if selection["@type"] == "ElectionResults.PartySelection":
                    code = parties[selection["PartyIds"][0]]
                elif "EndorsementPartyIds" in selection:
                    continue  # preference votes, checked below
                else:
                    code = parties[candidates[selection["CandidateIds"][0]]]
                totals[code] += sum(v["Count"] for v in selection["VoteCounts"] if v["Type"] == "total")
            assert dict(totals) == {c["entity"]: c["votes"] for c in result["choices"]}
            assert contest["SubUnitsReported"] == result["stations"]["counted"]
            assert contest["TotalSubUnits"] == result["stations"]["total"]
            assert sum(o["Undervotes"] for o in contest["OtherCounts"]) == result["totals"]["blank"]
            kind = result["contest"]["kind"]
            api_ballots[(f"{kind}-ballots", "ballots_cast")] += result["totals"]["ballots_cast"]
            api_ballots[(f"{kind}-ballots", "invalid")] += result["totals"]["invalid"]
    assert ballots == api_ballots


def test_cdf_preference_votes_and_outcomes(counted: Counted) -> None:
    document = json.loads(export_bytes(counted.election, DataFormat.CDF))
    contests = {c["@id"]: c for e in document["Election"] for c in e["Contest"]}
    assembly = contests["contest-R1-01-assembly"]
    assert (assembly["VoteVariation"], assembly["NumberElected"], assembly["VotesAllowed"]) == ("proportional", 15, 1)
    selections = {s["@id"]: s for s in assembly["ContestSelection"]}
    assert selections["sel-R1-01-assembly-BLUE-1"]["VoteCounts"] == [
        {
            "@type": "ElectionResults.VoteCounts",
            "Count": 120,
            "GpUnitId": "gp-s-0101C/01R",
            "OtherType": "preference-votes",
            "Type": "other",
        }
    ]
    repeat = selections["sel-R1-01-assembly-GREEN-2"]["VoteCounts"]
    assert [(v["GpUnitId"], v["Count"]) for v in repeat] == [("gp-s-0102B/01R", 30)]
    mayor = contests["contest-R1-01-mayor"]
    assert (mayor["VoteVariation"], mayor["NumberRunoff"]) == ("majority", 2)
    assert mayor["CountStatus"][0]["Status"] == "in-process"
    # North Mitrovica's mayor is certified: the winner is marked.
    north = contests["contest-R1-38-mayor"]
    assert north["CountStatus"][0]["Status"] == "completed"
    candidates = {c["@id"]: c for e in document["Election"] for c in e["Candidate"]}
    assert candidates["cand-R1-38-mayor-CIV"]["PostElectionStatus"] == "winner"
    assert "PostElectionStatus" not in candidates["cand-R1-38-mayor-BLUE"]
    assert "PostElectionStatus" not in candidates["cand-R1-01-mayor-BLUE"]  # still counting


def test_a_municipality_cdf_validates(counted: Counted, schema: dict[str, Any]) -> None:
    north = Municipality.objects.get(code="38")
    document = json.loads(export_bytes(counted.election, DataFormat.CDF, north))
    validate(document, schema)
    check_references(document, schema)
    assert [u["@id"] for u in document["GpUnit"]][:2] == ["gp-election", "gp-m-38"]
    assert [p["@id"] for p in document["Party"]] == ["party-BLUE", "party-CIV"]
