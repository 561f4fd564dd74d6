from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PollingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tallyroom.polling"
    label = "polling"
    verbose_name = _("Polling")

    def ready(self) -> None:
        from tallyroom.accounts.tokens import device_token_state
        from tallyroom.audit.chain import register
        from tallyroom.polling import audit

        register("station_event", audit.station_event_state)
        register("turnout_report", audit.turnout_report_state)
        register("incident", audit.incident_state)
        register("incident_photo", audit.incident_photo_state)
        register("observer_organisation", audit.observer_organisation_state)
        register("observer", audit.observer_state)
        register("deployment", audit.deployment_state)
        register("withdrawal", audit.withdrawal_state)
        register("polling_batch", audit.polling_batch_state)
        # Device tokens live in accounts; election day is what they are for.
        register("device_token", device_token_state)
