"""Who may do what: a role per user, scoped to a municipality or a station where the role needs it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tallyroom.elections.models import Election, Municipality, PollingStation


class Role(models.TextChoices):
    ADMIN = "admin", _("Central commission administrator")
    OFFICIAL = "official", _("Municipal commission official")
    CHAIR = "chair", _("Polling station chair")
    CLERK = "clerk", _("Counting centre data-entry clerk")
    AUDITOR = "auditor", _("Auditor")
    PANEL = "panel", _("Complaints panel member")
    OBSERVER = "observer", _("Observer")


class RoleAssignment(models.Model):
    """One role of one user in one election. Chairs hold a station; officials a municipality."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="roles")
    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    station = models.ForeignKey(PollingStation, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["user_id", "role"]
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.CheckConstraint(condition=Q(role__in=[r.value for r in Role]), name="role_valid"),
            models.CheckConstraint(
                condition=~Q(role="chair") | Q(station__isnull=False), name="role_chair_has_station"
            ),
            models.CheckConstraint(
                condition=~Q(role="official") | Q(municipality__isnull=False),
                name="role_official_has_municipality",
            ),
            # Three partial constraints: SQLite cannot make NULLs equal in one.
            models.UniqueConstraint(
                fields=["user", "election", "role"],
                condition=Q(municipality__isnull=True, station__isnull=True),
                name="role_unique_unscoped",
            ),
            models.UniqueConstraint(
                fields=["user", "election", "role", "municipality"],
                condition=Q(municipality__isnull=False, station__isnull=True),
                name="role_unique_municipality",
            ),
            models.UniqueConstraint(
                fields=["user", "election", "role", "station"],
                condition=Q(station__isnull=False),
                name="role_unique_station",
            ),
        ]

    def __str__(self) -> str:
        scope = self.station or self.municipality or self.election
        return f"{self.user} {self.role} @ {scope}"


class DeviceToken(models.Model):
    """A station device's key: one chair, one station, one round. Only the SHA-256 of the token is
    kept; the token itself is shown once, when issued."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="device_tokens")
    station = models.ForeignKey(PollingStation, on_delete=models.PROTECT, related_name="+")
    round = models.ForeignKey("elections.Round", on_delete=models.PROTECT, related_name="+")
    token_sha256 = models.CharField(_("token SHA-256"), max_length=64)
    label = models.CharField(_("label"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Telemetry, not state: not covered by the audit chain.
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = _("device token")
        verbose_name_plural = _("device tokens")
        # A constraint rather than unique=True: PostgreSQL then gets no second (LIKE) index on it.
        constraints = [models.UniqueConstraint(fields=["token_sha256"], name="device_token_sha256_unique")]

    def __str__(self) -> str:
        return f"device token #{self.pk} ({self.station_id})"


class IdempotentRequest(models.Model):
    """A submission's client key and the answer it got, so a retry gets the same answer and writes
    nothing. Only successful answers are kept: a refused submission leaves no row."""

    actor = models.CharField(_("actor"), max_length=80)
    key = models.CharField(_("client key"), max_length=200)
    scope = models.CharField(_("scope"), max_length=80)
    request_sha256 = models.CharField(_("request SHA-256"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status code"), default=0)
    response = models.JSONField(_("response"), default=dict)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        constraints = [models.UniqueConstraint(fields=["actor", "key"], name="idempotent_request_unique")]

    def __str__(self) -> str:
        return f"{self.actor} {self.key}"
