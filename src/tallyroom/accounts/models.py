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
