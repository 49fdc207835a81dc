"""One row of every paper-trading admin model, for the admin walk in tests/ops/test_admin.py."""

from datetime import date
from decimal import Decimal

from bots.idempotency import idempotent_call
from bots.services import OrderInput, order_place, paper_account_create
from portfolio.models import Instrument, PriceBar


def paper_rows(user) -> None:
    """An account with its balance, a filled buy (so a position), and an idempotency record."""
    stock = Instrument.objects.create(symbol="PAPR", exchange="NYSE", currency="USD")
    PriceBar.objects.create(instrument=stock, date=date(2024, 3, 1), close=Decimal(100))
    account = paper_account_create(
        user=user, name="Rows", quote_currency="USD", starting_balance=Decimal(1000)
    )
    buy = OrderInput(instrument=stock, side="buy", order_type="market", quantity=Decimal(2))
    idempotent_call(
        user=user,
        scope="orders.create",
        key="admin-rows",
        body={"symbol": "PAPR"},
        run=lambda: (201, {"id": order_place(user=user, account=account, data=buy).pk}),
    )
