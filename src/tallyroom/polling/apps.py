from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PollingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tallyroom.polling"
    label = "polling"
    verbose_name = _("Polling")
