from django.contrib import admin

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


class RoundInline(admin.TabularInline[Round, Election]):
    model = Round
    extra = 0


@admin.register(Election)
class ElectionAdmin(admin.ModelAdmin[Election]):
    list_display = ("code", "name_en", "timezone", "polls_open", "polls_close")
    readonly_fields = ("definition", "definition_sha256", "created_at", "updated_at")
    inlines = [RoundInline]


@admin.register(Municipality)
class MunicipalityAdmin(admin.ModelAdmin[Municipality]):
    list_display = ("code", "name_en", "name_sq", "name_sr", "area", "assembly_seats", "election")
    list_filter = ("election", "area")
    search_fields = ("code", "name_en", "name_sq", "name_sr")


@admin.register(PollingCentre)
class PollingCentreAdmin(admin.ModelAdmin[PollingCentre]):
    list_display = ("code", "name", "municipality")
    list_filter = ("election",)
    search_fields = ("code", "name")
    raw_id_fields = ("municipality",)


@admin.register(PollingStation)
class PollingStationAdmin(admin.ModelAdmin[PollingStation]):
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
class PoliticalEntityAdmin(admin.ModelAdmin[PoliticalEntity]):
    list_display = ("code", "short_name", "name", "kind", "election")
    list_filter = ("election", "kind")
    search_fields = ("code", "name", "short_name")


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin[Candidate]):
    list_display = ("name", "office", "entity", "position", "gender", "municipality")
    list_filter = ("office", "gender")
    search_fields = ("name",)
    raw_id_fields = ("municipality", "entity")


@admin.register(Contest)
class ContestAdmin(admin.ModelAdmin[Contest]):
    list_display = ("municipality", "kind", "round", "seats")
    list_filter = ("kind", "round")
