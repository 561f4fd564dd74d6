"""Writes to results: one function per use case, one transaction each, each with its audit entry.

Every write first locks the tally rows of the contests it touches (in primary-key order), then
the form rows: the same order everywhere, so concurrent writers queue instead of deadlocking, and
the loser of a race sees the winner's state and gets a clear refusal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.timezone import now as timezone_now

from tallyroom.audit.chain import audit_append
from tallyroom.elections.definition import Problem
from tallyroom.elections.models import Candidate, Contest, PollingStation, Round
from tallyroom.results.content import FormContent, ballot_of, station_registered
from tallyroom.results.errors import ResultsError, ResultsErrorCode
from tallyroom.results.models import (
    COUNT_FIELDS,
    Annulment,
    AuditorDecision,
    Certification,
    DataEntry,
    FormKind,
    FormState,
    QuarantineFlag,
    ResultForm,
    ResultPreference,
    ResultVote,
)
from tallyroom.results.tally import tally_apply, tally_lock
from tallyroom.rules.checks import CheckConfig, CheckReport, check_form, compare_entries

FORM_TYPE = "result_form"


@dataclass
class FormOutcome:
    form: ResultForm
    status: str  # "accepted", "quarantined", "duplicate", "entered", "disputed", "excluded"
    flags: list[dict[str, Any]] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)


def check_config(contest: Contest, station: PollingStation | None = None) -> CheckConfig:
    """The quarantine thresholds for a contest, from its election's settings.

    A central counting unit (by-mail, conditional, mobile ballots) has no voter list of its own,
    so neither the registered voters nor the turnout checks apply to it.
    """
    settings = contest.round.election.settings
    defaults = CheckConfig()
    central = station is not None and station.kind == PollingStation.Kind.CENTRAL
    return CheckConfig(
        registered_allowance_share=Fraction(str(settings.get("same_day_allowance", 0.05))),
        max_preferences=int(settings.get("max_preferences", 1)),
        invalid_share=Fraction(str(settings.get("quarantine_invalid_share", 0.10))),
        dominant_share=Fraction(str(settings.get("quarantine_dominant_share", 0.95))),
        high_turnout_share=Fraction(str(settings.get("quarantine_high_turnout_share", 0.90))),
        require_signature=False,
        required_fields=tuple(f for f in defaults.required_fields if not (central and f == "registered")),
    )


def run_checks(form: ResultForm, content: FormContent) -> CheckReport:
    contest = form.contest
    ballot = ballot_of(contest)
    candidates = {e: [str(p) for p in positions] for e, positions in ballot.positions.items()} or None
    return check_form(
        content.station_form(station_registered(form.station)),
        check_config(contest, form.station),
        choices=ballot.entities,
        candidates=candidates,
    )


# -- the chair's preliminary form and imports of checked forms ---------------------------------


def result_form_submit(
    *,
    station: PollingStation,
    contest: Contest,
    content: FormContent,
    kind: FormKind = FormKind.PRELIMINARY,
    actor: str,
    role: str,
    replace: bool = False,
    reason: str = "",
) -> FormOutcome:
    """Record a complete form (the chair's on the night, or an import): check it, count or hold it."""
    _require_station_in_contest(station, contest)
    with transaction.atomic():
        tally_lock([contest.pk])
        _refuse_if_certified(contest)
        _refuse_if_annulled(station, contest)
        form = _locked_form(station, contest, kind)
        digest = content.sha256()
        if form is not None:
            if form.content_sha256 == digest and form.state != FormState.ANNULLED:
                return FormOutcome(form, "duplicate", _flags(form))
            if not replace:
                raise ResultsError(
                    ResultsErrorCode.FORM_EXISTS,
                    f"A different {kind} form for station {station.code} ({contest.kind}) is already recorded "
                    f"(state {form.state}). Send it with replace=true and a reason to replace it.",
                )
            if form.state in {FormState.ANNULLED, FormState.EXCLUDED} or form.kind == FormKind.OFFICIAL:
                raise ResultsError(
                    ResultsErrorCode.WRONG_STATE,
                    f"This {form.kind} form is {form.state}; it cannot be replaced by a new submission.",
                )
            _uncount(form)
            form.version += 1
        else:
            form = ResultForm(station=station, contest=contest, kind=kind)
        form.submitted_by = actor
        _write_content(form, content, FormState.VERIFIED if kind == FormKind.OFFICIAL else FormState.SUBMITTED)
        outcome = _check_and_settle(form, content)
        audit_append(
            "result_form.replaced" if form.version > 1 else "result_form.submitted",
            FORM_TYPE,
            form.pk,
            actor=actor,
            role=role,
            payload={
                "station": station.code,
                "contest": contest.pk,
                "kind": kind,
                "state": form.state,
                "content_sha256": digest,
                "reason": reason,
            },
        )
        return outcome


# -- double blind entry at the counting centre -------------------------------------------------


def data_entry_record(
    *, clerk: User, station: PollingStation, contest: Contest, content: FormContent, role: str = "clerk"
) -> FormOutcome:
    """One clerk's blind entry of the paper form; the second matching entry verifies it."""
    _require_station_in_contest(station, contest)
    with transaction.atomic():
        tally_lock([contest.pk])
        _refuse_if_certified(contest)
        _refuse_if_annulled(station, contest)
        form = _locked_form(station, contest, FormKind.OFFICIAL)
        if form is None:
            form = ResultForm.objects.create(
                station=station,
                contest=contest,
                kind=FormKind.OFFICIAL,
                state=FormState.ENTERED,
                content_sha256="",
                submitted_by=clerk.get_username(),
            )
        entries = list(form.entries.order_by("number"))
        if form.state not in {FormState.ENTERED} or len(entries) >= 2:
            raise ResultsError(
                ResultsErrorCode.WRONG_STATE,
                f"The official form of station {station.code} ({contest.kind}) is already {form.state}; "
                "no further blind entry is taken.",
            )
        if any(e.clerk_id == clerk.pk for e in entries):
            raise ResultsError(
                ResultsErrorCode.SAME_CLERK,
                "You already typed this form. A second clerk must type it blind for it to be verified.",
            )
        entry = DataEntry.objects.create(
            form=form,
            number=len(entries) + 1,
            clerk=clerk,
            content=content.as_dict(),
            content_sha256=content.sha256(),
        )
        payload: dict[str, Any] = {"station": station.code, "contest": contest.pk, "entry": entry.number}
        if entry.number == 1:
            audit_append("data_entry.first", FORM_TYPE, form.pk, actor=clerk.get_username(), role=role, payload=payload)
            return FormOutcome(form, "entered")
        first = _content_of(entries[0].content)
        report = compare_entries(
            first.station_form(station_registered(station)), content.station_form(station_registered(station))
        )
        if report.failures:
            differing = sorted({f.subject or f.fields[0] for f in report.failures})
            form.state = FormState.DISPUTED
            form.save(update_fields=["state", "updated_at"])
            audit_append(
                "data_entry.mismatch",
                FORM_TYPE,
                form.pk,
                actor=clerk.get_username(),
                role=role,
                payload={**payload, "fields": differing},
            )
            return FormOutcome(form, "disputed", differences=differing)
        _write_content(form, content, FormState.VERIFIED)
        outcome = _check_and_settle(form, content)
        audit_append(
            "data_entry.verified",
            FORM_TYPE,
            form.pk,
            actor=clerk.get_username(),
            role=role,
            payload={**payload, "state": form.state},
        )
        return outcome


def data_entry_resolve(*, supervisor: User, form: ResultForm, content: FormContent, role: str) -> FormOutcome:
    """A supervisor's third entry settles two blind entries that differ."""
    with transaction.atomic():
        tally_lock([form.contest_id])
        _refuse_if_certified(form.contest)
        form = _relock(form)
        if form.state != FormState.DISPUTED:
            raise ResultsError(ResultsErrorCode.WRONG_STATE, f"This form is {form.state}, not disputed.")
        DataEntry.objects.create(
            form=form, number=3, clerk=supervisor, content=content.as_dict(), content_sha256=content.sha256()
        )
        _write_content(form, content, FormState.VERIFIED)
        outcome = _check_and_settle(form, content)
        audit_append(
            "data_entry.resolved",
            FORM_TYPE,
            form.pk,
            actor=supervisor.get_username(),
            role=role,
            payload={"state": form.state},
        )
        return outcome


# -- the auditors' quarantine queue ------------------------------------------------------------


def quarantine_decide(
    *,
    auditor: User,
    form: ResultForm,
    decision: AuditorDecision.Decision,
    reason: str,
    expected_version: int | None = None,
    corrected: FormContent | None = None,
    recount: Mapping[str, Any] | None = None,
    role: str = "auditor",
) -> FormOutcome:
    """Accept a held form, correct it after a recount, or exclude it. The second decider gets 409."""
    if not reason.strip():
        raise ResultsError(
            ResultsErrorCode.INVALID_FORM, "A decision needs a reason.", [Problem("reason", "is required")]
        )
    if decision == AuditorDecision.Decision.CORRECT and (corrected is None or not recount):
        raise ResultsError(
            ResultsErrorCode.INVALID_FORM,
            "A correction needs the recounted form and the recount record.",
            [Problem("corrected" if corrected is None else "recount", "is required")],
        )
    with transaction.atomic():
        tally_lock([form.contest_id])
        _refuse_if_certified(form.contest)
        form = _relock(form)
        if form.state != FormState.QUARANTINED:
            raise ResultsError(
                ResultsErrorCode.WRONG_STATE,
                f"This form is no longer quarantined (now {form.state}): another decision was taken first.",
            )
        if expected_version is not None and form.version != expected_version:
            raise ResultsError(ResultsErrorCode.STALE, "The form changed since you opened it; reload it.")
        AuditorDecision.objects.create(
            form=form,
            decision=decision,
            auditor=auditor,
            reason=reason,
            recount=dict(recount or {}),
            form_version=form.version,
        )
        form.flags.filter(cleared_at__isnull=True).update(cleared_at=timezone_now())
        if decision == AuditorDecision.Decision.EXCLUDE:
            form.state = FormState.EXCLUDED
            form.save(update_fields=["state", "updated_at"])
            status = "excluded"
        else:
            if corrected is not None:
                form.version += 1
                _write_content(form, corrected, FormState.ACCEPTED)
            form.state = FormState.ACCEPTED
            form.save(update_fields=["state", "version", "updated_at"])
            _count_if_best(form)
            status = "accepted"
        audit_append(
            f"quarantine.{decision}",
            FORM_TYPE,
            form.pk,
            actor=auditor.get_username(),
            role=role,
            payload={"reason": reason, "recount": dict(recount or {}), "version": form.version},
        )
        return FormOutcome(form, status)


def result_form_send_to_recount(form: ResultForm, *, actor: str, role: str, reason: str) -> None:
    """A recount ordered (e.g. by the complaints panel): the form leaves the tally and is held."""
    with transaction.atomic():
        tally_lock([form.contest_id])
        _refuse_if_certified(form.contest)
        form = _relock(form)
        if form.state in {FormState.ANNULLED, FormState.EXCLUDED}:
            raise ResultsError(ResultsErrorCode.WRONG_STATE, f"This form is {form.state}.")
        _uncount(form)
        form.state = FormState.QUARANTINED
        form.save(update_fields=["state", "updated_at"])
        QuarantineFlag.objects.create(form=form, check_code="recount_ordered", message=reason, detail={})
        audit_append(
            "result_form.recount_ordered", FORM_TYPE, form.pk, actor=actor, role=role, payload={"reason": reason}
        )


# -- internals ---------------------------------------------------------------------------------


def _require_station_in_contest(station: PollingStation, contest: Contest) -> None:
    if station.municipality_id != contest.municipality_id:
        raise ResultsError(
            ResultsErrorCode.UNKNOWN_CONTEST,
            f"Station {station.code} does not vote in this contest (another municipality).",
            [Problem("station", "not in the contest's municipality")],
        )


def _refuse_if_annulled(station: PollingStation, contest: Contest) -> None:
    """A station annulled in a contest takes no new form for it (its votes count through the repeat
    vote, or for nothing), and a repeat vote takes forms only from the stations it repeats: either
    would count a station twice. Called under the contest's tally lock, which an annulment takes too."""
    barred = forms_barred([(station.pk, contest)]).get((station.pk, contest.pk))
    if barred is not None:
        code, message = barred
        raise ResultsError(code, f"Station {station.code}: {message}", [Problem("station", message)])


def forms_barred(pairs: Iterable[tuple[int, Contest]]) -> dict[tuple[int, int], tuple[ResultsErrorCode, str]]:
    """Of these (station, contest) pairs, those that may take no form, with the reason."""
    pairs = list(pairs)
    contests = {c.pk: c for _, c in pairs}
    stations = {s for s, _ in pairs}
    links = Annulment.stations.through.objects.filter(pollingstation_id__in=stations)
    annulled = {
        (s, c): repeat
        for s, c, repeat in links.filter(annulment__contest_id__in=contests).values_list(
            "pollingstation_id", "annulment__contest_id", "annulment__repeat_contest_id"
        )
    }
    repeat_ids = [pk for pk, c in contests.items() if c.round.kind == Round.Kind.REPEAT]
    in_repeat = set(
        links.filter(annulment__repeat_contest_id__in=repeat_ids).values_list(
            "pollingstation_id", "annulment__repeat_contest_id"
        )
    )
    barred: dict[tuple[int, int], tuple[ResultsErrorCode, str]] = {}
    for s, contest in pairs:
        if (s, contest.pk) in annulled:
            repeat = annulled[s, contest.pk]
            where = (
                f"its votes count through the repeat vote (contest {repeat})" if repeat else "they count for nothing"
            )
            barred[s, contest.pk] = (ResultsErrorCode.ANNULLED, f"its results for this contest were annulled: {where}")
        elif contest.pk in repeat_ids and (s, contest.pk) not in in_repeat:
            barred[s, contest.pk] = (
                ResultsErrorCode.UNKNOWN_CONTEST,
                "not in this repeat vote (only stations whose results were annulled vote again)",
            )
    return barred


def _refuse_if_certified(contest: Contest) -> None:
    """A certified contest is locked, and so is a repeat vote whose results count in it."""
    repeat = contest.parent_id is not None and contest.round.kind == Round.Kind.REPEAT
    locked = [contest.pk, contest.parent_id] if repeat else [contest.pk]
    if Certification.objects.filter(contest_id__in=locked, revoked_at__isnull=True).exists():
        raise ResultsError(ResultsErrorCode.CERTIFIED, "This contest's results are certified and locked.")


def _locked_form(station: PollingStation, contest: Contest, kind: str) -> ResultForm | None:
    """The form row, locked; its station and contest are the caller's (read once per request)."""
    form = ResultForm.objects.select_for_update().filter(station=station, contest=contest, kind=kind).first()
    if form is not None:
        form.station, form.contest = station, contest
    return form


def _relock(form: ResultForm) -> ResultForm:
    # Lock the form's row only: a plain FOR UPDATE would lock the joined rows too, the election's
    # among them, and queue every writer of the election behind one another.
    return (
        ResultForm.objects.select_for_update(of=("self",))
        .select_related("station", "contest__round__election")
        .defer("contest__round__election__definition_packed")
        .get(pk=form.pk)
    )


def _content_of(data: Mapping[str, Any]) -> FormContent:
    prefs = {e: {int(p): v for p, v in c.items()} for e, c in (data.get("preferences") or {}).items()}
    return FormContent(
        votes=data["votes"],
        invalid=data["invalid"],
        blank=data.get("blank", 0),
        conditional=data.get("conditional", 0),
        signatures=data.get("signatures"),
        ballots_received=data.get("ballots_received"),
        ballots_used=data.get("ballots_used"),
        ballots_unused=data.get("ballots_unused"),
        ballots_spoiled=data.get("ballots_spoiled"),
        committee_signed=data.get("committee_signed"),
        preferences=prefs,
    )


def form_content(form: ResultForm) -> FormContent:
    """The content a stored form holds (for comparisons and corrections)."""
    votes = dict(ResultVote.objects.filter(form=form).values_list("entity__code", "votes"))
    prefs: dict[str, dict[int, int]] = {}
    for entity, position, votes_ in ResultPreference.objects.filter(form=form).values_list(
        "candidate__entity__code", "candidate__position", "votes"
    ):
        prefs.setdefault(entity, {})[position] = votes_
    return FormContent(
        votes=votes,
        invalid=form.invalid,
        blank=form.blank,
        conditional=form.conditional,
        signatures=form.signatures,
        ballots_received=form.ballots_received,
        ballots_used=form.ballots_used,
        ballots_unused=form.ballots_unused,
        ballots_spoiled=form.ballots_spoiled,
        committee_signed=form.committee_signed,
        preferences=prefs,
    )


def copy_counts(form: ResultForm, content: FormContent) -> None:
    """Put a content's numbers on a form row (not saved): the one place both write paths use."""
    for name in (*COUNT_FIELDS, "committee_signed"):
        setattr(form, name, getattr(content, name))
    form.valid = content.valid
    form.content_sha256 = content.sha256()


def _write_content(form: ResultForm, content: FormContent, state: str) -> None:
    copy_counts(form, content)
    form.state = state
    form.counted = False
    new = form._state.adding
    form.save()
    if not new:  # a new form has no rows to replace
        ResultVote.objects.filter(form=form).delete()
        ResultPreference.objects.filter(form=form).delete()
    entity_ids = _entity_ids(form.contest)
    ResultVote.objects.bulk_create(
        [ResultVote(form=form, entity_id=entity_ids[code], votes=v) for code, v in content.votes.items()]
    )
    if content.preferences:
        candidate_ids = _candidate_ids(form.contest)
        ResultPreference.objects.bulk_create(
            [
                ResultPreference(form=form, candidate_id=candidate_ids[(e, p)], votes=v)
                for e, by_position in content.preferences.items()
                for p, v in by_position.items()
                if v
            ]
        )


def _entity_ids(contest: Contest) -> dict[str, int]:
    if contest.kind == Contest.Kind.MAYOR:
        return dict(contest.candidates.values_list("entity__code", "entity_id"))
    return dict(contest.entities.values_list("code", "pk"))


def _candidate_ids(contest: Contest) -> dict[tuple[str, int], int]:
    rows = Candidate.objects.filter(
        municipality_id=contest.municipality_id, office=Candidate.Office.ASSEMBLY
    ).values_list("entity__code", "position", "pk")
    return {(e, p): pk for e, p, pk in rows}


def _check_and_settle(form: ResultForm, content: FormContent) -> FormOutcome:
    """Run the quarantine checks: a clean form is accepted (and counted if it is the best one)."""
    report = run_checks(form, content)
    form.flags.filter(cleared_at__isnull=True).delete()
    if report.failures:
        QuarantineFlag.objects.bulk_create(
            [
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
            ]
        )
        form.state = FormState.QUARANTINED
        form.save(update_fields=["state", "updated_at"])
        return FormOutcome(form, "quarantined", _flags(form))
    form.state = FormState.ACCEPTED
    form.save(update_fields=["state", "updated_at"])
    _count_if_best(form)
    return FormOutcome(form, "accepted")


def _flags(form: ResultForm) -> list[dict[str, Any]]:
    return [
        {"check": f.check_code, "message": f.message, **f.detail}
        for f in form.flags.filter(cleared_at__isnull=True).order_by("check_code")
    ]


def _count_if_best(form: ResultForm) -> None:
    """Count an accepted form unless a better one (the official count) already is."""
    current = (
        ResultForm.objects.select_for_update()
        .filter(station_id=form.station_id, contest_id=form.contest_id, counted=True)
        .exclude(pk=form.pk)
        .first()
    )
    if current is not None:
        if current.kind == FormKind.OFFICIAL and form.kind == FormKind.PRELIMINARY:
            return
        _uncount(current)
    ResultForm.objects.filter(pk=form.pk).update(counted=True)
    form.counted = True
    tally_apply([form.pk], +1)


def _uncount(form: ResultForm) -> None:
    if not form.counted:
        return
    tally_apply([form.pk], -1)
    ResultForm.objects.filter(pk=form.pk).update(counted=False)
    form.counted = False
    # The preliminary form steps back in when the official one leaves the tally.
    if form.kind == FormKind.OFFICIAL:
        fallback = ResultForm.objects.filter(
            station_id=form.station_id,
            contest_id=form.contest_id,
            kind=FormKind.PRELIMINARY,
            state=FormState.ACCEPTED,
        ).first()
        if fallback is not None:
            ResultForm.objects.filter(pk=fallback.pk).update(counted=True)
            tally_apply([fallback.pk], +1)


def forms_annul(forms: Sequence[ResultForm], *, actor: str, role: str, annulment_ref: str) -> None:
    """Void forms (the caller holds the tally locks); each gets its own chain entry."""
    from tallyroom.audit.chain import PendingEntry, audit_append_many
    from tallyroom.results.audit import UNWRITTEN, form_audit_state

    for form in forms:
        if form.counted:
            tally_apply([form.pk], -1)
    ResultForm.objects.filter(pk__in=[f.pk for f in forms]).update(state=FormState.ANNULLED, counted=False)
    pending = []
    for form in forms:
        unwritten = form.state in UNWRITTEN
        form.state = FormState.ANNULLED
        sha = "" if unwritten else form_content(form).sha256()
        pending.append(
            PendingEntry(
                "result_form.annulled",
                FORM_TYPE,
                str(form.pk),
                form_audit_state(form, sha),
                {"annulment": annulment_ref},
            )
        )
    audit_append_many(pending, actor=actor, role=role)
