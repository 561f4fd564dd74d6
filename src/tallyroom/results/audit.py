"""How the audit chain reads results rows. A form's state is recomputed from its vote rows, so a
count changed directly in the database no longer matches the digest its last entry recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.db.models import Exists, OuterRef

from tallyroom.elections.models import Candidate, Contest, PoliticalEntity
from tallyroom.results.content import FormContent
from tallyroom.results.models import (
    COUNT_FIELDS,
    UNCHECKED,
    Annulment,
    Certification,
    Complaint,
    ResultForm,
    ResultPreference,
    ResultVote,
)


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


_FORM_COLUMNS = ("pk", "station_id", "contest_id", "kind", "state", "version", *COUNT_FIELDS, "committee_signed")


def form_states(ids: list[str]) -> dict[str, Any]:
    """`form_state` of many forms in five queries (for `audit verify`); must agree with it."""
    pks = [int(i) for i in ids if i.isdigit()]
    rows = list(ResultForm.objects.filter(pk__in=pks).values_list(*_FORM_COLUMNS))
    written = [row[0] for row in rows if row[4] not in UNWRITTEN]
    # Codes and positions are looked up once per batch rather than joined into every vote row.
    vote_rows = list(ResultVote.objects.filter(form_id__in=written).values_list("form_id", "entity_id", "votes"))
    pref_rows = list(
        ResultPreference.objects.filter(form_id__in=written).values_list("form_id", "candidate_id", "votes")
    )
    candidates = {
        pk: (entity, position)
        for pk, entity, position in Candidate.objects.filter(pk__in={row[1] for row in pref_rows}).values_list(
            "pk", "entity__code", "position"
        )
    }
    entities = dict(PoliticalEntity.objects.filter(pk__in={row[1] for row in vote_rows}).values_list("pk", "code"))
    # A row whose choice is gone is left out, as form_state's joins leave it out: the digest differs.
    votes: dict[int, dict[str, int]] = {}
    for form_id, entity_id, count in vote_rows:
        if entity_id in entities:
            votes.setdefault(form_id, {})[entities[entity_id]] = count
    prefs: dict[int, dict[str, dict[int, int]]] = {}
    for form_id, candidate_id, count in pref_rows:
        if candidate_id in candidates:
            entity, position = candidates[candidate_id]
            prefs.setdefault(form_id, {}).setdefault(entity, {})[position] = count
    out: dict[str, Any] = {}
    for pk, station, contest, kind, state, version, *counts in rows:
        sha = ""
        if state not in UNWRITTEN:
            numbers = dict(zip((*COUNT_FIELDS, "committee_signed"), counts, strict=True))
            sha = FormContent(votes=votes.get(pk, {}), preferences=prefs.get(pk, {}), **numbers).sha256()
        out[str(pk)] = {
            "station": station,
            "contest": contest,
            "kind": kind,
            "state": state,
            "version": version,
            "content": sha,
        }
    return out


# How `orphan_rows` names each table whose references the database does not check.
_ROWS = {"results.ResultVote": "vote rows", "results.ResultPreference": "preference rows"}


def orphan_rows() -> Iterator[str]:
    """Vote and preference rows whose form or choice is not there. The database does not check these
    references (models.UNCHECKED), and the chain names forms, not their rows, so `audit verify`
    looks for such rows itself: one anti-join per reference."""
    for label, field in UNCHECKED:
        model = apps.get_model(label)
        parent = model._meta.get_field(field).related_model
        assert parent is not None and not isinstance(parent, str)  # noqa: S101 - a foreign key's model
        there = parent._default_manager.filter(pk=OuterRef(f"{field}_id"))
        gone = model._default_manager.filter(~Exists(there)).count()
        if gone:
            yield f"{_ROWS[label]} whose {field} is not there: {gone:,} (written or removed outside Tallyroom)"


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
