"""Portfolio figures through the API: holdings, performance (SPEC §4 worked check) and series."""

from datetime import date
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from portfolio.models import Instrument, PriceBar

PERFORMANCE_FIELDS = {
    "as_of",
    "currency",
    "value",
    "cash",
    "cost_basis",
    "realized_pnl",
    "unrealized_pnl",
    "fees",
    "dividends",
    "interest",
    "net_pnl",
    "total_return",
    "twr",
    "mwr",
    "max_drawdown",
    "volatility",
    "sharpe",
    "positions",
}
POSITION_FIELDS = {
    "symbol",
    "exchange",
    "quantity",
    "average_cost",
    "market_price",
    "value",
    "cost_basis",
    "unrealized_pnl",
    "realized_pnl",
    "fees",
    "dividends",
    "weight",
}


@pytest.fixture
def novartis(db) -> Instrument:
    """Shared reference data, as staff import it: NOVN in CHF with the close of 2022-04-11."""
    instrument = Instrument.objects.create(symbol="NOVN", exchange="SIX", currency="CHF")
    PriceBar.objects.create(instrument=instrument, date=date(2022, 4, 11), close=Decimal("87.80"))
    return instrument


@pytest.fixture
def swiss_portfolio(session_client, novartis) -> int:
    """SPEC §4's worked check, entered through the API."""
    created = session_client.post("/api/v1/portfolios", {"name": "Swiss", "base_currency": "CHF"})
    assert created.status_code == HTTPStatus.CREATED, created.json()
    portfolio = created.json()["id"]
    for body in (
        {"type": "BUY", "quantity": "2", "price": "75.80", "fee": "2.95", "date": "2022-03-07"},
        {"type": "SELL", "quantity": "1", "price": "85.73", "fee": "1.30", "date": "2022-04-08"},
    ):
        response = session_client.post(
            "/api/v1/transactions",
            {**body, "portfolio": portfolio, "symbol": "NOVN", "exchange": "SIX"},
        )
        assert response.status_code == HTTPStatus.CREATED, response.json()
    return portfolio


def _decimals(body: dict, names: list[str]) -> dict[str, Decimal]:
    assert all(isinstance(body[name], str) for name in names), body
    return {name: Decimal(body[name]) for name in names}


def test_the_spec_worked_check_comes_out_of_the_performance_endpoint(
    session_client, swiss_portfolio
):
    response = session_client.get(
        f"/api/v1/portfolios/{swiss_portfolio}/performance", {"as_of": "2022-04-11"}
    )

    assert response.status_code == HTTPStatus.OK, response.json()
    body = response.json()
    assert set(body) == PERFORMANCE_FIELDS
    assert (body["as_of"], body["currency"]) == ("2022-04-11", "CHF")
    names = ["cost_basis", "realized_pnl", "unrealized_pnl", "fees", "net_pnl", "total_return"]
    assert _decimals(body, names) == {
        "cost_basis": Decimal("75.80"),
        "realized_pnl": Decimal("9.93"),
        "unrealized_pnl": Decimal("12.00"),
        "fees": Decimal("4.25"),
        "net_pnl": Decimal("17.68"),
        "total_return": Decimal("17.68"),
    }
    # The buy's 154.55 (with fee) is an implicit deposit; the sell leaves 85.73 - 1.30 in cash.
    assert _decimals(body, ["cash", "value"]) == {
        "cash": Decimal("84.43"),
        "value": Decimal("172.23"),
    }
    [position] = body["positions"]
    assert set(position) == POSITION_FIELDS
    assert (position["symbol"], position["exchange"]) == ("NOVN", "SIX")
    assert _decimals(position, ["quantity", "market_price", "value", "cost_basis"]) == {
        "quantity": Decimal(1),
        "market_price": Decimal("87.80"),
        "value": Decimal("87.80"),
        "cost_basis": Decimal("75.80"),
    }
    assert _decimals(position, ["realized_pnl", "unrealized_pnl", "fees"]) == {
        "realized_pnl": Decimal("9.93"),
        "unrealized_pnl": Decimal("12.00"),
        "fees": Decimal("4.25"),
    }


def test_holdings_list_the_folded_position_in_both_currencies(session_client, swiss_portfolio):
    response = session_client.get(f"/api/v1/portfolios/{swiss_portfolio}/holdings")

    assert response.status_code == HTTPStatus.OK
    [holding] = response.json()["results"]
    assert (holding["symbol"], holding["exchange"], holding["currency"]) == ("NOVN", "SIX", "CHF")
    assert _decimals(holding, ["quantity", "cost_basis", "realized_pnl", "cost_basis_base"]) == {
        "quantity": Decimal(1),
        "cost_basis": Decimal("75.80"),
        "realized_pnl": Decimal("9.93"),
        "cost_basis_base": Decimal("75.80"),
    }


def test_series_gives_daily_snapshots_in_the_asked_span(session_client, swiss_portfolio):
    response = session_client.get(
        f"/api/v1/portfolios/{swiss_portfolio}/series",
        {"start": "2022-04-07", "end": "2022-04-11", "page_size": 100},
    )

    assert response.status_code == HTTPStatus.OK, response.json()
    rows = response.json()["results"]
    assert [row["date"] for row in rows] == ["2022-04-07", "2022-04-08", "2022-04-11"]
    assert set(rows[0]) == {"date", "value", "cost_basis", "cash", "net_flow"}
    assert Decimal(rows[-1]["value"]) == Decimal("172.23")
    assert Decimal(rows[-1]["cost_basis"]) == Decimal("75.80")
    assert Decimal(rows[1]["cash"]) == Decimal("84.43")


def test_performance_defaults_to_today(session_client, swiss_portfolio):
    body = session_client.get(f"/api/v1/portfolios/{swiss_portfolio}/performance").json()

    assert body["as_of"] == timezone.localdate().isoformat()
    assert Decimal(body["realized_pnl"]) == Decimal("9.93")


@pytest.mark.parametrize(
    ("route", "query", "field"),
    [
        ("performance", {"as_of": "2022-13-01"}, "as_of"),
        ("performance", {"as_of": "yesterday"}, "as_of"),
        ("series", {"start": "11/04/2022"}, "start"),
        ("series", {"start": "2022-04-11", "end": "2022-04-01"}, "end"),
    ],
)
def test_a_bad_date_answers_400_naming_the_parameter(
    session_client, swiss_portfolio, route, query, field
):
    response = session_client.get(f"/api/v1/portfolios/{swiss_portfolio}/{route}", query)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize("route", ["holdings", "performance", "series"])
def test_another_users_portfolio_figures_are_not_found(swiss_portfolio, other_user, route):
    stranger = APIClient()
    stranger.force_login(other_user)

    response = stranger.get(f"/api/v1/portfolios/{swiss_portfolio}/{route}")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "NOVN" not in response.content.decode()
