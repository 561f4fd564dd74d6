"""Election-day pages: the chair's station page (phone first), the commission's dashboard with its
live refresh, the incident desk, observers. Thin: access helpers check, services write, selectors read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.timezone import now as timezone_now
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tallyroom.accounts.models import Role, RoleAssignment
from tallyroom.api.errors import ApiError
from tallyroom.api.idempotency import idempotent
from tallyroom.elections.models import Election, Municipality, PollingStation, Round
from tallyroom.polling import access, charts, clock, config, selectors, services
from tallyroom.polling import state as sm
from tallyroom.polling.errors import PollingError
from tallyroom.polling.forms import (
    CorrectionForm,
    DecisionForm,
    EventForm,
    IncidentForm,
    PlaceIncidentForm,
    ReviewForm,
    TurnoutForm,
    WithdrawalForm,
)
from tallyroom.polling.labels import EVENT_ACTIONS, EVENT_LABELS, STATUS_LABELS
from tallyroom.polling.models import (
    Channel,
    Incident,
    IncidentPhoto,
    ObserverOrganisation,
    StationStatus,
    TurnoutReport,
    Withdrawal,
)

SECTIONS = ["summary", "stations", "turnout", "incidents", "missed"]


def _election(code: str) -> Election:
    election = clock.elections().filter(code=code).first()
    if election is None:
        raise Http404
    return election


def _round(request: HttpRequest, election: Election) -> Round:
    code = request.GET.get("round")
    found = Round.objects.filter(election=election, code=code).first() if code else None
    found = found or clock.current_round(election)
    if found is None:
        raise Http404
    return found


def _guard(request: HttpRequest, check: Callable[[], Any]) -> Any:
    """Run an access check: not signed in -> the login page; refused -> 403; unknown -> 404."""
    try:
        return check()
    except access.Unauthenticated:
        raise _LoginNeeded from None
    except PollingError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        raise PermissionDenied(exc.message) from None


class _LoginNeeded(Exception):  # noqa: N818 - control flow, caught by the decorator below
    pass


def _login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            return view(request, *args, **kwargs)
        except _LoginNeeded:
            return redirect_to_login(request.get_full_path())

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _submit(
    request: HttpRequest,
    form: Any,
    reporter: access.Reporter,
    scope: str,
    data: dict[str, Any],
    run: Callable[[], Any],
) -> int:
    """Run a form's write once per client key. 0 when it worked; else the HTTP status of the refusal,
    with the reason on the form."""
    try:
        idempotent(
            actor=reporter.key,
            key=form.cleaned_data["client_key"],
            scope=scope,
            data=data,
            run=lambda: (200, {"ok": True, "id": run()}),
        )
    except PollingError as exc:
        field = exc.field if exc.field in form.fields else None
        form.add_error(field, exc.message)
        return exc.status
    except ApiError as exc:
        form.add_error(None, exc.message)
        return exc.status
    return 0


def _local_now_time(election: Election, round_: Round) -> str:
    now = clock.local(timezone_now(), election)
    return now.strftime("%H:%M") if now.date() == round_.date else ""


def _my_stations(user: Any, election: Election) -> list[PollingStation]:
    grants = RoleAssignment.objects.filter(user_id=user.pk, election=election)
    return list(
        PollingStation.objects.filter(pk__in=grants.filter(role=Role.CHAIR).values("station_id")).select_related(
            "municipality"
        )
    )


@_login_required
def home(request: HttpRequest) -> HttpResponse:
    """Where a signed-in user starts the day: their elections, stations and the dashboard."""
    grants = RoleAssignment.objects.filter(user_id=request.user.pk or 0).select_related(
        "election", "station", "municipality"
    )
    elections: dict[int, dict[str, Any]] = {}
    for g in grants:
        item = elections.setdefault(
            g.election_id, {"election": g.election, "roles": set(), "stations": [], "municipalities": []}
        )
        item["roles"].add(g.get_role_display())
        if g.station is not None:
            item["stations"].append(g.station)
        elif g.role == Role.OFFICIAL and g.municipality is not None:
            item["municipalities"].append(g.municipality)
    if len(elections) == 1:
        only = next(iter(elections.values()))
        if len(only["stations"]) == 1 and not only["municipalities"] and len(only["roles"]) == 1:
            return redirect("polling:station", code=only["election"].code, station=only["stations"][0].code)
    return render(request, "polling/home.html", {"elections": list(elections.values())})


def _station_context(
    request: HttpRequest,
    election: Election,
    station: PollingStation,
    round_: Round,
    viewer: access.Viewer,
    forms: dict[str, Any],
) -> dict[str, Any]:
    standing = selectors.station_standing(station, round_)
    status = sm.Status(standing.status) if standing else sm.Status.NOT_OPENED
    events = selectors.station_events(station, round_)
    reports = selectors.station_turnout(station, round_)
    effective = [r for r in reports if r.effective]
    now_time = _local_now_time(election, round_)
    next_kinds = sm.allowed(status)
    event_forms = forms.get("events") or {}
    buttons = []
    for kind in next_kinds:
        form = event_forms.get(kind.value) or EventForm(initial={"kind": kind.value, "time": now_time})
        buttons.append(
            {
                "kind": kind.value,
                "label": EVENT_ACTIONS[kind],
                "needs_reason": kind in sm.NEEDS_REASON,
                "form": form,
                "danger": kind in {sm.Kind.SUSPENDED, sm.Kind.CLOSED_EARLY, sm.Kind.DID_NOT_OPEN},
            }
        )
    reported_slots = {r.slot for r in reports if r.slot and r.superseded_by_id is None}
    slots = config.slots(election)
    open_slot = next((s for s in slots if s not in reported_slots), "")
    turnout_form = forms.get("turnout") or TurnoutForm(slots=slots, initial={"slot": open_slot})
    incident_form = forms.get("incident") or IncidentForm(initial={"time": now_time})
    incidents = (
        selectors.incidents_visible(viewer, election)
        .filter(station=station, round=round_)
        .prefetch_related("photos")
        .order_by("-occurred_at")
    )
    effective_events = [e for e in events if getattr(e, "superseded_by_pk", None) is None and e.kind != "retracted"]
    return {
        "election": election,
        "station": station,
        "round": round_,
        "standing": standing,
        "status": status,
        "status_label": STATUS_LABELS[status],
        "buttons": buttons,
        "events": [
            {
                "event": e,
                "label": EVENT_LABELS[sm.Kind(e.kind)],
                "superseded": getattr(e, "superseded_by_pk", None) is not None,
                "correction_form": CorrectionForm(
                    initial={"corrects": e.pk, "time": clock.hhmm(e.occurred_at, election)}
                ),
            }
            for e in events
        ],
        "effective_events": effective_events,
        "correction_choices": [(k.value, EVENT_LABELS[k]) for k in sm.Kind],
        "reports": reports,
        "latest": effective[-1] if effective else None,
        "turnout_form": turnout_form,
        "incident_form": incident_form,
        "incidents": incidents,
        "has_opened": status in sm.HAS_OPENED,
        "polls": f"{election.polls_open:%H:%M}–{election.polls_close:%H:%M}",
        "slots": slots,
        "reported_slots": reported_slots,
        "correction_form_error": forms.get("correction"),
    }


@_login_required
@require_http_methods(["GET", "POST"])
def station(request: HttpRequest, code: str, station: str) -> HttpResponse:
    """The chair's page: the station's status, the next things that can happen, turnout, incidents."""
    election = _election(code)
    found, reporter = _guard(request, lambda: access.access_station_for_report(request.user, election, station))
    if found.kind == PollingStation.Kind.CENTRAL:
        raise Http404
    viewer = _guard(request, lambda: access.access_viewer(request.user, election))
    round_ = _round(request, election)
    forms: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        handler = {
            "event": _post_event,
            "correct": _post_correction,
            "turnout": _post_turnout,
            "incident": _post_incident,
        }.get(action)
        if handler is None:
            return HttpResponse(status=400)
        status, forms = handler(request, election, found, round_, reporter)
        if status == 0:
            return redirect(request.get_full_path())
    context = _station_context(request, election, found, round_, viewer, forms)
    return render(request, "polling/station.html", context, status=status)


def _post_event(
    request: HttpRequest, election: Election, station: PollingStation, round_: Round, reporter: access.Reporter
) -> tuple[int, dict[str, Any]]:
    form = EventForm(request.POST)
    kind = request.POST.get("kind", "")
    if not form.is_valid():
        return 422, {"events": {kind: form}}
    data = form.cleaned_data
    at = clock.at_local(round_.date, data["time"], election)
    status = _submit(
        request,
        form,
        reporter,
        "station_event",
        {"station": station.pk, "kind": data["kind"], "at": at.isoformat(), "reason": data["reason"]},
        lambda: (
            services.station_event_record(
                station=station,
                kind=data["kind"],
                occurred_at=at,
                reason=data["reason"],
                reporter=reporter,
                client_key=data["client_key"],
                channel=Channel.WEB,
                round_=round_,
            ).event.pk
        ),
    )
    if status == 0:
        messages.success(
            request,
            _("Recorded: %(kind)s at %(time)s.")
            % {"kind": EVENT_LABELS[sm.Kind(data["kind"])], "time": f"{data['time']:%H:%M}"},
        )
    return status, {"events": {kind: form}}


def _post_correction(
    request: HttpRequest, election: Election, station: PollingStation, round_: Round, reporter: access.Reporter
) -> tuple[int, dict[str, Any]]:
    form = CorrectionForm(request.POST)
    form.fields["kind"].choices = [(k.value, EVENT_LABELS[k]) for k in sm.Kind]  # type: ignore[attr-defined]
    if not form.is_valid():
        return 422, {"correction": form}
    data = form.cleaned_data
    original = station.events.filter(pk=data["corrects"], round=round_).first()
    if original is None:
        form.add_error(None, _("No such event at this station."))
        return 404, {"correction": form}
    when = data["time"] or clock.local(original.occurred_at, election).time()
    at = clock.at_local(round_.date, when, election)
    status = _submit(
        request,
        form,
        reporter,
        "station_event",
        {"station": station.pk, "corrects": data["corrects"], "kind": data["kind"], "at": at.isoformat()},
        lambda: (
            services.station_event_record(
                station=station,
                kind=data["kind"],
                occurred_at=at,
                reason=data["reason"],
                corrects=data["corrects"],
                reporter=reporter,
                client_key=data["client_key"],
                channel=Channel.WEB,
                round_=round_,
            ).event.pk
        ),
    )
    if status == 0:
        messages.success(request, _("The correction is recorded; the earlier event stays on record, superseded."))
    return status, {"correction": form}


def _post_turnout(
    request: HttpRequest, election: Election, station: PollingStation, round_: Round, reporter: access.Reporter
) -> tuple[int, dict[str, Any]]:
    form = TurnoutForm(request.POST, slots=config.slots(election))
    if not form.is_valid():
        return 422, {"turnout": form}
    data = form.cleaned_data
    at = clock.at_local(round_.date, data["time"], election) if data.get("time") and not data["slot"] else None
    status = _submit(
        request,
        form,
        reporter,
        "turnout_report",
        {
            "station": station.pk,
            "slot": data["slot"],
            "at": at.isoformat() if at else None,
            "voters": data["voters"],
            "correction": data["correction"],
        },
        lambda: (
            services.turnout_report_record(
                station=station,
                voters=data["voters"],
                slot=data["slot"] or None,
                at=at,
                correction=data["correction"],
                reporter=reporter,
                client_key=data["client_key"],
                channel=Channel.WEB,
                round_=round_,
            ).pk
        ),
    )
    if status == 0:
        report = TurnoutReport.objects.filter(election=election, client_key=data["client_key"]).first()
        if report is not None and report.review == TurnoutReport.Review.HELD:
            messages.warning(request, _("Recorded, but held for review: %(why)s") % {"why": report.review_reason})
        else:
            messages.success(request, _("Turnout recorded: %(n)s voters.") % {"n": data["voters"]})
    return status, {"turnout": form}


def _post_incident(
    request: HttpRequest, election: Election, station: PollingStation, round_: Round, reporter: access.Reporter
) -> tuple[int, dict[str, Any]]:
    form = IncidentForm(request.POST, request.FILES)
    if not form.is_valid():
        return 422, {"incident": form}
    data = form.cleaned_data
    photos = data.get("photos") or []
    for upload in photos:
        try:
            services.photo_check(upload)
        except PollingError as exc:
            form.add_error("photos", exc.message)
            return exc.status, {"incident": form}
    at = clock.at_local(round_.date, data["time"], election)
    _station, municipality, reporter2, observer = _guard(
        request,
        lambda: access.access_place_for_incident(
            request.user, election, station_code=station.code, municipality_code=None
        ),
    )

    def run() -> int:
        incident = services.incident_report(
            election=election,
            municipality=municipality,
            station=station,
            kind=data["kind"],
            severity=data["severity"],
            occurred_at=at,
            description=data["description"],
            place=data["place"],
            reporter=reporter2,
            observer=observer,
            client_key=data["client_key"],
            channel=Channel.WEB,
            round_=round_,
        )
        for upload in photos:
            services.incident_photo_add(incident=incident, upload=upload, reporter=reporter2)
        return incident.pk

    status = _submit(
        request,
        form,
        reporter2,
        "incident",
        {
            "station": station.pk,
            "kind": data["kind"],
            "severity": data["severity"],
            "at": at.isoformat(),
            "description": data["description"],
            "photos": [p.size for p in photos],
        },
        run,
    )
    if status == 0:
        messages.success(request, _("Incident reported. The commission will verify it before it is public."))
    return status, {"incident": form}


# --- dashboard ------------------------------------------------------------------------------------


def _dashboard_context(
    request: HttpRequest, election: Election, round_: Round, viewer: access.Viewer
) -> dict[str, Any]:
    board = selectors.dashboard(election, round_, viewer)
    local_now = clock.local(board.generated_at, election)
    return {
        "election": election,
        "round": round_,
        "rounds": Round.objects.filter(election=election).order_by("date"),
        "board": board,
        "status_columns": [
            (s.value, _("no report yet") if s == sm.Status.NOT_OPENED else STATUS_LABELS[s])
            for s in selectors.STATUS_COLUMNS
        ],
        "turnout_chart": charts.turnout_by_time(board),
        "municipality_chart": charts.latest_by_municipality(board),
        "status_chart": charts.status_bar(board),
        "updated": local_now.strftime("%H:%M:%S"),
        "live_seconds": config.dashboard_refresh_seconds(),
        "viewer": viewer,
    }


@_login_required
def dashboard(request: HttpRequest, code: str) -> HttpResponse:
    """The whole picture, for the commission and observers; it refreshes itself (see live)."""
    election = _election(code)
    viewer = _guard(request, lambda: access.access_viewer(request.user, election))
    round_ = _round(request, election)
    return render(request, "polling/dashboard.html", _dashboard_context(request, election, round_, viewer))


@_login_required
def dashboard_live(request: HttpRequest, code: str) -> HttpResponse:
    """JSON for the live refresh: the dashboard's sections, rendered, with a version to compare."""
    election = _election(code)
    viewer = _guard(request, lambda: access.access_viewer(request.user, election))
    round_ = _round(request, election)
    context = _dashboard_context(request, election, round_, viewer)
    version = context["board"].version
    body: dict[str, Any] = {"version": version, "updated": context["updated"]}
    if request.GET.get("v") != version:
        body["sections"] = {
            name: render_to_string(f"polling/dashboard/_{name}.html", context, request=request) for name in SECTIONS
        }
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


# --- incidents ------------------------------------------------------------------------------------


@_login_required
@require_http_methods(["GET", "POST"])
def incidents(request: HttpRequest, code: str) -> HttpResponse:
    """The incident desk: the feed this user may see; officials verify, reject and resolve here."""
    election = _election(code)
    viewer = _guard(request, lambda: access.access_viewer(request.user, election))
    round_ = _round(request, election)
    status = 200
    failed: dict[int, Any] = {}
    munis = [(m.code, f"{m.code} {m.name}") for m in Municipality.objects.filter(election=election).order_by("code")]
    report_form = PlaceIncidentForm(municipalities=munis, initial={"time": _local_now_time(election, round_)})
    if request.method == "POST" and request.POST.get("action") == "report":
        report_form = PlaceIncidentForm(request.POST, request.FILES, municipalities=munis)
        status = _report_from_desk(request, report_form, election, round_) if report_form.is_valid() else 422
        if status == 0:
            return redirect(request.get_full_path())
    elif request.method == "POST":
        incident_id = int(request.POST.get("incident", "0") or 0)
        incident, reporter = _guard(request, lambda: access.access_incident_for_decision(request.user, incident_id))
        form = DecisionForm(request.POST)
        if form.is_valid():
            status = _decide(request, form, incident, reporter)
            if status == 0:
                return redirect(request.get_full_path())
        else:
            status = 422
        failed[incident_id] = form
    qs = selectors.incidents_visible(viewer, election).filter(round=round_)
    wanted = request.GET.get("status", "")
    if wanted in Incident.Status.values:
        qs = qs.filter(status=wanted)
    rows = []
    for i in qs.select_related("station", "municipality", "reported_by", "decided_by").prefetch_related("photos")[:200]:
        can_decide = viewer.roles & {Role.ADMIN} or i.municipality_id in viewer.municipality_ids
        rows.append(
            {
                "incident": i,
                "form": failed.get(i.pk) or DecisionForm(),
                "can_decide": bool(can_decide) and i.status in {"reported", "verified"},
                "full": viewer.internal or i.reported_by_id == viewer.user_id,
            }
        )
    counts = dict(qs.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    context = {
        "election": election,
        "round": round_,
        "rows": rows,
        "statuses": Incident.Status.choices,
        "wanted": wanted,
        "counts": counts,
        "viewer": viewer,
        "report_form": report_form,
        "can_report": bool(viewer.roles & {Role.ADMIN, Role.OFFICIAL, Role.OBSERVER, Role.CHAIR}),
    }
    return render(request, "polling/incidents.html", context, status=status)


def _report_from_desk(request: HttpRequest, form: PlaceIncidentForm, election: Election, round_: Round) -> int:
    data = form.cleaned_data
    try:
        station, municipality, reporter, observer = access.access_place_for_incident(
            request.user,
            election,
            station_code=data["station"].strip() or None,
            municipality_code=data["municipality"] or None,
        )
    except access.Unauthenticated:
        raise _LoginNeeded from None
    except PollingError as exc:
        form.add_error("station" if exc.field in {None, "path.code"} else None, exc.message)
        return exc.status
    photos = data.get("photos") or []
    for upload in photos:
        try:
            services.photo_check(upload)
        except PollingError as exc:
            form.add_error("photos", exc.message)
            return exc.status
    at = clock.at_local(round_.date, data["time"], election)

    def run() -> int:
        incident = services.incident_report(
            election=election,
            municipality=municipality,
            station=station,
            kind=data["kind"],
            severity=data["severity"],
            occurred_at=at,
            description=data["description"],
            place=data["place"],
            reporter=reporter,
            observer=observer,
            client_key=data["client_key"],
            channel=Channel.WEB,
            round_=round_,
        )
        for upload in photos:
            services.incident_photo_add(incident=incident, upload=upload, reporter=reporter)
        return incident.pk

    status = _submit(
        request,
        form,
        reporter,
        "incident",
        {
            "station": station.pk if station else None,
            "municipality": municipality.pk,
            "kind": data["kind"],
            "at": at.isoformat(),
            "description": data["description"],
        },
        run,
    )
    if status == 0:
        messages.success(request, _("Incident reported. The commission will verify it before it is public."))
    return status


def _decide(request: HttpRequest, form: DecisionForm, incident: Incident, reporter: access.Reporter) -> int:
    data = form.cleaned_data
    decision = data["decision"]

    def run() -> int:
        if decision == "verify":
            return services.incident_verify(
                incident=incident, reporter=reporter, note=data["note"], public_description=data["public_description"]
            ).pk
        if decision == "reject":
            return services.incident_reject(incident=incident, reporter=reporter, reason=data["note"]).pk
        return services.incident_resolve(incident=incident, reporter=reporter, resolution=data["note"]).pk

    status = _submit(
        request, form, reporter, f"incident.{decision}", {"incident": incident.pk, "decision": decision}, run
    )
    if status == 0:
        messages.success(
            request,
            _("Incident #%(id)s: %(decision)s.")
            % {
                "id": incident.pk,
                "decision": {"verify": _("verified, now public"), "reject": _("rejected"), "resolve": _("resolved")}[
                    decision
                ],
            },
        )
    return status


def photo(request: HttpRequest, photo_id: int) -> HttpResponseBase:
    """A photo of an incident: public once the incident is verified; before that, for the commission,
    the municipality's officials and whoever reported it."""
    found = IncidentPhoto.objects.select_related("incident").filter(pk=photo_id).first()
    if found is None:
        raise Http404
    if not found.incident.is_public:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            access.access_incident_for_view(request.user, found.incident_id)
        except (PollingError, access.Unauthenticated):
            raise Http404 from None
    response = FileResponse(found.file.open("rb"), content_type=found.content_type)
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=300" if not found.incident.is_public else "public, max-age=3600"
    return response


# --- turnout held for review ----------------------------------------------------------------------


@_login_required
@require_http_methods(["GET", "POST"])
def review(request: HttpRequest, code: str) -> HttpResponse:
    """Turnout figures held for review: an official accepts or dismisses each."""
    election = _election(code)
    viewer = _guard(request, lambda: access.access_viewer(request.user, election))
    if not (viewer.roles & {Role.ADMIN, Role.OFFICIAL}):
        raise PermissionDenied
    round_ = _round(request, election)
    status = 200
    failed = None
    if request.method == "POST":
        form = ReviewForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            report, reporter = _guard(request, lambda: access.access_turnout_for_review(request.user, data["report"]))
            status = _submit(
                request,
                form,
                reporter,
                "turnout.review",
                {"report": report.pk, "accept": data["accept"]},
                lambda: (
                    services.turnout_review(
                        report=report, accept=data["accept"], note=data["note"], reporter=reporter
                    ).pk
                ),
            )
            if status == 0:
                messages.success(request, _("Review recorded."))
                return redirect(request.get_full_path())
        else:
            status = 422
        failed = form
    held = TurnoutReport.objects.filter(
        round=round_, review=TurnoutReport.Review.HELD, superseded_by__isnull=True
    ).select_related("station__municipality", "reported_by")
    if Role.ADMIN not in viewer.roles:
        held = held.filter(station__municipality_id__in=viewer.municipality_ids)
    context = {"election": election, "round": round_, "held": held[:200], "failed": failed, "form": ReviewForm()}
    return render(request, "polling/review.html", context, status=status)


# --- observers ------------------------------------------------------------------------------------


@_login_required
@require_http_methods(["GET", "POST"])
def observers(request: HttpRequest, code: str) -> HttpResponse:
    """Organisations, accreditation counts, coverage by municipality, withdrawals; the commission (or
    the area's officials) record a withdrawal here."""
    election = _election(code)
    viewer = _guard(request, lambda: access.access_viewer(request.user, election))
    round_ = _round(request, election)
    orgs = ObserverOrganisation.objects.filter(election=election).order_by("name")
    munis = Municipality.objects.filter(election=election).order_by("code")
    if Role.ADMIN not in viewer.roles:
        munis = munis.filter(pk__in=viewer.municipality_ids)
    areas = sorted({a for a in munis.values_list("area", flat=True) if a}) if Role.ADMIN in viewer.roles else []
    can_withdraw = bool(viewer.roles & {Role.ADMIN}) or bool(viewer.municipality_ids)
    choices = [(m.code, f"{m.code} {m.name}") for m in munis]
    form = WithdrawalForm(organisations=orgs, municipalities=choices, areas=areas)
    status = 200
    if request.method == "POST" and can_withdraw:
        form = WithdrawalForm(request.POST, organisations=orgs, municipalities=choices, areas=areas)
        if form.is_valid():
            status = _withdraw(request, form, election, round_)
            if status == 0:
                return redirect(request.get_full_path())
        else:
            status = 422
    context = {
        "election": election,
        "round": round_,
        "organisations": selectors.organisations(election, round_),
        "coverage": selectors.coverage(election, round_),
        "withdrawals": Withdrawal.objects.filter(election=election, round=round_).select_related(
            "organisation", "municipality", "centre"
        ),
        "form": form,
        "can_withdraw": can_withdraw,
    }
    return render(request, "polling/observers.html", context, status=status)


def _withdraw(request: HttpRequest, form: WithdrawalForm, election: Election, round_: Round) -> int:
    data = form.cleaned_data
    municipality = Municipality.objects.filter(election=election, code=data["municipality"]).first()
    area = services.Area(municipality=municipality, area="" if municipality else data["area"])
    reporter = _guard(request, lambda: access.access_area(request.user, election, area.municipality_ids(election)))
    at = clock.at_local(round_.date, data["time"], election)
    status = _submit(
        request,
        form,
        reporter,
        "withdrawal",
        {"organisation": data["organisation"].pk, "municipality": data["municipality"], "area": data["area"]},
        lambda: (
            services.organisation_withdraw_from_area(
                organisation=data["organisation"],
                area=area,
                occurred_at=at,
                reason=data["reason"],
                reporter=reporter,
                client_key=data["client_key"],
            ).pk
        ),
    )
    if status == 0:
        messages.success(request, _("Withdrawal recorded."))
    return status


def stations(request: HttpRequest, code: str) -> HttpResponse:
    """The stations an official or the commission may report for, with their status (search by code)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    election = _election(code)
    viewer = _guard(request, lambda: access.access_viewer(request.user, election))
    round_ = _round(request, election)
    qs = selectors.physical_stations(election).select_related("municipality", "centre")
    if Role.ADMIN in viewer.roles:
        pass
    elif viewer.municipality_ids:
        qs = qs.filter(municipality_id__in=viewer.municipality_ids)
    else:
        qs = qs.filter(pk__in=[s.pk for s in _my_stations(request.user, election)])
    search = request.GET.get("q", "").strip()
    if search:
        qs = qs.filter(Q(code__icontains=search) | Q(centre__name__icontains=search))
    page = list(qs.order_by("code")[:100])
    statuses = dict(
        StationStatus.objects.filter(round=round_, station_id__in=[s.pk for s in page]).values_list(
            "station_id", "status"
        )
    )
    rows = [
        {"station": s, "status": STATUS_LABELS[sm.Status(statuses.get(s.pk, sm.Status.NOT_OPENED.value))]} for s in page
    ]
    return render(
        request,
        "polling/stations.html",
        {"election": election, "round": round_, "rows": rows, "q": search, "more": qs.count() > len(page)},
    )
