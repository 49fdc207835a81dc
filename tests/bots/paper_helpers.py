"""Builders of the paper-trading tests: a priced instrument, a funded account, book snapshots."""

from datetime import date
from decimal import Decimal

from bots.models import Order, PaperBalance, PaperPosition
from bots.services import paper_account_create
from portfolio.models import Instrument, PriceBar
from portfolio.services.market import PriceBarRow, price_bars_import

DAY = date(2024, 3, 1)


def priced_instrument(symbol: str = "ACME", close: str = "100", *, exchange: str = "NYSE"):
    """A shared USD instrument whose last close is `close`."""
    instrument = Instrument.objects.create(symbol=symbol, exchange=exchange, currency="USD")
    PriceBar.objects.create(instrument=instrument, date=DAY, close=Decimal(close))
    return instrument


def price_arrives(instrument, close: str, day: date) -> None:
    """A new close arrives the way imports bring it (so limit matching runs)."""
    price_bars_import(
        rows=[
            PriceBarRow(
                symbol=instrument.symbol,
                exchange=instrument.exchange,
                date=day,
                close=Decimal(close),
            )
        ]
    )


def funded_account(user, amount: str = "10000", name: str = "Main"):
    return paper_account_create(
        user=user, name=name, quote_currency="USD", starting_balance=Decimal(amount)
    )


def book_rows(account) -> dict:
    """Every balance, position and order value of the account, to compare before and after."""
    return {
        "balances": list(
            PaperBalance.objects.filter(account=account)
            .order_by("pk")
            .values("pk", "currency", "free", "locked")
        ),
        "positions": list(
            PaperPosition.objects.filter(account=account)
            .order_by("pk")
            .values("pk", "instrument", "quantity", "locked", "cost_basis", "realized_pnl")
        ),
        "orders": list(Order.objects.filter(account=account).order_by("pk").values("pk", "status")),
    }


def balance(account, currency: str = "USD") -> PaperBalance:
    return PaperBalance.objects.get(account=account, currency=currency)


def position(account, instrument) -> PaperPosition:
    return PaperPosition.objects.get(account=account, instrument=instrument)
