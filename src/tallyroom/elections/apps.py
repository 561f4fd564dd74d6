from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ElectionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tallyroom.elections"
    label = "elections"
    verbose_name = _("Elections")

    def ready(self) -> None:
        from tallyroom.audit.chain import register
        from tallyroom.elections.audit import election_state

        register("election", election_state)
