"""One row of every portfolio admin model, for the admin walk in tests/ops/test_admin.py."""

from datetime import date
from decimal import Decimal

from portfolio.models import Instrument, Split
from portfolio.providers import provider_call
from portfolio.services import (
    TransactionInput,
    WatchlistEntry,
    dividend_create,
    portfolio_create,
    price_alert_create,
    transaction_create,
    watchlist_item_add,
)
from portfolio.services.market import FxRateRow, PriceBarRow, fx_rates_import, price_bars_import


def portfolio_rows(user) -> None:
    """Reference data, a portfolio with a trade (so holdings, totals and snapshots), a provider."""
    price_bars_import(
        rows=[
            PriceBarRow(
                symbol="NOVN", exchange="SIX", date=date(2022, 4, 11), close=Decimal("87.80"),
                currency="CHF", name="Novartis",
            )
        ]
    )  # fmt: skip
    fx_rates_import(
        rows=[FxRateRow(base="CHF", quote="USD", date=date(2022, 4, 11), rate=Decimal("1.07"))]
    )
    novn = Instrument.objects.get(symbol="NOVN")
    Split.objects.create(
        instrument=novn, date=date(2020, 1, 2), numerator=Decimal(2), denominator=Decimal(1)
    )
    portfolio = portfolio_create(user=user, name="Rows", base_currency="CHF")
    transaction_create(
        portfolio=portfolio,
        data=TransactionInput(
            type="BUY", date=date(2022, 4, 11), quantity=Decimal(2), price=Decimal("75.80"),
            fee=Decimal("2.95"), instrument=novn,
        ),
    )  # fmt: skip
    provider_call(name="synthetic", call=lambda: None)
    watchlist_item_add(user=user, entry=WatchlistEntry(symbol="ROG", exchange="SIX"))
    price_alert_create(user=user, instrument=novn, condition="above", target=Decimal(80))
    # A close above the target fires the alert: an event and a notification.
    price_bars_import(
        rows=[PriceBarRow(symbol="NOVN", exchange="SIX", date=date(2022, 4, 12), close=Decimal(88))]
    )
    dividend_create(
        portfolio=portfolio, instrument=novn, ex_date=date(2022, 4, 12), amount_per_share=Decimal(3)
    )
