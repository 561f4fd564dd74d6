"""The count's web forms: a paper result form as typed by a clerk, the auditor's decision, the
complaints panel's forms. Each validates its input; the services decide what it means."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tallyroom.elections.models import Candidate, Contest
from tallyroom.results.content import Ballot, FormContent
from tallyroom.results.models import AuditorDecision, Complaint

MAX_COUNT = 10_000_000


def _number(label: Any, *, required: bool, autofocus: bool = False) -> forms.IntegerField:
    attrs = {"inputmode": "numeric", "pattern": "[0-9]*", "autocomplete": "off", "class": "count"}
    if autofocus:
        attrs["autofocus"] = "autofocus"
    return forms.IntegerField(
        label=label, required=required, min_value=0, max_value=MAX_COUNT, widget=forms.TextInput(attrs=attrs)
    )


# The counts of a paper form, in the order they are printed on it.
COUNT_LABELS: list[tuple[str, Any, bool]] = [
    ("signatures", _("Voters signed on the list"), False),
    ("ballots_received", _("Ballots received"), False),
    ("ballots_used", _("Ballots used"), False),
    ("ballots_unused", _("Ballots unused"), False),
    ("ballots_spoiled", _("Ballots spoiled"), False),
    ("invalid", _("Invalid ballots (blank included)"), True),
    ("blank", _("of which blank"), False),
    ("conditional", _("Conditional ballots"), False),
]


class ChooseForm(forms.Form):
    """Which paper form is on the desk: the station's code and the contest."""

    station = forms.CharField(
        label=_("Station code"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"autofocus": "autofocus", "autocomplete": "off", "placeholder": "0101C/01R", "spellcheck": "false"}
        ),
    )
    contest = forms.ChoiceField(label=_("Contest"), choices=Contest.Kind.choices)
    round = forms.ChoiceField(label=_("Round"), choices=[])

    def __init__(self, *args: Any, rounds: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["round"].choices = rounds  # type: ignore[attr-defined]

    def clean_station(self) -> str:
        return str(self.cleaned_data["station"]).strip().upper()


class BallotForm(forms.Form):
    """A contest's paper form: every count, one input per choice in ballot order, and for an
    assembly the preference votes per list position."""

    def __init__(self, *args: Any, ballot: Ballot, prefix_focus: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ballot = ballot
        contest = ballot.contest
        for i, (name, label, required) in enumerate(COUNT_LABELS):
            self.fields[name] = _number(label, required=required, autofocus=prefix_focus and i == 0)
        self.vote_fields: list[str] = []
        self.preference_groups: list[tuple[str, list[str]]] = []
        if contest.kind == Contest.Kind.MAYOR:
            names = dict(contest.candidates.values_list("entity__code", "name"))
        else:
            names = dict(contest.entities.values_list("code", "name"))
        for code in ballot.entities:
            field = f"votes__{code}"
            self.fields[field] = _number(names.get(code, code), required=True)
            self.vote_fields.append(field)
        if contest.kind == Contest.Kind.ASSEMBLY:
            people = {
                (e, p): n
                for e, p, n in Candidate.objects.filter(
                    municipality_id=contest.municipality_id, office=Candidate.Office.ASSEMBLY
                ).values_list("entity__code", "position", "name")
            }
            for code in ballot.entities:
                group = []
                for position in sorted(ballot.positions.get(code, ())):
                    field = f"pref__{code}__{position}"
                    label = f"{position}. {people.get((code, position), '')}"
                    self.fields[field] = _number(label, required=False)
                    group.append(field)
                if group:
                    self.preference_groups.append((str(names.get(code, code)), group))

    def count_fields(self) -> list[forms.BoundField]:
        return [self[name] for name, _label, _required in COUNT_LABELS]

    def votes(self) -> list[forms.BoundField]:
        return [self[name] for name in self.vote_fields]

    def preferences(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(label, [self[f] for f in group]) for label, group in self.preference_groups]

    def content(self) -> FormContent:
        data = self.cleaned_data
        prefs: dict[str, dict[int, int]] = {}
        for _label, group in self.preference_groups:
            for field in group:
                _p, entity, position = field.split("__")
                if data.get(field):
                    prefs.setdefault(entity, {})[int(position)] = data[field]
        return FormContent(
            votes={f.removeprefix("votes__"): data[f] for f in self.vote_fields},
            invalid=data["invalid"],
            blank=data.get("blank") or 0,
            conditional=data.get("conditional") or 0,
            signatures=data.get("signatures"),
            ballots_received=data.get("ballots_received"),
            ballots_used=data.get("ballots_used"),
            ballots_unused=data.get("ballots_unused"),
            ballots_spoiled=data.get("ballots_spoiled"),
            preferences=prefs,
        )

    @staticmethod
    def initial_of(content: FormContent) -> dict[str, Any]:
        initial: dict[str, Any] = {name: getattr(content, name) for name, _l, _r in COUNT_LABELS}
        initial.update({f"votes__{code}": v for code, v in content.votes.items()})
        for entity, by_position in content.preferences.items():
            initial.update({f"pref__{entity}__{p}": v for p, v in by_position.items()})
        return initial


class EntryKeyForm(forms.Form):
    """The ballot form's hidden part: which station and contest it is for."""

    station = forms.CharField(max_length=40, widget=forms.HiddenInput)
    contest_id = forms.IntegerField(widget=forms.HiddenInput)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"), choices=AuditorDecision.Decision.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(label=_("Reason"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    recount = forms.CharField(
        label=_("Recount record (who recounted, when, record number)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == AuditorDecision.Decision.CORRECT and not str(data.get("recount", "")).strip():
            self.add_error("recount", _("A correction needs the recount record."))
        return data


class ComplaintForm(forms.Form):
    municipality = forms.ChoiceField(label=_("Municipality"), choices=[])
    station = forms.CharField(label=_("Station code (optional)"), max_length=40, required=False)
    contest = forms.ChoiceField(
        label=_("Contest (optional)"), choices=[("", "—"), *Contest.Kind.choices], required=False
    )
    complainant = forms.CharField(label=_("Complainant"), max_length=200)
    subject = forms.CharField(label=_("Subject"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, municipalities: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["municipality"].choices = municipalities  # type: ignore[attr-defined]

    def clean_station(self) -> str:
        return str(self.cleaned_data.get("station") or "").strip().upper()


class ComplaintDecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=Complaint.Decision.choices)
    reasoning = forms.CharField(label=_("Reasoning"), max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    legal_basis = forms.CharField(label=_("Legal basis"), max_length=300, required=False)
    repeat_round = forms.ChoiceField(label=_("Repeat voting round (optional)"), choices=[], required=False)

    def __init__(self, *args: Any, repeat_rounds: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["repeat_round"].choices = [("", "—"), *repeat_rounds]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == Complaint.Decision.ANNULMENT and not str(data.get("legal_basis", "")).strip():
            self.add_error("legal_basis", _("An annulment needs its legal basis."))
        return data
