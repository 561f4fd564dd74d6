"""Which municipalities and stations' public pages a stretch of the audit chain touched.

The publisher reads the chain instead of asking writers to mark pages dirty, so a form's transaction
never waits on publication. A row about one station (a form, an event, a turnout report, an incident
there) touches that station's pages and its municipality's; a row about the whole municipality (a
contest, an annulment, a certification) touches every page of the municipality. Kinds of rows the
public never sees (tokens, roles, observers) touch nothing; a kind this module does not know touches
everything, which is slow but never stale.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Model, QuerySet

from tallyroom.audit.models import AuditEntry
from tallyroom.elections.models import Contest, Municipality, PollingStation
from tallyroom.polling.models import Incident, StationEvent, TurnoutReport
from tallyroom.publish.models import MunicipalityChange
from tallyroom.results.models import Annulment, Certification, ResultForm

CHUNK = 5000
WHOLE = 0  # in place of a station id: the row shows on every station page of its municipality

# object_type -> (model, the lookup from that model to its municipality's id, and to its station's id:
# None when the row is about the whole municipality, so every station page shows it)
_LOOKUPS: dict[str, tuple[type[Model], str, str | None]] = {
    "result_form": (ResultForm, "station__municipality_id", "station_id"),
    "contest": (Contest, "municipality_id", None),
    "annulment": (Annulment, "contest__municipality_id", None),
    "certification": (Certification, "contest__municipality_id", None),
    "station_event": (StationEvent, "station__municipality_id", "station_id"),
    "turnout_report": (TurnoutReport, "station__municipality_id", "station_id"),
    "incident": (Incident, "municipality_id", "station_id"),  # no station: on the municipality's page only
}
# Not shown on public pages: a change to these needs no new snapshot.
PRIVATE = frozenset(
    {
        "publication",
        "device_token",
        "role",
        "observer_organisation",
        "observer",
        "deployment",
        "withdrawal",
        "incident_photo",
        "complaint",
        "login",
        "user",
    }
)


@dataclass
class Changes:
    municipalities: dict[int, tuple[int, dt.datetime]] = field(default_factory=dict)  # id -> (seq, when)
    stations: set[int] = field(default_factory=set)  # station pages to render afresh
    whole: set[int] = field(default_factory=set)  # municipalities whose every station page changed
    everything: bool = False
    everything_at: tuple[int, dt.datetime] | None = None  # the latest entry that touched everything
    public: bool = False  # anything a reader can see changed
    latest: dt.datetime | None = None

    def touch(self, municipality_id: int, seq: int, when: dt.datetime) -> None:
        old = self.municipalities.get(municipality_id)
        if old is None or old[0] < seq:
            self.municipalities[municipality_id] = (seq, when)


def changes_between(after_seq: int, upto_seq: int) -> Changes:
    """Read audit entries (after_seq, upto_seq] and map each to the municipalities it touches.

    Entries are read without their times, and only the few times the answer names are read at the
    end: a full snapshot's range is every form's entry (2,000,000 at national scale), and parsing
    their timestamps was half of this step."""
    changes = Changes()
    touched: dict[int, int] = {}  # municipality id -> latest seq
    everything_seq: int | None = None
    latest_seq: int | None = None
    pending: dict[str, list[tuple[int, int]]] = defaultdict(list)
    rows = (
        AuditEntry.objects.filter(seq__gt=after_seq, seq__lte=upto_seq)
        .order_by("seq")
        .values_list("seq", "object_type", "object_id")
    )
    for seq, object_type, object_id in rows.iterator(chunk_size=CHUNK):
        if object_type in PRIVATE:
            continue
        latest_seq = seq
        if object_type == "polling_batch" or (object_type in _LOOKUPS and object_id.isdigit()):
            pending[object_type].append((int(object_id), seq))
        else:
            everything_seq = seq
    for object_type, items in pending.items():
        gone = _place(changes, touched, object_type, items)
        if gone is not None:
            everything_seq = max(everything_seq or gone, gone)
    named = {*touched.values(), *(s for s in (everything_seq, latest_seq) if s is not None)}
    times = dict(AuditEntry.objects.filter(seq__in=named).values_list("seq", "created_at"))
    changes.municipalities = {m: (seq, times[seq]) for m, seq in touched.items()}
    if everything_seq is not None:
        changes.everything, changes.everything_at = True, (everything_seq, times[everything_seq])
    if latest_seq is not None:
        changes.public, changes.latest = True, times[latest_seq]
    return changes


def _place(changes: Changes, touched: dict[int, int], object_type: str, items: list[tuple[int, int]]) -> int | None:
    """Mark where each (row id, seq) of one kind shows; the latest seq of a row that is gone, if any."""
    gone: int | None = None
    for chunk in _chunks(items):
        where = _places_of(object_type, [i for i, _ in chunk])
        for pk, at_seq in chunk:
            if pk not in where and object_type != "polling_batch":  # gone: where it was is unknown
                gone = max(gone or at_seq, at_seq)
            for municipality_id, station_id in where.get(pk, set()):
                if touched.get(municipality_id, -1) < at_seq:
                    touched[municipality_id] = at_seq
                if station_id == WHOLE:
                    changes.whole.add(municipality_id)
                elif station_id is not None:  # None: a row of the municipality's page alone
                    changes.stations.add(station_id)
    return gone


def _places_of(object_type: str, ids: list[int]) -> dict[int, set[tuple[int, int | None]]]:
    """Each row's (municipality id, its station's id, or WHOLE, or None when no station page shows it)."""
    out: dict[int, set[tuple[int, int | None]]] = defaultdict(set)
    if object_type == "polling_batch":
        batched: list[QuerySet[Model]] = [
            StationEvent.objects.filter(batch_id__in=ids),
            TurnoutReport.objects.filter(batch_id__in=ids),
        ]
        for qs in batched:
            for batch_id, municipality_id, station_id in _values(
                qs, "batch_id", "station__municipality_id", "station_id"
            ):
                out[batch_id].add((municipality_id, station_id))
        return out
    model, municipality, station = _LOOKUPS[object_type]
    qs = model._default_manager.filter(pk__any=ids)
    if station is None:
        for pk, municipality_id in qs.order_by().values_list("pk", municipality).distinct():
            out[pk].add((municipality_id, WHOLE))
        return out
    for pk, municipality_id, station_id in _values(qs, "pk", municipality, station):
        out[pk].add((municipality_id, station_id))
    return out


def _values(qs: QuerySet[Model], key: str, municipality: str, station: str) -> Iterable[tuple[int, int, int | None]]:
    if municipality != "station__municipality_id":
        return qs.order_by().values_list(key, municipality, station).distinct()
    # The station's municipality in a second query, not a join: for a chunk of a full snapshot's
    # forms PostgreSQL chose to hash the whole station table (a million rows) once per chunk.
    rows = set(qs.order_by().values_list(key, station))
    stations = {s for _, s in rows}
    where = dict(
        PollingStation.objects.filter(pk__any=sorted(stations)).order_by().values_list("pk", "municipality_id")
    )
    return [(pk, where[s], s) for pk, s in rows if s in where]


def _chunks(items: list[tuple[int, int]]) -> Iterable[list[tuple[int, int]]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def municipality_changes_record(changes: Changes) -> None:
    """Remember each municipality's latest change for the pages' "last updated" (newest wins). An entry
    that touched everything (loading an election) is every municipality's change: without a record,
    a page would fall back to the chain's latest entry, which any other municipality's form moves."""
    if changes.everything_at is not None:
        seq, when = changes.everything_at
        for municipality_id in Municipality.objects.values_list("pk", flat=True):
            changes.touch(municipality_id, seq, when)
    if not changes.municipalities:
        return
    current = dict(
        MunicipalityChange.objects.filter(municipality_id__in=changes.municipalities).values_list(
            "municipality_id", "audit_seq"
        )
    )
    rows = [
        MunicipalityChange(municipality_id=mid, audit_seq=seq, changed_at=when)
        for mid, (seq, when) in changes.municipalities.items()
        if current.get(mid, -1) < seq
    ]
    MunicipalityChange.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["municipality"], update_fields=["audit_seq", "changed_at"]
    )
