"""Election day: what happened at each polling station, as it happened.

The logs (`StationEvent`, `TurnoutReport`, `Incident`, observers and their deployments) are the
record. `StationStatus` and `TurnoutFigure` are derived from them, kept in the same transaction as
each write so that the dashboard reads one row per station; `selectors.derived_state_problems`
recomputes them from the logs and says where they differ.

Every row that a submission creates carries its client key (unique per election when given): a
submission sent twice is recorded once.
"""

from __future__ import annotations

import secrets
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tallyroom.accounts.models import DeviceToken
from tallyroom.elections.models import Election, Municipality, PollingCentre, PollingStation, Round
from tallyroom.polling.labels import EVENT_CHOICES, STATUS_CHOICES
from tallyroom.polling.state import AccreditationStatus, IncidentStatus, Kind

USER = settings.AUTH_USER_MODEL


def _client_key_unique(model: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=["election", "client_key"], condition=~Q(client_key=""), name=f"{model}_client_key_unique"
    )


class Channel(models.TextChoices):
    API = "api", _("station device or API")
    WEB = "web", _("web form")
    BATCH = "batch", _("batch import")


class PollingBatch(models.Model):
    """Many reports written in one transaction with one audit entry; the entry's state digest covers
    every row of the batch."""

    class Kind(models.TextChoices):
        EVENTS = "events", _("station events")
        TURNOUT = "turnout", _("turnout reports")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    count = models.PositiveIntegerField(_("rows"))
    label = models.CharField(_("label"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("batch")
        verbose_name_plural = _("batches")

    def __str__(self) -> str:
        return f"batch #{self.pk} {self.kind} ({self.count})"


class Reported(models.Model):
    """Who sent a report, and how."""

    reported_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reporter_role = models.CharField(_("reporter's role"), max_length=10, blank=True)
    device = models.ForeignKey(DeviceToken, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices, default=Channel.API)
    client_key = models.CharField(_("client key"), max_length=200, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        abstract = True


class StationEvent(Reported):
    """Opened, suspended, resumed, closed, closed early, did not open; or a correction of one."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="+")
    station = models.ForeignKey(PollingStation, on_delete=models.PROTECT, related_name="events", db_index=False)
    kind = models.CharField(_("event"), max_length=14, choices=EVENT_CHOICES)
    occurred_at = models.DateTimeField(_("happened at"))
    reason = models.TextField(_("reason"), blank=True)
    # A correction names the event it replaces; an event is superseded at most once.
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    # The first event of the correction chain: its id orders events reported at the same minute.
    origin = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    batch = models.ForeignKey(PollingBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["station_id", "occurred_at", "id"]
        verbose_name = _("station event")
        verbose_name_plural = _("station events")
        indexes = [models.Index(fields=["station", "round", "id"], name="station_event_station_idx")]
        constraints = [
            _client_key_unique("station_event"),
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in Kind]), name="station_event_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind__in=["suspended", "closed_early", "did_not_open"]) | ~Q(reason=""),
                name="station_event_reason_given",
            ),
            models.CheckConstraint(
                condition=~Q(kind="retracted") | Q(supersedes__isnull=False),
                name="station_event_retraction_corrects",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.station_id} {self.kind} {self.occurred_at:%H:%M}"


class StationStatus(models.Model):
    """Derived: the station's status in a round, as its effective events say (one row per station)."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+", db_index=False)
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    station = models.ForeignKey(PollingStation, on_delete=models.CASCADE, related_name="statuses")
    status = models.CharField(_("status"), max_length=14, choices=STATUS_CHOICES)
    since = models.DateTimeField(_("since"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    event_count = models.PositiveIntegerField(_("events"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["station_id"]
        verbose_name = _("station status")
        verbose_name_plural = _("station statuses")
        constraints = [models.UniqueConstraint(fields=["station", "round"], name="station_status_unique")]
        indexes = [models.Index(fields=["round", "municipality", "status"], name="station_status_muni_idx")]

    def __str__(self) -> str:
        return f"{self.station_id} {self.status}"


class TurnoutReport(Reported):
    """Voters signed on the voter list so far, at a reporting time (`slot`) or ad hoc.

    The figure is never edited. A correction is a new report that supersedes the ones it says were
    wrong; a figure above the registered voters plus the same-day allowance is held for review.
    Each change of a report's standing is its own audit entry.
    """

    class Review(models.TextChoices):
        NONE = "", _("not needed")
        HELD = "held", _("held for review")
        ACCEPTED = "accepted", _("accepted after review")
        DISMISSED = "dismissed", _("dismissed after review")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="+", db_index=False)
    station = models.ForeignKey(
        PollingStation, on_delete=models.PROTECT, related_name="turnout_reports", db_index=False
    )
    slot = models.CharField(_("reporting time"), max_length=5, blank=True)
    at = models.DateTimeField(_("as of"))
    voters = models.PositiveIntegerField(_("voters signed"))
    correction = models.BooleanField(_("correction"), default=False)
    superseded_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="supersedes"
    )
    received_at = models.DateTimeField(_("received at"))
    late = models.BooleanField(_("late"), default=False)
    review = models.CharField(_("review"), max_length=10, choices=Review.choices, blank=True, default="")
    review_reason = models.TextField(_("why held"), blank=True)
    reviewed_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.TextField(_("review note"), blank=True)
    batch = models.ForeignKey(PollingBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["station_id", "at", "id"]
        verbose_name = _("turnout report")
        verbose_name_plural = _("turnout reports")
        indexes = [
            models.Index(fields=["station", "round", "at"], name="turnout_station_idx"),
            models.Index(fields=["round", "review"], name="turnout_review_idx"),
        ]
        constraints = [
            _client_key_unique("turnout_report"),
            models.CheckConstraint(
                condition=Q(review__in=["", "held", "accepted", "dismissed"]), name="turnout_review_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.station_id} {self.slot or 'ad hoc'} {self.voters}"

    @property
    def effective(self) -> bool:
        return self.superseded_by_id is None and self.review in {"", "accepted"}


class TurnoutFigure(models.Model):
    """Derived: a station's cumulative figure as of each reporting time, for the dashboard's sums.

    `voters` is the latest effective report at or before the reporting time (null if none);
    `reported` says whether the station sent a report for this reporting time itself.
    """

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+", db_index=False)
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    station = models.ForeignKey(PollingStation, on_delete=models.CASCADE, related_name="+")
    slot = models.CharField(_("reporting time"), max_length=5)
    voters = models.PositiveIntegerField(_("voters signed"), null=True, blank=True)
    registered = models.PositiveIntegerField(_("registered voters"))
    reported = models.BooleanField(_("reported for this time"), default=False)
    late = models.BooleanField(_("late"), default=False)
    held = models.BooleanField(_("held for review"), default=False)

    class Meta:
        ordering = ["station_id", "slot"]
        verbose_name = _("turnout figure")
        verbose_name_plural = _("turnout figures")
        constraints = [models.UniqueConstraint(fields=["station", "round", "slot"], name="turnout_figure_unique")]
        indexes = [models.Index(fields=["round", "slot", "municipality"], name="turnout_figure_slot_idx")]

    def __str__(self) -> str:
        return f"{self.station_id} {self.slot} {self.voters}"


class Incident(Reported):
    """What happened where. Seen by the public, and by every role, once the commission verifies it."""

    class Kind(models.TextChoices):
        VIOLENCE = "violence", _("violence")
        INTIMIDATION = "intimidation", _("intimidation")
        BALLOT_BOX = "ballot_box", _("ballot box destroyed or stolen")
        EARLY_CLOSURE = "early_closure", _("early closure")
        STAFF_WITHDRAWN = "staff_withdrawn", _("staff withdrawn")
        OBSERVERS_OBSTRUCTED = "observers_obstructed", _("observers obstructed")
        PROCEDURAL = "procedural", _("procedural breach")
        CAMPAIGNING = "campaigning", _("campaigning at the station")
        OTHER = "other", _("other")

    class Severity(models.TextChoices):
        LOW = "low", _("low")
        MEDIUM = "medium", _("medium")
        HIGH = "high", _("high")
        CRITICAL = "critical", _("critical")

    class Status(models.TextChoices):
        REPORTED = IncidentStatus.REPORTED.value, _("reported")
        VERIFIED = IncidentStatus.VERIFIED.value, _("verified")
        REJECTED = IncidentStatus.REJECTED.value, _("rejected")
        RESOLVED = IncidentStatus.RESOLVED.value, _("resolved")

    class Reporter(models.TextChoices):
        OFFICIAL = "official", _("official")
        OBSERVER = "observer", _("observer")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+", db_index=False)
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="+")
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    station = models.ForeignKey(
        PollingStation, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents", db_index=False
    )
    place = models.CharField(_("place"), max_length=300, blank=True)
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices)
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices)
    occurred_at = models.DateTimeField(_("happened at"))
    description = models.TextField(_("description"))
    public_description = models.TextField(_("public description"), blank=True)
    reporter_kind = models.CharField(_("reported by"), max_length=8, choices=Reporter.choices)
    observer = models.ForeignKey("Observer", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.REPORTED)
    decided_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(_("verified or rejected at"), null=True, blank=True)
    decision_note = models.TextField(_("verification note"), blank=True)
    resolved_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        indexes = [
            models.Index(fields=["election", "status", "occurred_at"], name="incident_feed_idx"),
            models.Index(fields=["station", "status"], name="incident_station_idx"),
        ]
        constraints = [
            _client_key_unique("incident"),
            models.CheckConstraint(condition=Q(station__isnull=False) | ~Q(place=""), name="incident_has_place"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in IncidentStatus]), name="incident_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"incident #{self.pk} {self.kind}"

    @property
    def is_public(self) -> bool:
        return self.status in {IncidentStatus.VERIFIED, IncidentStatus.RESOLVED}


def _photo_path(instance: IncidentPhoto, filename: str) -> str:
    """A random name: the uploader's file name says nothing about where the file lives."""
    suffix = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}.get(instance.content_type, "")
    return str(PurePosixPath("incidents") / f"{secrets.token_hex(16)}{suffix}")


class IncidentPhoto(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="photos")
    file = models.FileField(_("file"), upload_to=_photo_path, max_length=200)
    content_type = models.CharField(_("content type"), max_length=20)
    size = models.PositiveIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["incident_id", "id"]
        verbose_name = _("incident photo")
        verbose_name_plural = _("incident photos")

    def __str__(self) -> str:
        return f"photo #{self.pk} of incident #{self.incident_id}"


class ObserverOrganisation(models.Model):
    class Kind(models.TextChoices):
        INTERNATIONAL = "international", _("international organisation")
        DOMESTIC = "domestic", _("domestic organisation")
        ENTITY = "entity", _("political entity's agents")
        MEDIA = "media", _("media")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=14, choices=Kind.choices)
    client_key = models.CharField(_("client key"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["election_id", "name"]
        verbose_name = _("observer organisation")
        verbose_name_plural = _("observer organisations")
        constraints = [
            models.UniqueConstraint(fields=["election", "name"], name="observer_org_name_unique"),
            _client_key_unique("observer_org"),
        ]

    def __str__(self) -> str:
        return self.name


class Observer(models.Model):
    """An individual's accreditation: applied -> approved (badge number) -> revoked, or refused."""

    class Status(models.TextChoices):
        APPLIED = AccreditationStatus.APPLIED.value, _("applied")
        APPROVED = AccreditationStatus.APPROVED.value, _("approved")
        REFUSED = AccreditationStatus.REFUSED.value, _("refused")
        REVOKED = AccreditationStatus.REVOKED.value, _("revoked")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey(ObserverOrganisation, on_delete=models.PROTECT, related_name="observers")
    full_name = models.CharField(_("full name"), max_length=200)
    user = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.APPLIED)
    badge_number = models.CharField(_("badge number"), max_length=40, blank=True)
    applied_at = models.DateTimeField(_("applied at"), auto_now_add=True)
    decided_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    reason = models.TextField(_("reason for refusal or revocation"), blank=True)
    client_key = models.CharField(_("client key"), max_length=200, blank=True)

    class Meta:
        ordering = ["organisation_id", "full_name", "id"]
        verbose_name = _("observer")
        verbose_name_plural = _("observers")
        constraints = [
            models.UniqueConstraint(
                fields=["election", "badge_number"], condition=~Q(badge_number=""), name="observer_badge_unique"
            ),
            models.UniqueConstraint(
                fields=["election", "user"],
                condition=Q(user__isnull=False) & Q(status__in=["applied", "approved"]),
                name="observer_user_active_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | ~Q(badge_number=""), name="observer_approved_has_badge"
            ),
            _client_key_unique("observer"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.organisation})"


class Withdrawal(models.Model):
    """An organisation pulls its staff from an area: a municipality, all municipalities of an area
    (e.g. "north"), or one polling centre. Every open deployment there ends with it."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(ObserverOrganisation, on_delete=models.PROTECT, related_name="withdrawals")
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    area = models.CharField(_("area"), max_length=40, blank=True)
    centre = models.ForeignKey(PollingCentre, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    occurred_at = models.DateTimeField(_("happened at"))
    reason = models.TextField(_("reason"))
    deployments_ended = models.PositiveIntegerField(_("deployments ended"), default=0)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    client_key = models.CharField(_("client key"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(municipality__isnull=False, area="", centre__isnull=True)
                    | Q(municipality__isnull=True, centre__isnull=True) & ~Q(area="")
                    | Q(municipality__isnull=True, area="", centre__isnull=False)
                ),
                name="withdrawal_one_scope",
            ),
            _client_key_unique("withdrawal"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} withdrew ({self.pk})"


class Deployment(models.Model):
    """An observer at a station from `started_at` until `ended_at` (open while null)."""

    class End(models.TextChoices):
        NONE = "", _("still there")
        LEFT = "left", _("left")
        MOVED = "moved", _("moved to another station")
        WITHDRAWN = "withdrawn", _("withdrawn by the organisation")
        REVOKED = "revoked", _("accreditation revoked")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="+", db_index=False)
    observer = models.ForeignKey(Observer, on_delete=models.PROTECT, related_name="deployments")
    station = models.ForeignKey(PollingStation, on_delete=models.PROTECT, related_name="deployments")
    started_at = models.DateTimeField(_("from"))
    ended_at = models.DateTimeField(_("until"), null=True, blank=True)
    end_reason = models.CharField(_("why it ended"), max_length=10, choices=End.choices, blank=True)
    withdrawal = models.ForeignKey(Withdrawal, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    deployed_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    client_key = models.CharField(_("client key"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["station_id", "started_at", "id"]
        verbose_name = _("deployment")
        verbose_name_plural = _("deployments")
        indexes = [models.Index(fields=["round", "ended_at", "station"], name="deployment_open_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["observer"], condition=Q(ended_at__isnull=True), name="deployment_one_open_per_observer"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True, end_reason="") | Q(ended_at__isnull=False) & ~Q(end_reason=""),
                name="deployment_end_has_reason",
            ),
            _client_key_unique("deployment"),
        ]

    def __str__(self) -> str:
        return f"{self.observer_id} @ {self.station_id}"
