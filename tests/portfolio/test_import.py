"""Transaction import (SPEC §6, issue 3): aliases, bad rows, duplicates, all-or-nothing, jobs."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import ActivityAction, ActivityLog, ActivityStatus, BackgroundJob, JobStatus
from portfolio.models import Holding, Instrument, PortfolioSnapshot, Transaction
from portfolio.services.imports import transactions_import, transactions_import_task
from portfolio.services.ledger import portfolio_create

# Recent days keep the snapshots every ledger write rebuilds few.
DAY = timezone.localdate() - timedelta(days=10)
D = DAY.isoformat()
D2 = (DAY + timedelta(days=1)).isoformat()


@pytest.fixture
def portfolio(user):
    return portfolio_create(user=user, name="Main")


def run(user, portfolio, text: str, *, dry_run: bool = False, filename: str = "t.csv", **kw):
    return transactions_import(
        user=user,
        portfolio=portfolio,
        content=text.encode(),
        filename=filename,
        dry_run=dry_run,
        **kw,
    )


def counts() -> dict[str, int]:
    return {
        "transactions": Transaction.objects.count(),
        "instruments": Instrument.objects.count(),
        "holdings": Holding.objects.count(),
        "snapshots": PortfolioSnapshot.objects.count(),
    }


CANONICAL = {
    "date": D,
    "type": "BUY",
    "symbol": "ACME",
    "exchange": "XNYS",
    "quantity": "3",
    "price": "12.5",
    "fee": "1.25",
    "currency": "USD",
    "notes": "first lot",
    "external_id": "broker-1",
}
ALIASES = [
    ("date", "Date"),
    ("date", "TradeDate"),
    ("type", "Type"),
    ("type", "ACTION"),
    ("symbol", "symbol"),
    ("symbol", "Ticker"),
    ("symbol", "code"),
    ("exchange", "Exchange"),
    ("quantity", "quantity"),
    ("quantity", "Qty"),
    ("quantity", "Shares"),
    ("quantity", "units"),
    ("price", "Price"),
    ("price", "UnitPrice"),
    ("price", "Unit Price"),
    ("price", "tradeprice"),
    ("fee", "Fee"),
    ("fee", "Commission"),
    ("currency", "Currency"),
    ("currency", "CCY"),
    ("notes", "Notes"),
    ("notes", "note"),
    ("notes", "Comment"),
    ("external_id", "External_ID"),
    ("external_id", "id"),
]


@pytest.mark.parametrize(("column", "header"), ALIASES)
def test_each_header_alias_fills_its_column(user, portfolio, column, header):
    headers = [header if name == column else name for name in CANONICAL]
    text = ",".join(headers) + "\n" + ",".join(CANONICAL.values()) + "\n"

    report = run(user, portfolio, text)

    assert report.ok, [str(issue) for issue in report.errors]
    txn = Transaction.objects.get(portfolio=portfolio)
    assert (txn.date.isoformat(), txn.type, txn.instrument.symbol, txn.instrument.exchange) == (
        D,
        "BUY",
        "ACME",
        "XNYS",
    )
    assert (txn.quantity, txn.price, txn.fee, txn.currency) == (
        Decimal(3),
        Decimal("12.5"),
        Decimal("1.25"),
        "USD",
    )
    assert (txn.notes, txn.external_id) == ("first lot", "broker-1")


def test_semicolon_file_with_a_byte_order_mark_imports(user, portfolio):
    text = "\ufeffdate;type;symbol;quantity;price;currency\n" + f"{D};buy;ACME;2;10;USD\n"

    report = run(user, portfolio, text)

    assert report.created == 1


HEADER = "date,type,symbol,quantity,price,fee,currency\n"
BAD_ROWS = [
    # (second data row, field, words the message must hold)
    ("32/01/2024,BUY,ACME,1,10,0,USD", "date", "is not a date"),
    ("16/09/21,BUY,ACME,1,10,0,USD", "date", "is not a date"),
    ("2999-01-01,BUY,ACME,1,10,0,USD", "date", "in the future"),
    (f"{D},SWAP,ACME,1,10,0,USD", "type", "not a transaction type"),
    (f"{D},BUY,,1,10,0,USD", "symbol", "symbol is required"),
    (f"{D},BUY,<ACME>,1,10,0,USD", "symbol", "is not a symbol"),
    (f"{D},BUY,ACME,one,10,0,USD", "quantity", "is not a number"),
    (f"{D},BUY,ACME,0,10,0,USD", "quantity", "greater than 0"),
    (f"{D},BUY,ACME,-2,10,0,USD", "quantity", "greater than 0"),
    (f"{D},BUY,ACME,1,,0,USD", "price", "number is required"),
    (f'{D},BUY,ACME,1,"10,5",0,USD', "price", "decimal separator"),
    (f"{D},BUY,ACME,1,10,-1,USD", "fee", "cannot be negative"),
    (f"{D},BUY,ACME,1,10,0,XYZ", "currency", "ISO 4217"),
    (f"{D},BUY,ACME,1,10.12345678901,0,USD", "price", "decimal places"),
    (f"{D},DEPOSIT,,1,0,0,USD", "price", "must be above 0"),
    (f"{D},BUY,NEWCO,1,10,0,", "symbol", "Unknown symbol"),
]


@pytest.mark.parametrize(("row", "field", "words"), BAD_ROWS)
def test_a_bad_row_is_reported_with_its_line_and_field(user, portfolio, row, field, words):
    text = HEADER + f"{D},BUY,ACME,1,10,0,USD\n" + row + "\n"

    report = run(user, portfolio, text, dry_run=True)

    assert [(issue.row, issue.field) for issue in report.errors] == [(3, field)]
    message = str(report.errors[0])
    assert message.startswith(f'Line 3, column "{field}"') or message.startswith("Line 3, ")
    assert words in message


def test_a_refused_run_names_rows_and_fields_in_the_error(user, portfolio):
    text = HEADER + f"{D},BUY,ACME,1,10,0,USD\n{D},SWAP,ACME,1,10,0,USD\n"

    report = run(user, portfolio, text)

    error = report.error()
    assert error.message == "The import has 1 error; nothing was imported."
    assert list(error.extra["rows"]["3"]) == ["type"]
    assert error.extra["rows"]["3"]["type"][0].startswith('Line 3, column "type": “SWAP”')


def test_a_failing_row_leaves_the_database_unchanged(user, portfolio):
    before = counts()
    text = HEADER + f"{D},BUY,ACME,1,10,0,USD\n{D},DEPOSIT,,1,100,0,USD\n{D},BUY,ACME,x,1,0,USD\n"

    report = run(user, portfolio, text)

    assert not report.ok
    assert report.created == 0
    assert counts() == before


def test_a_ledger_refusal_rolls_back_the_new_instruments_too(user, portfolio):
    before = counts()
    # Valid row by row, but the sell exceeds what is held: the ledger refuses the whole file.
    text = HEADER + f"{D},BUY,NEWCO,1,10,0,USD\n{D2},SELL,NEWCO,5,11,0,USD\n"

    report = run(user, portfolio, text)

    assert "would exceed the 1 held" in str(report.errors[0])
    assert counts() == before


def test_refused_real_run_is_in_the_activity_log_as_a_failure(user, portfolio):
    run(user, portfolio, HEADER + f"{D},SWAP,ACME,1,10,0,USD\n")

    entry = ActivityLog.objects.filter(action=ActivityAction.TRANSACTIONS_IMPORTED).get()
    assert entry.status == ActivityStatus.FAILURE
    assert entry.details["errors"] == 1


def test_reimporting_the_same_file_adds_nothing(user, portfolio):
    text = (
        HEADER + f"{D},DEPOSIT,,1,1000,0,USD\n{D},BUY,ACME,2,10,1,USD\n{D2},SELL,ACME,1,12,0,USD\n"
    )
    first = run(user, portfolio, text)
    holdings = list(Holding.objects.values_list("instrument__symbol", "quantity", "cost_basis"))

    second = run(user, portfolio, text)

    assert (first.created, second.created) == (3, 0)
    assert [dup.reason for dup in second.duplicates] == ["already in the portfolio"] * 3
    assert Transaction.objects.count() == 3
    assert list(Holding.objects.values_list("instrument__symbol", "quantity", "cost_basis")) == (
        holdings
    )


def test_rows_without_external_id_get_one_from_their_content_not_their_notes(user, portfolio):
    run(
        user,
        portfolio,
        "date,type,symbol,quantity,price,currency,notes\n" + f"{D},BUY,ACME,1,10,USD,a\n",
    )

    again = run(
        user,
        portfolio,
        "date,type,symbol,quantity,price,currency,notes\n" + f"{D},BUY,ACME,1,10.0,USD,b\n",
    )

    external_id = Transaction.objects.get().external_id
    assert external_id.startswith("auto-")
    assert [dup.external_id for dup in again.duplicates] == [external_id]


def test_the_same_row_twice_in_a_file_is_a_duplicate_of_the_first(user, portfolio):
    text = HEADER + f"{D},BUY,ACME,1,10,0,USD\n{D},BUY,ACME,1,10,0,USD\n"

    report = run(user, portfolio, text)

    assert report.created == 1
    assert [(dup.row, dup.reason) for dup in report.duplicates] == [
        (3, "the same transaction as row 2")
    ]


def test_an_external_id_twice_in_a_file_is_a_duplicate(user, portfolio):
    text = "date,type,symbol,quantity,price,currency,id\n"
    text += f"{D},BUY,ACME,1,10,USD,x1\n{D},BUY,ACME,5,10,USD,x1\n"

    report = run(user, portfolio, text)

    assert (report.created, [dup.row for dup in report.duplicates]) == (1, [3])
    assert Transaction.objects.get().quantity == 1


def test_dry_run_previews_and_writes_nothing(user, portfolio):
    run(user, portfolio, HEADER + f"{D},BUY,ACME,1,10,0,USD\n")
    before = counts()
    activity = ActivityLog.objects.count()
    text = HEADER + f"{D},BUY,ACME,1,10,0,USD\n{D2},BUY,NEWCO,2,5,0,USD\n{D2},FEE,,1,3,0,USD\n"

    report = run(user, portfolio, text, dry_run=True)

    assert report.ok
    assert [(row.row, row.symbol) for row in report.to_add] == [(3, "NEWCO"), (4, "")]
    assert [dup.row for dup in report.duplicates] == [2]
    assert report.created == 0
    assert counts() == before
    assert ActivityLog.objects.count() == activity


def test_dry_run_reports_the_ledger_refusals_a_real_run_would_meet(user, portfolio):
    report = run(user, portfolio, HEADER + f"{D},SELL,ACME,1,10,0,USD\n", dry_run=True)

    assert not report.ok
    assert Transaction.objects.count() == 0


def test_rows_in_any_date_order_keep_their_order_within_a_day(user, portfolio):
    # Ghostfolio exports newest first; a same-day sell-then-buy must stay in that order.
    text = (
        HEADER + f"{D2},SELL,ACME,2,11,0,USD\n{D2},BUY,ACME,3,12,0,USD\n{D},BUY,ACME,2,10,0,USD\n"
    )

    report = run(user, portfolio, text)

    assert report.ok, [str(issue) for issue in report.errors]
    assert list(Transaction.objects.order_by("date", "id").values_list("type", "quantity")) == [
        ("BUY", Decimal(2)),
        ("SELL", Decimal(2)),
        ("BUY", Decimal(3)),
    ]


def test_cash_rows_need_no_symbol_and_default_to_quantity_one(user, portfolio):
    text = "date,type,price,currency\n" + f"{D},DEPOSIT,500,USD\n{D},INTEREST,1.5,USD\n"
    text += f"{D},WITHDRAWAL,20,USD\n{D},FEE,2,USD\n"

    report = run(user, portfolio, text)

    assert report.created == 4
    assert set(Transaction.objects.values_list("type", "quantity", "instrument")) == {
        ("DEPOSIT", Decimal(1), None),
        ("INTEREST", Decimal(1), None),
        ("WITHDRAWAL", Decimal(1), None),
        ("FEE", Decimal(1), None),
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "The file is empty."),
        ("symbol,quantity\nACME,1\n", "required column is missing"),
        ("date,type,price\n\xff\n", "not UTF-8"),
        ("{not json", "not valid JSON"),
        ('{"rows": []}', "neither a Ghostfolio export"),
    ],
)
def test_an_unreadable_file_is_refused_whole(user, portfolio, text, words):
    filename = "t.json" if text.startswith("{") else "t.csv"
    content = text.encode("latin-1") if "\xff" in text else text.encode()

    with pytest.raises(Exception) as caught:  # noqa: PT011 (ApplicationError and its CSV subclass)
        transactions_import(
            user=user, portfolio=portfolio, content=content, filename=filename, dry_run=True
        )

    assert words in str(caught.value.message) + " ".join(caught.value.extra.get("file", []))


def test_our_json_format_imports(user, portfolio):
    row = {"date": D, "type": "BUY", "symbol": "ACME", "quantity": "2", "price": "10"}
    body = json.dumps({"transactions": [{**row, "currency": "USD", "external_id": "j1"}]})

    report = run(user, portfolio, body, filename="t.json")

    assert report.created == 1
    assert Transaction.objects.get().external_id == "j1"


def test_a_big_file_runs_as_a_job_with_progress(user, portfolio, settings):
    text = HEADER + "".join(f"{D},BUY,ACME,1,{10 + n},0,USD\n" for n in range(5))

    report = run(user, portfolio, text, background_rows=3)

    job = report.job
    assert job.status == JobStatus.QUEUED
    assert Transaction.objects.count() == 0
    transactions_import_task.call(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.progress, job.result["created"]) == (JobStatus.SUCCEEDED, 100, 5)
    assert "content" not in job.params
    assert Transaction.objects.count() == 5


def test_a_refused_big_import_fails_its_job_with_the_rows_in_the_error(user, portfolio):
    text = HEADER + "".join(f"{D},BUY,ACME,1,10,0,USD\n" for _ in range(3))
    text += f"{D},SWAP,ACME,1,10,0,USD\n"
    job = run(user, portfolio, text, background_rows=1).job

    with pytest.raises(Exception, match="nothing was imported"):
        transactions_import_task.call(job_id=job.pk)

    job = BackgroundJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.FAILED
    assert 'Line 5, column "type"' in job.error
    assert "content" not in job.params
    assert Transaction.objects.count() == 0


def test_prices_in_pence_become_pounds(user):
    """A price and fee quoted in a minor unit (GBp, pence) are stored in the major unit."""
    pounds = portfolio_create(user=user, name="Pounds", base_currency="GBP")
    text = "date,type,symbol,quantity,price,fee,currency\n" + f"{D},BUY,VOD,10,1250,100,GBp\n"

    report = run(user, pounds, text)

    assert report.ok, report.errors
    txn = Transaction.objects.get(portfolio=pounds)
    assert (txn.currency, txn.price, txn.fee) == ("GBP", Decimal("12.5"), Decimal(1))
    assert txn.instrument.currency == "GBP"


def test_column_limits_and_row_checks_are_reported_in_row_order(user, portfolio):
    """The columns' own limits are checked for all rows at once, after each row's checks;
    the errors still come in row order, each row's in its columns' order."""
    header = "date,type,symbol,quantity,price,fee,currency,notes,external_id\n"
    rows = [
        f"{D},BUY,ACME,1,10.12345678901,0,USD,,ok-1",  # line 2: more decimals than the column
        "32/01/2024,BUY,ACME,1,10,0,USD,,ok-2",  # line 3: not a date
        f"{D},BUY,ACME,1,10,0,USD,,{'x' * 201}",  # line 4: a longer id than the column
        f"{D},BUY,ACME,1E+25,10.12345678901,0,USD,,ok-4",  # line 5: two columns over
        f"{D},BUY,ACME,1,10,0,USD,,ok-5",
    ]

    report = run(user, portfolio, header + "\n".join(rows) + "\n", dry_run=True)

    assert [(issue.row, issue.field) for issue in report.errors] == [
        (2, "price"),
        (3, "date"),
        (4, "external_id"),
        (5, "quantity"),
        (5, "price"),
    ]
    assert "decimal places" in report.errors[0].message
    assert "200 characters" in report.errors[2].message
