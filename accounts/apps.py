from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Users and credentials"

    def ready(self) -> None:
        from accounts import checks, signals  # noqa: F401
        from trading_lab import checks as project_checks  # noqa: F401
