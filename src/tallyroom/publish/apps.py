from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PublishConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tallyroom.publish"
    label = "publish"
    verbose_name = _("Publish")
