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

        register("station_event", audit.station_event_state, audit.station_event_state.many)
        register("turnout_report", audit.turnout_report_state, audit.turnout_report_state.many)
        register("incident", audit.incident_state, audit.incident_state.many)
        register("incident_photo", audit.incident_photo_state, audit.incident_photo_state.many)
        register("observer_organisation", audit.observer_organisation_state, audit.observer_organisation_state.many)
        register("observer", audit.observer_state, audit.observer_state.many)
        register("deployment", audit.deployment_state, audit.deployment_state.many)
        register("withdrawal", audit.withdrawal_state, audit.withdrawal_state.many)
        register("polling_batch", audit.polling_batch_state)
        # Device tokens live in accounts; election day is what they are for.
        register("device_token", device_token_state)
