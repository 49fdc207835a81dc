"""API throttling: 429 with Retry-After, keyed by user or by the trusted-proxy client address."""

from http import HTTPStatus

import pytest
from rest_framework.test import APIClient

SCHEMA = "/api/schema/"  # reachable without signing in, so the anonymous rate applies


def test_a_user_over_the_rate_gets_429_with_retry_after(session_client, throttle_rates):
    throttle_rates(user="2/min")
    for _ in range(2):
        assert session_client.get("/api/v1/profile").status_code == HTTPStatus.OK

    response = session_client.get("/api/v1/profile")

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 0 < int(response["Retry-After"]) <= 60
    assert set(response.json()) == {"detail", "errors"}


def test_the_user_rate_is_per_user_not_per_address(user, other_user, throttle_rates):
    throttle_rates(user="1/min")
    first, second = APIClient(), APIClient()
    first.force_login(user)
    second.force_login(other_user)
    assert first.get("/api/v1/profile", REMOTE_ADDR="192.0.2.1").status_code == HTTPStatus.OK

    response = second.get("/api/v1/profile", REMOTE_ADDR="192.0.2.1")

    assert response.status_code == HTTPStatus.OK


def _anonymous(remote: str, forwarded: str | None = None) -> int:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return APIClient().get(SCHEMA, **extra).status_code


@pytest.mark.django_db
def test_without_trusted_proxies_a_forged_forwarded_for_does_not_give_a_fresh_bucket(
    settings, throttle_rates
):
    settings.TRUSTED_PROXY_COUNT = 0
    throttle_rates(anon="2/min")
    assert _anonymous("203.0.113.5", "10.0.0.1") == HTTPStatus.OK
    assert _anonymous("203.0.113.5", "10.0.0.2") == HTTPStatus.OK

    assert _anonymous("203.0.113.5", "10.0.0.3") == HTTPStatus.TOO_MANY_REQUESTS
    assert _anonymous("203.0.113.5") == HTTPStatus.TOO_MANY_REQUESTS
    # Another real address has its own bucket: the key is the address, not one global count.
    assert _anonymous("203.0.113.6", "10.0.0.3") == HTTPStatus.OK


@pytest.mark.django_db
def test_behind_one_trusted_proxy_the_right_most_forwarded_address_is_the_key(
    settings, throttle_rates
):
    settings.TRUSTED_PROXY_COUNT = 1
    throttle_rates(anon="2/min")
    proxy = "10.0.0.1"
    # The client may write anything left of what the proxy appended; only the last entry counts.
    assert _anonymous(proxy, "1.1.1.1, 198.51.100.7") == HTTPStatus.OK
    assert _anonymous(proxy, "2.2.2.2, 198.51.100.7") == HTTPStatus.OK

    assert _anonymous(proxy, "3.3.3.3, 198.51.100.7") == HTTPStatus.TOO_MANY_REQUESTS
    assert _anonymous(proxy, "198.51.100.8") == HTTPStatus.OK
