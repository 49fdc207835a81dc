"""Encryption at rest: django-fernet-encrypted-fields, wrapped to be strict.

The library derives its keys from SECRET_KEY and returns the stored ciphertext when it cannot
decrypt it. Ours takes its own Fernet keys (FIELD_ENCRYPTION_KEYS, newest first, so SECRET_KEY
can rotate on its own) and raises `DecryptionError` instead, so a wrong or missing key is loud.
Only text fields: the library stores falsy values as NULL. Keep these fields out of ModelForms
(its `clean()` sets a flag on the shared field object); forms take secrets as plain fields and
services assign them.
"""

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from encrypted_fields.fields import EncryptedTextField as _LibraryEncryptedTextField


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key."""


@lru_cache(maxsize=1)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    """The MultiFernet for FIELD_ENCRYPTION_KEYS: encrypts with the first, decrypts with any."""
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


@receiver(setting_changed)
def _forget_keys(*, setting: str, **kwargs: Any) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet_for.cache_clear()


def encrypt_str(value: str) -> str:
    """Encrypt a text with the current key."""
    return fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_str(token: str) -> str:
    """Decrypt a token made by `encrypt_str` with any configured key, or raise DecryptionError."""
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError) as exc:
        raise DecryptionError(
            "A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS."
        ) from exc


def needs_reencryption(token: str) -> bool:
    """True when `token` was not made with the current (first) key."""
    try:
        Fernet(settings.FIELD_ENCRYPTION_KEYS[0].encode()).decrypt(token.encode("ascii"))
    except InvalidToken:
        return True
    return False


class EncryptedTextField(_LibraryEncryptedTextField):
    """A text column stored as a Fernet token; reading a token no key opens raises.

    Values in Python are plaintext; the column holds ciphertext. Empty values are stored as
    NULL, so declare it `null=True, blank=True` unless the value is always present.
    """

    @property
    def f(self) -> MultiFernet:  # the library encrypts through `self.f`
        return fernet()

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return decrypt_str(value)

    def to_python(self, value: Any) -> Any:
        # Values in Python are always plaintext; decryption happens only in from_db_value.
        return value
