"""The commission's and the panel's decisions: runoffs, annulments and repeat votes, complaints,
certification. One function per decision, one transaction, one audit entry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.utils.timezone import now as timezone_now

from tallyroom.audit.chain import audit_append, digest
from tallyroom.elections.definition import Problem
from tallyroom.elections.models import Contest, ContestCandidate, Election, Municipality, PollingStation, Round
from tallyroom.results.errors import ResultsError, ResultsErrorCode
from tallyroom.results.models import Annulment, Certification, Complaint, FormKind, FormState, ResultForm
from tallyroom.results.selectors import contest_results, open_complaints, station_statuses
from tallyroom.results.services import _refuse_if_certified, forms_annul, result_form_send_to_recount
from tallyroom.results.tally import tally_ensure, tally_lock


def repeat_round_create(election: Election, *, code: str, date: dt.date, actor: str, role: str) -> Round:
    """A round of repeat voting, for the stations annulments will name."""
    with transaction.atomic():
        rnd, created = Round.objects.get_or_create(
            election=election,
            code=code,
            defaults={"kind": Round.Kind.REPEAT, "date": date, "name_en": f"Repeat voting {date.isoformat()}"},
        )
        if created:
            audit_append(
                "round.created",
                "election",
                election.code,
                actor=actor,
                role=role,
                payload={"round": code, "kind": "repeat", "date": date.isoformat()},
            )
        return rnd


def runoff_create(contest: Contest, *, actor: str, role: str) -> Contest:
    """The runoff between the two leaders of a mayoral first round that elected nobody."""
    if contest.kind != Contest.Kind.MAYOR or contest.round.kind != Round.Kind.FIRST:
        raise ResultsError(ResultsErrorCode.WRONG_STATE, "Only a first-round mayoral contest can go to a runoff.")
    with transaction.atomic():
        tally_lock([contest.pk])
        existing = contest.continuations.filter(round__kind=Round.Kind.RUNOFF).first()
        if existing is not None:
            return existing
        results = contest_results(contest)
        mayor = results.get("mayor", {})
        if mayor.get("status") != "runoff" or len(mayor.get("finalists", [])) < 2:
            raise ResultsError(
                ResultsErrorCode.NOT_READY,
                f"No runoff: the first round's outcome is {mayor.get('status', 'not known')!r}.",
            )
        runoff_round = contest.round.election.rounds.filter(kind=Round.Kind.RUNOFF).order_by("date").first()
        if runoff_round is None:
            raise ResultsError(ResultsErrorCode.NOT_READY, "The election defines no runoff round.")
        finalists = [c for c in results["choices"] if c.get("candidate") in mayor["finalists"]]
        runoff = Contest.objects.create(
            round=runoff_round, municipality=contest.municipality, kind=Contest.Kind.MAYOR, seats=1, parent=contest
        )
        ContestCandidate.objects.bulk_create(
            [
                ContestCandidate(contest=runoff, candidate_id=c["candidate_id"], ballot_position=i)
                for i, c in enumerate(finalists, start=1)
            ]
        )
        tally_ensure([runoff.pk])
        audit_append(
            "contest.runoff_created",
            "contest",
            runoff.pk,
            actor=actor,
            role=role,
            payload={"parent": contest.pk, "finalists": [c["candidate"] for c in finalists]},
        )
        return runoff


def annulment_decide(
    *,
    contest: Contest,
    stations: Sequence[PollingStation],
    legal_basis: str,
    reason: str,
    actor: str,
    role: str,
    complaint: Complaint | None = None,
    incident_refs: Sequence[str] = (),
    repeat_round: Round | None = None,
) -> Annulment:
    """Void the stations' forms for a contest (they stay on record); optionally order a repeat vote."""
    problems = [Problem(f, "is required") for f, v in (("legal_basis", legal_basis), ("reason", reason)) if not v]
    if not stations:
        problems.append(Problem("stations", "name at least one station"))
    wrong = [s.code for s in stations if s.municipality_id != contest.municipality_id]
    if wrong:
        problems.append(Problem("stations", f"not in this contest's municipality: {', '.join(wrong)}"))
    if repeat_round is not None and repeat_round.kind != Round.Kind.REPEAT:
        problems.append(Problem("repeat_round", "must be a round of kind 'repeat'"))
    if problems:
        raise ResultsError(ResultsErrorCode.INVALID_FORM, "The annulment cannot be recorded.", problems)
    with transaction.atomic():
        repeat_contest = None
        if repeat_round is not None:
            repeat_contest, _ = Contest.objects.get_or_create(
                round=repeat_round,
                municipality=contest.municipality,
                kind=contest.kind,
                defaults={"seats": contest.seats, "parent": contest},
            )
            _copy_ballot(contest, repeat_contest)
        tally_lock([contest.pk] + ([repeat_contest.pk] if repeat_contest else []))
        _refuse_if_certified(contest)
        forms = list(
            ResultForm.objects.select_for_update().filter(contest=contest, station__in=stations).order_by("pk")
        )
        annulment = Annulment.objects.create(
            contest=contest,
            legal_basis=legal_basis,
            reason=reason,
            complaint=complaint,
            incident_refs=list(incident_refs),
            decided_by=actor,
            decided_at=timezone_now(),
            repeat_contest=repeat_contest,
        )
        annulment.stations.set(stations)
        forms_annul(forms, actor=actor, role=role, annulment_ref=str(annulment.pk))
        audit_append(
            "annulment.decided",
            "annulment",
            annulment.pk,
            actor=actor,
            role=role,
            payload={
                "contest": contest.pk,
                "stations": sorted(s.code for s in stations),
                "forms_annulled": len(forms),
                "repeat_round": repeat_round.code if repeat_round else None,
                "legal_basis": legal_basis,
            },
        )
        return annulment


def _copy_ballot(contest: Contest, repeat: Contest) -> None:
    """A repeat vote uses the same ballot as the contest it repeats."""
    from tallyroom.elections.models import ContestEntity

    if not repeat.entities.exists():
        ContestEntity.objects.bulk_create(
            [
                ContestEntity(contest=repeat, entity_id=e, ballot_position=p)
                for e, p in ContestEntity.objects.filter(contest=contest).values_list("entity_id", "ballot_position")
            ]
        )
    if not repeat.candidates.exists():
        ContestCandidate.objects.bulk_create(
            [
                ContestCandidate(contest=repeat, candidate_id=c, ballot_position=p)
                for c, p in ContestCandidate.objects.filter(contest=contest).values_list(
                    "candidate_id", "ballot_position"
                )
            ]
        )


def complaint_file(
    *,
    municipality: Municipality,
    complainant: str,
    subject: str,
    actor: str,
    role: str,
    station: PollingStation | None = None,
    contest: Contest | None = None,
    filed_at: dt.datetime | None = None,
) -> Complaint:
    """File a complaint; its deciding deadline follows the election's settings (Kosovo's by default)."""
    settings = municipality.election.settings
    filed = filed_at or timezone_now()
    deciding = dt.timedelta(hours=int(settings.get("complaint_deciding_hours", 72)))
    with transaction.atomic():
        complaint = Complaint.objects.create(
            municipality=municipality,
            station=station,
            contest=contest,
            complainant=complainant,
            subject=subject,
            filed_by=actor,
            filed_at=filed,
            decide_by=filed + deciding,
            late=_filed_late(municipality, filed),
        )
        audit_append(
            "complaint.filed",
            "complaint",
            complaint.pk,
            actor=actor,
            role=role,
            payload={"municipality": municipality.code, "station": station.code if station else None},
        )
        return complaint


def _filed_late(municipality: Municipality, filed: dt.datetime) -> bool:
    """Late when filed more than the filing window after the municipality's last certification or,
    before any, after the count of its last round closed (the window is counted from results)."""
    hours = int(municipality.election.settings.get("complaint_filing_hours", 24))
    announced = (
        Certification.objects.filter(contest__municipality=municipality, revoked_at__isnull=True)
        .order_by("-certified_at")
        .values_list("certified_at", flat=True)
        .first()
    )
    return announced is not None and filed > announced + dt.timedelta(hours=hours)


def complaint_decide(
    complaint: Complaint,
    *,
    decision: Complaint.Decision,
    reasoning: str,
    actor: str,
    role: str,
    legal_basis: str = "",
    repeat_round: Round | None = None,
) -> Complaint:
    """The panel's decision: reject, order a recount (the form goes back), or order an annulment."""
    with transaction.atomic():
        complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
        if complaint.state != Complaint.State.OPEN:
            raise ResultsError(ResultsErrorCode.WRONG_STATE, "This complaint is already decided.")
        if decision != Complaint.Decision.REJECTED and (complaint.station is None or complaint.contest is None):
            raise ResultsError(
                ResultsErrorCode.INVALID_FORM,
                "A recount or annulment needs the complaint's station and contest.",
                [Problem("station", "is required for this decision")],
            )
        if decision == Complaint.Decision.RECOUNT:
            for form in ResultForm.objects.filter(station=complaint.station, contest=complaint.contest).exclude(
                state__in=[FormState.ANNULLED, FormState.EXCLUDED]
            ):
                result_form_send_to_recount(
                    form, actor=actor, role=role, reason=f"Recount ordered by complaint {complaint.pk}: {reasoning}"
                )
        elif decision == Complaint.Decision.ANNULMENT:
            assert complaint.contest is not None and complaint.station is not None  # noqa: S101 - checked above
            annulment_decide(
                contest=complaint.contest,
                stations=[complaint.station],
                legal_basis=legal_basis or "complaints panel decision",
                reason=reasoning,
                actor=actor,
                role=role,
                complaint=complaint,
                repeat_round=repeat_round,
            )
        complaint.state = Complaint.State.DECIDED
        complaint.decision = decision
        complaint.decision_reason = reasoning
        complaint.decided_by = actor
        complaint.decided_at = timezone_now()
        complaint.save()
        audit_append(
            f"complaint.{decision}", "complaint", complaint.pk, actor=actor, role=role, payload={"reasoning": reasoning}
        )
        return complaint


def certification_blockers(contest: Contest) -> list[str]:
    """Why a contest cannot be certified yet; empty when it can."""
    blockers = []
    statuses = station_statuses(contest)
    pending = [s for s, st in statuses.items() if st in {"pending", "annulled-repeat-pending"}]
    held = [s for s, st in statuses.items() if st == "quarantined"]
    if pending:
        blockers.append(f"{len(pending)} station(s) not yet accounted for")
    if held:
        blockers.append(f"{len(held)} station(s) with a quarantined form")
    # An official count still being typed, disputed or held must settle first, even where an
    # accepted preliminary form stands in for it.
    in_progress = ResultForm.objects.filter(
        contest=contest,
        kind=FormKind.OFFICIAL,
        state__in=[FormState.QUARANTINED, FormState.ENTERED, FormState.DISPUTED, FormState.VERIFIED],
    ).exclude(station_id__in=held)
    if in_progress.exists():
        blockers.append(f"{in_progress.count()} official form(s) still being entered or held")
    complaints = open_complaints(contest).count()
    if complaints:
        blockers.append(f"{complaints} open complaint(s) in the municipality")
    results = contest_results(contest)
    if contest.kind == Contest.Kind.ASSEMBLY and results.get("assembly", {}).get("tie"):
        blockers.append("a tie for the last seat must be resolved by lot first")
    if contest.kind == Contest.Kind.MAYOR and results.get("mayor", {}).get("tie"):
        blockers.append("a tie between candidates must be resolved first")
    return blockers


def contest_certify(contest: Contest, *, actor: str, role: str) -> Certification:
    """Certify and lock a contest's results; a first round without a majority gets its runoff."""
    with transaction.atomic():
        tally_lock([contest.pk])
        _refuse_if_certified(contest)
        blockers = certification_blockers(contest)
        if blockers:
            raise ResultsError(ResultsErrorCode.NOT_READY, "Cannot certify yet: " + "; ".join(blockers) + ".")
        results = contest_results(contest)
        results["status"] = "certified"
        certification = Certification.objects.create(
            contest=contest,
            certified_by=actor,
            certified_at=timezone_now(),
            results=results,
            results_sha256=digest(results),
        )
        audit_append(
            "contest.certified",
            "certification",
            certification.pk,
            actor=actor,
            role=role,
            payload={"contest": contest.pk, "results_sha256": certification.results_sha256},
        )
    if contest.kind == Contest.Kind.MAYOR and results.get("mayor", {}).get("status") == "runoff":
        runoff_create(contest, actor=actor, role=role)
    return certification
