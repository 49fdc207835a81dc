"""System checks of the accounts area: the field encryption keys must be usable."""

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks

HINT = (
    "Each entry must be a Fernet key (32 url-safe base64-encoded bytes). Generate one with "
    '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`; '
    "see docs/encryption.md."
)


@checks.register(checks.Tags.security)
def check_field_encryption_keys(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """FIELD_ENCRYPTION_KEYS is a non-empty list of valid, distinct Fernet keys."""
    keys = getattr(settings, "FIELD_ENCRYPTION_KEYS", None)
    if not isinstance(keys, list | tuple) or not keys:
        return [
            checks.Error(
                "FIELD_ENCRYPTION_KEYS must list at least one Fernet key.",
                hint=HINT,
                id="accounts.E001",
            )
        ]
    messages: list[checks.CheckMessage] = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode() if isinstance(key, str) else key)
        except (TypeError, ValueError):
            # The message names the position only: a key, even a broken one, is never printed.
            messages.append(
                checks.Error(
                    f"FIELD_ENCRYPTION_KEYS entry {position} is not a valid Fernet key.",
                    hint=HINT,
                    id="accounts.E002",
                )
            )
    if len(set(keys)) != len(keys):
        messages.append(
            checks.Warning(
                "FIELD_ENCRYPTION_KEYS lists the same key more than once.",
                hint="Keep each key once, the newest first.",
                id="accounts.W001",
            )
        )
    return messages
