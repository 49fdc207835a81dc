from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and operations"

    def ready(self) -> None:
        from audit import signals  # noqa: F401
        from audit.history import history_register

        history_register()
