from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice

from tallyroom.accounts.models import RoleAssignment


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin[RoleAssignment]):
    list_display = ("user", "role", "election", "municipality", "station")
    list_filter = ("role", "election")
    search_fields = ("user__username", "station__code", "municipality__name_en")
    raw_id_fields = ("municipality", "station")


# django-otp's own admin shows every account's TOTP secret and edits devices behind the audit
# chain's back; devices are managed with `tallyroom totp` instead.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
