"""The current election's counted assembly forms as a forensics `StationTable`.

One row per polling station (central counting units have no voter list and are left out); votes
per entity across the whole election; the leader is the entity with most votes nationally.
"""

from __future__ import annotations

import numpy as np

from tallyroom.elections.models import Contest, Election, PollingStation, Round
from tallyroom.results.models import ResultForm, ResultVote
from tallyroom.rules.forensics.table import StationTable


def station_table(election_code: str | None) -> StationTable:
    elections = Election.objects.defer("definition_packed")
    election = elections.filter(code=election_code).first() if election_code else elections.order_by("-pk").first()
    if election is None:
        raise LookupError(f"no election {election_code!r}" if election_code else "no election is loaded")
    forms = list(
        ResultForm.objects.filter(
            contest__round__election=election,
            contest__round__kind=Round.Kind.FIRST,
            contest__kind=Contest.Kind.ASSEMBLY,
            counted=True,
        )
        .exclude(station__kind=PollingStation.Kind.CENTRAL)
        .order_by("station__code")
        .values_list(
            "pk",
            "station__code",
            "station__municipality__code",
            "station__registered_voters",
            "signatures",
            "ballots_used",
            "valid",
            "invalid",
        )
    )
    if not forms:
        raise LookupError(f"no results recorded yet in election {election.code}")
    row = {pk: i for i, (pk, *_rest) in enumerate(forms)}
    votes_rows = list(ResultVote.objects.filter(form_id__in=row).values_list("form_id", "entity__code", "votes"))
    entities = sorted({code for _, code, _ in votes_rows})
    column = {code: j for j, code in enumerate(entities)}
    votes = np.zeros((len(forms), len(entities)), dtype=np.int64)
    for form_id, code, n in votes_rows:
        votes[row[form_id], column[code]] = n
    leader = int(np.argmax(votes.sum(axis=0)))
    ballots = [f[4] if f[4] is not None else (f[5] if f[5] is not None else f[6] + f[7]) for f in forms]
    return StationTable(
        station_ids=np.array([f[1] for f in forms]),
        municipality_ids=np.array([f[2] for f in forms]),
        registered=np.array([f[3] for f in forms], dtype=np.int64),
        ballots=np.array(ballots, dtype=np.int64),
        valid=np.array([f[6] for f in forms], dtype=np.int64),
        invalid=np.array([f[7] for f in forms], dtype=np.int64),
        votes=votes,
        entity_names=tuple(entities),
        leader=leader,
    )
