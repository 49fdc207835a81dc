"""Paper trading API (SPEC §6): accounts, balances, positions, orders, Idempotency-Key (SPEC §5)."""

from datetime import timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
from rest_framework.test import APIClient

from accounts.services import token_create
from bots.models import IdempotencyRecord, Order, OrderStatus, PaperAccount, PaperBalance
from bots.services import OrderInput, order_place
from tests.bots.paper_helpers import DAY, funded_account, price_arrives, priced_instrument
from tests.factories import InstrumentFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"


@pytest.fixture(autouse=True)
def costs(settings):
    settings.BOTS_FEE_RATE = "0.001"
    settings.BOTS_SLIPPAGE_BPS = "10"


@pytest.fixture
def stock(db):
    return priced_instrument("ACME", close="100", exchange="NYSE")


def market_body(**overrides) -> dict:
    return {"symbol": "ACME", "side": "buy", "type": "market", "quantity": "2"} | overrides


# --- accounts ---------------------------------------------------------------------------------


def test_listing_accounts_creates_the_default_one_with_ten_thousand_usd(token_client, user):
    response = token_client.get("/api/v1/paper-accounts")
    assert response.status_code == HTTPStatus.OK
    [account] = response.json()["results"]
    assert account["is_default"] is True
    assert (account["quote_currency"], account["starting_balance"]) == ("USD", "10000.00000000")
    assert PaperBalance.objects.get(account_id=account["id"]).free == Decimal(10000)
    # A second look creates nothing new.
    assert token_client.get("/api/v1/paper-accounts").json()["count"] == 1


def test_create_read_and_reset_an_account(token_client, user, stock):
    response = token_client.post(
        "/api/v1/paper-accounts",
        {"name": "Euro book", "quote_currency": "usd", "starting_balance": "2500"},
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    created = response.json()
    assert created["quote_currency"] == "USD"
    assert response["Location"] == f"/api/v1/paper-accounts/{created['id']}"
    assert token_client.get(response["Location"]).json()["name"] == "Euro book"

    token_client.post(ORDERS, market_body(account=created["id"]))
    reset = token_client.post(f"/api/v1/paper-accounts/{created['id']}/reset")
    assert reset.status_code == HTTPStatus.OK, reset.json()
    assert reset.json()["orders_cancelled"] == 0
    balances = token_client.get(f"/api/v1/balances?account={created['id']}").json()["results"]
    assert [(b["currency"], b["free"], b["locked"]) for b in balances] == [
        ("USD", "2500.00000000", "0.00000000")
    ]
    assert token_client.get(f"/api/v1/positions?account={created['id']}").json()["count"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "quote_currency": "USD"}, "name"),
        ({"name": "A", "quote_currency": "DOLLAR"}, "quote_currency"),
        ({"name": "A", "quote_currency": "USD", "starting_balance": "0"}, "starting_balance"),
        ({"name": "A", "quote_currency": "USD", "starting_balance": "abc"}, "starting_balance"),
    ],
)
def test_bad_account_bodies_answer_400_naming_the_field(token_client, body, field):
    response = token_client.post("/api/v1/paper-accounts", body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]


def test_a_duplicate_account_name_answers_400(token_client, user):
    funded_account(user, name="Main")
    response = token_client.post(
        "/api/v1/paper-accounts", {"name": "Main", "quote_currency": "USD"}
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "name" in response.json()["errors"]


def test_another_users_account_is_not_found(token_client, other_user):
    theirs = funded_account(other_user)
    assert token_client.get(f"/api/v1/paper-accounts/{theirs.pk}").status_code == 404
    assert token_client.post(f"/api/v1/paper-accounts/{theirs.pk}/reset").status_code == 404
    assert token_client.get(f"/api/v1/balances?account={theirs.pk}").status_code == 400


# --- orders -----------------------------------------------------------------------------------


def test_a_market_order_fills_and_shows_in_balances_and_positions(token_client, user, stock):
    response = token_client.post(ORDERS, market_body())
    assert response.status_code == HTTPStatus.CREATED, response.json()
    order = response.json()
    assert order["status"] == "filled"
    assert (order["symbol"], order["exchange"], order["type"]) == ("ACME", "NYSE", "market")
    assert Decimal(order["average_fill_price"]) == Decimal("100.1")
    assert Decimal(order["fee"]) == Decimal("0.2002")
    assert order["client_order_id"].startswith("tl-")
    assert response["Location"] == f"/api/v1/orders/{order['id']}"
    assert "no-store" in response["Cache-Control"]

    account = PaperAccount.objects.get(user=user, is_default=True)
    assert order["account"] == account.pk
    [usd] = token_client.get("/api/v1/balances").json()["results"]
    assert Decimal(usd["free"]) == Decimal(10000) - Decimal("200.2") - Decimal("0.2002")

    price_arrives(stock, "110", DAY + timedelta(days=1))
    [held] = token_client.get("/api/v1/positions").json()["results"]
    assert Decimal(held["quantity"]) == 2
    assert Decimal(held["average_price"]) == Decimal("100.1")
    assert Decimal(held["last_price"]) == 110
    assert held["last_price_date"] == (DAY + timedelta(days=1)).isoformat()
    assert Decimal(held["market_value"]) == 220
    assert Decimal(held["unrealized_pnl"]) == Decimal("19.8")


def test_a_rejected_order_is_created_with_its_reason(token_client, stock):
    response = token_client.post(ORDERS, market_body(quantity="1000"))
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["status"] == "rejected"
    assert "Insufficient funds" in response.json()["reject_reason"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symbol": "NOPE"}, "symbol"),
        ({"type": "limit"}, "limit_price"),
        ({"limit_price": "10"}, "limit_price"),
        ({"type": "limit", "limit_price": "-1"}, "limit_price"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-3"}, "quantity"),
        ({"quantity": "lots"}, "quantity"),
        ({"side": "hold"}, "side"),
        ({"type": "stop"}, "type"),
        ({"account": 999999}, "account"),
    ],
)
def test_bad_order_bodies_answer_400_with_field_errors(token_client, stock, overrides, field):
    response = token_client.post(ORDERS, market_body(**overrides))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert field in body["errors"]
    assert not Order.objects.exists()


def test_another_users_account_in_the_body_does_not_exist(token_client, other_user, stock):
    theirs = funded_account(other_user)
    response = token_client.post(ORDERS, market_body(account=theirs.pk))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "does not exist" in response.json()["errors"]["account"][0]
    assert not Order.objects.exists()


def test_another_users_private_symbol_is_unknown(token_client, other_user):
    InstrumentFactory(symbol="SECRET", owner=other_user)
    response = token_client.post(ORDERS, market_body(symbol="SECRET"))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "symbol" in response.json()["errors"]


def test_a_duplicate_client_order_id_answers_400_naming_it(token_client, stock):
    first = token_client.post(ORDERS, market_body(client_order_id="abc-1"))
    assert first.status_code == HTTPStatus.CREATED
    assert first.json()["client_order_id"] == "abc-1"
    second = token_client.post(ORDERS, market_body(client_order_id="abc-1"))
    assert second.status_code == HTTPStatus.BAD_REQUEST
    assert "client_order_id" in second.json()["errors"]
    assert Order.objects.count() == 1


def test_without_a_key_every_post_places_a_new_order(token_client, stock):
    for _ in range(2):
        assert token_client.post(ORDERS, market_body()).status_code == HTTPStatus.CREATED
    assert Order.objects.count() == 2


def test_the_same_key_and_body_answers_the_first_response_and_places_nothing(token_client, stock):
    first = token_client.post(ORDERS, market_body(), HTTP_IDEMPOTENCY_KEY="key-1")
    again = token_client.post(ORDERS, market_body(), HTTP_IDEMPOTENCY_KEY="key-1")
    assert first.status_code == again.status_code == HTTPStatus.CREATED
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert Order.objects.count() == 1
    # Field order does not make it another body.
    reordered = dict(reversed(list(market_body().items())))
    assert token_client.post(ORDERS, reordered, HTTP_IDEMPOTENCY_KEY="key-1").json() == first.json()
    assert Order.objects.count() == 1


def test_the_same_key_with_another_body_answers_409(token_client, stock):
    token_client.post(ORDERS, market_body(), HTTP_IDEMPOTENCY_KEY="key-2")
    response = token_client.post(ORDERS, market_body(quantity="3"), HTTP_IDEMPOTENCY_KEY="key-2")
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {
        "detail": "This Idempotency-Key was already used with a different request body.",
        "errors": {},
    }
    assert Order.objects.count() == 1


def test_keys_are_per_user(token_client, stock, other_user):
    _, raw = token_create(user=other_user, name="other")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    mine = token_client.post(ORDERS, market_body(), HTTP_IDEMPOTENCY_KEY="shared")
    theirs = other.post(ORDERS, market_body(), HTTP_IDEMPOTENCY_KEY="shared")
    assert mine.status_code == theirs.status_code == HTTPStatus.CREATED
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_refused_request_stores_no_key_so_a_corrected_retry_goes_through(token_client, stock):
    bad = token_client.post(ORDERS, market_body(quantity="0"), HTTP_IDEMPOTENCY_KEY="key-3")
    assert bad.status_code == HTTPStatus.BAD_REQUEST
    assert not IdempotencyRecord.objects.exists()
    good = token_client.post(ORDERS, market_body(), HTTP_IDEMPOTENCY_KEY="key-3")
    assert good.status_code == HTTPStatus.CREATED


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_a_blank_or_overlong_key_answers_400(token_client, stock, key):
    response = token_client.post(ORDERS, market_body(), HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Order.objects.exists()


def test_list_filters_and_detail(token_client, user, stock):
    other_stock = priced_instrument("BOLT", close="10", exchange="NYSE")
    funded_account(user, name="Main")
    second = funded_account(user, name="Second")
    token_client.post(ORDERS, market_body())
    token_client.post(ORDERS, market_body(symbol="BOLT", account=second.pk))
    token_client.post(ORDERS, market_body(type="limit", limit_price="50"))

    def ids(query: str) -> int:
        return token_client.get(f"{ORDERS}?{query}").json()["count"]

    assert ids("") == 3
    assert ids("symbol=bolt") == 1
    assert ids("status=open") == 1
    assert ids("status=filled") == 2
    assert ids(f"account={second.pk}") == 1
    assert token_client.get(f"{ORDERS}?status=bogus").status_code == HTTPStatus.BAD_REQUEST
    order = Order.objects.get(instrument=other_stock)
    detail = token_client.get(f"{ORDERS}/{order.pk}")
    assert detail.json()["symbol"] == "BOLT"
    assert "no-store" in detail["Cache-Control"]


def test_cancel_an_open_order_via_the_api(token_client, user, stock):
    placed = token_client.post(ORDERS, market_body(type="limit", limit_price="50")).json()
    assert placed["status"] == "open"
    response = token_client.post(f"{ORDERS}/{placed['id']}/cancel")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "cancelled"
    again = token_client.post(f"{ORDERS}/{placed['id']}/cancel")
    assert again.status_code == HTTPStatus.BAD_REQUEST
    usd = PaperBalance.objects.get(account__user=user, currency="USD")
    assert (usd.free, usd.locked) == (Decimal(10000), Decimal(0))


def test_another_users_order_is_not_found(token_client, other_user, stock):
    theirs = order_place(
        user=other_user,
        account=funded_account(other_user),
        data=OrderInput(
            instrument=stock,
            side="buy",
            order_type="limit",
            quantity=Decimal(1),
            limit_price=Decimal(50),
        ),
    )
    assert token_client.get(f"{ORDERS}/{theirs.pk}").status_code == HTTPStatus.NOT_FOUND
    assert token_client.post(f"{ORDERS}/{theirs.pk}/cancel").status_code == HTTPStatus.NOT_FOUND
    assert Order.objects.get(pk=theirs.pk).status == OrderStatus.OPEN
    assert token_client.get(ORDERS).json()["count"] == 0


def test_anonymous_callers_get_401(api_client):
    for url in (ORDERS, "/api/v1/paper-accounts", "/api/v1/balances", "/api/v1/positions"):
        assert api_client.get(url).status_code == HTTPStatus.UNAUTHORIZED
