"""Shared set-up for the snapshot tests: a signing key and a snapshot root of the test's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tallyroom.elections.models import Contest, PollingStation
from tallyroom.results.content import FormContent
from tallyroom.results.services import result_form_submit


def use_tmp_publication(settings: Any, tmp_path: Path) -> Path:
    settings.TALLYROOM_SIGNING_KEY = tmp_path / "keys" / "signing.pem"
    settings.TALLYROOM_SNAPSHOT_ROOT = tmp_path / "snapshots"
    return Path(settings.TALLYROOM_SNAPSHOT_ROOT)


def count_form(station_code: str, kind: str, votes: dict[str, int], registered: int = 812) -> None:
    """Submit a preliminary form that reconciles, for the station's municipality's first-round contest."""
    station = PollingStation.objects.get(code=station_code)
    contest = Contest.objects.get(municipality=station.municipality, kind=kind, round__code="R1")
    used = sum(votes.values()) + 3
    content = FormContent(
        votes=votes,
        invalid=3,
        signatures=used,
        ballots_received=registered + 20,
        ballots_used=used,
        ballots_unused=registered + 20 - used - 2,
        ballots_spoiled=2,
        preferences={},
    )
    result_form_submit(station=station, contest=contest, content=content, actor="test", role="admin")
