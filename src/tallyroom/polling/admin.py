"""Election-day rows in the admin: read-only. Every change goes through a service, so that it is
checked and lands in the audit chain; the admin only looks, and approves accreditations in bulk."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tallyroom.accounts.models import Role, RoleAssignment
from tallyroom.elections.admin import ReadOnly
from tallyroom.polling import services
from tallyroom.polling.access import Reporter
from tallyroom.polling.errors import PollingError
from tallyroom.polling.models import (
    Deployment,
    Incident,
    Observer,
    ObserverOrganisation,
    StationEvent,
    StationStatus,
    TurnoutReport,
    Withdrawal,
)


@admin.register(StationEvent)
class StationEventAdmin(ReadOnly):
    list_display = ("station", "kind", "occurred_at", "reason", "supersedes", "reported_by", "channel")
    list_filter = ("kind", "channel", "round")
    search_fields = ("station__code", "reason")
    raw_id_fields = ("station",)


@admin.register(StationStatus)
class StationStatusAdmin(ReadOnly):
    list_display = ("station", "round", "status", "since", "reason")
    list_filter = ("status", "round")
    search_fields = ("station__code",)


@admin.register(TurnoutReport)
class TurnoutReportAdmin(ReadOnly):
    list_display = ("station", "slot", "at", "voters", "correction", "late", "review", "superseded_by")
    list_filter = ("review", "late", "correction", "slot", "round")
    search_fields = ("station__code",)


@admin.register(Incident)
class IncidentAdmin(ReadOnly):
    list_display = ("id", "kind", "severity", "status", "occurred_at", "municipality", "station", "reporter_kind")
    list_filter = ("status", "kind", "severity", "reporter_kind")
    search_fields = ("description", "station__code", "place")


@admin.register(ObserverOrganisation)
class ObserverOrganisationAdmin(ReadOnly):
    list_display = ("name", "kind", "election")


@admin.action(description=_("Approve the selected applications"))
def approve(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Observer]) -> None:
    done = 0
    for observer in queryset.select_related("election"):
        if not RoleAssignment.objects.filter(
            user_id=request.user.pk or 0, election=observer.election, role=Role.ADMIN
        ).exists():
            continue
        try:
            services.observer_approve(observer=observer, reporter=Reporter(request.user, Role.ADMIN))  # type: ignore[arg-type]
            done += 1
        except PollingError as exc:
            messages.warning(request, f"{observer}: {exc.message}")
    messages.info(request, _("%(n)s approved.") % {"n": done})


@admin.register(Observer)
class ObserverAdmin(ReadOnly):
    list_display = ("full_name", "organisation", "status", "badge_number", "user")
    list_filter = ("status", "organisation")
    search_fields = ("full_name", "badge_number")
    actions = [approve]  # type: ignore[list-item]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnly):
    list_display = ("observer", "station", "started_at", "ended_at", "end_reason")
    list_filter = ("end_reason",)
    search_fields = ("station__code", "observer__full_name")


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnly):
    list_display = ("organisation", "municipality", "area", "centre", "occurred_at", "deployments_ended")
