"""Ghostfolio's own import samples (shared/fixtures/ghostfolio-import, see its README).

Every `ok/` file our transaction types can represent imports; the others are refused, each for
the reason given in its table row. Every `not-ok/` file is refused with a message a person
understands, or accepted where our rules differ on purpose (the reason is in its row).
"""

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from portfolio.models import FxRate, Transaction
from portfolio.services.imports import transactions_import
from portfolio.services.ledger import portfolio_create

SAMPLES = Path(settings.BASE_DIR).parent / "shared" / "fixtures" / "ghostfolio-import"

# The samples live in the team's shared/ folder beside the checkout, not in the repository. CI
# always has them, so there a missing folder is an error; a clone on its own skips this module.
if not SAMPLES.is_dir():
    if os.environ.get("CI"):
        raise RuntimeError(f"Ghostfolio's import samples are missing: {SAMPLES}")
    pytest.skip(
        f"Ghostfolio's import samples are not beside this checkout ({SAMPLES})",
        allow_module_level=True,
    )


def base_currency(path: Path) -> str:
    """The portfolio takes the currency of the exporting Ghostfolio user, when the file has one."""
    if path.suffix == ".json":
        try:
            return json.loads(path.read_text())["user"]["settings"]["currency"]
        except (ValueError, KeyError, TypeError):
            pass
    return "USD"


def import_sample(user, relative: str, *, dry_run: bool = False):
    path = SAMPLES / relative
    portfolio = portfolio_create(user=user, name=relative, base_currency=base_currency(path))
    report = transactions_import(
        user=user,
        portfolio=portfolio,
        content=path.read_bytes(),
        filename=path.name,
        dry_run=dry_run,
    )
    return portfolio, report


@pytest.fixture
def fx_rates(db) -> None:
    # The cross-currency samples need their day's rate, as a real deployment's FX import gives.
    FxRate.objects.create(base="EUR", quote="USD", date=date(2021, 12, 10), rate=Decimal("1.13"))
    FxRate.objects.create(base="ZAR", quote="USD", date=date(2024, 6, 27), rate=Decimal("0.054"))


OK_IMPORTED = [
    # (file, transactions created)
    ("ok/500-activities.json", 500),
    ("ok/btceur.json", 1),  # EUR trade in a USD portfolio: converted at the day's FX rate
    ("ok/btcusd.csv", 1),
    ("ok/btcusd.json", 1),
    ("ok/derived-currency.json", 1),  # ZAc (cents) becomes ZAR at price / 100
    ("ok/jnug-buy-and-sell-and-buy-and-sell.json", 4),
    ("ok/novn-buy-and-sell-partially.json", 2),
    ("ok/novn-buy-and-sell.json", 2),
    ("ok/penthouse-apartment.csv", 1),
    ("ok/penthouse-apartment.json", 1),
    ("ok/vti-buy-long-history.json", 3),
    ("ok/vti-buy-on-ibkr.csv", 1),  # Interactive Brokers' flex-query column names
]


@pytest.mark.parametrize(("relative", "created"), OK_IMPORTED)
def test_ghostfolio_ok_sample_imports(user, fx_rates, relative, created):
    portfolio, report = import_sample(user, relative)

    assert report.ok, [str(issue) for issue in report.errors]
    assert report.created == created
    assert Transaction.objects.filter(portfolio=portfolio).count() == created


@pytest.mark.parametrize(("relative", "created"), OK_IMPORTED)
def test_ghostfolio_ok_sample_imports_only_once(user, fx_rates, relative, created):
    portfolio, _ = import_sample(user, relative)

    again = transactions_import(
        user=user,
        portfolio=portfolio,
        content=(SAMPLES / relative).read_bytes(),
        filename=relative,
        dry_run=False,
    )

    assert (again.created, len(again.duplicates)) == (0, created)


OK_REFUSED = [
    # (file, (row, field) of each refusal, why our rules refuse it)
    (
        "ok/btcusd-short.json",
        [(0, "quantity")],
        "it sells 1 BTCUSD that was never bought; a SELL of more than is held is refused "
        "(no short positions in the ledger).",
    ),
    (
        "ok/sample.csv",
        [(6, "date")],
        "its last row is Ghostfolio's zero-quantity placeholder dated 2050-06-06; transactions "
        "cannot be in the future.",
    ),
    (
        "ok/sample.json",
        [(5, "date")],
        "the same 2050-06-06 zero-quantity placeholder activity as sample.csv.",
    ),
    (
        "ok/without-accounts.json",
        [(1, "date")],
        "the same 2050-06-06 zero-quantity placeholder activity as sample.csv.",
    ),
]


@pytest.mark.parametrize(("relative", "problems", "why"), OK_REFUSED)
def test_ghostfolio_ok_sample_we_cannot_represent_is_refused_with_its_reason(
    user, fx_rates, relative, problems, why
):
    portfolio, report = import_sample(user, relative)

    assert [(issue.row, issue.field) for issue in report.errors][: len(problems)] == problems, why
    assert Transaction.objects.filter(portfolio=portfolio).count() == 0


def test_sample_csv_imports_once_its_future_placeholder_row_is_removed(user):
    lines = (SAMPLES / "ok/sample.csv").read_text().splitlines(keepends=True)
    portfolio = portfolio_create(user=user, name="Sample")

    report = transactions_import(
        user=user,
        portfolio=portfolio,
        content="".join(lines[:-1]).encode(),
        filename="sample.csv",
        dry_run=False,
    )

    assert report.ok, [str(issue) for issue in report.errors]
    # FEE (49 in `fee`, quantity and price 0) becomes one FEE of 49; the rest as written.
    assert sorted(Transaction.objects.values_list("type", "quantity", "price", "fee")) == [
        ("BUY", Decimal(1), Decimal(500000), Decimal(0)),
        ("BUY", Decimal(5), Decimal("298.58"), Decimal(19)),
        ("DIVIDEND", Decimal(5), Decimal("0.62"), Decimal(0)),
        ("FEE", Decimal(1), Decimal(49), Decimal(0)),
    ]


def test_a_ghostfolio_item_activity_is_refused_as_not_representable(user):
    portfolio = portfolio_create(user=user, name="Items")
    body = {
        "activities": [
            {
                "date": "2022-01-01T00:00:00.000Z",
                "type": "ITEM",
                "symbol": "Painting",
                "quantity": 1,
                "unitPrice": 1000,
                "fee": 0,
                "currency": "USD",
                "dataSource": "MANUAL",
            }
        ]
    }

    report = transactions_import(
        user=user,
        portfolio=portfolio,
        content=json.dumps(body).encode(),
        filename="items.json",
        dry_run=True,
    )

    assert str(report.errors[0]) == (
        'Activity 1, "type": a Ghostfolio ITEM (a valuable without a market) has no Trading Lab '
        "transaction type; record it as a BUY of a private instrument instead."
    )


NOT_OK_REFUSED = [
    # (file, (row, field) of the first problem, words the message must hold)
    ("not-ok/invalid-currency.csv", (2, "currency"), "is not an ISO 4217 currency code"),
    ("not-ok/invalid-data-source.json", (1, "data_source"), "is not a data source"),
    ("not-ok/invalid-date-yy.csv", (2, "date"), "“16/09/21” is not a date"),
    ("not-ok/invalid-date.json", (1, "date"), "“<invalid>” is not a date"),
    ("not-ok/invalid-fee.csv", (2, "fee"), "“<invalid>” is not a number"),
    ("not-ok/invalid-multi-line.csv", (4, "type"), "“<invalid>” is not a transaction type"),
    ("not-ok/invalid-symbol.csv", (2, "symbol"), "“<invalid>” is not a symbol"),
    ("not-ok/invalid-symbol.json", (1, "symbol"), "“<invalid>” is not a symbol"),
    ("not-ok/invalid-type.json", (1, "type"), "“<invalid>” is not a transaction type"),
    # A zero-quantity buy in EUR from 1990: refused for its quantity and price before any FX.
    ("not-ok/unavailable-exchange-rate.json", (1, "quantity"), "must be greater than 0"),
]


@pytest.mark.parametrize(("relative", "first", "words"), NOT_OK_REFUSED)
def test_ghostfolio_not_ok_sample_is_refused_with_a_readable_message(user, relative, first, words):
    portfolio, report = import_sample(user, relative)

    assert (report.errors[0].row, report.errors[0].field) == first
    assert words in str(report.errors[0])
    assert str(report.errors[0]).split(",")[0] in {f"Line {first[0]}", f"Activity {first[0]}"}
    assert Transaction.objects.filter(portfolio=portfolio).count() == 0


def test_invalid_multi_line_sample_reports_every_bad_row(user):
    _, report = import_sample(user, "not-ok/invalid-multi-line.csv")

    assert {(issue.row, issue.field) for issue in report.errors} == {
        (4, "type"),
        (5, "date"),
        (5, "quantity"),
        (5, "price"),
    }


def test_unexpected_format_sample_is_refused_as_not_json(user):
    path = SAMPLES / "not-ok/unexpected-format.json"
    portfolio = portfolio_create(user=user, name="Unexpected")

    with pytest.raises(Exception, match="not valid JSON"):
        transactions_import(
            user=user,
            portfolio=portfolio,
            content=path.read_bytes(),
            filename=path.name,
            dry_run=True,
        )


NOT_OK_ACCEPTED = [
    # (file, why our rules accept what Ghostfolio refuses)
    (
        "not-ok/invalid-date-before-min.json",
        "Trading Lab sets no earliest date: an old holding is recorded on the day it was bought.",
    ),
    (
        "not-ok/invalid-platform.json",
        "Trading Lab has no accounts or platforms; the activity itself is valid and is imported.",
    ),
    (
        "not-ok/invalid-symbol-btc-usd.csv",
        "symbols are not looked up at a data provider: an unknown symbol with a currency "
        "becomes the user's private instrument (SPEC §3).",
    ),
    (
        "not-ok/invalid-symbol-with-manual-data-source.json",
        "a private instrument for an unlisted asset needs no Ghostfolio asset profile.",
    ),
]


@pytest.mark.parametrize(("relative", "why"), NOT_OK_ACCEPTED)
def test_ghostfolio_not_ok_sample_is_accepted_where_our_rules_differ_on_purpose(
    user, relative, why
):
    _, report = import_sample(user, relative, dry_run=True)

    assert report.ok, (why, [str(issue) for issue in report.errors])
    assert len(report.to_add) == 1


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        # Cents become rand: 10875 ZAc is 108.75 ZAR.
        ("ok/derived-currency.json", ("ZAR", Decimal("108.75"), Decimal(0), Decimal("0.054"))),
        # A EUR trade in a USD portfolio keeps EUR and the last EUR/USD rate on or before it.
        ("ok/btceur.json", ("EUR", Decimal("39378.5"), Decimal("3.94"), Decimal("1.13"))),
        # Interactive Brokers writes its commission as -1.
        ("ok/vti-buy-on-ibkr.csv", ("USD", Decimal("204.3473"), Decimal(1), Decimal(1))),
    ],
)
def test_ghostfolio_amounts_arrive_in_their_currency(user, fx_rates, relative, expected):
    import_sample(user, relative)

    txn = Transaction.objects.get()
    assert (txn.currency, txn.price, txn.fee, txn.fx_rate) == expected
