"""DRF throttles keyed by the trusted-proxy client address, never a raw X-Forwarded-For."""

from rest_framework import throttling
from rest_framework.request import Request

from trading_lab.net import client_ip


class _TrustedAddressMixin:
    def get_ident(self, request: Request) -> str:
        return client_ip(request._request) or "unknown"


class AnonRateThrottle(_TrustedAddressMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_TrustedAddressMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(_TrustedAddressMixin, throttling.ScopedRateThrottle):
    pass
