"""How the audit chain reads an election's structure: the definition and every station's size."""

from __future__ import annotations

from typing import Any

from tallyroom.audit.chain import digest_rows
from tallyroom.elections.models import Election, PollingStation


def election_state(code: str) -> Any:
    election = Election.objects.filter(code=code).first()
    if election is None:
        return None
    stations = (
        PollingStation.objects.filter(election=election)
        .order_by("code")
        .values_list("code", "registered_voters", "municipality__code", "centre__code", "kind")
        .iterator(chunk_size=10_000)
    )
    return {"code": code, "definition_sha256": election.definition_sha256, "stations": digest_rows(stations)}
