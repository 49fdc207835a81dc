"""`manage.py verify_ledger`: finds drift put in behind the services' back, and --fix repairs it."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from portfolio.models import Holding, PortfolioSnapshot, TransactionType
from portfolio.services import TransactionInput, portfolio_create, transaction_create
from tests.factories import InstrumentFactory, PriceBarFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def portfolio(user):
    portfolio = portfolio_create(user=user, name="Checked", base_currency="CHF")
    novn = InstrumentFactory(symbol="NOVN", currency="CHF")
    PriceBarFactory(instrument=novn, date=date(2024, 1, 3), close=Decimal("12"))
    for kind, on, quantity in (("BUY", date(2024, 1, 2), 3), ("SELL", date(2024, 1, 4), 1)):
        transaction_create(
            portfolio=portfolio,
            data=TransactionInput(
                type=kind, date=on, quantity=Decimal(quantity), price=Decimal(10), instrument=novn
            ),
        )
    transaction_create(
        portfolio=portfolio,
        data=TransactionInput(
            type=TransactionType.DEPOSIT, date=date(2024, 1, 5), quantity=None, price=Decimal(5)
        ),
    )
    return portfolio


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("verify_ledger", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(*args) -> tuple[CommandError, str]:
    err = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("verify_ledger", *args, stdout=StringIO(), stderr=err)
    return caught.value, err.getvalue()


def test_a_ledger_kept_by_the_services_has_no_drift(portfolio):
    out, err = run()
    assert "1 portfolios checked, no drift." in out
    assert err == ""


def _raw(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (
            lambda p: _raw(
                "UPDATE portfolio_holding SET quantity = 7 WHERE portfolio_id = %s", [p.pk]
            ),
            "holding NOVN quantity: stored 7",
        ),
        (
            lambda p: _raw(
                "UPDATE portfolio_portfoliosnapshot SET value = 1 WHERE portfolio_id = %s "
                "AND date = %s",
                [p.pk, date(2024, 1, 3)],
            ),
            "snapshot 2024-01-03 value: stored 1",
        ),
        (
            lambda p: _raw(
                "DELETE FROM portfolio_portfoliosnapshot WHERE portfolio_id = %s AND date = %s",
                [p.pk, date(2024, 1, 4)],
            ),
            "snapshot 2024-01-04 row: stored missing, expected present",
        ),
        (
            lambda p: _raw(
                "UPDATE portfolio_ledgertotals SET cash = 0 WHERE portfolio_id = %s", [p.pk]
            ),
            "totals cash: stored 0",
        ),
    ],
    ids=["holding quantity", "snapshot value", "missing snapshot", "totals cash"],
)
def test_drift_is_reported_by_portfolio_and_field_and_fix_repairs_it(portfolio, corrupt, expected):
    corrupt(portfolio)

    error, err = run_failing()
    assert error.returncode == 1
    assert f"Portfolio {portfolio.pk} “Checked”" in err
    assert expected in err

    out, _ = run("--fix")
    assert "derived rows rewritten" in out
    out, err = run()
    assert "no drift" in out
    assert err == ""
    assert Holding.objects.get(portfolio=portfolio).quantity == 2
    assert PortfolioSnapshot.objects.filter(portfolio=portfolio, date=date(2024, 1, 4)).exists()


def test_only_the_named_portfolio_is_checked(portfolio, user):
    clean = portfolio_create(user=user, name="Clean")
    _raw("UPDATE portfolio_holding SET quantity = 7 WHERE portfolio_id = %s", [portfolio.pk])
    out, _ = run("--portfolio", str(clean.pk))
    assert "1 portfolios checked, no drift." in out
    run_failing("--portfolio", str(portfolio.pk))
