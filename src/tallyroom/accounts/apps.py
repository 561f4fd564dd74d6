from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tallyroom.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from tallyroom.accounts import checks, signals  # noqa: F401 - checks register on import

        signals.connect()
        from tallyroom.accounts.audit import login_state, role_state, user_state
        from tallyroom.audit.chain import register

        register("role", role_state)
        register("login", login_state)
        register("user", user_state)
