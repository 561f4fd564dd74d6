from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PublishConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tallyroom.publish"
    label = "publish"
    verbose_name = _("Publish")

    def ready(self) -> None:
        from tallyroom.audit.chain import register
        from tallyroom.publish.services import publication_state

        register("publication", publication_state)
