"""Throttling that a forged client address cannot dodge, through the test client.

Every request below carries a fresh random X-Forwarded-For (and the other headers proxies use
for the client address), as an attacker rotating "addresses" would send. With no trusted
proxy the key is REMOTE_ADDR; behind one trusted proxy it is the right-most X-Forwarded-For
entry, the one the proxy appended. Either way the forged entries change nothing, while a
really different client address still gets its own bucket (so the key is the address, not
one global count).
"""

import random
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import token_create
from audit.services.config import config_update

PROXY = "10.0.0.1"
ATTACKER = "203.0.113.5"
SOMEONE_ELSE = "198.51.100.7"
TOO_MANY = "Too many failed login attempts"
_random = random.Random()


def _forged() -> str:
    return ".".join(str(_random.randint(1, 254)) for _ in range(4))


@pytest.fixture(params=[0, 1], ids=["no proxy", "one trusted proxy"])
def proxies(request, settings) -> int:
    """The number of trusted proxies, set for the API and allauth alike (one env variable)."""
    settings.TRUSTED_PROXY_COUNT = request.param
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = request.param
    return request.param


@pytest.fixture
def from_address(proxies):
    """Request extras for a request from `client`, with freshly forged address headers."""

    def extras(client: str) -> dict[str, str]:
        forged = f"{_forged()}, {_forged()}"
        headers = {
            "HTTP_X_REAL_IP": _forged(),
            "HTTP_FORWARDED": f"for={_forged()}",
            "HTTP_CF_CONNECTING_IP": _forged(),
            "HTTP_TRUE_CLIENT_IP": _forged(),
        }
        if proxies == 0:
            return {"REMOTE_ADDR": client, "HTTP_X_FORWARDED_FOR": forged, **headers}
        # The client writes anything; the trusted proxy appends the address it saw.
        return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": f"{forged}, {client}", **headers}

    return extras


def _failed_sign_in(from_address, client: str, **credentials: str):
    body = {"login": f"{_forged()}@example.com", "password": "wrong-password", **credentials}
    return Client().post(reverse("account_login"), body, **from_address(client))


# ------------------------------------------------------------------------------------------
# Sign-in and password reset (allauth's rate limits)


def test_failed_sign_ins_are_limited_per_real_address(db, settings, from_address):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip"}
    for _ in range(3):
        response = _failed_sign_in(from_address, ATTACKER)
        assert response.status_code == HTTPStatus.OK
        assert TOO_MANY not in response.content.decode()

    refused = _failed_sign_in(from_address, ATTACKER)
    elsewhere = _failed_sign_in(from_address, SOMEONE_ELSE)

    assert TOO_MANY in refused.content.decode()
    assert TOO_MANY not in elsewhere.content.decode()


def test_once_limited_even_the_right_password_does_not_sign_in(
    settings, from_address, user, password
):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "2/m/ip"}
    for _ in range(2):
        _failed_sign_in(from_address, ATTACKER)

    browser = Client()
    response = browser.post(
        reverse("account_login"),
        {"login": user.email, "password": password},
        **from_address(ATTACKER),
    )

    assert TOO_MANY in response.content.decode()
    assert "_auth_user_id" not in browser.session


def test_sign_in_attempts_of_any_outcome_are_limited_per_real_address(db, settings, from_address):
    settings.ACCOUNT_RATE_LIMITS = {"login": "3/m/ip"}
    for _ in range(3):
        assert _failed_sign_in(from_address, ATTACKER).status_code == HTTPStatus.OK

    refused = _failed_sign_in(from_address, ATTACKER)
    elsewhere = _failed_sign_in(from_address, SOMEONE_ELSE)

    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert elsewhere.status_code == HTTPStatus.OK


def test_password_reset_requests_are_limited_per_real_address(db, settings, from_address):
    settings.ACCOUNT_RATE_LIMITS = {"reset_password": "2/m/ip"}

    def reset(client: str):
        body = {"email": f"{_forged()}@example.com"}
        return Client().post(reverse("account_reset_password"), body, **from_address(client))

    for _ in range(2):
        assert reset(ATTACKER).status_code == HTTPStatus.FOUND

    assert reset(ATTACKER).status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert reset(SOMEONE_ELSE).status_code == HTTPStatus.FOUND


# ------------------------------------------------------------------------------------------
# The JSON API


def test_anonymous_api_requests_are_limited_per_real_address(db, api_rates, from_address):
    api_rates(anon="3/min")

    def schema(client: str) -> int:
        return APIClient().get(reverse("api-schema"), **from_address(client)).status_code

    for _ in range(3):
        assert schema(ATTACKER) == HTTPStatus.OK

    assert schema(ATTACKER) == HTTPStatus.TOO_MANY_REQUESTS
    assert schema(SOMEONE_ELSE) == HTTPStatus.OK


def test_a_users_api_rate_holds_whatever_address_they_claim_or_come_from(
    api_rates, from_address, user
):
    api_rates(user="3/min")
    _, raw = token_create(user=user, name="rotating")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for _ in range(3):
        response = client.get(reverse("api-profile"), **from_address(_forged()))
        assert response.status_code == HTTPStatus.OK

    refused = client.get(reverse("api-profile"), **from_address(_forged()))

    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert set(refused.json()) == {"detail", "errors"}


def test_the_per_address_api_rate_holds_signed_in_users_rotating_forged_addresses(
    from_address, user, other_user
):
    config_update(changes={"throttle.reads.per_address_hour": 3})
    first, second = APIClient(), APIClient()
    first.force_login(user)
    second.force_login(other_user)
    for client in (first, second, first):
        assert client.get(reverse("api-profile"), **from_address(ATTACKER)).status_code == 200

    refused = second.get(reverse("api-profile"), **from_address(ATTACKER))
    elsewhere = second.get(reverse("api-profile"), **from_address(SOMEONE_ELSE))

    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert elsewhere.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "forwarded",
    ["", "198.51.100.7", "not-an-address, 10.0.0.2"],
    ids=["none", "one entry", "junk where the address should be"],
)
def test_a_short_forwarded_for_behind_two_proxies_is_no_server_error(db, settings, forwarded):
    # allauth's own address rule raises ImproperlyConfigured here; the app's rule (one for
    # allauth, the API and the activity log) falls back to the connecting address instead.
    settings.TRUSTED_PROXY_COUNT = settings.ALLAUTH_TRUSTED_PROXY_COUNT = 2
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip"}
    extras = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": forwarded}

    failed = Client().post(
        reverse("account_login"),
        {"login": "nobody@example.com", "password": "wrong-password"},
        **extras,
    )
    limited = [_failed_sign_in(lambda _client: extras, PROXY) for _ in range(3)]

    assert failed.status_code == HTTPStatus.OK  # the form again, with its error
    assert TOO_MANY in limited[-1].content.decode()  # and the limit keys on the proxy address
