"""Project-wide deployment checks (`manage.py check --deploy`), registered by accounts.apps.

The settings refuse to start without SECRET_KEY, FIELD_ENCRYPTION_KEYS and ALLOWED_HOSTS in
production mode; these checks catch values that are present but unfit for production.
"""

import re
from typing import Any

from django.conf import settings
from django.core import checks

from trading_lab import settings as project_settings


@checks.register(checks.Tags.security, deploy=True)
def check_no_development_secrets(app_configs: Any = None, **kwargs: Any) -> list[checks.Error]:
    """The development SECRET_KEY and encryption key, public in the repository, are not in use."""
    errors = []
    if settings.SECRET_KEY == project_settings._DEV_SECRET_KEY:
        errors.append(
            checks.Error(
                "SECRET_KEY is the development key published in trading_lab/settings.py.",
                hint="Set SECRET_KEY to a long random value (README: Configuration).",
                id="trading_lab.E001",
            )
        )
    if project_settings._DEV_FIELD_ENCRYPTION_KEY in settings.FIELD_ENCRYPTION_KEYS:
        errors.append(
            checks.Error(
                "FIELD_ENCRYPTION_KEYS contains the development key published in "
                "trading_lab/settings.py.",
                hint="Generate a key, then rotate with `manage.py reencrypt` (docs/encryption.md).",
                id="trading_lab.E002",
            )
        )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_email_delivery(app_configs: Any = None, **kwargs: Any) -> list[checks.Warning]:
    """Mail leaves the machine: verification and password-reset emails must reach people."""
    local_backends = {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
    }
    if settings.EMAIL_BACKEND in local_backends:
        return [
            checks.Warning(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: no email leaves this machine, so "
                "address verification and password reset cannot work.",
                hint="Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587.",
                id="trading_lab.W001",
            )
        ]
    return []


# Values copied from guides and .env templates instead of a real OAuth client's.
_PLACEHOLDER = re.compile(
    r"dummy|placeholder|change[-_ ]?me|example|fake|sample|^test|your[-_ ]|^x+$|^<.*>$|^\.+$",
    re.IGNORECASE,
)
_SHORTEST_REAL_VALUE = 10


def _placeholder(value: object) -> bool:
    text = str(value or "").strip()
    return len(text) < _SHORTEST_REAL_VALUE or bool(_PLACEHOLDER.search(text))


@checks.register(checks.Tags.security, deploy=True)
def check_social_providers(app_configs: Any = None, **kwargs: Any) -> list[checks.Error]:
    """Each configured social sign-in provider has a real OAuth client, not a placeholder.

    A dummy client id puts a sign-in button on the page that can only fail at the provider.
    """
    errors = []
    for provider, config in sorted(settings.SOCIALACCOUNT_PROVIDERS.items()):
        for app in config.get("APPS", []):
            for field, suffix in (("client_id", "CLIENT_ID"), ("secret", "CLIENT_SECRET")):
                if _placeholder(app.get(field)):
                    # Names the variable only: even a placeholder secret is never printed.
                    errors.append(
                        checks.Error(
                            f"{provider.upper()}_{suffix} looks like a placeholder, not a real "
                            "OAuth client value.",
                            hint=f"Set both from the {provider} developer console, or unset "
                            "both to turn this sign-in off.",
                            id="trading_lab.E003",
                        )
                    )
    return errors
