"""The transactions API: create, read, update, delete, filters, validation and paging (SPEC §6)."""

from datetime import timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import ActivityAction, ActivityLog
from portfolio.models import FxRate, Holding, Instrument, PriceBar, Transaction

TRANSACTION_FIELDS = {
    "id",
    "portfolio",
    "type",
    "symbol",
    "exchange",
    "quantity",
    "price",
    "fee",
    "currency",
    "fx_rate",
    "date",
    "notes",
    "external_id",
}
# Recent days keep the snapshots every ledger write rebuilds few.
START = timezone.localdate() - timedelta(days=20)


def day(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


@pytest.fixture
def apple(db) -> Instrument:
    instrument = Instrument.objects.create(symbol="AAPL", exchange="NASDAQ", currency="USD")
    PriceBar.objects.create(instrument=instrument, date=START, close=Decimal("150"))
    return instrument


@pytest.fixture
def make_portfolio(session_client):
    def make(name: str = "Main", base_currency: str = "USD") -> int:
        response = session_client.post(
            "/api/v1/portfolios", {"name": name, "base_currency": base_currency}
        )
        assert response.status_code == HTTPStatus.CREATED, response.json()
        return response.json()["id"]

    return make


@pytest.fixture
def portfolio(make_portfolio) -> int:
    return make_portfolio()


@pytest.fixture
def post(session_client):
    def send(portfolio: int, **fields):
        body = {"portfolio": portfolio, "date": day(0), **fields}
        return session_client.post("/api/v1/transactions", body)

    return send


def buy(post, portfolio: int, quantity: str = "2", **fields) -> dict:
    body = {"type": "BUY", "symbol": "AAPL", "exchange": "NASDAQ", "price": "150"}
    response = post(portfolio, **{**body, "quantity": quantity, **fields})
    assert response.status_code == HTTPStatus.CREATED, response.json()
    return response.json()


def _written() -> tuple[int, int]:
    return Transaction.objects.count(), Instrument.objects.count()


def test_creating_a_transaction_answers_201_with_the_spec_fields(
    session_client, post, portfolio, apple
):
    response = post(
        portfolio,
        type="BUY",
        symbol="aapl",
        exchange="nasdaq",
        quantity="2.5",
        price="150.10",
        fee="1.5",
        notes="first lot",
        external_id="broker-1",
    )

    assert response.status_code == HTTPStatus.CREATED, response.json()
    body = response.json()
    assert set(body) == TRANSACTION_FIELDS
    assert response["Location"] == f"/api/v1/transactions/{body['id']}"
    assert (body["portfolio"], body["type"], body["symbol"], body["exchange"]) == (
        portfolio,
        "BUY",
        "AAPL",
        "NASDAQ",
    )
    assert (body["currency"], body["date"], body["external_id"]) == ("USD", day(0), "broker-1")
    assert [Decimal(body[k]) for k in ("quantity", "price", "fee", "fx_rate")] == [
        Decimal("2.5"),
        Decimal("150.10"),
        Decimal("1.5"),
        Decimal(1),
    ]
    assert session_client.get(response["Location"]).json() == body
    holding = Holding.objects.get(portfolio_id=portfolio, instrument=apple)
    assert holding.quantity == Decimal("2.5")


def test_a_cash_transaction_has_no_symbol_and_a_quantity_of_one(post, portfolio):
    response = post(portfolio, type="DEPOSIT", price="1000")

    assert response.status_code == HTTPStatus.CREATED, response.json()
    body = response.json()
    assert (body["symbol"], body["exchange"], body["currency"]) == (None, None, "USD")
    assert Decimal(body["quantity"]) == 1


def test_an_unknown_symbol_with_a_currency_creates_a_private_instrument(
    post, make_portfolio, user, other_user
):
    portfolio = make_portfolio("Euro", "EUR")

    response = post(
        portfolio, type="BUY", symbol="FARM", quantity="1", price="5000", currency="EUR"
    )

    assert response.status_code == HTTPStatus.CREATED, response.json()
    farm = Instrument.objects.get(symbol="FARM")
    assert (farm.owner, farm.currency) == (user, "EUR")
    stranger = APIClient()
    stranger.force_login(other_user)
    assert stranger.get("/api/v1/instruments", {"search": "FARM"}).json()["count"] == 0


def test_an_unknown_symbol_without_a_currency_is_refused_and_creates_nothing(post, portfolio):
    before = _written()

    response = post(portfolio, type="BUY", symbol="NOPE", quantity="1", price="5")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "symbol" in response.json()["errors"]
    assert _written() == before


TOMORROW = (timezone.localdate() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"date": TOMORROW}, "date", id="future date"),
        pytest.param({"symbol": ""}, "symbol", id="BUY without an instrument"),
        pytest.param({"symbol": None}, "symbol", id="BUY with a null instrument"),
        pytest.param({"fee": "-0.01"}, "fee", id="negative fee"),
        pytest.param({"price": "0"}, "price", id="zero price"),
        pytest.param({"quantity": "-1"}, "quantity", id="negative quantity"),
        pytest.param({"quantity": "1.0000000000001"}, "quantity", id="too many decimals"),
        pytest.param({"type": "GIFT"}, "type", id="unknown type"),
        pytest.param({"currency": "ZZZ"}, "currency", id="unknown currency"),
        pytest.param({"fx_rate": "0"}, "fx_rate", id="zero FX rate"),
        pytest.param({"date": "2024-02-30"}, "date", id="impossible date"),
        pytest.param({"type": "DEPOSIT"}, "symbol", id="deposit naming an instrument"),
        pytest.param({"portfolio": 0}, "portfolio", id="no such portfolio"),
    ],
)
def test_bad_input_answers_400_naming_the_field_and_writes_nothing(
    post, portfolio, apple, fields, field
):
    before = _written()
    body = {"type": "BUY", "symbol": "AAPL", "exchange": "NASDAQ", "quantity": "1", "price": "9"}

    fields = dict(fields)
    target = fields.pop("portfolio", portfolio)

    response = post(target, **{**body, **fields})

    assert response.status_code == HTTPStatus.BAD_REQUEST, response.json()
    assert field in response.json()["errors"], response.json()
    assert _written() == before


def test_selling_more_than_is_held_is_refused_and_changes_nothing(post, portfolio, apple):
    buy(post, portfolio, quantity="2")
    before = _written()

    response = post(
        portfolio, type="SELL", symbol="AAPL", exchange="NASDAQ", quantity="3", price="160"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "quantity" in response.json()["errors"], response.json()
    assert _written() == before
    assert Holding.objects.get(portfolio_id=portfolio, instrument=apple).quantity == 2


def test_a_backdated_sell_before_the_buy_is_an_oversell(post, portfolio, apple):
    buy(post, portfolio, quantity="2", date=day(5))

    response = post(
        portfolio,
        type="SELL",
        symbol="AAPL",
        exchange="NASDAQ",
        quantity="1",
        price="160",
        date=day(1),
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "quantity" in response.json()["errors"]
    assert Transaction.objects.count() == 1


def test_put_replaces_a_transaction_and_recomputes_the_holding(
    session_client, post, portfolio, apple
):
    created = buy(post, portfolio, quantity="2", fee="3")
    url = f"/api/v1/transactions/{created['id']}"
    body = {
        "portfolio": portfolio,
        "type": "BUY",
        "symbol": "AAPL",
        "exchange": "NASDAQ",
        "quantity": "5",
        "price": "140",
        "date": day(2),
    }

    response = session_client.put(url, body)

    assert response.status_code == HTTPStatus.OK, response.json()
    updated = response.json()
    assert (updated["id"], updated["date"]) == (created["id"], day(2))
    # PUT replaces: the fee not given goes back to its default.
    assert [Decimal(updated[k]) for k in ("quantity", "price", "fee")] == [5, 140, 0]
    holding = Holding.objects.get(portfolio_id=portfolio, instrument=apple)
    assert (holding.quantity, holding.cost_basis) == (5, 700)


def test_patch_changes_only_the_fields_it_names(session_client, post, portfolio, apple):
    created = buy(post, portfolio, quantity="2", fee="3", notes="keep me")

    response = session_client.patch(f"/api/v1/transactions/{created['id']}", {"price": "120"})

    assert response.status_code == HTTPStatus.OK, response.json()
    assert response.json() == {**created, "price": response.json()["price"]}
    assert Decimal(response.json()["price"]) == 120
    assert Holding.objects.get(portfolio_id=portfolio, instrument=apple).cost_basis == 240


def test_an_update_that_would_oversell_is_refused_and_changes_nothing(
    session_client, post, portfolio, apple
):
    bought = buy(post, portfolio, quantity="2")
    post(portfolio, type="SELL", symbol="AAPL", exchange="NASDAQ", quantity="2", price="9")
    before = list(Transaction.objects.order_by("pk").values())

    response = session_client.patch(f"/api/v1/transactions/{bought['id']}", {"quantity": "1"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "quantity" in response.json()["errors"], response.json()
    assert list(Transaction.objects.order_by("pk").values()) == before


def test_a_transaction_cannot_move_to_another_portfolio(
    session_client, post, make_portfolio, apple
):
    first, second = make_portfolio("First"), make_portfolio("Second")
    created = buy(post, first)

    response = session_client.patch(f"/api/v1/transactions/{created['id']}", {"portfolio": second})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == ["portfolio"]
    assert Transaction.objects.get(pk=created["id"]).portfolio_id == first


def test_delete_removes_the_transaction_and_its_effect_on_the_holding(
    session_client, post, portfolio, apple
):
    buy(post, portfolio, quantity="2")
    second = buy(post, portfolio, quantity="3")

    response = session_client.delete(f"/api/v1/transactions/{second['id']}")

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not Transaction.objects.filter(pk=second["id"]).exists()
    assert Holding.objects.get(portfolio_id=portfolio, instrument=apple).quantity == 2
    assert session_client.get(f"/api/v1/transactions/{second['id']}").status_code == 404


@pytest.fixture
def ledger(post, make_portfolio, apple) -> dict[str, int]:
    """Two portfolios with a few transactions each, told apart by their notes."""
    Instrument.objects.create(symbol="MSFT", exchange="NASDAQ", currency="USD")
    main, other = make_portfolio("Main"), make_portfolio("Other")
    post(main, type="DEPOSIT", price="5000", date=day(0), notes="deposit")
    buy(post, main, date=day(1), notes="apple early")
    buy(post, main, date=day(5), notes="apple late")
    buy(post, main, date=day(3), symbol="MSFT", notes="microsoft")
    buy(post, other, date=day(2), notes="other apple")
    return {"main": main, "other": other}


def _param(ledger: dict[str, int], key: str, value):
    if key == "portfolio":
        return ledger[value]
    return day(value) if key.startswith("date") else value


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["apple late", "microsoft", "other apple", "apple early", "deposit"]),
        ({"portfolio": "main"}, ["apple late", "microsoft", "apple early", "deposit"]),
        ({"symbol": "AAPL"}, ["apple late", "other apple", "apple early"]),
        ({"symbol": "msft"}, ["microsoft"]),
        ({"type": "DEPOSIT"}, ["deposit"]),
        ({"date_from": 2}, ["apple late", "microsoft", "other apple"]),
        ({"date_to": 2}, ["other apple", "apple early", "deposit"]),
        ({"date_from": 1, "date_to": 3, "portfolio": "main"}, ["microsoft", "apple early"]),
        ({"portfolio": "other", "symbol": "MSFT"}, []),
    ],
)
def test_filters_narrow_the_list_newest_first(session_client, ledger, query, expected):
    params = {key: _param(ledger, key, value) for key, value in query.items()}

    response = session_client.get("/api/v1/transactions", params)

    assert response.status_code == HTTPStatus.OK, response.json()
    assert [row["notes"] for row in response.json()["results"]] == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date_from": day(3), "date_to": day(1)}, "date_to"),
        ({"date_from": "soon"}, "date_from"),
        ({"type": "GIFT"}, "type"),
        ({"portfolio": "999999"}, "portfolio"),
    ],
)
def test_a_bad_filter_answers_400_naming_it(session_client, query, field):
    response = session_client.get("/api/v1/transactions", query)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == [field]


def test_another_users_portfolio_as_a_filter_is_refused(session_client, other_user):
    stranger = APIClient()
    stranger.force_login(other_user)
    theirs = stranger.post("/api/v1/portfolios", {"name": "Theirs"}).json()["id"]

    response = session_client.get("/api/v1/transactions", {"portfolio": theirs})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "does not exist" in response.json()["errors"]["portfolio"][0]


def _queries(client, url: str, **params) -> tuple[int, int]:
    """(queries, rows) of one page; the session is already recorded by the setup's requests."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == HTTPStatus.OK, response.json()
    return len(captured.captured_queries), len(response.json()["results"])


def test_a_page_of_transactions_costs_the_same_queries_whatever_its_size(
    session_client, post, portfolio, apple
):
    symbols = [f"S{n}" for n in range(6)]
    for symbol in symbols:
        Instrument.objects.create(symbol=symbol, currency="USD")
        buy(post, portfolio, symbol=symbol, exchange="", quantity="1")

    small = _queries(session_client, "/api/v1/transactions", page_size=2)
    large = _queries(session_client, "/api/v1/transactions", page_size=6)

    assert (small[1], large[1]) == (2, 6)
    assert small[0] == large[0]


def test_a_page_of_holdings_costs_the_same_queries_whatever_its_size(
    session_client, post, portfolio
):
    for n in range(6):
        Instrument.objects.create(symbol=f"H{n}", currency="USD")
        buy(post, portfolio, symbol=f"H{n}", exchange="", quantity="1")
    url = f"/api/v1/portfolios/{portfolio}/holdings"

    small, large = _queries(session_client, url, page_size=2), _queries(session_client, url)

    assert (small[1], large[1]) == (2, 6)
    assert small[0] == large[0]


@pytest.fixture
def siemens(db) -> Instrument:
    """A EUR instrument, with EUR/USD rates on day 0 and day 2, for a USD portfolio."""
    FxRate.objects.create(base="EUR", quote="USD", date=START, rate=Decimal("1.1"))
    FxRate.objects.create(
        base="EUR", quote="USD", date=START + timedelta(days=2), rate=Decimal("1.2")
    )
    return Instrument.objects.create(symbol="SIE", exchange="XETRA", currency="EUR")


def buy_siemens(post, portfolio: int, **fields) -> dict:
    body = {"type": "BUY", "symbol": "SIE", "exchange": "XETRA", "quantity": "1", "price": "100"}
    response = post(portfolio, **{**body, **fields})
    assert response.status_code == HTTPStatus.CREATED, response.json()
    return response.json()


def test_the_fx_rate_is_looked_up_at_the_trade_date_when_not_given(post, portfolio, siemens):
    created = buy_siemens(post, portfolio, date=day(1))

    assert (created["currency"], Decimal(created["fx_rate"])) == ("EUR", Decimal("1.1"))


def test_a_missing_fx_rate_is_refused_naming_the_pair_not_taken_as_one(
    post, make_portfolio, siemens
):
    swiss = make_portfolio("Swiss", "CHF")
    before = _written()

    response = post(swiss, type="BUY", symbol="SIE", exchange="XETRA", quantity="1", price="100")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    [messages] = response.json()["errors"].values()
    assert "EUR" in messages[0]
    assert "CHF" in messages[0]
    assert _written() == before


@pytest.mark.parametrize(
    ("patch", "fx_rate"),
    [
        pytest.param({"notes": "just a note"}, "1.1", id="unrelated change keeps the rate"),
        pytest.param({"date": day(3)}, "1.2", id="a new date looks the rate up again"),
        pytest.param({"date": day(3), "fx_rate": "1.15"}, "1.15", id="a given rate wins"),
    ],
)
def test_patch_keeps_or_relooks_up_the_fx_rate(
    session_client, post, portfolio, siemens, patch, fx_rate
):
    created = buy_siemens(post, portfolio, date=day(1))

    response = session_client.patch(f"/api/v1/transactions/{created['id']}", patch)

    assert response.status_code == HTTPStatus.OK, response.json()
    assert Decimal(response.json()["fx_rate"]) == Decimal(fx_rate)


def test_each_write_through_the_api_lands_in_the_callers_activity_log(token_client, user, apple):
    portfolio = token_client.post("/api/v1/portfolios", {"name": "Scripted"}).json()["id"]
    body = {"portfolio": portfolio, "type": "DEPOSIT", "price": "100", "date": day(0)}
    created = token_client.post("/api/v1/transactions", body).json()
    url = f"/api/v1/transactions/{created['id']}"
    token_client.patch(url, {"price": "120"})
    token_client.delete(url)

    actions = list(
        ActivityLog.objects.for_user(user)
        .filter(action__startswith="transaction")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        ActivityAction.TRANSACTION_CREATED,
        ActivityAction.TRANSACTION_UPDATED,
        ActivityAction.TRANSACTION_DELETED,
    ]
    assert (
        ActivityLog.objects.for_user(user).filter(action=ActivityAction.PORTFOLIO_CREATED).exists()
    )
