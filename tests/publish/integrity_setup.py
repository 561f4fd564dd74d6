"""A seeded synthetic election, counted, for the integrity page's tests.

240 stations in 6 municipalities (enough for every test, the fraud model included), built by
`tallyroom.elections.simulate` and submitted through the bulk pipeline as a counting centre would.
"""

from __future__ import annotations

from typing import Any

from tallyroom.elections.models import Election
from tallyroom.elections.services import election_load
from tallyroom.elections.simulate import simulate_definition, simulate_forms
from tallyroom.results.bulk import BulkItem, result_forms_submit_bulk

STATIONS = 240
MUNICIPALITIES = 6
REGISTERED_ESTIMATE = {
    "field": "municipalities[].stations[].registered",
    "method": "ballots cast divided by a flat turnout per municipality",
}


def counted_election(
    *, code: str = "sim", seed: int = 5, estimates: list[dict[str, Any]] | None = None, stuffed: int = 4
) -> Election:
    """The election, its assembly forms counted; in the first `stuffed` stations of the first
    municipality ballots for the strongest entity are added up to 80% turnout (they stand out)."""
    definition = simulate_definition(STATIONS, MUNICIPALITIES, seed=seed, code=code)
    if estimates is not None:
        definition["estimates"] = estimates
    election_load(definition)
    election = Election.objects.get(code=code)
    forms = [(s, d) for s, c, d in simulate_forms(definition, seed=seed) if c == "assembly"]
    registered = {s["code"]: s["registered"] for m in definition["municipalities"] for s in m["stations"]}
    first = {s["code"] for s in definition["municipalities"][0]["stations"][:stuffed]}
    items = [BulkItem(s, "assembly", _stuff(d, registered[s]) if s in first else d) for s, d in forms]
    outcomes = result_forms_submit_bulk(election, items, actor="integrity-test", role="admin")
    assert sum(o.status == "accepted" for o in outcomes) > STATIONS * 0.9, {o.status for o in outcomes}
    return election


def _stuff(form: dict[str, Any], registered: int) -> dict[str, Any]:
    extra = max(0, int(registered * 0.8) - form["ballots_used"])
    votes = dict(form["votes"])
    strongest = max(votes, key=lambda e: votes[e])
    votes[strongest] += extra
    return {
        **form,
        "votes": votes,
        "signatures": form["signatures"] + extra,
        "ballots_used": form["ballots_used"] + extra,
        "ballots_unused": form["ballots_unused"] - extra,
        "preferences": {},
    }
