"""A simulated election written as files the API accepts, for replaying it over HTTP. No Django.

`definition.json` for `tallyroom load`; gzip'd JSON lines, one request each (events, turnout) or one
item each (incidents, forms), in the shapes of the API's schemas:

- events.jsonl.gz:    {"station": CODE, "body": ...}  POST /api/v1/stations/CODE/events?election=E
- turnout.jsonl.gz:   {"station": CODE, "body": ...}  POST /api/v1/stations/CODE/turnout?election=E
- incidents.jsonl.gz: the body of POST /api/v1/incidents
- forms.jsonl.gz:     one form of POST /api/v1/result-forms/bulk ({"election": E, "forms": [up to 10,000]})

Byte-identical for the same arguments: fixed key order, no time stamp in the gzip header.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

from tallyroom.elections.simulate_day import SimEvent, SimIncident, SimTurnout, first_round, simulate_stations

FILES = ("events", "turnout", "incidents", "forms")


def event_body(event: SimEvent, round_code: str) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "occurred_at": event.at.isoformat(),
        "reason": event.reason,
        "round": round_code,
        "client_key": event.client_key,
    }


def turnout_body(report: SimTurnout, round_code: str) -> dict[str, Any]:
    when: dict[str, Any] = {"reporting_time": report.slot} if report.slot else {"at": report.at.isoformat()}
    return {"voters": report.voters, **when, "round": round_code, "client_key": report.client_key}


def incident_body(incident: SimIncident, election_code: str) -> dict[str, Any]:
    return {
        "election": election_code,
        "kind": incident.kind,
        "severity": incident.severity,
        "occurred_at": incident.at.isoformat(),
        "station": incident.station,
        "description": incident.description,
        "client_key": incident.client_key,
    }


@contextmanager
def _gzip_lines(path: Path) -> Iterator[IO[str]]:
    """A text stream into PATH.partial (mtime 0, no name in the header), renamed when complete."""
    partial = path.with_name(path.name + ".partial")
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed,
        io.TextIOWrapper(packed, encoding="utf-8", newline="\n") as text,
    ):
        yield text
    os.replace(partial, path)


def _line(handle: IO[str], item: dict[str, Any]) -> None:
    handle.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
    handle.write("\n")


def simulate_write(definition: dict[str, Any], seed: int, out: Path) -> dict[str, int]:
    """Write the election and its day into directory `out`; the counts of what was written."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "definition.json").write_text(json.dumps(definition, ensure_ascii=False, indent=1) + "\n", "utf-8")
    code, round_code = definition["code"], first_round(definition)
    counts = {"stations": 0, **dict.fromkeys(FILES, 0)}
    with ExitStack() as stack:
        files = {name: stack.enter_context(_gzip_lines(out / f"{name}.jsonl.gz")) for name in FILES}
        for sim in simulate_stations(definition, seed):
            day = sim.day
            counts["stations"] += 1
            for event in day.events:
                _line(files["events"], {"station": day.station, "body": event_body(event, round_code)})
            for report in day.turnout:
                _line(files["turnout"], {"station": day.station, "body": turnout_body(report, round_code)})
            for incident in day.incidents:
                _line(files["incidents"], incident_body(incident, code))
            for contest, form in (("assembly", sim.draw.assembly), ("mayor", sim.draw.mayor)):
                item = {"station": day.station, "contest": contest, "round": round_code, "kind": "preliminary"}
                _line(files["forms"], {**item, "form": form})
            counts["events"] += len(day.events)
            counts["turnout"] += len(day.turnout)
            counts["incidents"] += len(day.incidents)
            counts["forms"] += 2
    return counts
