"""The client's address, trusting X-Forwarded-For only as far as the configured proxies go."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """Return the client address: REMOTE_ADDR, or the entry TRUSTED_PROXY_COUNT hops back.

    Each trusted proxy appends the address it received the request from, so the entry
    `count` places from the right end is the one the outermost trusted proxy saw. Anything to
    its left was written by the client and is never believed.
    """
    count = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR") or None
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < count:
        return remote
    return forwarded[-count]


def user_agent(request: HttpRequest) -> str:
    """The request's User-Agent, cut to the length the activity log stores."""
    return request.META.get("HTTP_USER_AGENT", "")[:512]


def client_ip_address(request: HttpRequest) -> str | None:
    """`client_ip` when it is an IP address, else the connecting address when that is one.

    For what stores or keys on a real address (allauth's sessions and rate limits): a trusted
    proxy may pass on something that is not an address, which PostgreSQL's inet column refuses.
    """
    for candidate in (client_ip(request), request.META.get("REMOTE_ADDR")):
        try:
            return str(ipaddress.ip_address((candidate or "").strip()))
        except ValueError:
            continue
    return None
