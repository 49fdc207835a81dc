"""API throttling: 429 with Retry-After, keyed by user or by the trusted-proxy client address."""

from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import ApiUsage, SystemConfigEntry
from audit.services.config import config_update
from portfolio.services import portfolio_create
from tests.bots.paper_helpers import funded_account, priced_instrument

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


# ------------------------------------------------------------------------------------------
# Categories: reads, writes, imports and order placement, each per user and per address, with
# rates from the system configuration; and the daily usage count.


@pytest.fixture
def limits(db):
    """Set category rates (requests per hour) through the system configuration."""

    def set_limits(**values: int) -> None:
        config_update(
            changes={f"throttle.{key.replace('__', '.per_')}_hour": v for key, v in values.items()}
        )

    return set_limits


def test_reads_over_the_configured_rate_get_429_while_writes_still_pass(session_client, limits):
    limits(reads__user=2)
    for _ in range(2):
        assert session_client.get("/api/v1/profile").status_code == HTTPStatus.OK

    refused = session_client.get("/api/v1/profile")
    write = session_client.patch("/api/v1/profile", {"display_name": "Still writing"})

    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert write.status_code == HTTPStatus.OK


def test_the_address_rate_holds_several_users_behind_one_address(user, other_user, limits):
    limits(reads__address=2)
    first, second = APIClient(), APIClient()
    first.force_login(user)
    second.force_login(other_user)
    assert first.get("/api/v1/profile", REMOTE_ADDR="192.0.2.9").status_code == HTTPStatus.OK
    assert second.get("/api/v1/profile", REMOTE_ADDR="192.0.2.9").status_code == HTTPStatus.OK

    third = second.get("/api/v1/profile", REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR="10.1.1.1")
    elsewhere = second.get("/api/v1/profile", REMOTE_ADDR="192.0.2.10")

    assert third.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert elsewhere.status_code == HTTPStatus.OK


def test_imports_have_their_own_rate(session_client, user, limits):
    portfolio = portfolio_create(user=user, name="Imports")
    limits(imports__user=1)
    body = {"portfolio": portfolio.pk, "format": "csv", "dry_run": True}
    csv_text = "date,type,symbol,quantity,price,currency\n2024-01-02,DEPOSIT,,1,100,USD\n"

    first = session_client.post(
        "/api/v1/transactions/import", {**body, "content": csv_text}, format="json"
    )
    second = session_client.post(
        "/api/v1/transactions/import", {**body, "content": csv_text}, format="json"
    )
    other_write = session_client.patch("/api/v1/profile", {"display_name": "Unaffected"})

    assert first.status_code != HTTPStatus.TOO_MANY_REQUESTS
    assert second.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert other_write.status_code == HTTPStatus.OK


def test_each_users_requests_are_counted_per_day_and_category(session_client, user, other_user):
    for _ in range(3):
        session_client.get("/api/v1/profile")
    session_client.patch("/api/v1/profile", {"display_name": "Counted"})
    other = APIClient()
    other.force_login(other_user)
    other.get("/api/v1/profile")

    counts = {
        (row.user_id, row.category): row.count
        for row in ApiUsage.objects.filter(day=timezone.now().date())
    }
    assert counts == {(user.pk, "reads"): 3, (user.pk, "writes"): 1, (other_user.pk, "reads"): 1}


def test_order_placement_has_its_own_rate(session_client, user, limits):
    instrument = priced_instrument()
    account = funded_account(user)
    limits(orders__user=1)
    body = {
        "account": account.pk,
        "symbol": instrument.symbol,
        "exchange": instrument.exchange,
        "side": "buy",
        "type": "market",
        "quantity": "1",
    }

    first = session_client.post("/api/v1/orders", body)
    second = session_client.post("/api/v1/orders", body)
    listing = session_client.get("/api/v1/orders")

    assert first.status_code == HTTPStatus.CREATED
    assert second.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert listing.status_code == HTTPStatus.OK


def test_both_rates_of_a_request_are_read_in_one_query_and_a_change_applies_at_once(
    session_client, limits
):
    config_table = SystemConfigEntry._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        assert session_client.get("/api/v1/profile").status_code == HTTPStatus.OK
    # Counted now: the next request's request_started signal empties the query log.
    config_reads = len([q for q in queries if config_table in q["sql"]])
    limits(reads__address=1)
    refused = session_client.get("/api/v1/profile")

    assert config_reads == 1
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
