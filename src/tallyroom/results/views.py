"""The count's pages: the clerks' blind entry desk, the auditors' quarantine queue and decisions, the
complaints panel, and the commission's progress with certification and CSV lists. Thin: the access
helpers check, results.services and results.decisions write, the selectors read."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.timezone import now as timezone_now
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tallyroom.accounts.models import Role
from tallyroom.elections.models import Contest, Election, Municipality, PollingStation, Round
from tallyroom.polling import access as polling_access
from tallyroom.polling import clock
from tallyroom.polling.errors import PollingError
from tallyroom.results import decisions, services
from tallyroom.results.access import access_role
from tallyroom.results.audit import UNWRITTEN
from tallyroom.results.content import ballot_of
from tallyroom.results.errors import ResultsError
from tallyroom.results.forms import (
    COUNT_LABELS,
    BallotForm,
    ChooseForm,
    ComplaintDecisionForm,
    ComplaintForm,
    DecisionForm,
    EntryKeyForm,
)
from tallyroom.results.models import (
    AuditorDecision,
    Certification,
    Complaint,
    DataEntry,
    FormKind,
    FormState,
    QuarantineFlag,
    ResultForm,
)
from tallyroom.results.selectors import station_statuses

ENTRY_OUTCOME = "results.entry.outcome"
QUEUE_LIMIT = 500
READERS = frozenset({Role.ADMIN, Role.AUDITOR, Role.PANEL})
STATUS_COLUMNS = ["counted-official", "counted-preliminary", "quarantined", "pending", "annulled"]


# --- helpers --------------------------------------------------------------------------------------


def _election(code: str) -> Election:
    election: Election | None = clock.elections().filter(code=code).first()
    if election is None:
        raise Http404
    return election


def _role(
    request: HttpRequest, election: Election, roles: tuple[Role, ...], municipality_id: int | None = None
) -> polling_access.Reporter:
    """The caller's role for this act, or 403 (anonymous callers never get here: login_required)."""
    try:
        return access_role(request.user, election, roles, municipality_id=municipality_id)
    except PollingError as exc:
        raise PermissionDenied(exc.message) from None


def _readable_municipalities(request: HttpRequest, election: Election) -> set[int] | None:
    """Progress and lists: the commission, auditors and the panel see every municipality (None), an
    official their own; anyone else is refused."""
    try:
        viewer = polling_access.access_viewer(request.user, election)
    except PollingError as exc:
        raise PermissionDenied(exc.message) from None
    if viewer.roles & READERS:
        return None
    if Role.OFFICIAL in viewer.roles and viewer.municipality_ids:
        return set(viewer.municipality_ids)
    raise PermissionDenied(_("Your role does not allow this."))


def _user(reporter: polling_access.Reporter) -> Any:
    if reporter.user is None:  # devices are refused by the access helpers
        raise PermissionDenied
    return reporter.user


def _municipalities(election: Election, allowed: set[int] | None = None) -> QuerySet[Municipality]:
    munis = Municipality.objects.filter(election=election).order_by("code")
    return munis if allowed is None else munis.filter(pk__in=allowed)


def _rounds(election: Election) -> list[tuple[str, str]]:
    return [
        (r.code, f"{r.code} · {r.get_kind_display()} · {r.date.isoformat()}")
        for r in Round.objects.filter(election=election).order_by("date", "code")
    ]


def _form_or_404(election: Election, form_id: int) -> ResultForm:
    form = (
        ResultForm.objects.select_related("station", "contest__round", "contest__municipality")
        .filter(pk=form_id, contest__round__election=election)
        .first()
    )
    if form is None:
        raise Http404
    return form


# --- the clerks' desk -----------------------------------------------------------------------------


def _find_contest(
    election: Election, station_code: str, kind: str, round_code: str
) -> tuple[PollingStation | None, Contest | None, str]:
    station = PollingStation.objects.filter(election=election, code=station_code).first()
    if station is None:
        return None, None, _("No polling station %(code)s in this election.") % {"code": station_code}
    contest = (
        Contest.objects.select_related("round__election", "municipality")
        .defer("round__election__definition_packed")
        .filter(round__election=election, round__code=round_code, municipality_id=station.municipality_id, kind=kind)
        .first()
    )
    if contest is None:
        return station, None, _("Station %(code)s has no such contest in this round.") % {"code": station_code}
    return station, contest, ""


def _flatten(content: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in content.items() if k not in {"votes", "preferences"}}
    flat.update({f"votes.{e}": v for e, v in (content.get("votes") or {}).items()})
    for e, by_position in (content.get("preferences") or {}).items():
        flat.update({f"preferences.{e}.{p}": v for p, v in by_position.items()})
    return flat


def _differing_fields(form: ResultForm) -> list[str]:
    """Which boxes of the paper form the two blind entries typed differently: names only, never values."""
    labels = {name: str(label) for name, label, _required in COUNT_LABELS}
    entries = [_flatten(e.content) for e in DataEntry.objects.filter(form=form).order_by("number")[:2]]
    if len(entries) < 2:
        return []
    out = []
    for key in sorted(set(entries[0]) | set(entries[1])):
        if (entries[0].get(key) or 0) == (entries[1].get(key) or 0):
            continue
        if key.startswith("votes."):
            out.append(_("votes for %(choice)s") % {"choice": key.removeprefix("votes.")})
        elif key.startswith("preferences."):
            _p, entity, position = key.split(".")
            out.append(_("preference votes for %(entity)s #%(position)s") % {"entity": entity, "position": position})
        else:
            out.append(labels.get(key, key))
    return out


def _entry_open(election: Election, choose: ChooseForm) -> tuple[PollingStation | None, Contest | None, int]:
    """The station and contest a clerk asked for, or the reason on the form."""
    if not choose.is_valid():
        return None, None, 422
    data = choose.cleaned_data
    station, contest, error = _find_contest(election, data["station"], data["contest"], data["round"])
    if contest is None:
        choose.add_error("station", error)
        return None, None, 404
    return station, contest, 200


@login_required
@require_http_methods(["GET", "POST"])
def entry(request: HttpRequest, code: str) -> HttpResponse:
    """Blind entry of a paper form: choose the station and contest, type every number, Enter."""
    election = _election(code)
    reporter = _role(request, election, (Role.CLERK, Role.ADMIN))
    rounds = _rounds(election)
    first_round = Round.objects.filter(election=election, kind=Round.Kind.FIRST).values_list("code", flat=True).first()
    status = 200
    ballot_form: BallotForm | None = None
    key_form: EntryKeyForm | None = None
    station: PollingStation | None = None
    contest: Contest | None = None
    error = ""
    outcome = request.session.pop(ENTRY_OUTCOME, None) if request.method == "GET" else None
    if request.method == "POST":
        key_form = EntryKeyForm(request.POST)
        if not key_form.is_valid():
            return redirect("results:entry", code=election.code)
        contest = (
            Contest.objects.select_related("round__election", "municipality")
            .defer("round__election__definition_packed")
            .filter(pk=key_form.cleaned_data["contest_id"], round__election=election)
            .first()
        )
        station = PollingStation.objects.filter(election=election, code=key_form.cleaned_data["station"]).first()
        if contest is None or station is None:
            raise Http404
        ballot_form = BallotForm(request.POST, ballot=ballot_of(contest))
        if ballot_form.is_valid():
            try:
                result = services.data_entry_record(
                    clerk=_user(reporter),
                    station=station,
                    contest=contest,
                    content=ballot_form.content(),
                    role=reporter.role,
                )
            except ResultsError as exc:
                error, status = exc.message, exc.status
            else:
                request.session[ENTRY_OUTCOME] = {
                    "station": station.code,
                    "contest": contest.get_kind_display(),
                    "status": result.status,
                    "flags": [str(f["message"]) for f in result.flags],
                    "differences": _differing_fields(result.form) if result.differences else [],
                }
                url = reverse("results:entry", kwargs={"code": election.code})
                return redirect(f"{url}?contest={contest.kind}&round={contest.round.code}")
        else:
            status = 422
        choose = ChooseForm(
            initial={"station": station.code, "contest": contest.kind, "round": contest.round.code}, rounds=rounds
        )
    elif "station" in request.GET:
        choose = ChooseForm(request.GET, rounds=rounds)
        station, contest, status = _entry_open(election, choose)
        if contest is not None and station is not None:
            ballot_form = BallotForm(ballot=ballot_of(contest))
            key_form = EntryKeyForm(initial={"station": station.code, "contest_id": contest.pk})
    else:
        choose = ChooseForm(
            initial={
                "contest": request.GET.get("contest", Contest.Kind.ASSEMBLY),
                "round": request.GET.get("round", first_round),
            },
            rounds=rounds,
        )
    if ballot_form is not None:
        # While a ballot is on screen the first count has the focus, not the station field.
        choose.fields["station"].widget.attrs.pop("autofocus", None)
    context = {
        "election": election,
        "choose": choose,
        "ballot": ballot_form,
        "key": key_form,
        "station": station,
        "contest": contest,
        "error": error,
        "outcome": outcome,
    }
    return render(request, "results/entry.html", context, status=status)


# --- the auditors' queue --------------------------------------------------------------------------


def _check_choices(election: Election) -> list[str]:
    return list(
        QuarantineFlag.objects.filter(form__contest__round__election=election)
        .values_list("check_code", flat=True)
        .distinct()
        .order_by("check_code")
    )


@login_required
def queue(request: HttpRequest, code: str) -> HttpResponse:
    """Quarantined forms with their reasons, filtered by municipality and check."""
    election = _election(code)
    muni_code = request.GET.get("municipality") or ""
    check = request.GET.get("check") or ""
    muni = Municipality.objects.filter(election=election, code=muni_code).first() if muni_code else None
    _role(request, election, (Role.AUDITOR, Role.ADMIN, Role.OFFICIAL), muni.pk if muni else None)
    forms = ResultForm.objects.filter(contest__round__election=election, state=FormState.QUARANTINED)
    if muni is not None:
        forms = forms.filter(contest__municipality=muni)
    if check:
        forms = forms.filter(flags__check_code=check, flags__cleared_at__isnull=True).distinct()
    total = forms.count()
    page = (
        forms.select_related("station", "contest__round", "contest__municipality")
        .prefetch_related(Prefetch("flags", queryset=QuarantineFlag.objects.filter(cleared_at__isnull=True)))
        .order_by("contest__municipality__code", "station__code", "pk")[:QUEUE_LIMIT]
    )
    context = {
        "election": election,
        "forms": page,
        "total": total,
        "limit": QUEUE_LIMIT,
        "municipalities": _municipalities(election),
        "checks": _check_choices(election),
        "municipality": muni_code,
        "check": check,
    }
    return render(request, "results/queue.html", context)


def _numbers(form: ResultForm) -> list[tuple[str, str, list[int | None]]]:
    """(key, label, [value on this form, then on the station's other forms]) for every number."""
    ballot = ballot_of(form.contest)
    others = list(
        ResultForm.objects.filter(station_id=form.station_id, contest_id=form.contest_id)
        .exclude(pk=form.pk)
        .order_by("kind")
    )
    contents = [services.form_content(f) if f.state not in UNWRITTEN else None for f in [form, *others]]
    rows: list[tuple[str, str, list[int | None]]] = []
    for name, label, _required in COUNT_LABELS:
        rows.append((name, str(label), [getattr(c, name) if c else None for c in contents]))
    for entity in ballot.entities:
        rows.append((f"votes.{entity}", entity, [c.votes.get(entity, 0) if c else None for c in contents]))
    for entity in ballot.entities:
        for position in sorted(ballot.positions.get(entity, ())):
            values = [c.preferences.get(entity, {}).get(position, 0) if c else None for c in contents]
            if any(values):
                rows.append((f"preferences.{entity}.{position}", f"{entity} #{position}", values))
    return rows


def _difference(values: list[int | None], pair: tuple[int, int] | None) -> str:
    if pair is None or values[pair[0]] is None or values[pair[1]] is None:
        return ""
    change = int(values[pair[0]] or 0) - int(values[pair[1]] or 0)
    return f"{change:+d}" if change else "0"


@login_required
@require_http_methods(["GET", "POST"])
def form_detail(request: HttpRequest, code: str, form_id: int) -> HttpResponse:
    """A held form: its flags beside its numbers and the station's other forms; the three decisions."""
    election = _election(code)
    form = _form_or_404(election, form_id)
    _role(request, election, (Role.AUDITOR, Role.ADMIN, Role.OFFICIAL), form.contest.municipality_id)
    ballot = ballot_of(form.contest)
    status = 200
    error = ""
    can_decide = True
    try:
        access_role(request.user, election, (Role.AUDITOR, Role.ADMIN))
    except PollingError:
        can_decide = False
    stored = services.form_content(form) if form.state not in UNWRITTEN else None
    if request.method == "POST":
        reporter = _role(request, election, (Role.AUDITOR, Role.ADMIN))
        decision_form = DecisionForm(request.POST)
        corrected_form = BallotForm(request.POST, ballot=ballot, prefix="c", prefix_focus=False)
        wants_correction = request.POST.get("decision") == AuditorDecision.Decision.CORRECT
        if decision_form.is_valid() and (not wants_correction or corrected_form.is_valid()):
            data = decision_form.cleaned_data
            try:
                outcome = services.quarantine_decide(
                    auditor=_user(reporter),
                    form=form,
                    decision=AuditorDecision.Decision(data["decision"]),
                    reason=data["reason"],
                    expected_version=data["version"],
                    corrected=corrected_form.content() if wants_correction else None,
                    recount={"record": data["recount"]} if data["recount"].strip() else None,
                    role=reporter.role,
                )
            except ResultsError as exc:
                error, status = exc.message, exc.status
            else:
                messages.success(
                    request,
                    _("Form %(id)s of station %(station)s is now %(state)s.")
                    % {
                        "id": form.pk,
                        "station": form.station.code,
                        "state": FormState(outcome.form.state).label,
                    },
                )
                return redirect("results:queue", code=election.code)
        else:
            status = 422
    else:
        decision_form = DecisionForm(initial={"version": form.version})
        corrected_form = BallotForm(
            ballot=ballot,
            prefix="c",
            prefix_focus=False,
            initial=BallotForm.initial_of(stored) if stored else None,
        )
    others = list(
        ResultForm.objects.filter(station_id=form.station_id, contest_id=form.contest_id)
        .exclude(pk=form.pk)
        .order_by("kind")
    )
    kinds = [f.kind for f in [form, *others]]
    # Official minus preliminary, where the station has both (the counting centre's change).
    pair = (kinds.index(FormKind.OFFICIAL), kinds.index(FormKind.PRELIMINARY)) if len(set(kinds)) == 2 else None
    rows = [
        {
            "label": label,
            "values": values,
            "differs": len({v for v in values if v is not None}) > 1,
            "difference": _difference(values, pair),
        }
        for _key, label, values in _numbers(form)
    ]
    context = {
        "election": election,
        "form": form,
        "others": others,
        "flags": form.flags.order_by("cleared_at", "check_code"),
        "rows": rows,
        "decisions": AuditorDecision.objects.filter(form=form).select_related("auditor"),
        "decision_form": decision_form,
        "corrected": corrected_form,
        "can_decide": can_decide and form.state == FormState.QUARANTINED,
        "can_resolve": can_decide and form.state == FormState.DISPUTED,
        "compared": pair is not None,
        "error": error,
    }
    return render(request, "results/form_detail.html", context, status=status)


# --- the complaints panel -------------------------------------------------------------------------


def _complaint_page(
    request: HttpRequest,
    election: Election,
    file_form: ComplaintForm,
    *,
    status: int = 200,
    error: str = "",
    failed: tuple[int, ComplaintDecisionForm] | None = None,
) -> HttpResponse:
    repeat_rounds = _repeat_rounds(election)
    open_ = list(
        Complaint.objects.filter(municipality__election=election, state=Complaint.State.OPEN)
        .select_related("municipality", "station", "contest")
        .order_by("decide_by", "pk")
    )
    items = []
    for c in open_:
        form = failed[1] if failed and failed[0] == c.pk else ComplaintDecisionForm(repeat_rounds=repeat_rounds)
        items.append({"complaint": c, "form": form})
    decided = (
        Complaint.objects.filter(municipality__election=election, state=Complaint.State.DECIDED)
        .select_related("municipality", "station", "contest")
        .order_by("-decided_at")[:50]
    )
    context = {
        "election": election,
        "items": items,
        "decided": decided,
        "file_form": file_form,
        "error": error,
        "now": timezone_now(),
    }
    return render(request, "results/complaints.html", context, status=status)


def _repeat_rounds(election: Election) -> list[tuple[str, str]]:
    return [
        (r.code, f"{r.code} · {r.date.isoformat()}")
        for r in Round.objects.filter(election=election, kind=Round.Kind.REPEAT).order_by("date")
    ]


def _muni_choices(election: Election) -> list[tuple[str, str]]:
    return [(m.code, f"{m.code} {m.name}") for m in _municipalities(election)]


@login_required
@require_http_methods(["GET", "POST"])
def complaints(request: HttpRequest, code: str) -> HttpResponse:
    """Open complaints with their deadlines; record a new one."""
    election = _election(code)
    reporter = _role(request, election, (Role.PANEL, Role.ADMIN))
    if request.method != "POST":
        return _complaint_page(request, election, ComplaintForm(municipalities=_muni_choices(election)))
    form = ComplaintForm(request.POST, municipalities=_muni_choices(election))
    if not form.is_valid():
        return _complaint_page(request, election, form, status=422)
    data = form.cleaned_data
    muni = Municipality.objects.get(election=election, code=data["municipality"])
    station = None
    if data["station"]:
        station = PollingStation.objects.filter(election=election, code=data["station"], municipality=muni).first()
        if station is None:
            form.add_error(
                "station", _("No polling station %(code)s in this municipality.") % {"code": data["station"]}
            )
            return _complaint_page(request, election, form, status=422)
    contest = (
        Contest.objects.filter(municipality=muni, kind=data["contest"], round__kind=Round.Kind.FIRST).first()
        if data["contest"]
        else None
    )
    complaint = decisions.complaint_file(
        municipality=muni,
        complainant=data["complainant"],
        subject=data["subject"],
        actor=reporter.actor,
        role=reporter.role,
        station=station,
        contest=contest,
    )
    messages.success(request, _("Complaint %(id)s recorded.") % {"id": complaint.pk})
    return redirect("results:complaints", code=election.code)


@login_required
@require_POST
def complaint_decide(request: HttpRequest, code: str, complaint_id: int) -> HttpResponse:
    """The panel's decision: rejected, a recount, or an annulment (with its legal basis)."""
    election = _election(code)
    reporter = _role(request, election, (Role.PANEL, Role.ADMIN))
    complaint = Complaint.objects.filter(pk=complaint_id, municipality__election=election).first()
    if complaint is None:
        raise Http404
    form = ComplaintDecisionForm(request.POST, repeat_rounds=_repeat_rounds(election))
    file_form = ComplaintForm(municipalities=_muni_choices(election))
    if not form.is_valid():
        return _complaint_page(request, election, file_form, status=422, failed=(complaint.pk, form))
    data = form.cleaned_data
    repeat = (
        Round.objects.filter(election=election, code=data["repeat_round"]).first() if data["repeat_round"] else None
    )
    try:
        decisions.complaint_decide(
            complaint,
            decision=Complaint.Decision(data["decision"]),
            reasoning=data["reasoning"],
            actor=reporter.actor,
            role=reporter.role,
            legal_basis=data["legal_basis"],
            repeat_round=repeat,
        )
    except ResultsError as exc:
        return _complaint_page(request, election, file_form, status=exc.status, error=exc.message)
    messages.success(
        request,
        _("Complaint %(id)s decided: %(decision)s.")
        % {"id": complaint.pk, "decision": Complaint.Decision(data["decision"]).label},
    )
    return redirect("results:complaints", code=election.code)


# --- the commission -------------------------------------------------------------------------------


@login_required
def progress(request: HttpRequest, code: str) -> HttpResponse:
    """Per municipality and contest: stations per state, forms per state, certification and blockers."""
    election = _election(code)
    allowed = _readable_municipalities(request, election)
    is_admin = Role.ADMIN in polling_access.access_viewer(request.user, election).roles
    muni_code = request.GET.get("municipality") or ""
    contests = (
        Contest.objects.filter(round__election=election)
        .exclude(round__kind=Round.Kind.REPEAT)
        .select_related("round__election", "municipality")
        .defer("round__election__definition_packed")
        .order_by("municipality__code", "round__date", "kind")
    )
    if allowed is not None:
        contests = contests.filter(municipality_id__in=allowed)
    if muni_code:
        contests = contests.filter(municipality__code=muni_code)
    form_states: dict[int, Counter[str]] = {}
    for contest_id, state, n in (
        ResultForm.objects.filter(contest__in=contests).values_list("contest_id", "state").annotate(n=Count("pk"))
    ):
        form_states.setdefault(contest_id, Counter())[state] = n
    certified = {c.contest_id: c for c in Certification.objects.filter(contest__in=contests, revoked_at__isnull=True)}
    rows = []
    for contest in contests:
        statuses = Counter(station_statuses(contest).values())
        statuses["annulled"] += statuses.pop("annulled-repeat-pending", 0)
        cert = certified.get(contest.pk)
        rows.append(
            {
                "contest": contest,
                "stations": [statuses.get(k, 0) for k in STATUS_COLUMNS],
                "total": sum(statuses.values()),
                "forms": sorted((FormState(s).label, n) for s, n in form_states.get(contest.pk, Counter()).items()),
                "certification": cert,
                "blockers": [] if cert else decisions.certification_blockers(contest),
            }
        )
    context = {
        "election": election,
        "rows": rows,
        "is_admin": is_admin,
        "municipalities": _municipalities(election, allowed),
        "municipality": muni_code,
        "checks": _check_choices(election),
        "status_labels": [
            _("counted (official)"),
            _("counted (preliminary)"),
            _("quarantined"),
            _("pending"),
            _("annulled"),
        ],
    }
    return render(request, "results/progress.html", context)


@login_required
@require_POST
def certify(request: HttpRequest, code: str, contest_id: int) -> HttpResponse:
    """The commission certifies (and locks) a contest's results."""
    election = _election(code)
    reporter = _role(request, election, (Role.ADMIN,))
    contest = (
        Contest.objects.select_related("round__election", "municipality")
        .filter(pk=contest_id, round__election=election)
        .first()
    )
    if contest is None:
        raise Http404
    try:
        decisions.contest_certify(contest, actor=reporter.actor, role=reporter.role)
    except ResultsError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(municipality)s, %(contest)s: results certified.")
            % {"municipality": contest.municipality.name, "contest": contest.get_kind_display()},
        )
    url = reverse("results:progress", kwargs={"code": election.code})
    return redirect(f"{url}?municipality={contest.municipality.code}")


CSV_STATES = {"quarantined": FormState.QUARANTINED, "excluded": FormState.EXCLUDED}


@login_required
def forms_csv(request: HttpRequest, code: str, state: str) -> HttpResponse:
    """Quarantined or excluded forms as CSV, filtered by check (and municipality)."""
    election = _election(code)
    if state not in CSV_STATES:
        raise Http404
    allowed = _readable_municipalities(request, election)
    check = request.GET.get("check") or ""
    muni_code = request.GET.get("municipality") or ""
    forms = ResultForm.objects.filter(contest__round__election=election, state=CSV_STATES[state])
    if allowed is not None:
        forms = forms.filter(contest__municipality_id__in=allowed)
    if muni_code:
        forms = forms.filter(contest__municipality__code=muni_code)
    if check:
        forms = forms.filter(flags__check_code=check).distinct()
    forms = (
        forms.select_related("station", "contest__round", "contest__municipality")
        .prefetch_related("flags", Prefetch("decisions", queryset=AuditorDecision.objects.order_by("created_at")))
        .order_by("contest__municipality__code", "station__code", "contest__kind", "kind")
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{election.code}-{state}{'-' + check if check else ''}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "form_id",
            "municipality",
            "station",
            "round",
            "contest",
            "kind",
            "state",
            "version",
            "checks",
            "messages",
            "decision_reason",
            "updated_at",
        ]
    )
    writer.writerows(_csv_rows(forms, cleared=state == "excluded"))
    return response


def _csv_rows(forms: Iterable[ResultForm], *, cleared: bool) -> Iterable[list[Any]]:
    for f in forms:
        flags = [q for q in f.flags.all() if cleared or q.cleared_at is None]
        last = list(f.decisions.all())[-1:] if cleared else []
        yield [
            f.pk,
            f.contest.municipality.code,
            f.station.code,
            f.contest.round.code,
            f.contest.kind,
            f.kind,
            f.state,
            f.version,
            ";".join(sorted({q.check_code for q in flags})),
            " | ".join(q.message for q in flags),
            last[0].reason if last else "",
            f.updated_at.isoformat(),
        ]


@login_required
def home(request: HttpRequest, code: str) -> HttpResponse:
    """The count's start page for an election: links to the pages the user's roles open."""
    election = _election(code)
    try:
        viewer = polling_access.access_viewer(request.user, election)
    except PollingError as exc:
        raise PermissionDenied(exc.message) from None
    return render(request, "results/home.html", {"election": election, "roles": viewer.roles, "Role": Role})
