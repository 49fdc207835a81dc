"""django-allauth adapters: account behaviour and TOTP secrets encrypted at rest."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.http import HttpRequest

from trading_lab.encryption import decrypt_str, encrypt_str


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return getattr(settings, "ACCOUNT_ALLOW_SIGNUP", True)


class MFAAdapter(DefaultMFAAdapter):
    """allauth stores the TOTP secret through these hooks; we keep it as a Fernet token."""

    def encrypt(self, text: str) -> str:
        return encrypt_str(text)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt_str(encrypted_text)
