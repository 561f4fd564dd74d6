"""The chair's and the commission's web forms. Each carries a client key made when the form is shown,
so a double tap or a resent form on a weak connection records once."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tallyroom.polling.models import Incident, ObserverOrganisation
from tallyroom.polling.state import Kind


def new_key() -> str:
    return str(uuid.uuid4())


class Keyed(forms.Form):
    client_key = forms.CharField(widget=forms.HiddenInput, max_length=200, min_length=8)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("client_key", new_key())


TIME_WIDGET = forms.TimeInput(attrs={"type": "time", "inputmode": "numeric"}, format="%H:%M")


class EventForm(Keyed):
    kind = forms.ChoiceField(
        choices=[(k.value, k.value) for k in Kind if k != Kind.RETRACTED], widget=forms.HiddenInput
    )
    time = forms.TimeField(label=_("Time"), widget=TIME_WIDGET)
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class CorrectionForm(Keyed):
    corrects = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    kind = forms.ChoiceField(label=_("What happened instead"), choices=[])
    time = forms.TimeField(label=_("Time"), widget=TIME_WIDGET, required=False)
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class TurnoutForm(Keyed):
    slot = forms.ChoiceField(label=_("Reporting time"), choices=[], required=False)
    time = forms.TimeField(label=_("Time of an ad hoc figure"), widget=TIME_WIDGET, required=False)
    voters = forms.IntegerField(
        label=_("Voters signed on the list so far"),
        min_value=0,
        max_value=10_000_000,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    correction = forms.BooleanField(label=_("This corrects an earlier figure"), required=False)

    def __init__(self, *args: Any, slots: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slot"].choices = [("", _("ad hoc (give the time)")), *((s, s) for s in slots)]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("slot") and not data.get("time"):
            self.add_error("time", _("Choose a reporting time, or give the time of an ad hoc figure."))
        return data


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class IncidentForm(Keyed):
    kind = forms.ChoiceField(label=_("Type"), choices=Incident.Kind.choices)
    severity = forms.ChoiceField(label=_("Severity"), choices=Incident.Severity.choices, initial="medium")
    time = forms.TimeField(label=_("Time"), widget=TIME_WIDGET)
    place = forms.CharField(label=_("Place, if not inside the station"), required=False, max_length=300)
    description = forms.CharField(label=_("What happened"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))
    photos = MultipleImageField(label=_("Photos (JPEG, PNG or WebP)"), required=False)


class PlaceIncidentForm(IncidentForm):
    """An incident reported from the incident desk (observers, officials): the station, or the
    municipality of a described place."""

    station = forms.CharField(label=_("Station code"), required=False, max_length=40)
    municipality = forms.ChoiceField(label=_("Or the municipality of the place"), required=False, choices=[])

    def __init__(self, *args: Any, municipalities: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["municipality"].choices = [("", "—"), *municipalities]  # type: ignore[attr-defined]


class DecisionForm(Keyed):
    decision = forms.ChoiceField(choices=[("verify", "verify"), ("reject", "reject"), ("resolve", "resolve")])
    note = forms.CharField(label=_("Note"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    public_description = forms.CharField(
        label=_("Public description (optional)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReviewForm(Keyed):
    report = forms.IntegerField(widget=forms.HiddenInput)
    accept = forms.TypedChoiceField(
        choices=[("1", _("Accept")), ("0", _("Dismiss"))], coerce=lambda v: v == "1", widget=forms.HiddenInput
    )
    note = forms.CharField(label=_("Note"), max_length=2000)


class WithdrawalForm(Keyed):
    organisation = forms.ModelChoiceField(label=_("Organisation"), queryset=ObserverOrganisation.objects.none())
    municipality = forms.ChoiceField(label=_("From municipality"), required=False, choices=[])
    area = forms.ChoiceField(label=_("Or from the whole area"), required=False, choices=[])
    time = forms.TimeField(label=_("Time"), widget=TIME_WIDGET)
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(
        self, *args: Any, organisations: Any, municipalities: list[tuple[str, str]], areas: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations  # type: ignore[attr-defined]
        self.fields["municipality"].choices = [("", "—"), *municipalities]  # type: ignore[attr-defined]
        self.fields["area"].choices = [("", "—"), *((a, a) for a in areas)]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("municipality")) == bool(data.get("area")):
            self.add_error("municipality", _("Choose a municipality or an area (one of them)."))
        return data
