"""The throttle's buckets: when a request fits, how long a refused one waits, that every layer
moves together, and what the cache holds (one number per layer, whatever the rate)."""

import random
import socket
from http import HTTPStatus

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.test import APIClient

from accounts.services import token_create
from trading_lab.api import throttling
from trading_lab.api.throttling import Layer, layer_arrival, layers_take, parse_rate


def test_parse_rate_reads_drfs_notation():
    assert parse_rate("1000/hour") == (1000, 3600)
    assert parse_rate("3/min") == (3, 60)
    assert parse_rate("10/s") == (10, 1)
    assert parse_rate("5/day") == (5, 86400)


def _run(layers: list[Layer], times: list[float]) -> list[float | None]:
    """What layers_take answers for a request at each time, through the configured cache."""
    return [layers_take(layers, at) for at in times]


@pytest.mark.django_db
def test_a_full_bucket_takes_a_burst_then_one_request_per_interval():
    layer = Layer("t", f"burst-{random.randrange(10**9)}", 3, 60)  # 3/min: one every 20 s
    answers = _run([layer], [1000.0, 1000.1, 1000.2, 1000.3])

    assert answers[:3] == [None, None, None]
    assert answers[3] == pytest.approx(19.7)  # the first of the three comes back at 1020
    assert _run([layer], [1019.0, 1020.0, 1021.0]) == [pytest.approx(1.0), None, pytest.approx(19)]


@pytest.mark.django_db
def test_the_wait_is_exactly_when_the_next_request_fits():
    # Over random request times: a refused request waits `wait`, and a request at that moment
    # fits while one a little earlier would not.
    rng = random.Random(7)
    for round_ in range(40):
        limit = rng.choice([1, 2, 3, 5, 50])
        layer = Layer("t", f"exact-{round_}-{rng.randrange(10**9)}", limit, 60)
        now = 5000.0
        for _ in range(3 * limit):
            now += rng.choice([0.0, 0.01, 1.0, 7.0])
            wait = layers_take([layer], now)
            if wait is None:
                continue
            assert 0 < wait <= layer.interval
            if wait > 0.01:
                assert layers_take([layer], now + wait - 0.01) is not None
            assert layers_take([layer], now + wait + 1e-6) is None
            now += wait + 1e-6


@pytest.mark.django_db
def test_a_request_refused_by_one_layer_takes_nothing_from_the_others():
    roomy = Layer("t", f"roomy-{random.randrange(10**9)}", 100, 60)
    tight = Layer("t", f"tight-{random.randrange(10**9)}", 1, 60)
    assert layers_take([roomy, tight], 100.0) is None
    for _ in range(5):
        assert layers_take([roomy, tight], 100.0) is not None
    # The roomy bucket paid for one request only: 99 more fit now.
    assert _run([roomy], [100.0] * 99) == [None] * 99
    assert layers_take([roomy], 100.0) is not None


def test_a_refused_request_is_told_to_retry_after_the_wait(session_client, throttle_rates):
    throttle_rates(user="2/min")
    for _ in range(2):
        session_client.get("/api/v1/profile")
    refused = session_client.get("/api/v1/profile")

    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 1 <= int(refused["Retry-After"]) <= 30  # one request comes back every 30 s


def test_the_cache_holds_one_number_per_layer_not_a_timestamp_per_request(user, throttle_rates):
    throttle_rates(user="1000/hour")
    _, raw = token_create(user=user, name="counted")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    layer = Layer("user", str(user.pk), 1000, 3600)
    # A persistent cache (Redis) may hold an earlier test's requests of a reused user id.
    before = max(layer_arrival(layer) or 0, throttling.ApiRateThrottle.timer())
    for _ in range(5):
        assert client.get("/api/v1/profile").status_code == HTTPStatus.OK
    after = throttling.ApiRateThrottle.timer()

    # Five requests moved the bucket's arrival time five intervals (3.6 s each) on.
    assert before + 5 * 3.6 <= layer_arrival(layer) <= max(before, after) + 5 * 3.6


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_answers(), reason="needs the Redis on 127.0.0.1:6379")
def test_with_redis_every_layer_moves_in_one_script_and_expires(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/7",
            "KEY_PREFIX": f"throttle-test-{random.randrange(10**9)}",
        },
    }
    redis_cache = caches["default"]
    assert isinstance(redis_cache, RedisCache)
    roomy, tight = Layer("t", "roomy", 100, 60), Layer("t", "tight", 2, 60)
    client = redis_cache._cache.get_client(write=True)
    keys = [redis_cache.make_and_validate_key(layer.key) for layer in (roomy, tight)]
    try:
        assert _run([roomy, tight], [100.0, 100.0]) == [None, None]
        assert layers_take([roomy, tight], 100.0) == pytest.approx(30.0)
        assert layers_take([roomy, tight], 130.0) is None
        # The script's own values (a pickled float would not parse): the generic path's.
        assert float(client.get(keys[0])) == pytest.approx(130.6)
        assert float(client.get(keys[1])) == pytest.approx(190.0)
        assert 59_000 < client.pttl(keys[1]) <= 60_000  # a whole period after the last
    finally:
        client.delete(*keys)
