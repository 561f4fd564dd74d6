"""How the audit chain reads election-day rows: each kind's state, as JSON-able data."""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from tallyroom.audit.chain import digest
from tallyroom.polling.models import (
    Deployment,
    Incident,
    IncidentPhoto,
    Observer,
    ObserverOrganisation,
    PollingBatch,
    StationEvent,
    TurnoutReport,
    Withdrawal,
)


class _Reader:
    """Reads a row's `fields`: one row by id (the chain's serializer), or many at once (`many`)."""

    def __init__(self, model: type[Model], fields: tuple[str, ...]) -> None:
        self.model, self.fields = model, fields

    def __call__(self, pk: str) -> Any:
        row = self.model._default_manager.filter(pk=pk).values(*self.fields).first()
        return dict(row) if row else None

    def many(self, pks: list[str]) -> dict[str, Any]:
        found = states(self.model, self.fields, [int(pk) for pk in pks if pk.isdigit()])
        return {str(pk): state for pk, state in found.items()}


STATION_EVENT_FIELDS = (
    "station__code",
    "round__code",
    "kind",
    "occurred_at",
    "reason",
    "supersedes_id",
    "reported_by_id",
    "client_key",
)
TURNOUT_REPORT_FIELDS = (
    "station__code",
    "round__code",
    "slot",
    "at",
    "voters",
    "correction",
    "superseded_by_id",
    "late",
    "review",
    "reviewed_by_id",
    "review_note",
    "client_key",
)
station_event_state = _Reader(StationEvent, STATION_EVENT_FIELDS)
turnout_report_state = _Reader(TurnoutReport, TURNOUT_REPORT_FIELDS)
incident_state = _Reader(
    Incident,
    (
        "station__code",
        "municipality__code",
        "place",
        "kind",
        "severity",
        "occurred_at",
        "description",
        "public_description",
        "status",
        "decided_by_id",
        "decision_note",
        "resolved_by_id",
        "resolution",
        "reported_by_id",
        "observer_id",
    ),
)
incident_photo_state = _Reader(IncidentPhoto, ("incident_id", "file", "content_type", "size", "sha256"))
observer_organisation_state = _Reader(ObserverOrganisation, ("name", "kind", "election__code"))
observer_state = _Reader(
    Observer, ("organisation_id", "full_name", "user_id", "status", "badge_number", "reason", "revoked_at")
)
deployment_state = _Reader(
    Deployment, ("observer_id", "station__code", "started_at", "ended_at", "end_reason", "withdrawal_id")
)
withdrawal_state = _Reader(
    Withdrawal,
    ("organisation_id", "municipality__code", "area", "centre__code", "occurred_at", "reason", "deployments_ended"),
)


def states(model: type[Model], fields: tuple[str, ...], ids: list[int]) -> dict[int, dict[str, Any]]:
    """What the reader of `fields` returns for each row, read in bulk (for batched audit entries)."""
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 900):
        for row in model._default_manager.filter(pk__in=ids[start : start + 900]).values("pk", *fields):
            pk = row.pop("pk")
            out[pk] = row
    return out


def polling_batch_state(pk: str) -> Any:
    """The batch and the facts of every row in it: a row changed behind the chain's back shows."""
    batch = PollingBatch.objects.filter(pk=pk).values("kind", "count", "label").first()
    if batch is None:
        return None
    rows: list[tuple[Any, ...]]
    if batch["kind"] == PollingBatch.Kind.EVENTS:
        rows = list(
            StationEvent.objects.filter(batch_id=int(pk))
            .order_by("id")
            .values_list("id", "station__code", "kind", "occurred_at", "reason", "client_key")
        )
    else:
        rows = list(
            TurnoutReport.objects.filter(batch_id=int(pk))
            .order_by("id")
            .values_list("id", "station__code", "slot", "at", "voters", "received_at", "client_key")
        )
    return {**batch, "rows": len(rows), "digest": digest(rows)}
