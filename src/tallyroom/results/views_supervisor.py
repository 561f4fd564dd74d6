"""The supervisor's desk: official forms whose two blind entries differ, each shown side by side,
settled by a third entry through results.services.data_entry_resolve. Supervisors are the
election's auditors (and the commission): results.access."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tallyroom.accounts.models import Role
from tallyroom.results import services
from tallyroom.results.content import Ballot, ballot_of
from tallyroom.results.errors import ResultsError
from tallyroom.results.forms import COUNT_LABELS, BallotForm
from tallyroom.results.models import DataEntry, FormState, ResultForm
from tallyroom.results.views import _election, _flatten, _form_or_404, _role, _user

SUPERVISORS = (Role.AUDITOR, Role.ADMIN)
LIST_LIMIT = 500


def _choice_names(ballot: Ballot) -> dict[str, str]:
    contest = ballot.contest
    if contest.kind == contest.Kind.MAYOR:
        return dict(contest.candidates.values_list("entity__code", "name"))
    return dict(contest.entities.values_list("code", "name"))


def _same(a: Any, b: Any) -> bool:
    # As the blind-entry comparison: an empty optional box and a typed 0 agree.
    return (a or 0) == (b or 0)


def entry_rows(ballot: Ballot, entries: list[DataEntry]) -> list[dict[str, Any]]:
    """Every box of the paper form: its input name, label, the two entries' values, and whether they differ."""
    first, second = (_flatten(e.content) for e in entries[:2])
    names = _choice_names(ballot)
    boxes: list[tuple[str, str, str]] = [(name, name, str(label)) for name, label, _required in COUNT_LABELS]
    boxes += [(f"votes.{e}", f"votes__{e}", names.get(e, e)) for e in ballot.entities]
    for entity in ballot.entities:
        for position in sorted(ballot.positions.get(entity, ())):
            key = f"preferences.{entity}.{position}"
            if first.get(key) or second.get(key):
                boxes.append((key, f"pref__{entity}__{position}", f"{entity} #{position}"))
    return [
        {
            "field": field,
            "label": label,
            "values": [first.get(key), second.get(key)],
            "differs": not _same(first.get(key), second.get(key)),
        }
        for key, field, label in boxes
    ]


def _third_entry_form(ballot: Ballot, rows: list[dict[str, Any]], data: Any = None) -> BallotForm:
    """The ballot form with the agreed boxes filled in; the differing ones are empty and marked."""
    initial = {r["field"]: r["values"][0] for r in rows if not r["differs"]}
    form = BallotForm(data, ballot=ballot, prefix="t", prefix_focus=False, initial=initial)
    differing = [r["field"] for r in rows if r["differs"]]
    for i, name in enumerate(differing):
        attrs = form.fields[name].widget.attrs
        attrs["class"] = "count differs"
        if i == 0:
            attrs["autofocus"] = "autofocus"
    return form


@login_required
def disputed(request: HttpRequest, code: str) -> HttpResponse:
    """Official forms whose two blind entries differ, oldest first."""
    election = _election(code)
    _role(request, election, SUPERVISORS)
    forms = (
        ResultForm.objects.filter(contest__round__election=election, state=FormState.DISPUTED)
        .select_related("station", "contest__round", "contest__municipality")
        .order_by("updated_at", "pk")
    )
    context = {"election": election, "forms": forms[:LIST_LIMIT], "total": forms.count(), "limit": LIST_LIMIT}
    return render(request, "results/disputed.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def resolve(request: HttpRequest, code: str, form_id: int) -> HttpResponse:
    """The two entries side by side, the differing boxes marked; the supervisor's third entry settles them."""
    election = _election(code)
    reporter = _role(request, election, SUPERVISORS)
    form = _form_or_404(election, form_id)
    entries = list(DataEntry.objects.filter(form=form).select_related("clerk").order_by("number"))
    ballot = ballot_of(form.contest)
    rows = entry_rows(ballot, entries) if len(entries) >= 2 else []
    status, error = 200, ""
    third = _third_entry_form(ballot, rows, request.POST if request.method == "POST" else None) if rows else None
    if request.method == "POST" and third is not None:
        if third.is_valid():
            try:
                outcome = services.data_entry_resolve(
                    supervisor=_user(reporter), form=form, content=third.content(), role=reporter.role
                )
            except ResultsError as exc:
                error, status = exc.message, exc.status
            else:
                messages.success(
                    request,
                    _("Form %(id)s of station %(station)s is settled: %(state)s.")
                    % {"id": form.pk, "station": form.station.code, "state": FormState(outcome.form.state).label},
                )
                return redirect("results:disputed", code=election.code)
        else:
            status = 422
    elif request.method == "POST":
        error, status = _("This form has no two entries to settle."), 409
    context = {
        "election": election,
        "form": form,
        "entries": entries[:2],
        "third_entry": entries[2] if len(entries) > 2 else None,
        "rows": rows,
        "differing": sum(1 for r in rows if r["differs"]),
        "ballot": third,
        "can_resolve": form.state == FormState.DISPUTED and third is not None,
        "error": error,
    }
    return render(request, "results/resolve.html", context, status=status)
