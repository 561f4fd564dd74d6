from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tallyroom.accounts.models import Role, RoleAssignment
from tallyroom.accounts.services import user_grant_role, user_revoke_role


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin[RoleAssignment]):
    """Roles are granted and revoked here through the services, so each change is on the audit
    chain (and a revoked administrator loses the admin). A grant is not edited: revoke, grant anew."""

    list_display = ("user", "role", "election", "municipality", "station")
    list_filter = ("role", "election")
    search_fields = ("user__username", "station__code", "municipality__name_en")
    raw_id_fields = ("municipality", "station")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: RoleAssignment, form: ModelForm[Any], change: bool) -> None:
        grant = user_grant_role(
            obj.user,
            obj.election,
            Role(obj.role),
            municipality=obj.municipality,
            station=obj.station,
            actor=request.user.get_username(),
        )
        obj.pk = grant.pk

    def delete_model(self, request: HttpRequest, obj: RoleAssignment) -> None:
        user_revoke_role(obj, actor=request.user.get_username())

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RoleAssignment]) -> None:
        for grant in queryset.select_related("user"):
            user_revoke_role(grant, actor=request.user.get_username())


# django-otp's own admin shows every account's TOTP secret and edits devices behind the audit
# chain's back; devices are managed with `tallyroom totp` instead.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
