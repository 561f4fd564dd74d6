"""Many forms in one transaction: counting centres, imports, and election-night replays.

Set-based: a few queries per batch, not per form. Each form gets its own outcome (accepted,
quarantined, duplicate, conflict, rejected); a rejected form stores nothing, the others commit
together with their tally changes and their chain entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from tallyroom.audit.chain import PendingEntry, audit_append_many
from tallyroom.elections.definition import Problem
from tallyroom.elections.models import Contest, Election, PollingStation, Round
from tallyroom.fastsql import constraints_immediate, insert_int_rows, insert_models
from tallyroom.results.audit import form_audit_state
from tallyroom.results.content import Ballot, FormContent, ballot_of, parse_content, station_registered
from tallyroom.results.errors import ResultsError, ResultsErrorCode
from tallyroom.results.models import (
    Certification,
    FormKind,
    FormState,
    QuarantineFlag,
    ResultForm,
    ResultPreference,
    ResultVote,
)
from tallyroom.results.services import FORM_TYPE, _candidate_ids, _entity_ids, check_config, copy_counts, forms_barred
from tallyroom.results.tally import TallyDelta, tally_add, tally_apply, tally_lock
from tallyroom.rules.checks import check_form

MAX_BATCH = 10_000


@dataclass(frozen=True)
class BulkItem:
    station: str
    contest: str  # "mayor" or "assembly"
    data: Mapping[str, Any]
    round: str | None = None  # default: the election's first round
    kind: FormKind = FormKind.PRELIMINARY


@dataclass
class BulkOutcome:
    index: int
    status: str  # accepted, quarantined, duplicate, conflict, rejected
    form_id: int | None = None
    problems: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


@dataclass
class _Context:
    contest: Contest
    ballot: Ballot
    entity_ids: dict[str, int]
    candidate_ids: dict[tuple[str, int], int]
    config: Any
    central_config: Any


def result_forms_submit_bulk(
    election: Election, items: Sequence[BulkItem], *, actor: str, role: str
) -> list[BulkOutcome]:
    if len(items) > MAX_BATCH:
        raise ResultsError(
            ResultsErrorCode.INVALID_FORM,
            f"At most {MAX_BATCH:,} forms per request.",
            [Problem("forms", f"has {len(items):,} items")],
        )
    outcomes: list[BulkOutcome] = [BulkOutcome(i, "rejected") for i in range(len(items))]
    stations = {
        s.code: s for s in PollingStation.objects.filter(election=election, code__any={i.station for i in items})
    }
    rounds = {r.code: r for r in Round.objects.filter(election=election)}
    first = next((r for r in rounds.values() if r.kind == Round.Kind.FIRST), None)
    contests = _contests(election, stations.values())
    contexts: dict[int, _Context] = {}
    wanted: list[tuple[int, PollingStation, Contest, FormContent, FormKind]] = []
    for i, item in enumerate(items):
        station = stations.get(item.station)
        rnd = rounds.get(item.round) if item.round else first
        if station is None or rnd is None:
            what = f"unknown station {item.station!r}" if station is None else f"unknown round {item.round!r}"
            outcomes[i].problems.append(what)
            continue
        contest = contests.get((rnd.pk, station.municipality_id, item.contest))
        if contest is None:
            outcomes[i].problems.append(f"no {item.contest} contest for station {item.station} in round {rnd.code}")
            continue
        ctx = contexts.get(contest.pk) or contexts.setdefault(contest.pk, _context(contest))
        content, problems = parse_content(item.data, ctx.ballot)
        if content is None:
            outcomes[i].problems.extend(str(p) for p in problems)
            continue
        wanted.append((i, station, contest, content, item.kind))
    if not wanted:
        return outcomes
    with transaction.atomic():
        constraints_immediate()
        tally_lock(sorted({c.pk for _, _, c, _, _ in wanted}))
        # A repeat vote is locked with the contest whose results it completes.
        parents = {
            pk: ctx.contest.parent_id if ctx.contest.round.kind == Round.Kind.REPEAT else None
            for pk, ctx in contexts.items()
        }
        locked_ids = set(
            Certification.objects.filter(
                contest_id__in={*parents, *(p for p in parents.values() if p)}, revoked_at__isnull=True
            ).values_list("contest_id", flat=True)
        )
        certified = {pk for pk, parent in parents.items() if pk in locked_ids or parent in locked_ids}
        barred = forms_barred({(s.pk, c) for _, s, c, _, _ in wanted})
        fresh = _settle_existing(wanted, outcomes, certified, barred)
        _store(fresh, contexts, outcomes, actor=actor, role=role)
    return outcomes


def _contests(election: Election, stations: Any) -> dict[tuple[int, int, str], Contest]:
    municipality_ids = {s.municipality_id for s in stations}
    return {
        (c.round_id, c.municipality_id, c.kind): c
        for c in Contest.objects.filter(round__election=election, municipality_id__in=municipality_ids)
        .exclude(round__kind=Round.Kind.REPEAT)
        .select_related("round__election")
        .defer("round__election__definition_packed")
    } | {
        # A repeat vote's stations report to the repeat contest of their round.
        (c.round_id, c.municipality_id, c.kind): c
        for c in Contest.objects.filter(
            round__election=election, municipality_id__in=municipality_ids, round__kind=Round.Kind.REPEAT
        )
        .select_related("round__election")
        .defer("round__election__definition_packed")
    }


def _context(contest: Contest) -> _Context:
    central = PollingStation(kind=PollingStation.Kind.CENTRAL)
    return _Context(
        contest,
        ballot_of(contest),
        _entity_ids(contest),
        _candidate_ids(contest),
        check_config(contest),
        check_config(contest, central),
    )


def _settle_existing(
    wanted: list[tuple[int, PollingStation, Contest, FormContent, FormKind]],
    outcomes: list[BulkOutcome],
    certified: set[int],
    barred: Mapping[tuple[int, int], tuple[ResultsErrorCode, str]],
) -> list[tuple[int, PollingStation, Contest, FormContent, FormKind]]:
    """Drop duplicates (same content) and conflicts (different content) with stored or earlier forms."""
    keys = {(s.pk, c.pk, k) for _, s, c, _, k in wanted}
    stored = {
        (f.station_id, f.contest_id, f.kind): f
        for f in ResultForm.objects.filter(station_id__any={k[0] for k in keys}, contest_id__any={k[1] for k in keys})
    }
    fresh = []
    seen: dict[tuple[int, int, str], str] = {}
    for i, station, contest, content, kind in wanted:
        key = (station.pk, contest.pk, str(kind))
        digest = content.sha256()
        existing = stored.get(key)
        earlier = seen.get(key)
        if existing is not None or earlier is not None:
            same = (existing.content_sha256 if existing else earlier) == digest
            outcomes[i].status = "duplicate" if same else "conflict"
            outcomes[i].form_id = existing.pk if existing else None
            if not same:
                outcomes[i].problems.append(
                    f"a different {kind} form for station {station.code} ({contest.kind}) is already recorded"
                )
        elif contest.pk in certified:
            outcomes[i].status = "conflict"
            outcomes[i].problems.append("the contest's results are certified and locked")
        elif (station.pk, contest.pk) in barred:
            code, message = barred[station.pk, contest.pk]
            outcomes[i].status = "conflict" if code is ResultsErrorCode.ANNULLED else "rejected"
            outcomes[i].problems.append(f"station {station.code}: {message}")
        else:
            seen[key] = digest
            fresh.append((i, station, contest, content, kind))
    return fresh


def _store(
    fresh: list[tuple[int, PollingStation, Contest, FormContent, FormKind]],
    contexts: Mapping[int, _Context],
    outcomes: list[BulkOutcome],
    *,
    actor: str,
    role: str,
) -> None:
    forms: list[ResultForm] = []
    reports = []
    for _i, station, contest, content, kind in fresh:
        ctx = contexts[contest.pk]
        candidates = {e: [str(p) for p in ps] for e, ps in ctx.ballot.positions.items()} or None
        central = station.kind == PollingStation.Kind.CENTRAL
        report = check_form(
            content.station_form(station_registered(station)),
            ctx.central_config if central else ctx.config,
            choices=ctx.ballot.entities,
            candidates=candidates,
        )
        reports.append(report)
        form = ResultForm(
            station_id=station.pk,  # ids, not instances: the related descriptors cost per form
            contest_id=contest.pk,
            kind=kind,
            submitted_by=actor,
            state=FormState.QUARANTINED if report.failures else FormState.ACCEPTED,
        )
        copy_counts(form, content)
        forms.append(form)
    leaving = _plan_counted(forms)
    if leaving:
        tally_apply(leaving, -1)
        ResultForm.objects.filter(pk__any=leaving).update(counted=False)
    insert_models(forms)
    vote_rows: list[tuple[int, int, int]] = []
    pref_rows: list[tuple[int, int, int]] = []
    flags: list[QuarantineFlag] = []
    delta = TallyDelta()
    for form, (_i, station, contest, content, _k), report in zip(forms, fresh, reports, strict=True):
        ctx = contexts[contest.pk]
        pk = form.pk
        votes = [(ctx.entity_ids[e], v) for e, v in content.votes.items()]
        prefs = [
            (ctx.candidate_ids[(e, p)], v)
            for e, by_position in content.preferences.items()
            for p, v in by_position.items()
            if v
        ]
        vote_rows.extend((pk, choice, v) for choice, v in votes)
        pref_rows.extend((pk, choice, v) for choice, v in prefs)
        if form.counted:
            delta.add(form, station_registered(station), votes, prefs)
        flags.extend(
            QuarantineFlag(
                form=form,
                check_code=str(f.code),
                message=f.message,
                detail={
                    "severity": str(f.severity),
                    "fields": list(f.fields),
                    "observed": str(f.observed),
                    "limit": str(f.limit),
                    "subject": f.subject,
                },
            )
            for f in report.failures
        )
    insert_int_rows(ResultVote, ("form", "entity", "votes"), vote_rows)
    insert_int_rows(ResultPreference, ("form", "candidate", "votes"), pref_rows)
    QuarantineFlag.objects.bulk_create(flags, batch_size=5000)
    tally_add(delta)
    audit_append_many(
        [
            PendingEntry(
                "result_form.submitted",
                FORM_TYPE,
                str(f.pk),
                form_audit_state(f, f.content_sha256),
                {"station": s.code, "contest": c.pk, "kind": str(k), "state": f.state, "bulk": True},
            )
            for f, (_i, s, c, _content, k) in zip(forms, fresh, strict=True)
        ],
        actor=actor,
        role=role,
    )
    for form, (i, *_rest), report in zip(forms, fresh, reports, strict=True):
        outcomes[i].status = str(form.state)
        outcomes[i].form_id = form.pk
        outcomes[i].flags = [str(f.code) for f in report.failures]


def _plan_counted(forms: list[ResultForm]) -> list[int]:
    """Mark the new forms that count (an official form replaces a counted preliminary one of its
    station, never the reverse) before they are inserted; return the stored forms leaving the tally."""
    accepted = [f for f in forms if f.state == FormState.ACCEPTED]
    if not accepted:
        return []
    counted = {
        (f.station_id, f.contest_id): f
        for f in ResultForm.objects.filter(
            counted=True,
            station_id__any={f.station_id for f in accepted},
            contest_id__in={f.contest_id for f in accepted},
        )
    }
    leaving: list[int] = []
    for form in accepted:
        current = counted.get((form.station_id, form.contest_id))
        if current is not None and current.kind == FormKind.OFFICIAL and form.kind == FormKind.PRELIMINARY:
            continue
        if current is not None:
            # A form of this batch that another of this batch replaces is simply never counted.
            if current._state.adding:
                current.counted = False
            else:
                leaving.append(current.pk)
        form.counted = True
        counted[(form.station_id, form.contest_id)] = form
    return leaving
