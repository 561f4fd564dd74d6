from django.contrib import admin

from tallyroom.accounts.models import RoleAssignment


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin[RoleAssignment]):
    list_display = ("user", "role", "election", "municipality", "station")
    list_filter = ("role", "election")
    search_fields = ("user__username", "station__code", "municipality__name_en")
    raw_id_fields = ("municipality", "station")
