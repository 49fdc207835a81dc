"""Portfolio pages: they render the caller's figures, write through the services, show the
services' refusals next to their fields, and answer 404 for anyone else's rows."""

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from portfolio.models import Holding, Portfolio, Transaction, TransactionType
from portfolio.views import IMPORT_SESSION_KEY
from tests.factories import (
    InstrumentFactory,
    PortfolioFactory,
    PriceBarFactory,
    TransactionFactory,
)
from tests.pages.support import inline_code

# json_script's data blocks are not code: the CSP does not run them and they carry no handler.
_DATA_BLOCK = re.compile(r'<script id="[\w-]+" type="application/json">.*?</script>', re.S)


def _code_problems(html: str) -> list[str]:
    return inline_code(_DATA_BLOCK.sub("", html))


def _recent_weekday(n: int) -> date:
    """The n-th weekday before today (1: the last one)."""
    day = timezone.localdate()
    while n:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


@pytest.fixture
def acme(db):
    return InstrumentFactory(symbol="ACME", currency="USD")


@pytest.fixture
def portfolio(user):
    return PortfolioFactory(user=user, name="Long term")


@pytest.fixture
def traded(portfolio, acme):
    """`portfolio` holding 10 ACME bought at 100, priced 120 since."""
    bought = _recent_weekday(10)
    PriceBarFactory(instrument=acme, date=bought, close=Decimal(100))
    PriceBarFactory(instrument=acme, date=_recent_weekday(2), close=Decimal(110))
    PriceBarFactory(instrument=acme, date=_recent_weekday(1), close=Decimal(120))
    return TransactionFactory(
        portfolio=portfolio,
        instrument=acme,
        date=bought,
        quantity=Decimal(10),
        price=Decimal(100),
        notes="first buy",
    )


def _buy_form(**overrides):
    return {
        "type": "BUY",
        "date": _recent_weekday(3).isoformat(),
        "symbol": "ACME",
        "exchange": "",
        "quantity": "5",
        "price": "101.5",
        "fee": "1",
        "currency": "",
        "fx_rate": "",
        "notes": "page buy",
        **overrides,
    }


# ---- list and create ------------------------------------------------------------------------


def test_portfolio_list_shows_only_the_callers_portfolios(page_client, portfolio, other_user):
    PortfolioFactory(user=other_user, name="Somebody else's")

    response = page_client.get(reverse("portfolio_list"))

    assert response.status_code == HTTPStatus.OK
    assert b"Long term" in response.content
    assert b"Somebody else" not in response.content
    assert _code_problems(response.content.decode()) == []


def test_creating_a_portfolio_redirects_to_it(page_client, user):
    response = page_client.post(
        reverse("portfolio_list"), {"name": "Growth", "base_currency": "EUR", "description": ""}
    )

    created = Portfolio.objects.for_user(user).get(name="Growth")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("portfolio_detail", args=[created.pk])
    assert created.base_currency == "EUR"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "base_currency": "USD"}, "name"),
        ({"name": "X", "base_currency": "XYZ"}, "base_currency"),
    ],
)
def test_creating_a_portfolio_with_bad_input_shows_the_field_error(page_client, user, body, field):
    response = page_client.post(reverse("portfolio_list"), body)

    assert response.status_code == HTTPStatus.OK
    assert field in response.context["form"].errors
    assert b"is-invalid" in response.content
    assert not Portfolio.objects.for_user(user).exists()


def test_creating_a_portfolio_with_a_taken_name_is_refused_with_a_message(page_client, portfolio):
    response = page_client.post(
        reverse("portfolio_list"), {"name": "Long term", "base_currency": "USD"}
    )

    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors
    assert Portfolio.objects.filter(name="Long term").count() == 1


# ---- detail ---------------------------------------------------------------------------------


def test_detail_shows_summary_holdings_and_chart_data(page_client, traded):
    response = page_client.get(reverse("portfolio_detail", args=[traded.portfolio.pk]))

    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    performance = response.context["performance"]
    # 10 shares valued at the last close of 120.
    assert performance.value == Decimal(1200)
    assert "1,200.00" in html
    assert "ACME" in html
    assert 'id="holdings"' in html
    assert 'id="allocation-table"' in html
    chart = json.loads(re.search(r'id="value-chart-data"[^>]*>(.*?)</script>', html, re.S)[1])
    assert chart["labels"]
    assert len(chart["labels"]) == len(chart["values"])
    assert chart["summary"] in html
    assert _code_problems(html) == []


@pytest.mark.parametrize(("range_key", "expected"), [("1m", "1m"), ("all", "all"), ("x", "6m")])
def test_detail_chart_range_is_selectable_and_falls_back_to_the_default(
    page_client, traded, range_key, expected
):
    response = page_client.get(
        reverse("portfolio_detail", args=[traded.portfolio.pk]), {"range": range_key}
    )

    assert response.status_code == HTTPStatus.OK
    assert response.context["range_key"] == expected


def test_detail_of_an_empty_portfolio_renders_without_charts(page_client, portfolio):
    response = page_client.get(reverse("portfolio_detail", args=[portfolio.pk]))

    assert response.status_code == HTTPStatus.OK
    assert b"No history yet" in response.content
    assert b'data-chart="line"' not in response.content


# ---- edit and delete portfolio --------------------------------------------------------------


def test_editing_a_portfolio_saves_it(page_client, portfolio):
    response = page_client.post(
        reverse("portfolio_edit", args=[portfolio.pk]),
        {"name": "Renamed", "base_currency": "USD", "description": "new words"},
    )

    portfolio.refresh_from_db()
    assert response.status_code == HTTPStatus.FOUND
    assert (portfolio.name, portfolio.description) == ("Renamed", "new words")


def test_editing_a_portfolio_with_a_blank_name_shows_the_error_and_keeps_it(page_client, portfolio):
    response = page_client.post(
        reverse("portfolio_edit", args=[portfolio.pk]), {"name": "", "base_currency": "USD"}
    )

    portfolio.refresh_from_db()
    assert response.status_code == HTTPStatus.OK
    assert "name" in response.context["form"].errors
    assert portfolio.name == "Long term"


def test_deleting_a_portfolio_removes_it_and_its_transactions(page_client, traded):
    portfolio = traded.portfolio

    response = page_client.post(reverse("portfolio_delete", args=[portfolio.pk]))

    assert response.status_code == HTTPStatus.FOUND
    assert not Portfolio.objects.filter(pk=portfolio.pk).exists()
    assert not Transaction.objects.filter(pk=traded.pk).exists()


# ---- transactions ---------------------------------------------------------------------------


def test_adding_a_buy_records_it_and_updates_the_holding(page_client, traded):
    portfolio = traded.portfolio

    response = page_client.post(reverse("transaction_add", args=[portfolio.pk]), _buy_form())

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("portfolio_transactions", args=[portfolio.pk])
    holding = Holding.objects.get(portfolio=portfolio, instrument=traded.instrument)
    assert holding.quantity == Decimal(15)


def test_adding_a_buy_of_an_unknown_symbol_with_a_currency_creates_a_private_instrument(
    page_client, portfolio, user
):
    response = page_client.post(
        reverse("transaction_add", args=[portfolio.pk]),
        _buy_form(symbol="MYFARM", currency="usd", fx_rate="1"),
    )

    assert response.status_code == HTTPStatus.FOUND
    added = Transaction.objects.for_user(user).get()
    assert (added.instrument.symbol, added.instrument.owner) == ("MYFARM", user)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symbol": "NOPE"}, "symbol"),  # unknown, and no currency to create it with
        ({"symbol": ""}, "symbol"),
        ({"price": "0"}, "price"),
        ({"quantity": "-1"}, "quantity"),
        ({"date": "not a date"}, "date"),
        ({"currency": "ZZZ"}, "currency"),
        ({"type": "SELL", "quantity": "1000"}, "quantity"),  # more than is held
    ],
)
def test_adding_a_refused_transaction_shows_the_error_by_its_field_and_writes_nothing(
    page_client, traded, overrides, field
):
    portfolio = traded.portfolio

    response = page_client.post(
        reverse("transaction_add", args=[portfolio.pk]), _buy_form(**overrides)
    )

    assert response.status_code == HTTPStatus.OK
    assert field in response.context["form"].errors, response.context["form"].errors
    assert b"invalid-feedback" in response.content
    assert list(Transaction.objects.filter(portfolio=portfolio)) == [traded]


def test_editing_a_transaction_changes_the_ledger(page_client, traded):
    form = _buy_form(date=traded.date.isoformat(), quantity="4", price="100")

    response = page_client.post(reverse("transaction_edit", args=[traded.pk]), form)

    traded.refresh_from_db()
    assert response.status_code == HTTPStatus.FOUND
    assert traded.quantity == Decimal(4)
    holding = Holding.objects.get(portfolio=traded.portfolio, instrument=traded.instrument)
    assert holding.quantity == Decimal(4)


def test_edit_form_starts_from_the_stored_transaction(page_client, traded):
    response = page_client.get(reverse("transaction_edit", args=[traded.pk]))

    assert response.status_code == HTTPStatus.OK
    assert b'value="ACME"' in response.content
    assert b'value="10"' in response.content


def test_deleting_a_transaction_removes_it(page_client, traded):
    response = page_client.post(reverse("transaction_delete", args=[traded.pk]))

    assert response.status_code == HTTPStatus.FOUND
    assert not Transaction.objects.filter(pk=traded.pk).exists()


def test_deleting_a_buy_that_a_sell_needs_is_refused_with_a_message(page_client, traded):
    TransactionFactory(
        portfolio=traded.portfolio,
        type=TransactionType.SELL,
        instrument=traded.instrument,
        date=_recent_weekday(1),
        quantity=Decimal(5),
        price=Decimal(120),
    )

    response = page_client.post(reverse("transaction_delete", args=[traded.pk]), follow=True)

    assert Transaction.objects.filter(pk=traded.pk).exists()
    assert [m.level_tag for m in response.context["messages"]] == ["error"]


@pytest.fixture
def ledger(traded, acme):
    portfolio = traded.portfolio
    other = InstrumentFactory(symbol="BOLT", currency="USD")
    PriceBarFactory(instrument=other, date=_recent_weekday(5), close=Decimal(10))
    TransactionFactory(
        portfolio=portfolio,
        type=TransactionType.BUY,
        instrument=other,
        date=_recent_weekday(5),
        quantity=Decimal(2),
        price=Decimal(10),
    )
    TransactionFactory(
        portfolio=portfolio,
        type=TransactionType.DEPOSIT,
        instrument=None,
        date=_recent_weekday(4),
        quantity=Decimal(1),
        price=Decimal(500),
    )
    return portfolio


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, 3),
        ({"type": "BUY"}, 2),
        ({"type": "DEPOSIT"}, 1),
        ({"symbol": "bolt"}, 1),
        ({"date_from": _recent_weekday(4).isoformat()}, 1),
        ({"date_to": _recent_weekday(5).isoformat()}, 2),
    ],
)
def test_transaction_filters_narrow_the_list(page_client, ledger, query, expected):
    response = page_client.get(reverse("portfolio_transactions", args=[ledger.pk]), query)

    assert response.status_code == HTTPStatus.OK
    assert response.context["paginator"].count == expected


def test_transaction_filter_with_an_inverted_date_range_shows_the_error_and_no_rows(
    page_client, ledger
):
    response = page_client.get(
        reverse("portfolio_transactions", args=[ledger.pk]),
        {"date_from": "2030-01-02", "date_to": "2030-01-01"},
    )

    assert response.status_code == HTTPStatus.OK
    assert "date_to" in response.context["filter_form"].errors
    assert response.context["paginator"].count == 0


def test_transactions_are_paged(page_client, portfolio):
    for n in range(30):
        TransactionFactory(
            portfolio=portfolio,
            type=TransactionType.DEPOSIT,
            instrument=None,
            date=_recent_weekday(40),
            quantity=Decimal(1),
            price=Decimal(n + 1),
        )
    url = reverse("portfolio_transactions", args=[portfolio.pk])

    first = page_client.get(url)
    second = page_client.get(url, {"page": 2})

    assert len(first.context["rows"]) == 25
    assert len(second.context["rows"]) == 5
    assert _code_problems(first.content.decode()) == []


# ---- import ---------------------------------------------------------------------------------

CSV = (
    "date,type,symbol,quantity,price,fee,currency,external_id\n"
    "{d},BUY,ACME,3,100,1,USD,row-1\n"
    "{d},DEPOSIT,,1,1000,0,USD,row-2\n"
)


def _csv(text: str, name: str = "trades.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def _preview(page_client, portfolio, text: str):
    return page_client.post(reverse("portfolio_import", args=[portfolio.pk]), {"file": _csv(text)})


def test_import_preview_lists_rows_and_writes_nothing(page_client, portfolio, acme):
    response = _preview(page_client, portfolio, CSV.format(d=_recent_weekday(3)))

    assert response.status_code == HTTPStatus.OK
    report = response.context["report"]
    assert (len(report.to_add), len(report.duplicates), len(report.errors)) == (2, 0, 0)
    assert b'id="import-to-add"' in response.content
    assert response.context["confirm_form"] is not None
    assert not Transaction.objects.filter(portfolio=portfolio).exists()


def test_confirming_an_import_writes_the_previewed_file_once(page_client, portfolio, acme):
    preview = _preview(page_client, portfolio, CSV.format(d=_recent_weekday(3)))
    key = preview.context["confirm_form"].initial["upload"]
    url = reverse("portfolio_import", args=[portfolio.pk])

    confirmed = page_client.post(url, {"upload": key})
    replayed = page_client.post(url, {"upload": key})

    assert confirmed.status_code == HTTPStatus.FOUND
    assert Transaction.objects.filter(portfolio=portfolio).count() == 2
    # The kept copy is used once: a replay finds nothing to import.
    assert replayed.status_code == HTTPStatus.FOUND
    assert Transaction.objects.filter(portfolio=portfolio).count() == 2
    assert IMPORT_SESSION_KEY in page_client.session
    assert page_client.session[IMPORT_SESSION_KEY] == {}


def test_a_second_preview_of_the_same_file_shows_duplicates_and_no_confirm(
    page_client, portfolio, acme
):
    text = CSV.format(d=_recent_weekday(3))
    key = _preview(page_client, portfolio, text).context["confirm_form"].initial["upload"]
    page_client.post(reverse("portfolio_import", args=[portfolio.pk]), {"upload": key})

    again = _preview(page_client, portfolio, text)

    assert len(again.context["report"].duplicates) == 2
    assert again.context["confirm_form"] is None
    assert b'id="import-duplicates"' in again.content


def test_import_preview_shows_errors_with_row_and_field(page_client, portfolio, acme):
    text = "date,type,symbol,quantity,price\n2024-01-02,BUY,ACME,3,-5\nnot-a-date,BUY,ACME,1,1\n"

    response = _preview(page_client, portfolio, text)

    report = response.context["report"]
    assert {(issue.row, issue.field) for issue in report.errors} >= {(2, "price"), (3, "date")}
    assert response.context["confirm_form"] is None
    assert b'id="import-errors"' in response.content


def test_import_of_an_unreadable_file_puts_the_error_on_the_file_field(page_client, portfolio):
    response = _preview(page_client, portfolio, "nothing,useful\n1,2\n")

    assert response.status_code == HTTPStatus.OK
    assert "file" in response.context["form"].errors


def test_a_kept_file_cannot_be_confirmed_into_another_portfolio(page_client, portfolio, user, acme):
    second = PortfolioFactory(user=user, name="Second")
    key = (
        _preview(page_client, portfolio, CSV.format(d=_recent_weekday(3)))
        .context["confirm_form"]
        .initial["upload"]
    )

    response = page_client.post(reverse("portfolio_import", args=[second.pk]), {"upload": key})

    assert response.status_code == HTTPStatus.FOUND
    assert not Transaction.objects.filter(portfolio__user=user).exists()


def test_import_page_offers_export_links_that_download(page_client, traded):
    portfolio = traded.portfolio
    page = page_client.get(reverse("portfolio_import", args=[portfolio.pk]))
    link = re.search(r'href="([^"]*format=csv)"', page.content.decode())[1].replace("&amp;", "&")

    download = page_client.get(link)

    assert download.status_code == HTTPStatus.OK
    assert download["Content-Type"].startswith("text/csv")
    assert b"ACME" in download.content


# ---- another user's rows --------------------------------------------------------------------

PORTFOLIO_ROUTES = [
    "portfolio_detail",
    "portfolio_edit",
    "portfolio_delete",
    "portfolio_transactions",
    "transaction_add",
    "portfolio_import",
]
TRANSACTION_ROUTES = ["transaction_edit", "transaction_delete"]


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url_name", PORTFOLIO_ROUTES)
def test_another_users_portfolio_answers_404(client, other_user, traded, url_name, method):
    client.force_login(other_user)

    response = getattr(client, method)(reverse(url_name, args=[traded.portfolio.pk]))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert Portfolio.objects.filter(pk=traded.portfolio.pk).exists()


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url_name", TRANSACTION_ROUTES)
def test_another_users_transaction_answers_404(client, other_user, traded, url_name, method):
    client.force_login(other_user)

    response = getattr(client, method)(reverse(url_name, args=[traded.pk]), _buy_form())

    assert response.status_code == HTTPStatus.NOT_FOUND
    traded.refresh_from_db()
    assert traded.quantity == Decimal(10)


@pytest.mark.parametrize("url_name", PORTFOLIO_ROUTES)
def test_portfolio_pages_send_anonymous_visitors_to_sign_in(client, traded, url_name):
    url = reverse(url_name, args=[traded.portfolio.pk])

    response = client.get(url)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"{reverse('account_login')}?next={url}"


@pytest.mark.parametrize(
    "url_name", ["portfolio_detail", "portfolio_edit", "portfolio_transactions", "transaction_add"]
)
def test_portfolio_pages_have_no_inline_code(page_client, traded, url_name):
    response = page_client.get(reverse(url_name, args=[traded.portfolio.pk]))

    assert response.status_code == HTTPStatus.OK
    assert _code_problems(response.content.decode()) == []


# ---- dashboard ------------------------------------------------------------------------------


def test_dashboard_shows_total_value_day_change_and_top_movers(page_client, traded):
    response = page_client.get(reverse("dashboard"))

    overview = response.context["portfolio_overview"]
    assert response.status_code == HTTPStatus.OK
    (total,) = overview.totals
    assert (total.currency, total.value) == ("USD", Decimal(1200))
    # Yesterday's close 120 against 110 the day before: 10 shares gained 100.
    assert total.day_change == Decimal(100)
    assert [m.symbol for m in overview.movers] == ["ACME"]
    assert overview.movers[0].change_pct == Decimal(10) / Decimal(110)
    assert b'id="top-movers"' in response.content
    assert b'id="total-value-USD"' in response.content


def test_dashboard_without_portfolios_invites_to_create_one(page_client):
    response = page_client.get(reverse("dashboard"))

    assert response.context["portfolio_overview"].portfolio_count == 0
    assert b"Create a portfolio" in response.content


def test_a_new_preview_replaces_the_kept_file(page_client, portfolio, acme):
    text = CSV.format(d=_recent_weekday(3))
    first = _preview(page_client, portfolio, text).context["confirm_form"].initial["upload"]
    second = _preview(page_client, portfolio, text).context["confirm_form"].initial["upload"]

    stale = page_client.post(reverse("portfolio_import", args=[portfolio.pk]), {"upload": first})

    assert stale.status_code == HTTPStatus.FOUND
    assert not Transaction.objects.filter(portfolio=portfolio).exists()
    assert list(page_client.session[IMPORT_SESSION_KEY]) == [second]
