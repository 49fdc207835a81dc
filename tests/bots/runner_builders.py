"""Builders for the bot and runner tests: an instrument with a settable price, bots, ticks."""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from bots.models import Bot, Deal, Order, OrderSide, OrderStatus, PaperAccount, PaperBalance
from bots.services import bot_create, paper_account_default
from portfolio.models import Instrument, PriceBar

_serial = itertools.count(1)

# SPEC §4 worked check: B = 100, S = 200, N = 3, d = 1%, s = 1.5, v = 2, tp = 1.5%.
SPEC_CONFIG: dict[str, Any] = {
    "base_order_size": "100",
    "safety_order_size": "200",
    "max_safety_orders": 3,
    "price_deviation_pct": "1",
    "safety_order_step_scale": "1.5",
    "safety_order_volume_scale": "2",
    "take_profit_pct": "1.5",
}
# The worked check's path: base at 100, SO1..SO3, then the take profit.
SPEC_PATH = [
    Decimal("100"),
    Decimal("99"),
    Decimal("97.5"),
    Decimal("95.25"),
    Decimal("98.088380"),
]
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def instrument(*, price: Decimal | None = Decimal(100), currency: str = "USD") -> Instrument:
    """A shared instrument whose last close is `price` (None: no price yet)."""
    made = Instrument.objects.create(
        symbol=f"RUN{next(_serial)}", currency=currency, name="Runner test instrument"
    )
    if price is not None:
        set_price(made, price)
    return made


def set_price(instrument: Instrument, price: Decimal, *, day: date | None = None) -> None:
    """Make `price` the instrument's last close (today's bar, created or moved)."""
    day = day or timezone.now().date()
    PriceBar.objects.update_or_create(instrument=instrument, date=day, defaults={"close": price})


def account(user, *, free: Decimal | None = None) -> PaperAccount:
    """The user's default paper account, its USD balance set to `free` when given."""
    made = paper_account_default(user=user)
    if free is not None:
        balance = PaperBalance.objects.get(account=made, currency="USD")
        balance.free = free
        balance.save()
    return made


def bot(user, *, instrument: Instrument, interval: str = "1m", **config: Any) -> Bot:
    return bot_create(
        user=user,
        name=f"runner bot {next(_serial)}",
        account=account(user),
        instrument=instrument,
        interval=interval,
        config={**SPEC_CONFIG, **config},
    )


def minutes(n: int, start: datetime = T0) -> datetime:
    return start + timedelta(minutes=n)


def book_expected(
    account: PaperAccount, instrument: Instrument | None = None
) -> dict[str, Decimal]:
    """Free cash and quantity as the account's filled orders and deals say they must be
    (all of the account's instruments when `instrument` is None; then quantity is not given).

    A DCA buy spends its quote size (quantity is size / price rounded down), which the deal
    records as quote spent; every fee is on its order and summed on the deal.
    """
    deals = Deal.objects.filter(bot__account=account)
    orders = Order.objects.filter(account=account, status=OrderStatus.FILLED)
    if instrument is not None:
        deals = deals.filter(bot__instrument=instrument)
        orders = orders.filter(instrument=instrument)
    cash = account.starting_balance
    for deal in deals:
        cash -= deal.quote_spent + deal.fees
        cash += deal.proceeds or 0
    quantity = Decimal(0)
    for order in orders:
        sign = 1 if order.side == OrderSide.BUY else -1
        quantity += sign * order.filled_quantity
    return {"cash": cash, "quantity": quantity}


def orders_agree_with_deals(account: PaperAccount) -> list[str]:
    """Each deal's fees and bought quantity equal the sums of its filled orders."""
    problems = []
    for deal in Deal.objects.filter(bot__account=account):
        orders = list(deal.orders.filter(status=OrderStatus.FILLED))
        fees = sum((order.fee for order in orders), Decimal(0))
        bought = sum((o.filled_quantity for o in orders if o.side == OrderSide.BUY), Decimal(0))
        if fees != deal.fees or bought != deal.quantity:
            problems.append(f"deal {deal.pk}: fees {fees} vs {deal.fees}, qty {bought}")
    return problems
