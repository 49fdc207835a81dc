"""Request id and the model-history (django-auditlog) context for every request."""

import ipaddress
import re
import uuid
from collections.abc import Callable

from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from trading_lab.log import request_id_var
from trading_lab.net import client_ip

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give each request an id (a trusted proxy's X-Request-ID, or a new one) and echo it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        if settings.TRUSTED_PROXY_COUNT and _REQUEST_ID.match(incoming):
            request.request_id = incoming
        else:
            request.request_id = uuid.uuid4().hex
        token = request_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class AuditContextMiddleware(AuditlogMiddleware):
    """auditlog's middleware with the client address taken through the trusted-proxy rule.

    The stock one believes the first X-Forwarded-For entry, which any client can forge. Token
    requests authenticate later, inside DRF; the token authentication fills in the actor then.
    """

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str | None:
        address = client_ip(request)
        try:
            # A proxy may pass on something that is not an address; PostgreSQL's inet column
            # would refuse it and fail the write the history was recording.
            ipaddress.ip_address(address or "")
        except ValueError:
            return None
        return address

    @staticmethod
    def _get_remote_port(request: HttpRequest) -> int | None:
        return None

    def get_extra_data(self, request: HttpRequest) -> dict:
        data = super().get_extra_data(request)
        # auditlog would take the correlation id from a header the client chooses; the
        # request id (RequestIdMiddleware) replaces it on every entry this request writes.
        data["cid"] = getattr(request, "request_id", None)
        return data


class NeverCacheMiddleware:
    """Answers to a signed-in user, and every page of allauth's, are never stored.

    They carry personal data; allauth's pages show TOTP secrets, recovery codes, the session
    list and one-time keys in links. Neither a shared computer's browser cache nor a proxy may
    keep them. An answer that set its own Cache-Control keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Cache-Control" in response:
            return response
        match = request.resolver_match
        allauth_page = match is not None and match.func.__module__.startswith("allauth.")
        # A Bearer-token request is signed in too: DRF sets the user on this request.
        user = getattr(request, "user", None)
        if allauth_page or (user is not None and user.is_authenticated):
            add_never_cache_headers(response)
        return response
