"""Load a simulated election into the database through the same services as real traffic.

The definition through `election_load`; then, a chunk of stations at a time, their events and
turnout through the polling batch services, their incidents one by one, and their forms through
`result_forms_submit_bulk`. Every row carries a client key derived from the seed (forms are matched
by station and contest), so a second run records nothing new. Streaming: a chunk at a time.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tallyroom.accounts.models import Role
from tallyroom.elections.models import Election, Municipality, PollingStation, Round
from tallyroom.elections.services import LoadOutcome, election_load
from tallyroom.elections.simulate_day import SimStation, simulate_stations
from tallyroom.polling import clock, services
from tallyroom.polling.access import Reporter
from tallyroom.polling.models import Channel, Incident
from tallyroom.results.bulk import BulkItem, result_forms_submit_bulk

ACTOR = "simulate"


@dataclass
class LoadSummary:
    election: str
    definition: str  # election_load's status: created, unchanged
    stations: int = 0
    events: int = 0  # generated; the *_new counts are what this run recorded
    events_new: int = 0
    turnout: int = 0
    turnout_new: int = 0
    incidents: int = 0
    incidents_new: int = 0
    forms: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        forms = ", ".join(f"{n:,} {status}" for status, n in sorted(self.forms.items())) or "none"
        return [
            f"Election {self.election}: definition {self.definition}; {self.stations:,} stations.",
            f"Station events: {self.events:,} ({self.events_new:,} new).",
            f"Turnout reports: {self.turnout:,} ({self.turnout_new:,} new).",
            f"Incidents: {self.incidents:,} ({self.incidents_new:,} new).",
            f"Result forms: {sum(self.forms.values()):,}: {forms}.",
        ]


class _Loader:
    def __init__(self, election: Election, summary: LoadSummary) -> None:
        self.election = election
        self.summary = summary
        round_ = Round.objects.filter(election=election, kind=Round.Kind.FIRST).order_by("date").first()
        if round_ is None:
            raise ValueError(f"election {election.code} has no first round")
        self.round = round_
        self.reporter = Reporter(None, Role.ADMIN)
        # The simulated day may lie in the future: the services check times against this "now".
        self.now = clock.at_local(round_.date, dt.time(23, 59), election)
        self.munis = {m.code: m for m in Municipality.objects.filter(election=election)}

    def chunk(self, sims: Sequence[SimStation]) -> None:
        codes = [s.day.station for s in sims]
        ids = dict(PollingStation.objects.filter(election=self.election, code__in=codes).values_list("code", "pk"))
        events = [
            services.BatchEvent(ids[e.station], e.kind, e.at, e.reason, e.client_key)
            for s in sims
            for e in s.day.events
        ]
        outcome = services.station_events_record_batch(
            election=self.election, round_=self.round, items=events, reporter=self.reporter, label=ACTOR, now=self.now
        )
        self.summary.events += len(events)
        self.summary.events_new += outcome.recorded
        reports = [
            services.BatchTurnout(ids[t.station], t.voters, t.slot, t.at, t.received_at, t.client_key)
            for s in sims
            for t in s.day.turnout
        ]
        outcome = services.turnout_reports_record_batch(
            election=self.election, round_=self.round, items=reports, reporter=self.reporter, label=ACTOR, now=self.now
        )
        self.summary.turnout += len(reports)
        self.summary.turnout_new += outcome.recorded
        self.incidents(sims)
        items = [
            BulkItem(s.draw.station, contest, form, self.round.code)
            for s in sims
            for contest, form in (("assembly", s.draw.assembly), ("mayor", s.draw.mayor))
        ]
        self.summary.forms.update(
            o.status for o in result_forms_submit_bulk(self.election, items, actor=ACTOR, role=Role.ADMIN)
        )
        self.summary.stations += len(sims)

    def incidents(self, sims: Sequence[SimStation]) -> None:
        wanted = [i for s in sims for i in s.day.incidents]
        self.summary.incidents += len(wanted)
        if not wanted:
            return
        known = set(
            Incident.objects.filter(election=self.election, client_key__in=[i.client_key for i in wanted]).values_list(
                "client_key", flat=True
            )
        )
        stations = {
            s.code: s
            for s in PollingStation.objects.filter(election=self.election, code__in={i.station for i in wanted})
        }
        for item in wanted:
            services.incident_report(
                election=self.election,
                municipality=self.munis[item.municipality],
                station=stations[item.station],
                kind=item.kind,
                severity=item.severity,
                occurred_at=item.at,
                description=item.description,
                reporter=self.reporter,
                client_key=item.client_key,
                channel=Channel.BATCH,
                round_=self.round,
                now=self.now,
            )
        self.summary.incidents_new += len({i.client_key for i in wanted} - known)


def simulate_load(
    definition: dict[str, Any],
    seed: int,
    *,
    batch: int = 5000,
    progress: Callable[[LoadSummary, int], None] | None = None,
) -> LoadSummary:
    """Load the definition, then the day and the forms, `batch` forms (half as many stations) at a
    time; `progress(summary, total stations)` after each chunk. Raises what the services raise."""
    outcome: LoadOutcome = election_load(definition)
    election = Election.objects.get(code=outcome.election_code)
    summary = LoadSummary(election.code, outcome.status)
    loader = _Loader(election, summary)
    total = sum(len(m["stations"]) for m in definition["municipalities"])
    per_chunk = max(1, batch // 2)  # two forms a station
    chunk: list[SimStation] = []
    for sim in simulate_stations(definition, seed):
        chunk.append(sim)
        if len(chunk) == per_chunk:
            loader.chunk(chunk)
            chunk = []
            if progress is not None:
                progress(summary, total)
    if chunk:
        loader.chunk(chunk)
        if progress is not None:
            progress(summary, total)
    return summary
