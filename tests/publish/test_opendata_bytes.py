"""The open-data writers' fast paths give the bytes of the plain way: a dict per object through
`json.dumps` (the CDF's counts), and escape what needs escaping (a station code with quotes,
backslashes and non-ASCII letters)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tallyroom.elections.models import Municipality, PollingStation
from tallyroom.publish import opendata_cdf as cdf
from tallyroom.publish.opendata import DataFormat, data_version, export_bytes
from tallyroom.publish.opendata_frames import (
    ContestFrame,
    election_entities,
    municipality_frame,
    municipality_preferences,
    municipality_votes,
)
from tests.publish.opendata_setup import Counted, counted_fixture  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db
ODD_CODE = 'Ëa "1"\\ <b>/ç'


def _reference_selections(
    contest: ContestFrame, outcome: cdf.Outcome, votes: dict[int, dict[int, int]], prefs: dict[int, dict[int, int]]
) -> list[bytes]:
    """The ContestSelections as first written: every VoteCounts a dict, the whole through `_json`."""
    c = contest.contest
    counted = [r for r in contest.stations if r.form is not None]
    base = f"sel-{c.round.code}-{c.municipality.code}-{c.kind}"
    out: list[bytes] = []
    order = 0
    for choice in contest.choices:
        order += 1
        counts = [
            cdf._count(votes.get(r.form.id, {}).get(choice.entity.id, 0), cdf.station_id(r.station.code))
            for r in counted
            if r.form is not None
        ]
        item: dict[str, Any] = {"@id": f"{base}-{choice.entity.code}"}
        if choice.candidate_id is None:
            item |= {"@type": cdf.T + "PartySelection", "PartyIds": [cdf.party_id(choice.entity.code)]}
            if outcome.settled and choice.entity.code in outcome.seats:
                counts.append(cdf._count(outcome.seats[choice.entity.code], cdf.muni_id(c.municipality.code), "seats"))
        else:
            ref = cdf._candidate_ref(contest, choice.entity.code, None)
            item |= {"@type": cdf.T + "CandidateSelection", "CandidateIds": [ref]}
        item |= {"SequenceOrder": order, "VoteCounts": counts}
        out.append(cdf._json(item))
    for lc in contest.list_candidates:
        order += 1
        counts = [
            cdf._count(prefs[r.form.id][lc.id], cdf.station_id(r.station.code), "other", cdf.PREFERENCE)
            for r in counted
            if r.form is not None and lc.id in prefs.get(r.form.id, {})
        ]
        item = {
            "@id": f"{base}-{lc.entity.code}-{lc.position}",
            "@type": cdf.T + "CandidateSelection",
            "CandidateIds": [cdf._candidate_ref(contest, lc.entity.code, lc.position)],
            "EndorsementPartyIds": [cdf.party_id(lc.entity.code)],
            "SequenceOrder": order,
            "VoteCounts": counts,
        }
        out.append(cdf._json(item))
    return out


def _reference_ballot_counts(contest: ContestFrame) -> list[bytes]:
    return [
        cdf._json(
            {
                "@type": cdf.T + "BallotCounts",
                "BallotsCast": r.form.ballots_cast,
                "BallotsRejected": r.form.invalid,
                "GpUnitId": cdf.station_id(r.station.code),
                "OtherType": f"{contest.contest.kind}-ballots",
                "Type": "other",
            }
        )
        for r in contest.stations
        if r.form is not None
    ]


@pytest.mark.parametrize("odd", [False, True])
def test_cdf_counts_are_the_bytes_of_one_dict_per_object(counted: Counted, odd: bool) -> None:
    if odd:
        PollingStation.objects.filter(code="0101C/01R").update(code=ODD_CODE)
    entities = election_entities(counted.election)
    seen = 0
    for muni in Municipality.objects.filter(election=counted.election):
        frame = municipality_frame(muni, entities)
        votes, prefs = municipality_votes(frame), municipality_preferences(frame)
        for contest in frame.contests:
            outcome = cdf._outcome(contest)
            counted_rows = [r for r in contest.stations if r.form is not None]
            got = list(cdf._selections(contest, outcome, counted_rows, votes, prefs))
            assert got == _reference_selections(contest, outcome, votes, prefs)
            assert list(cdf._ballot_counts(contest)) == _reference_ballot_counts(contest)
            seen += sum(len(json.loads(s)["VoteCounts"]) for s in got)
    assert seen > 10  # list votes, preference votes and seats were all compared
    if odd:
        assert json.dumps(cdf.station_id(ODD_CODE), ensure_ascii=False).encode() in export_bytes(
            counted.election, DataFormat.CDF
        )


@pytest.mark.parametrize("fmt", [DataFormat.JSON, DataFormat.CDF])
def test_json_files_are_written_as_json_dumps_writes_them(counted: Counted, fmt: DataFormat) -> None:
    """Written in pieces, read back and dumped whole: the same bytes (key order, separators, escapes)."""
    PollingStation.objects.filter(code="0101C/02D").update(code=ODD_CODE)
    version = data_version()
    for muni in [None, *Municipality.objects.filter(election=counted.election)]:
        data = export_bytes(counted.election, fmt, muni, version=version)
        again = json.dumps(json.loads(data), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        assert data == again
