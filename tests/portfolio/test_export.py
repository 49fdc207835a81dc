"""Exports of transactions, holdings and performance (CSV, JSON, XLSX) and the round trip."""

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from audit.models import ActivityAction, ActivityLog
from portfolio.models import FxRate, Holding, Instrument, PriceBar, Transaction
from portfolio.selectors import portfolio_performance
from portfolio.services.exports import transactions_export
from portfolio.services.imports import transactions_import
from portfolio.services.ledger import TransactionInput, portfolio_create, transaction_create

START = timezone.localdate() - timedelta(days=12)
URL = "/api/v1/transactions/export"


def day(offset: int):
    return START + timedelta(days=offset)


@pytest.fixture
def ledger(user):
    """A portfolio with every transaction type, two currencies, and awkward notes."""
    portfolio = portfolio_create(user=user, name="Main & Co")
    acme = Instrument.objects.create(symbol="ACME", exchange="XNYS", currency="USD")
    sap = Instrument.objects.create(symbol="SAP", exchange="XETR", currency="EUR")
    PriceBar.objects.create(instrument=acme, date=day(0), close=Decimal("11"))
    PriceBar.objects.create(instrument=sap, date=day(0), close=Decimal("120"))
    FxRate.objects.create(base="EUR", quote="USD", date=day(0), rate=Decimal("1.1"))
    rows = [
        TransactionInput(type="DEPOSIT", date=day(0), quantity=None, price=Decimal("5000")),
        TransactionInput(
            type="BUY",
            date=day(1),
            quantity=Decimal("10"),
            price=Decimal("10.5"),
            fee=Decimal("1.25"),
            instrument=acme,
            notes='=HYPERLINK("x") first lot 🤓',
            external_id="broker-7",
        ),
        TransactionInput(
            type="BUY",
            date=day(1),
            quantity=Decimal("0.123456789012"),
            price=Decimal("118"),
            instrument=sap,
        ),
        TransactionInput(
            type="SELL", date=day(2), quantity=Decimal("4"), price=Decimal("12"), instrument=acme
        ),
        TransactionInput(
            type="DIVIDEND",
            date=day(3),
            quantity=Decimal("6"),
            price=Decimal("0.2"),
            instrument=acme,
            notes="quarterly, with a comma",
        ),
        TransactionInput(type="INTEREST", date=day(3), quantity=None, price=Decimal("1.5")),
        TransactionInput(type="FEE", date=day(4), quantity=None, price=Decimal("3")),
        TransactionInput(type="WITHDRAWAL", date=day(5), quantity=None, price=Decimal("100")),
    ]
    for data in rows:
        transaction_create(portfolio=portfolio, data=data)
    return portfolio


def ledger_rows(portfolio) -> list[tuple]:
    return list(
        Transaction.objects.filter(portfolio=portfolio)
        .order_by("date", "id")
        .values_list(
            "type",
            "instrument__symbol",
            "instrument__exchange",
            "quantity",
            "price",
            "fee",
            "currency",
            "fx_rate",
            "date",
            "notes",
        )
    )


def holding_rows(portfolio) -> list[tuple]:
    return list(
        Holding.objects.filter(portfolio=portfolio)
        .order_by("instrument__symbol")
        .values_list("instrument__symbol", "quantity", "cost_basis", "realized_pnl", "fees")
    )


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_into_an_empty_portfolio_gives_the_same_ledger(user, ledger, fmt):
    export = transactions_export(user=user, fmt=fmt, portfolio=ledger)
    empty = portfolio_create(user=user, name="Copy")

    report = transactions_import(
        user=user, portfolio=empty, content=export.content, filename=export.filename, dry_run=False
    )

    assert report.ok, [str(issue) for issue in report.errors]
    assert ledger_rows(empty) == ledger_rows(ledger)
    assert holding_rows(empty) == holding_rows(ledger)
    assert Transaction.objects.get(portfolio=empty, external_id="broker-7").type == "BUY"


def test_reimporting_an_export_into_its_own_portfolio_adds_only_the_rows_without_ids(user, ledger):
    first = transactions_export(user=user, fmt="csv", portfolio=ledger)
    copy = portfolio_create(user=user, name="Copy")
    transactions_import(
        user=user, portfolio=copy, content=first.content, filename="a.csv", dry_run=False
    )
    second = transactions_export(user=user, fmt="csv", portfolio=copy)

    again = transactions_import(
        user=user, portfolio=copy, content=second.content, filename="b.csv", dry_run=False
    )

    assert (again.created, len(again.duplicates)) == (0, 8)


def test_csv_export_uses_the_spec_field_names_and_guards_formulas(user, ledger):
    export = transactions_export(user=user, fmt="csv", portfolio=ledger)

    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert list(rows[0]) == [
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
    ]
    buy = next(row for row in rows if row["external_id"] == "broker-7")
    assert buy["notes"].startswith("'=HYPERLINK")
    assert (buy["quantity"], buy["price"], buy["fee"]) == ("10", "10.5", "1.25")
    assert export.filename.startswith("main-co-transactions-")


def test_xlsx_export_has_a_row_per_transaction_and_text_never_runs_as_a_formula(user, ledger):
    export = transactions_export(user=user, fmt="xlsx", portfolio=ledger)

    sheet = load_workbook(io.BytesIO(export.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][2] == "type"
    assert len(rows) == 1 + Transaction.objects.filter(portfolio=ledger).count()
    cell = next(c for c in sheet["L"] if isinstance(c.value, str) and "HYPERLINK" in c.value)
    assert cell.data_type == "s"


@pytest.mark.parametrize(
    ("kind", "fmt", "content_type"),
    [
        ("transactions", "csv", "text/csv; charset=utf-8"),
        ("transactions", "json", "application/json"),
        (
            "transactions",
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("holdings", "csv", "text/csv; charset=utf-8"),
        ("holdings", "json", "application/json"),
        ("holdings", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("performance", "csv", "text/csv; charset=utf-8"),
        ("performance", "json", "application/json"),
        (
            "performance",
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ],
)
def test_export_api_answers_a_download_and_records_the_export(
    session_client, ledger, kind, fmt, content_type
):
    response = session_client.get(URL, {"format": fmt, "kind": kind, "portfolio": ledger.pk})

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith(f'attachment; filename="main-co-{kind}-')
    assert response["Content-Disposition"].endswith(f'.{fmt}"')
    entry = ActivityLog.objects.filter(action=ActivityAction.EXPORT).get()
    assert entry.details == {
        "kind": kind,
        "format": fmt,
        "portfolio_id": ledger.pk,
        "rows": entry.details["rows"],
    }


def test_holdings_json_export_matches_the_ledger(session_client, ledger):
    response = session_client.get(
        URL, {"format": "json", "kind": "holdings", "portfolio": ledger.pk}
    )

    holdings = {row["symbol"]: row for row in json.loads(response.content)["holdings"]}
    assert (holdings["ACME"]["quantity"], holdings["ACME"]["cost_basis"]) == ("6", "63")
    assert holdings["SAP"]["currency"] == "EUR"


def test_performance_json_export_is_the_performance_answer(session_client, ledger):
    as_of = day(6)
    response = session_client.get(
        URL,
        {"format": "json", "kind": "performance", "portfolio": ledger.pk, "as_of": as_of},
    )

    body = json.loads(response.content)
    expected = portfolio_performance(portfolio=ledger, as_of=as_of)
    assert Decimal(body["value"]) == expected.value
    assert Decimal(body["net_pnl"]) == expected.net_pnl
    assert [p["symbol"] for p in body["positions"]] == [p.symbol for p in expected.positions]


def test_performance_csv_ends_with_a_total_row(session_client, ledger):
    response = session_client.get(URL, {"kind": "performance", "portfolio": ledger.pk})

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[-1]["symbol"] == "TOTAL"
    expected = portfolio_performance(portfolio=ledger, as_of=timezone.localdate())
    assert Decimal(rows[-1]["value"]) == expected.value


def test_transactions_export_without_a_portfolio_covers_all_of_mine_only(
    session_client, user, other_user, ledger
):
    theirs = portfolio_create(user=other_user, name="Theirs")
    transaction_create(
        portfolio=theirs,
        data=TransactionInput(type="DEPOSIT", date=day(0), quantity=None, price=Decimal(1)),
    )

    response = session_client.get(URL, {"format": "json"})

    rows = json.loads(response.content)["transactions"]
    assert {row["portfolio"] for row in rows} == {ledger.pk}
    assert len(rows) == 8


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"format": "pdf"}, "format"),
        ({"kind": "orders"}, "kind"),
        ({"kind": "holdings"}, "portfolio"),
        ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "date_to"),
    ],
)
def test_export_api_refuses_bad_parameters_by_field(session_client, ledger, query, field):
    response = session_client.get(URL, query)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]


@pytest.mark.parametrize("kind", ["transactions", "holdings", "performance"])
def test_export_of_another_users_portfolio_is_refused_as_not_existing(
    session_client, other_user, kind
):
    theirs = portfolio_create(user=other_user, name="Theirs")

    response = session_client.get(URL, {"kind": kind, "portfolio": theirs.pk})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "does not exist" in response.json()["errors"]["portfolio"][0]
    assert not ActivityLog.objects.filter(action=ActivityAction.EXPORT).exists()


def test_export_api_needs_a_signed_in_user(api_client):
    response = api_client.get(URL)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
