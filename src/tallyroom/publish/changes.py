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
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F, Max, Model, QuerySet

from tallyroom.audit.models import AuditEntry
from tallyroom.elections.models import Contest, Municipality
from tallyroom.polling.models import Incident, StationEvent, TurnoutReport
from tallyroom.publish.models import MunicipalityChange
from tallyroom.results.models import Annulment, Certification, ResultForm

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


def changes_between(after_seq: int, upto_seq: int, *, stations: bool = True) -> Changes:
    """Map audit entries (after_seq, upto_seq] to the municipalities (and, with `stations`, the station
    pages) they touch.

    The database does the mapping: one query for the kinds of entries in the range, then for each kind
    a join from the entries to their rows and on to the municipality, grouped. A full snapshot's range
    is every form's entry (2,000,000 at national scale), which read into Python and sent back in
    chunks of ids took most of a minute. A snapshot from scratch renders every page, so it asks for
    municipalities only (`stations=False`): at national scale that is a thousand groups, not a million."""
    changes = Changes()
    touched: dict[int, int] = {}  # municipality id -> latest seq
    everything_seq: int | None = None
    latest_seq: int | None = None
    kinds = (
        AuditEntry.objects.filter(seq__gt=after_seq, seq__lte=upto_seq)
        .exclude(object_type__in=PRIVATE)
        .order_by()
        .values_list("object_type")
        .annotate(latest=Max("seq"))
    )
    for object_type, seq in kinds:
        latest_seq = max(latest_seq or seq, seq)
        if object_type != "polling_batch" and object_type not in _LOOKUPS:
            everything_seq = max(everything_seq or seq, seq)
            continue
        gone = _place(changes, touched, object_type, (after_seq, upto_seq), stations=stations)
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


def _place(
    changes: Changes, touched: dict[int, int], object_type: str, span: tuple[int, int], *, stations: bool
) -> int | None:
    """Mark where the kind's entries in `span` show; the latest seq of an entry whose row is gone (or
    whose id is not a row's), if any: where it was is unknown."""
    # (rows, the entry's id in them, the lookup to their municipality, to their station or None)
    sources: list[tuple[QuerySet[Model], str, str, str | None]]
    whole = False  # a row about the whole municipality: every station page shows it
    batch = object_type == "polling_batch"  # shows where its rows are: a batch of none shows nowhere
    if batch:
        sources = [
            (model._default_manager.all(), "batch_id", "station__municipality_id", "station_id")
            for model in (StationEvent, TurnoutReport)
        ]
    else:
        model, municipality, station = _LOOKUPS[object_type]
        sources = [(model._default_manager.all(), "pk", municipality, station)]
        whole = station is None
    gone: int | None = None
    for qs, key, municipality, station in sources:
        for municipality_id, station_id, seq in _grouped(
            qs, key, municipality, station if stations else None, object_type, span
        ):
            if municipality_id is None:  # no row: gone, or not a row's id (a batch of none: nowhere)
                if not batch:
                    gone = seq
                continue
            if touched.get(municipality_id, -1) < seq:
                touched[municipality_id] = seq
            if stations and whole:
                changes.whole.add(municipality_id)
            elif stations and station_id is not None:  # None: a row of the municipality's page alone
                changes.stations.add(station_id)
    return gone


def _entry_id() -> str:
    """An entry's object id as a row id, or NULL where it is not a plain integer (never an error).
    `ltrim` of the digits, not a pattern: the same test in both databases, and cheaper per entry."""
    integer = "bigint" if connection.vendor == "postgresql" else "INTEGER"
    return (
        "CASE WHEN a.object_id <> '' AND length(a.object_id) <= 18 AND ltrim(a.object_id, '0123456789') = '' "
        f"THEN CAST(a.object_id AS {integer}) END"
    )


def _grouped(
    qs: QuerySet[Model], key: str, municipality: str, station: str | None, object_type: str, span: tuple[int, int]
) -> list[tuple[int | None, int | None, int]]:
    """(municipality id, station id or None, latest seq) of the kind's entries in `span`, by the rows
    of `qs` they name (matched on `key`); entries that name no row come as one group of municipality
    None. The rows' query comes from the ORM (its joins to the municipality), and the database
    flattens it into the join."""
    named = {"_key": F(key), "_m": F(municipality)}
    if station is not None:
        named["_s"] = F(station)
    inner, params = qs.order_by().annotate(**named).values(*named).query.sql_with_params()
    place = "r._m, r._s" if station is not None else "r._m, NULL"
    entries = connection.ops.quote_name(AuditEntry._meta.db_table)
    sql = (
        f"SELECT {place}, MAX(a.seq) FROM {entries} a LEFT JOIN ({inner}) r ON r._key = {_entry_id()} "  # noqa: S608 - names from models
        f"WHERE a.object_type = %s AND a.seq > %s AND a.seq <= %s GROUP BY {place.removesuffix(', NULL')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, object_type, *span])
        return [(m, s, int(seq)) for m, s, seq in cursor.fetchall()]


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
