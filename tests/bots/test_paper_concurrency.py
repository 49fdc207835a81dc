"""Concurrent writes to one paper book on PostgreSQL: real threads, real commits.

Transactional tests: each request must commit for the others to see it (one wrapping test
transaction would hide a missing lock or a missing unique index).
"""

import threading
from collections.abc import Callable
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connections
from rest_framework.test import APIClient

from accounts.services import token_create
from bots.models import IdempotencyRecord, Order, OrderStatus, PaperBalance
from bots.services import OrderInput, order_place
from tests.bots.paper_helpers import funded_account, priced_instrument
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


@pytest.fixture(autouse=True)
def costs(settings):
    settings.BOTS_FEE_RATE = "0.001"
    settings.BOTS_SLIPPAGE_BPS = "5"


def _at_once(work: Callable[[], object]) -> tuple[list, list[BaseException]]:
    start = threading.Barrier(THREADS)
    results: list = []
    unexpected: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(work())
        except BaseException as exc:
            unexpected.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, unexpected


def test_concurrent_posts_with_one_idempotency_key_place_exactly_one_order():
    user = UserFactory()
    priced_instrument("RACE", close="100")
    _, raw = token_create(user=user, name="race")
    body = {"symbol": "RACE", "side": "buy", "type": "market", "quantity": "1"}

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        response = client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="once")
        return response.status_code, response.json()

    results, unexpected = _at_once(post)
    assert unexpected == []
    assert {status for status, _ in results} == {HTTPStatus.CREATED}
    assert len({answer["id"] for _, answer in results}) == 1
    assert Order.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    usd = PaperBalance.objects.get(account__user=user, currency="USD")
    assert usd.free == Decimal(10000) - Decimal(1) * Decimal("100.05") - Decimal("0.10005")


def test_concurrent_buys_never_spend_more_than_the_balance():
    user = UserFactory()
    stock = priced_instrument("SPEND", close="100")
    account = funded_account(user, amount="500")

    def buy():
        return order_place(
            user=user,
            account=account,
            data=OrderInput(instrument=stock, side="buy", order_type="market", quantity=Decimal(1)),
        ).status

    results, unexpected = _at_once(buy)
    assert unexpected == []
    # Each buy costs 100.05 + 0.10005 fee: four fit in 500, the rest are rejected.
    assert sorted(results).count(OrderStatus.FILLED) == 4
    assert sorted(results).count(OrderStatus.REJECTED) == THREADS - 4
    usd = PaperBalance.objects.get(account=account, currency="USD")
    assert usd.free == Decimal(500) - 4 * (Decimal("100.05") + Decimal("0.10005"))
    assert usd.free >= 0
