from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResultsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tallyroom.results"
    label = "results"
    verbose_name = _("Results")

    def ready(self) -> None:
        from tallyroom import fastsql  # noqa: F401 - registers the `__any` lookup
        from tallyroom.audit.chain import register, register_row_check
        from tallyroom.results import audit

        register("result_form", audit.form_state, audit.form_states)
        register("contest", audit.contest_state)
        register("annulment", audit.annulment_state)
        register("complaint", audit.complaint_state)
        register("certification", audit.certification_state)
        register_row_check(audit.orphan_rows)
