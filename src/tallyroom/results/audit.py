"""How the audit chain reads results rows. A form's state is recomputed from its vote rows, so a
count changed directly in the database no longer matches the digest its last entry recorded."""

from __future__ import annotations

from typing import Any

from tallyroom.elections.models import Contest
from tallyroom.results.models import Annulment, Certification, Complaint, ResultForm


def form_state(pk: str) -> Any:
    from tallyroom.results.services import form_content

    form = ResultForm.objects.filter(pk=pk).first()
    if form is None:
        return None
    return form_audit_state(form, form_content(form).sha256() if form.state not in UNWRITTEN else "")


# An official form is created at the first blind entry; its numbers are written at verification.
UNWRITTEN = {"entered", "disputed"}


def form_audit_state(form: ResultForm, content_sha256: str) -> dict[str, Any]:
    """What the chain records of a form. Whether it is counted is derived (the best accepted form of
    its station), so it is left out; the running totals are checked by `results recompute`."""
    return {
        "station": form.station_id,
        "contest": form.contest_id,
        "kind": form.kind,
        "state": form.state,
        "version": form.version,
        "content": content_sha256,
    }


def contest_state(pk: str) -> Any:
    contest = Contest.objects.filter(pk=pk).first()
    if contest is None:
        return None
    return {
        "round": contest.round_id,
        "municipality": contest.municipality_id,
        "kind": contest.kind,
        "parent": contest.parent_id,
        "candidates": sorted(contest.candidates.values_list("pk", flat=True)),
    }


def annulment_state(pk: str) -> Any:
    annulment = Annulment.objects.filter(pk=pk).first()
    if annulment is None:
        return None
    return {
        "contest": annulment.contest_id,
        "stations": sorted(annulment.stations.values_list("code", flat=True)),
        "legal_basis": annulment.legal_basis,
        "reason": annulment.reason,
        "repeat": annulment.repeat_contest_id,
    }


def complaint_state(pk: str) -> Any:
    row = Complaint.objects.filter(pk=pk).values("state", "decision", "decision_reason", "station_id").first()
    return dict(row) if row else None


def certification_state(pk: str) -> Any:
    row = Certification.objects.filter(pk=pk).values("contest_id", "results_sha256", "revoked_at").first()
    return {**row, "revoked_at": str(row["revoked_at"])} if row else None
