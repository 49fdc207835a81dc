"""Dividend pages: the list with its status filter and income, add and edit forms with field
errors, confirm and reject buttons, proposals from price data, and 404 for anyone else's rows."""

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import ActivityAction, ActivityLog
from portfolio.models import Dividend, DividendStatus, Transaction, TransactionType
from portfolio.services import dividend_confirm, dividend_create
from tests.factories import InstrumentFactory, PortfolioFactory, PriceBarFactory, TransactionFactory
from tests.pages.support import inline_code

_DATA_BLOCK = re.compile(r'<script id="[\w-]+" type="application/json">.*?</script>', re.S)


def _days_ago(n: int) -> date:
    return timezone.localdate() - timedelta(days=n)


@pytest.fixture
def acme(db):
    return InstrumentFactory(symbol="ACME", currency="USD")


@pytest.fixture
def portfolio(user, acme):
    """Holds 10 ACME since 40 days ago."""
    portfolio = PortfolioFactory(user=user, name="Income")
    PriceBarFactory(instrument=acme, date=_days_ago(40), close=Decimal(50))
    TransactionFactory(
        portfolio=portfolio,
        instrument=acme,
        date=_days_ago(40),
        quantity=Decimal(10),
        price=Decimal(50),
    )
    return portfolio


def _pending(portfolio, acme, days_ago=20, amount="0.5", **kwargs) -> Dividend:
    return dividend_create(
        portfolio=portfolio,
        instrument=acme,
        ex_date=_days_ago(days_ago),
        amount_per_share=Decimal(amount),
        **kwargs,
    )


def _form(**overrides) -> dict:
    return {
        "symbol": "ACME",
        "exchange": "",
        "ex_date": _days_ago(10).isoformat(),
        "pay_date": _days_ago(5).isoformat(),
        "record_date": "",
        "declared_date": "",
        "amount_per_share": "0.75",
        "kind": "cash",
        "notes": "page dividend",
        **overrides,
    }


# ---- list, filter, income -------------------------------------------------------------------


def test_list_shows_the_callers_dividends_with_actions_and_no_inline_code(
    page_client, portfolio, acme, other_user
):
    _pending(portfolio, acme, notes="mine")
    theirs = PortfolioFactory(user=other_user, name="Theirs")
    TransactionFactory(portfolio=theirs, instrument=acme, date=_days_ago(40))
    _pending(theirs, acme, notes="somebody else's")

    response = page_client.get(reverse("dividend_list"))

    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "mine" in html
    assert "somebody else" not in html
    dividend = Dividend.objects.get(notes="mine")
    for name in ("dividend_confirm", "dividend_reject", "dividend_edit", "dividend_delete"):
        assert reverse(name, args=[dividend.pk]) in html
    assert inline_code(_DATA_BLOCK.sub("", html)) == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [("", {"p", "c", "r"}), ("pending", {"p"}), ("confirmed", {"c"}), ("rejected", {"r"})],
)
def test_status_filter_keeps_the_dividends_of_that_status(
    page_client, portfolio, acme, status, expected
):
    _pending(portfolio, acme, days_ago=30, notes="p")
    dividend_confirm(dividend=_pending(portfolio, acme, days_ago=20, notes="c"))
    rejected = _pending(portfolio, acme, days_ago=10, notes="r")
    Dividend.objects.filter(pk=rejected.pk).update(status=DividendStatus.REJECTED)

    response = page_client.get(reverse("dividend_list"), {"status": status})

    assert {d.notes for d in response.context["dividends"]} == expected


def test_a_bad_filter_shows_its_error_and_no_rows(page_client, portfolio, acme):
    _pending(portfolio, acme)

    response = page_client.get(reverse("dividend_list"), {"status": "paid"})

    assert list(response.context["dividends"]) == []
    assert "status" in response.context["filter_form"].errors


def test_income_by_year_and_symbol_sums_the_ledgers_dividends_with_a_chart_and_table(
    page_client, user, portfolio, acme
):
    dividend_confirm(dividend=_pending(portfolio, acme, days_ago=20, amount="0.5"))
    TransactionFactory(
        portfolio=portfolio,
        type=TransactionType.DIVIDEND,
        instrument=acme,
        date=_days_ago(15),
        quantity=Decimal(10),
        price=Decimal("0.25"),
    )

    response = page_client.get(reverse("dividend_list"))

    income = response.context["income"]
    year = str(_days_ago(15).year)
    if _days_ago(20).year == _days_ago(15).year:
        assert [(i.label, i.currency, i.amount, i.payments) for i in income.by_year] == [
            (year, "USD", Decimal("7.50"), 2)
        ]
    assert [(i.label, i.amount) for i in income.by_symbol] == [("ACME", Decimal("7.50"))]
    html = response.content.decode()
    chart = json.loads(re.search(r'id="income-chart-data"[^>]*>(.*?)</script>', html, re.S)[1])
    assert chart["datasets"][0]["label"] == "USD"
    assert 'data-chart="bar"' in html
    assert 'id="income-by-year"' in html
    assert 'id="income-by-symbol"' in html
    assert "Dividend income by year" in html


def test_income_is_empty_without_dividends(page_client, portfolio):
    response = page_client.get(reverse("dividend_list"))

    assert response.context["income"].by_year == []
    assert b"No dividend income yet" in response.content


# ---- add and edit ---------------------------------------------------------------------------


def test_adding_a_dividend_records_it_pending_with_shares_from_the_ledger(
    page_client, user, portfolio
):
    response = page_client.post(reverse("dividend_add", args=[portfolio.pk]), _form())

    assert response["Location"] == reverse("dividend_list")
    dividend = Dividend.objects.get(portfolio=portfolio)
    assert (dividend.status, dividend.shares, dividend.total) == (
        DividendStatus.PENDING,
        Decimal(10),
        Decimal("7.5"),
    )
    assert ActivityLog.objects.filter(user=user, action=ActivityAction.DIVIDEND_CREATED).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symbol": "NOPE"}, "symbol"),
        ({"ex_date": ""}, "ex_date"),
        ({"ex_date": "yesterday"}, "ex_date"),
        ({"amount_per_share": "0"}, "amount_per_share"),
        ({"amount_per_share": ""}, "amount_per_share"),
        ({"pay_date": _days_ago(30).isoformat()}, "pay_date"),
        ({"kind": "gold"}, "kind"),
    ],
)
def test_adding_a_bad_dividend_shows_the_field_error(page_client, portfolio, overrides, field):
    response = page_client.post(reverse("dividend_add", args=[portfolio.pk]), _form(**overrides))

    assert response.status_code == HTTPStatus.OK
    assert field in response.context["form"].errors
    assert b"is-invalid" in response.content
    assert not Dividend.objects.exists()


def test_adding_the_same_ex_date_twice_is_refused_on_the_form(page_client, portfolio, acme):
    _pending(portfolio, acme, days_ago=10)

    response = page_client.post(reverse("dividend_add", args=[portfolio.pk]), _form())

    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors
    assert Dividend.objects.count() == 1


def test_editing_a_pending_dividend_marks_it_edited(page_client, portfolio, acme):
    dividend = _pending(portfolio, acme)
    body = _form(ex_date=dividend.ex_date.isoformat(), amount_per_share="1")

    response = page_client.post(reverse("dividend_edit", args=[dividend.pk]), body)

    assert response["Location"] == reverse("dividend_list")
    dividend.refresh_from_db()
    assert (dividend.status, dividend.total) == (DividendStatus.EDITED, Decimal(10))


def test_editing_with_a_bad_amount_shows_the_field_error(page_client, portfolio, acme):
    dividend = _pending(portfolio, acme)

    response = page_client.post(
        reverse("dividend_edit", args=[dividend.pk]), _form(amount_per_share="-2")
    )

    assert "amount_per_share" in response.context["form"].errors
    dividend.refresh_from_db()
    assert dividend.status == DividendStatus.PENDING


def test_a_confirmed_dividend_cannot_be_edited_and_says_why(page_client, portfolio, acme):
    dividend = dividend_confirm(dividend=_pending(portfolio, acme))

    page = page_client.get(reverse("dividend_edit", args=[dividend.pk]))
    response = page_client.post(reverse("dividend_edit", args=[dividend.pk]), _form())

    assert b"cannot be edited" in page.content
    assert "cannot be edited" in " ".join(response.context["form"].non_field_errors())


# ---- confirm, reject, delete, propose -------------------------------------------------------


def test_confirming_records_the_dividend_transaction_once(page_client, portfolio, acme):
    dividend = _pending(portfolio, acme)
    url = reverse("dividend_confirm", args=[dividend.pk])

    page_client.post(url)
    page_client.post(url)

    dividend.refresh_from_db()
    assert dividend.status == DividendStatus.CONFIRMED
    entries = Transaction.objects.filter(portfolio=portfolio, type=TransactionType.DIVIDEND)
    assert [(t.quantity, t.price) for t in entries] == [(Decimal(10), Decimal("0.5"))]


def test_confirming_before_the_pay_date_says_when_it_can_be(page_client, portfolio, acme):
    dividend = _pending(portfolio, acme, pay_date=timezone.localdate() + timedelta(days=9))

    response = page_client.post(reverse("dividend_confirm", args=[dividend.pk]), follow=True)

    assert "Not confirmed: It can be confirmed once paid" in response.content.decode()
    dividend.refresh_from_db()
    assert dividend.status == DividendStatus.PENDING


def test_rejecting_keeps_it_out_of_the_ledger(page_client, portfolio, acme):
    dividend = _pending(portfolio, acme)

    page_client.post(reverse("dividend_reject", args=[dividend.pk]))

    dividend.refresh_from_db()
    assert dividend.status == DividendStatus.REJECTED
    assert not Transaction.objects.filter(type=TransactionType.DIVIDEND).exists()


def test_deleting_asks_first_and_a_confirmed_one_is_refused(page_client, portfolio, acme):
    pending = _pending(portfolio, acme, days_ago=20)
    confirmed = dividend_confirm(dividend=_pending(portfolio, acme, days_ago=10))

    assert page_client.get(reverse("dividend_delete", args=[pending.pk])).status_code == 200
    page_client.post(reverse("dividend_delete", args=[pending.pk]))
    refused = page_client.post(reverse("dividend_delete", args=[confirmed.pk]), follow=True)

    assert not Dividend.objects.filter(pk=pending.pk).exists()
    assert Dividend.objects.filter(pk=confirmed.pk).exists()
    assert "delete its transaction instead" in refused.content.decode()


def test_proposing_from_price_data_reports_how_many_and_is_idempotent(
    page_client, user, portfolio, acme
):
    PriceBarFactory(instrument=acme, date=_days_ago(20), close=Decimal(51), dividend=Decimal("0.4"))
    PriceBarFactory(instrument=acme, date=_days_ago(10), close=Decimal(52), dividend=Decimal("0.4"))
    url = reverse("dividends_propose", args=[portfolio.pk])

    first = page_client.post(url, follow=True)
    again = page_client.post(url, follow=True)

    assert "2 dividends proposed for “Income”" in first.content.decode()
    assert "No new dividend found" in again.content.decode()
    assert Dividend.objects.filter(portfolio=portfolio, status=DividendStatus.PENDING).count() == 2
    assert ActivityLog.objects.filter(user=user, action=ActivityAction.DIVIDENDS_PROPOSED).exists()


def test_propose_is_a_post_only_action(page_client, portfolio):
    response = page_client.get(reverse("dividends_propose", args=[portfolio.pk]))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_the_page_offers_add_and_propose_for_each_portfolio(page_client, user, portfolio):
    second = PortfolioFactory(user=user, name="Second")

    html = page_client.get(reverse("dividend_list")).content.decode()

    for each in (portfolio, second):
        assert reverse("dividend_add", args=[each.pk]) in html
        assert reverse("dividends_propose", args=[each.pk]) in html


# ---- isolation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "route",
    ["dividend_edit", "dividend_delete", "dividend_confirm", "dividend_reject"],
)
def test_another_users_dividend_is_not_found_and_unchanged(page_client, other_user, acme, route):
    theirs = PortfolioFactory(user=other_user)
    TransactionFactory(portfolio=theirs, instrument=acme, date=_days_ago(40))
    dividend = _pending(theirs, acme)

    response = page_client.post(reverse(route, args=[dividend.pk]), _form())

    assert response.status_code == HTTPStatus.NOT_FOUND
    dividend.refresh_from_db()
    assert dividend.status == DividendStatus.PENDING


@pytest.mark.parametrize("route", ["dividend_add", "dividends_propose"])
def test_another_users_portfolio_is_not_found(page_client, other_user, route):
    theirs = PortfolioFactory(user=other_user)

    response = page_client.post(reverse(route, args=[theirs.pk]), _form())

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not Dividend.objects.exists()


def test_income_follows_the_portfolio_filter(page_client, user, portfolio, acme):
    dividend_confirm(dividend=_pending(portfolio, acme, amount="0.5"))
    other = PortfolioFactory(user=user, name="Other")

    everything = page_client.get(reverse("dividend_list"))
    filtered = page_client.get(reverse("dividend_list"), {"portfolio": other.pk})

    assert [i.amount for i in everything.context["income"].by_symbol] == [Decimal("5.00")]
    assert filtered.context["income"].by_symbol == []
    assert list(filtered.context["dividends"]) == []
