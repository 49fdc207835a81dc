"""DRF throttles keyed by the trusted-proxy client address, never a raw X-Forwarded-For.

Two layers. The global `user` and `anon` rates (settings) cap everything. The category
throttles then hold each kind of request (reads, writes, imports, order placement) to its own
rate per user and per client address, read from the system configuration so staff can change
them at run time. A view names its category with `throttle_category`; otherwise safe methods
are reads and the rest writes. Every request a signed-in user makes through the API is counted
in their daily usage (audit.ApiUsage), whichever throttle lets it pass.
"""

from django.db import connection
from django.utils import timezone
from rest_framework import throttling
from rest_framework.request import Request

from audit.models import ApiCategory, ApiUsage
from audit.services.config import config_get_many
from trading_lab.net import client_ip

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _TrustedAddressMixin:
    def get_ident(self, request: Request) -> str:
        return client_ip(request._request) or "unknown"


class AnonRateThrottle(_TrustedAddressMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_TrustedAddressMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(_TrustedAddressMixin, throttling.ScopedRateThrottle):
    pass


def request_category(request: Request, view) -> str:
    """The category a request counts in: the view's own, else read or write by method."""
    declared = getattr(view, "throttle_category", None)
    if declared and request.method not in SAFE_METHODS:
        return declared
    return ApiCategory.READS if request.method in SAFE_METHODS else ApiCategory.WRITES


def _category_limits(request: Request, category: str) -> dict[str, int]:
    """Both rates of `category` (per user, per address), read once per request in one query."""
    cached = getattr(request, "_category_limits", None)
    if cached is None or cached[0] != category:
        keys = {per: f"throttle.{category}.per_{per}_hour" for per in ("user", "address")}
        values = config_get_many(list(keys.values()))
        cached = (category, {per: values[key] for per, key in keys.items()})
        request._category_limits = cached
    return cached[1]


class _CategoryThrottle(_TrustedAddressMixin, throttling.SimpleRateThrottle):
    """One rate per category, from the system configuration, over one hour."""

    per: str  # "user" or "address"

    def allow_request(self, request: Request, view) -> bool:
        self.category = request_category(request, view)
        limit = _category_limits(request, self.category)[self.per]
        self.rate = f"{limit}/hour"
        self.num_requests, self.duration = limit, 60 * 60
        return super().allow_request(request, view)

    def get_rate(self) -> str | None:
        # Rates are set per request in allow_request (they depend on the category).
        return None

    def __init__(self) -> None:
        # The rate is only known per request (allow_request); SimpleRateThrottle's constructor
        # would look it up by scope.
        self.rate = None
        self.history: list[float] = []


class CategoryUserThrottle(_CategoryThrottle):
    per = "user"
    scope = "category-user"

    def get_cache_key(self, request: Request, view) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        return f"throttle_{self.category}_user_{request.user.pk}"

    def allow_request(self, request: Request, view) -> bool:
        allowed = super().allow_request(request, view)
        if allowed and request.user and request.user.is_authenticated:
            api_usage_count(user_id=request.user.pk, category=self.category)
        return allowed


class CategoryAddressThrottle(_CategoryThrottle):
    per = "address"
    scope = "category-address"

    def get_cache_key(self, request: Request, view) -> str | None:
        return f"throttle_{self.category}_address_{self.get_ident(request)}"


def api_usage_count(*, user_id: int, category: str) -> None:
    """Add one to the user's count for today, in one statement whatever the row's state."""
    table = connection.ops.quote_name(ApiUsage._meta.db_table)
    # INSERT ... ON CONFLICT works the same on PostgreSQL and SQLite (3.24+): one query per
    # request, and two processes counting at once cannot lose an increment.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, day, category, count) VALUES (%s, %s, %s, 1) "  # noqa: S608 (table name from the model)
            "ON CONFLICT (user_id, day, category) DO UPDATE SET count = "
            f"{table}.count + 1",
            [user_id, timezone.now().date(), category],
        )
