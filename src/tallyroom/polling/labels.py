"""Words for the machine's states and events, in the user's language."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tallyroom.polling.state import Kind, Status

STATUS_LABELS: dict[Status, Promise] = {
    Status.NOT_OPENED: _("not opened"),
    Status.OPEN: _("open"),
    Status.SUSPENDED: _("suspended"),
    Status.CLOSED: _("closed"),
    Status.CLOSED_EARLY: _("closed early"),
    Status.DID_NOT_OPEN: _("did not open"),
}

EVENT_LABELS: dict[Kind, Promise] = {
    Kind.OPENED: _("opened"),
    Kind.SUSPENDED: _("suspended"),
    Kind.RESUMED: _("resumed"),
    Kind.CLOSED: _("closed"),
    Kind.CLOSED_EARLY: _("closed early"),
    Kind.DID_NOT_OPEN: _("did not open"),
    Kind.RETRACTED: _("retracted"),
}

# What the chair's button says for each event.
EVENT_ACTIONS: dict[Kind, Promise] = {
    Kind.OPENED: _("Open the station"),
    Kind.SUSPENDED: _("Suspend voting"),
    Kind.RESUMED: _("Resume voting"),
    Kind.CLOSED: _("Close the station"),
    Kind.CLOSED_EARLY: _("Close early"),
    Kind.DID_NOT_OPEN: _("Did not open"),
    Kind.RETRACTED: _("Retract"),
}

STATUS_CHOICES = [(s.value, STATUS_LABELS[s]) for s in Status]
EVENT_CHOICES = [(k.value, EVENT_LABELS[k]) for k in Kind]
