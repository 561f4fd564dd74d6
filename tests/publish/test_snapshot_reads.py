"""A snapshot reads each municipality's standings, and builds its pages, once for all its pages in
every language, and keeps only the last few municipalities' reads (a national snapshot could not hold them all);
it reads the election's counts once for the election-wide pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tallyroom.elections.models import Municipality
from tallyroom.publish import memo, selectors
from tallyroom.publish.snapshot import languages, snapshot_write
from tests.publish.snapshots_helpers import count_form, use_tmp_publication

pytestmark = pytest.mark.django_db


def test_each_municipality_is_read_once_and_few_are_kept(
    small_election: Any, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_tmp_publication(settings, tmp_path)
    count_form("0101C/01R", "mayor", {"BLUE": 300, "IND-ARBEN": 200})
    monkeypatch.setattr(memo, "RECENT", 1)
    reads: list[int | None] = []
    read = selectors._election_read

    def counting(election: Any, municipality_id: int | None) -> Any:
        reads.append(municipality_id)
        return read(election, municipality_id)

    monkeypatch.setattr(selectors, "_election_read", counting)
    built: list[int] = []
    build = selectors._municipality_page

    def counting_pages(election: Any, municipality: Municipality) -> Any:
        built.append(municipality.pk)
        return build(election, municipality)

    monkeypatch.setattr(selectors, "_municipality_page", counting_pages)
    station_builds: list[int] = []
    build_stations = selectors._station_pages

    def counting_stations(election: Any, municipality: Municipality, station_ids: Any) -> Any:
        station_builds.append(municipality.pk)
        return build_stations(election, municipality, station_ids)

    monkeypatch.setattr(selectors, "_station_pages", counting_stations)
    counted: list[int] = []
    read_counts = selectors._counted_read

    def counting_counts(election: Any) -> Any:
        counted.append(election.pk)
        return read_counts(election)

    monkeypatch.setattr(selectors, "_counted_read", counting_counts)
    written = snapshot_write(tmp_path / "snap")
    municipalities = sorted(Municipality.objects.values_list("pk", flat=True))
    assert len(languages()) == 3 and written.rendered > 3 * len(municipalities)
    # One memo entry suffices: a municipality's pages in all three languages come one after another.
    assert sorted(reads) == municipalities
    # Its page's content is built once for the three languages (test_snapshot_publish checks each
    # language's bytes against the live page's, built afresh).
    assert sorted(built) == municipalities
    assert sorted(station_builds) == municipalities  # and its station pages' (each has stations)
    # The election's counts, once for the home and election pages in every language.
    assert counted == [small_election.pk]
