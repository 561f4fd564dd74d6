"""The election's structure in the admin, read-only: it changes only through `tallyroom load
--replace` / `load-stations`, which check it and put every change on the audit chain."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext as _

from tallyroom.elections.models import (
    Candidate,
    Contest,
    Election,
    Municipality,
    PoliticalEntity,
    PollingCentre,
    PollingStation,
    Round,
)


class ReadOnly(admin.ModelAdmin[Model]):
    """Viewable by administrators; written only by audited services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RoundInline(admin.TabularInline[Round, Election]):
    model = Round
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Election)
class ElectionAdmin(ReadOnly):
    list_display = ("code", "name_en", "timezone", "polls_open", "polls_close")
    readonly_fields = ("definition_size", "definition_sha256", "created_at", "updated_at")
    exclude = ("definition_packed",)
    inlines = [RoundInline]

    @admin.display(description=_("definition as loaded"))
    def definition_size(self, obj: Election) -> str:
        # Not shown whole: a national definition is ~100 MB of JSON. The rows below are its content.
        return _("%(size)s bytes, compressed") % {"size": f"{len(obj.definition_packed):,}"}


@admin.register(Municipality)
class MunicipalityAdmin(ReadOnly):
    list_display = ("code", "name_en", "name_sq", "name_sr", "area", "assembly_seats", "election")
    list_filter = ("election", "area")
    search_fields = ("code", "name_en", "name_sq", "name_sr")


@admin.register(PollingCentre)
class PollingCentreAdmin(ReadOnly):
    list_display = ("code", "name", "municipality")
    list_filter = ("election",)
    search_fields = ("code", "name")
    raw_id_fields = ("municipality",)


@admin.register(PollingStation)
class PollingStationAdmin(ReadOnly):
    list_display = (
        "code",
        "centre",
        "municipality",
        "kind",
        "registered_voters",
        "registered_estimated",
    )
    list_filter = ("election", "kind", "registered_estimated")
    search_fields = ("code",)
    raw_id_fields = ("municipality", "centre")


@admin.register(PoliticalEntity)
class PoliticalEntityAdmin(ReadOnly):
    list_display = ("code", "short_name", "name", "kind", "election")
    list_filter = ("election", "kind")
    search_fields = ("code", "name", "short_name")


@admin.register(Candidate)
class CandidateAdmin(ReadOnly):
    list_display = ("name", "office", "entity", "position", "gender", "municipality")
    list_filter = ("office", "gender")
    search_fields = ("name",)
    raw_id_fields = ("municipality", "entity")


@admin.register(Contest)
class ContestAdmin(ReadOnly):
    list_display = ("municipality", "kind", "round", "seats")
    list_filter = ("kind", "round")
