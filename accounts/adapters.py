"""django-allauth adapters: sign-up, TOTP secrets encrypted at rest, recorded session ends."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest

from audit.models import ActivityAction
from audit.services import activity_record
from trading_lab.encryption import decrypt_str, encrypt_str
from trading_lab.net import client_ip_address


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return getattr(settings, "ACCOUNT_ALLOW_SIGNUP", True)

    def get_client_ip(self, request: HttpRequest) -> str:
        """The app's one rule for the client address (`trading_lab.net.client_ip`), so sign-in
        limits, sessions, throttles and the activity log agree. allauth's own rule raises
        ImproperlyConfigured (a 500) when X-Forwarded-For has fewer entries than there are
        trusted proxies; ours falls back to the connecting address, as it does when the entry
        is not an address at all."""
        ip = client_ip_address(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip


class MFAAdapter(DefaultMFAAdapter):
    """allauth stores the TOTP secret through these hooks; we keep it as a Fernet token."""

    def encrypt(self, text: str) -> str:
        return encrypt_str(text)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt_str(encrypted_text)


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    """Every session ended through allauth (our Security tab or allauth's own session list,
    one session or "all others") lands in the owner's activity log."""

    def end_sessions(self, sessions) -> None:
        for session in sessions:
            current = session.is_current()
            with transaction.atomic():
                activity_record(
                    user=session.user,
                    action=ActivityAction.SESSION_ENDED,
                    description="Signed out this session" if current else "Ended another session",
                    details={"session_id": session.pk, "ip": session.ip, "current": current},
                    request=self.request,
                )
                session.end()
