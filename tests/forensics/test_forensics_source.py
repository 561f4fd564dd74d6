"""The current election's counted forms as the forensics input."""

from __future__ import annotations

import pytest

from tallyroom.elections.models import Contest, Election, PollingStation
from tallyroom.results.forensics_source import station_table
from tallyroom.results.services import result_form_submit
from tests.results.conftest import clean_content


@pytest.mark.django_db
def test_station_table_from_counted_assembly_forms(small_election: Election) -> None:
    with pytest.raises(LookupError):
        station_table("test-2025")
    assembly = Contest.objects.get(municipality__code="01", kind="assembly")
    for code, votes in (("0101C/01R", {"BLUE": 300, "GREEN": 200}), ("0102B/01R", {"BLUE": 350, "GREEN": 250})):
        registered = PollingStation.objects.get(code=code).registered_voters
        result_form_submit(
            station=PollingStation.objects.get(code=code),
            contest=assembly,
            content=clean_content(votes, registered=registered),
            actor="t",
            role="admin",
        )
    table = station_table("test-2025")
    assert list(table.station_ids) == ["0101C/01R", "0102B/01R"]
    assert list(table.municipality_ids) == ["01", "01"]
    assert table.entity_names == ("BLUE", "GREEN")
    assert table.leader == 0
    assert table.votes.tolist() == [[300, 200], [350, 250]]
    assert table.registered is not None and table.registered.tolist() == [812, 905]
    assert table.ballots is not None and table.ballots.tolist() == [503, 603]
