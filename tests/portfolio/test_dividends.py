"""Dividends: record from the ledger's holding, confirm once into the ledger, reject, propose."""

from datetime import date
from decimal import Decimal
from http import HTTPStatus

import pytest
from rest_framework.test import APIClient

from audit.models import ActivityAction, ActivityLog
from portfolio.models import Dividend, Holding, Instrument, Portfolio, Transaction
from portfolio.services import (
    TransactionInput,
    dividend_confirm,
    dividend_create,
    dividends_propose,
    transaction_create,
)
from tests.factories import InstrumentFactory, PortfolioFactory, PriceBarFactory, SplitFactory


@pytest.fixture
def portfolio(user) -> Portfolio:
    return PortfolioFactory(user=user, base_currency="USD")


@pytest.fixture
def ko(db) -> Instrument:
    return InstrumentFactory(symbol="KO", currency="USD")


def _trade(portfolio: Portfolio, instrument: Instrument, kind: str, on: str, quantity: str):
    transaction_create(
        portfolio=portfolio,
        data=TransactionInput(
            type=kind,
            date=date.fromisoformat(on),
            quantity=Decimal(quantity),
            price=Decimal(50),
            instrument=instrument,
        ),
    )


def _body(portfolio: Portfolio, **extra) -> dict:
    return {
        "portfolio": portfolio.pk,
        "symbol": "KO",
        "ex_date": "2024-03-14",
        "pay_date": "2024-04-01",
        "amount_per_share": "0.485",
        **extra,
    }


@pytest.mark.parametrize(
    ("trades", "shares"),
    [
        pytest.param([("BUY", "2024-03-01", "10")], "10", id="bought before"),
        pytest.param([("BUY", "2024-03-13", "10")], "10", id="bought the day before"),
        pytest.param([("BUY", "2024-03-14", "10")], "0", id="bought on the ex date"),
        pytest.param(
            [("BUY", "2024-03-01", "10"), ("SELL", "2024-03-14", "10")], "10",
            id="sold on the ex date still pays",
        ),
        pytest.param(
            [("BUY", "2024-03-01", "10"), ("SELL", "2024-03-13", "4")], "6",
            id="partly sold before",
        ),
    ],
)  # fmt: skip
def test_shares_and_total_come_from_the_holding_going_into_the_ex_date(
    session_client, portfolio, ko, trades, shares
):
    for kind, on, quantity in trades:
        _trade(portfolio, ko, kind, on, quantity)

    response = session_client.post("/api/v1/dividends", _body(portfolio))

    assert response.status_code == HTTPStatus.CREATED, response.json()
    body = response.json()
    assert Decimal(body["shares"]) == Decimal(shares)
    assert Decimal(body["total"]) == Decimal(shares) * Decimal("0.485")
    assert (body["status"], body["source"], body["currency"]) == ("pending", "manual", "USD")


def test_a_split_before_the_ex_date_counts_in_the_shares(portfolio, ko):
    _trade(portfolio, ko, "BUY", "2024-01-02", "10")
    SplitFactory(instrument=ko, date=date(2024, 2, 1), numerator=2, denominator=1)

    dividend = dividend_create(
        portfolio=portfolio, instrument=ko, ex_date=date(2024, 3, 14), amount_per_share=Decimal(1)
    )

    assert dividend.shares == Decimal(20)


def test_confirming_records_one_dividend_transaction_even_when_repeated(
    session_client, user, portfolio, ko
):
    _trade(portfolio, ko, "BUY", "2024-03-01", "10")
    made = session_client.post("/api/v1/dividends", _body(portfolio)).json()

    first = session_client.post(f"/api/v1/dividends/{made['id']}/confirm")
    second = session_client.post(f"/api/v1/dividends/{made['id']}/confirm")

    assert first.status_code == second.status_code == HTTPStatus.OK, first.json()
    assert first.json()["status"] == "confirmed"
    assert first.json()["transaction"] == second.json()["transaction"]
    payout = Transaction.objects.get(portfolio=portfolio, type="DIVIDEND")
    assert (payout.pk, payout.date, payout.quantity, payout.price) == (
        first.json()["transaction"],
        date(2024, 4, 1),
        Decimal(10),
        Decimal("0.485"),
    )
    assert Holding.objects.get(portfolio=portfolio, instrument=ko).dividends == Decimal("4.85")
    confirmed = ActivityLog.objects.filter(user=user, action=ActivityAction.DIVIDEND_CONFIRMED)
    assert confirmed.count() == 1


def test_confirming_twice_through_the_service_keeps_one_transaction(portfolio, ko):
    _trade(portfolio, ko, "BUY", "2024-03-01", "10")
    dividend = dividend_create(
        portfolio=portfolio, instrument=ko, ex_date=date(2024, 3, 14), amount_per_share=Decimal(1)
    )

    dividend_confirm(dividend=dividend)
    dividend_confirm(dividend=Dividend.objects.get(pk=dividend.pk))

    assert Transaction.objects.filter(type="DIVIDEND").count() == 1


@pytest.mark.parametrize(
    ("setup", "field"),
    [
        pytest.param("nothing held", "shares", id="no shares"),
        pytest.param("rejected", "status", id="rejected"),
        pytest.param("paid later", "pay_date", id="pay date in the future"),
    ],
)
def test_a_dividend_that_cannot_be_paid_is_not_confirmed(
    session_client, portfolio, ko, setup, field
):
    if setup != "nothing held":
        _trade(portfolio, ko, "BUY", "2024-03-01", "10")
    extra = {"pay_date": "2999-01-01"} if setup == "paid later" else {}
    made = session_client.post("/api/v1/dividends", _body(portfolio, **extra)).json()
    if setup == "rejected":
        session_client.post(f"/api/v1/dividends/{made['id']}/reject")

    response = session_client.post(f"/api/v1/dividends/{made['id']}/confirm")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]
    assert not Transaction.objects.filter(type="DIVIDEND").exists()


def test_editing_an_open_dividend_marks_it_edited_and_rederives_the_total(
    session_client, portfolio, ko
):
    _trade(portfolio, ko, "BUY", "2024-03-01", "10")
    made = session_client.post("/api/v1/dividends", _body(portfolio)).json()

    response = session_client.patch(f"/api/v1/dividends/{made['id']}", {"amount_per_share": "0.5"})

    assert response.status_code == HTTPStatus.OK, response.json()
    assert response.json()["status"] == "edited"
    assert Decimal(response.json()["total"]) == Decimal(5)


def test_a_confirmed_dividend_can_be_neither_edited_rejected_nor_deleted(
    session_client, portfolio, ko
):
    _trade(portfolio, ko, "BUY", "2024-03-01", "10")
    made = session_client.post("/api/v1/dividends", _body(portfolio)).json()
    session_client.post(f"/api/v1/dividends/{made['id']}/confirm")
    url = f"/api/v1/dividends/{made['id']}"

    answers = [
        session_client.patch(url, {"amount_per_share": "9"}).status_code,
        session_client.post(f"{url}/reject").status_code,
        session_client.delete(url).status_code,
    ]

    assert answers == [HTTPStatus.BAD_REQUEST] * 3
    assert Dividend.objects.get(pk=made["id"]).status == "confirmed"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        pytest.param({"amount_per_share": "0"}, "amount_per_share", id="zero amount"),
        pytest.param({"pay_date": "2024-03-01"}, "non_field_errors", id="paid before ex date"),
        pytest.param({"currency": "EUR"}, "currency", id="not the instrument's currency"),
        pytest.param({"symbol": "NOPE"}, "symbol", id="unknown instrument"),
        pytest.param({"kind": "gold"}, "kind", id="unknown kind"),
    ],
)
def test_bad_dividends_are_refused_with_field_errors(session_client, portfolio, ko, extra, field):
    response = session_client.post("/api/v1/dividends", _body(portfolio, **extra))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"], response.json()
    assert not Dividend.objects.exists()


def test_the_same_dividend_twice_is_a_field_error(session_client, portfolio, ko):
    session_client.post("/api/v1/dividends", _body(portfolio))

    response = session_client.post("/api/v1/dividends", _body(portfolio))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert Dividend.objects.count() == 1


def test_another_users_portfolio_cannot_be_named(session_client, other_user, ko):
    theirs = PortfolioFactory(user=other_user)

    response = session_client.post("/api/v1/dividends", _body(theirs))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "does not exist" in " ".join(response.json()["errors"]["portfolio"])


def test_the_list_filters_by_status_and_shows_only_the_callers(
    session_client, portfolio, ko, other_user
):
    session_client.post("/api/v1/dividends", _body(portfolio))
    rejected = session_client.post(
        "/api/v1/dividends", _body(portfolio, ex_date="2024-06-13", pay_date="2024-07-01")
    )
    session_client.post(f"/api/v1/dividends/{rejected.json()['id']}/reject")
    stranger = APIClient()
    stranger.force_login(other_user)

    pending = session_client.get("/api/v1/dividends?status=pending").json()["results"]

    assert [row["ex_date"] for row in pending] == ["2024-03-14"]
    assert stranger.get("/api/v1/dividends").json()["results"] == []


def test_propose_creates_pending_dividends_from_price_data_once(portfolio, ko):
    _trade(portfolio, ko, "BUY", "2024-03-01", "10")
    _trade(portfolio, ko, "SELL", "2024-05-01", "10")
    for on, amount in (("2024-02-14", "0.46"), ("2024-03-14", "0.485"), ("2024-06-13", "0.485")):
        PriceBarFactory(
            instrument=ko, date=date.fromisoformat(on), close=Decimal(60), dividend=Decimal(amount)
        )
    PriceBarFactory(instrument=ko, date=date(2024, 3, 15), close=Decimal(61))

    first = dividends_propose(portfolio=portfolio)
    again = dividends_propose(portfolio=portfolio)

    assert [(d.ex_date, d.shares, d.total, d.status, d.source) for d in first] == [
        (date(2024, 3, 14), Decimal(10), Decimal("4.85"), "pending", "provider")
    ]
    assert again == []
    assert Dividend.objects.count() == 1


def test_the_admin_confirm_action_goes_through_the_service_and_reports(
    client, staff_user, portfolio, ko
):
    _trade(portfolio, ko, "BUY", "2024-03-01", "10")
    payable = dividend_create(
        portfolio=portfolio, instrument=ko, ex_date=date(2024, 3, 14), amount_per_share=Decimal(1)
    )
    unheld = dividend_create(
        portfolio=portfolio, instrument=ko, ex_date=date(2024, 1, 2), amount_per_share=Decimal(1)
    )
    client.force_login(staff_user)

    response = client.post(
        "/admin/portfolio/dividend/",
        {"action": "confirm_selected", "_selected_action": [payable.pk, unheld.pk]},
        follow=True,
    )

    shown = [str(m) for m in response.context["messages"]]
    assert shown[0] == "Confirmed 1."
    assert "No KO was held" in shown[1]
    assert Transaction.objects.filter(type="DIVIDEND").count() == 1
    assert Dividend.objects.get(pk=unheld.pk).status == "pending"
