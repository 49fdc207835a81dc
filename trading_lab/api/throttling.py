"""API throttling: every layer of a request checked in one pass, at the same cost whatever the
rate, keyed by the trusted-proxy client address, never a raw X-Forwarded-For.

Layers. The global `user` and `anon` rates (settings) cap everything. The category rates then
hold each kind of request (reads, writes, imports, order placement) to its own rate per user and
per client address, read from the system configuration so staff can change them at run time. A
view names its category with `throttle_category`; otherwise safe methods are reads and the rest
writes. Every request a signed-in user makes through the API is counted in their daily usage
(audit.ApiUsage) once the throttle lets it pass.

Counting. A rate of N per period is a bucket of N requests that refills at N per period: a
client may spend the whole allowance at once, then gets one more request every period / N. It is
kept as one number per layer, the generic cell rate algorithm's "theoretical arrival time" (when
the bucket would be full again), so `Retry-After` is exact and never longer than period / N.
DRF's own throttle keeps a timestamp per request and rewrites the whole list on every request:
with 3000 reads an hour allowed, each request read and wrote up to 3000 floats per layer. Here a
request costs one round trip to Redis (a Lua script that checks and moves every layer
atomically), or with another cache one read and one write of every layer, as DRF does (two
processes at the same instant may then both take the last request of a bucket).
"""

import math
import time
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.utils import timezone
from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from audit.models import ApiCategory, ApiUsage
from audit.services.config import config_get_many
from trading_lab.net import client_ip

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PERIODS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}
HOUR = 60 * 60
# A request a millisecond early still fits: stored times are rounded to the microsecond.
TOLERANCE = 0.001


def parse_rate(rate: str) -> tuple[int, int]:
    """`"1000/hour"` as (1000, 3600): a number, then a period whose first letter is s, m, h or d
    (DRF's notation)."""
    number, period = rate.split("/")
    return int(number), _PERIODS[period[0]]


def request_category(request: Request, view) -> str:
    """The category a request counts in: the view's own, else read or write by method."""
    declared = getattr(view, "throttle_category", None)
    if declared and request.method not in SAFE_METHODS:
        return declared
    return ApiCategory.READS if request.method in SAFE_METHODS else ApiCategory.WRITES


def category_limits(category: str) -> dict[str, int]:
    """Both hourly rates of `category` ("user", "address") in one query."""
    keys = {per: f"throttle.{category}.per_{per}_hour" for per in ("user", "address")}
    values = config_get_many(list(keys.values()))
    return {per: values[key] for per, key in keys.items()}


@dataclass(frozen=True)
class Layer:
    """One limit on one identity: a bucket of `limit` requests refilled over `duration` s."""

    name: str
    ident: str
    limit: int
    duration: int

    @property
    def key(self) -> str:
        return f"throttle:{self.name}:{self.ident}"

    @property
    def interval(self) -> float:
        """Seconds one request takes out of the bucket."""
        return self.duration / max(self.limit, 1)

    def take(self, now: float, arrival: float | None) -> tuple[float, float | None]:
        """After one more request at `now`: the new arrival time, and the seconds to wait first
        if the request does not fit (None if it does)."""
        after = max(arrival or now, now) + self.interval
        if self.limit <= 0:
            return after, float(self.duration)  # a closed category: nothing fits
        late = after - now - self.duration
        return after, (late if late > TOLERANCE else None)


# Every layer checked, then every layer moved, in one atomic step on the Redis server. Values
# are strings with microseconds: Lua numbers are doubles, but a script's number reply is cut
# to an integer and Lua's tostring keeps 14 digits (a tenth of a millisecond).
_REDIS_TAKE = """
local TOLERANCE = 0.001
local now = tonumber(ARGV[1])
local after = {}
local wait = 0
for i, key in ipairs(KEYS) do
    local interval = tonumber(ARGV[2 * i])
    local duration = tonumber(ARGV[2 * i + 1])
    local arrival = tonumber(redis.call('GET', key) or '') or now  -- not a number: empty
    if arrival < now then arrival = now end
    after[i] = arrival + interval
    local late = after[i] - now - duration
    if late > TOLERANCE and late > wait then wait = late end
end
if wait > 0 then return string.format('%.6f', wait) end
for i, key in ipairs(KEYS) do
    redis.call('SET', key, string.format('%.6f', after[i]), 'EX', ARGV[2 * i + 1])
end
return '0'
"""


def layers_take(layers: list[Layer], now: float) -> float | None:
    """Take one request from every layer's bucket if it fits in all of them; else take none
    and say how long to wait (the longest of the layers' waits)."""
    cache = caches[DEFAULT_CACHE_ALIAS]  # the backend itself, not `django.core.cache.cache`'s proxy
    if isinstance(cache, RedisCache):
        if any(layer.limit <= 0 for layer in layers):
            return float(max(layer.duration for layer in layers))
        client = cache._cache.get_client(write=True)
        keys = [cache.make_and_validate_key(layer.key) for layer in layers]
        args = [repr(now)]
        for layer in layers:
            args += [repr(layer.interval), str(layer.duration)]
        wait = float(client.register_script(_REDIS_TAKE)(keys=keys, args=args))
        return wait if wait > 0 else None
    stored = cache.get_many([layer.key for layer in layers])
    taken = [layer.take(now, _number(stored.get(layer.key))) for layer in layers]
    waits = [wait for _, wait in taken if wait is not None]
    if waits:
        return max(waits)
    for layer, (after, _) in zip(layers, taken, strict=True):
        # Kept a whole period, as DRF keeps its history: an arrival time in the past reads as
        # a full bucket, and a key that never expires mid-test keeps query counts steady.
        cache.set(layer.key, after, timeout=layer.duration)
    return None


def layer_arrival(layer: Layer) -> float | None:
    """When the layer's bucket is full again (None: it is), as stored by `layers_take`."""
    cache = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(cache, RedisCache):
        stored = cache._cache.get_client().get(cache.make_and_validate_key(layer.key))
        return float(stored) if stored is not None else None
    return _number(cache.get(layer.key))


def _number(value) -> float | None:
    """A stored arrival time; anything else (another release's value) is an empty bucket."""
    return float(value) if isinstance(value, int | float) else None


class ApiRateThrottle(throttling.BaseThrottle):
    """The global rate (per user, or per address for anonymous requests) and the request's
    category rates (per user and per address), in one step on the cache."""

    THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    timer = staticmethod(time.time)

    def __init__(self) -> None:
        self._wait: float | None = None

    def layers(self, request: Request, view) -> list[Layer]:
        category = request_category(request, view)
        limits = category_limits(category)
        address = client_ip(request._request) or "unknown"
        user = request.user
        if user and user.is_authenticated:
            first = Layer("user", str(user.pk), *parse_rate(self.THROTTLE_RATES["user"]))
            by_user = Layer(f"{category}-user", str(user.pk), limits["user"], HOUR)
            layers = [first, by_user]
        else:
            layers = [Layer("anon", address, *parse_rate(self.THROTTLE_RATES["anon"]))]
        layers.append(Layer(f"{category}-address", address, limits["address"], HOUR))
        request.api_category = category
        return layers

    def allow_request(self, request: Request, view) -> bool:
        self._wait = layers_take(self.layers(request, view), self.timer())
        if self._wait is not None:
            return False
        if request.user and request.user.is_authenticated:
            api_usage_count(user_id=request.user.pk, category=request.api_category)
        return True

    def wait(self) -> float | None:
        # At least a second: DRF leaves Retry-After out for 0.
        return max(math.ceil(self._wait), 1) if self._wait is not None else None


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
