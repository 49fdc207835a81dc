"""`Authorization: Bearer <personal token>` for client programs."""

from datetime import timedelta

from auditlog.context import auditlog_value
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import PersonalApiToken
from trading_lab.prepared import PreparedRead

LAST_USED_RESOLUTION = timedelta(minutes=1)

# Every API request with a token makes this read: compiled once per connection.
TOKEN_BY_HASH = PreparedRead(
    lambda token_hash: PersonalApiToken.objects.filter(
        token_hash=token_hash, revoked_at__isnull=True
    ).select_related("user"),
    token_hash=str,
)


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Bearer token header.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Malformed Bearer token header.") from exc
        token = TOKEN_BY_HASH.first(token_hash=PersonalApiToken.hash_token(raw))
        # Revoked tokens are left out by the read; expiry is the model's rule (`is_active`).
        if token is None or not token.is_active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            PersonalApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        # Model history for this request is attributed to the token's owner.
        context = auditlog_value.get(None)
        if context is not None:
            context["actor"] = token.user
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
