"""The dashboard's figures: the day change is the last priced session's move."""

from datetime import date
from decimal import Decimal

import pytest

from portfolio.overview import portfolio_overview
from portfolio.services.market import PriceBarRow, price_bars_import
from tests.factories import InstrumentFactory, PortfolioFactory, PriceBarFactory, TransactionFactory

pytestmark = pytest.mark.django_db

THURSDAY, FRIDAY, MONDAY = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)


@pytest.fixture
def holding(user):
    acme = InstrumentFactory(symbol="ACME", currency="USD")
    PriceBarFactory(instrument=acme, date=date(2026, 11, 10), close=Decimal(100))
    PriceBarFactory(instrument=acme, date=THURSDAY, close=Decimal(110))
    PriceBarFactory(instrument=acme, date=FRIDAY, close=Decimal(120))
    portfolio = PortfolioFactory(user=user, base_currency="USD")
    TransactionFactory(
        portfolio=portfolio,
        instrument=acme,
        date=date(2026, 11, 10),
        quantity=Decimal(10),
        price=Decimal(100),
    )
    return acme


def test_on_a_monday_before_its_prices_the_day_change_is_fridays(user, holding):
    (total,) = portfolio_overview(user=user, today=MONDAY).totals

    assert total.day_change == Decimal(100)  # 10 shares from 110 to 120


def test_once_todays_price_arrives_the_day_change_is_todays(user, holding):
    # Through the import service, as prices arrive: it rebuilds the snapshots behind the series.
    price_bars_import(rows=[PriceBarRow(symbol="ACME", date=MONDAY, close=Decimal(115))])

    (total,) = portfolio_overview(user=user, today=MONDAY).totals

    assert total.day_change == Decimal(-50)
