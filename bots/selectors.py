"""Reads for paper trading, bots and backtests (SPEC §3, §6).

`instrument_last_price` is THE current price of an instrument for paper fills: its last PriceBar
close (SPEC: "the current price (last close)").
"""

from datetime import date
from decimal import Decimal

from django.db.models import OuterRef, Q, QuerySet, Subquery

from bots.engine.numbers import multiply, quantize_money
from bots.models import Order, PaperAccount, PaperBalance, PaperPosition
from portfolio.models import Instrument, PriceBar
from trading_lab.prepared import PreparedRead

ZERO = Decimal(0)

# Every bot tick and paper fill reads it: compiled once per connection.
_LAST_CLOSE = PreparedRead(
    lambda instrument: (
        PriceBar.objects.filter(instrument_id=instrument)
        .order_by("-date")
        .values_list("close", "date")[:1]
    ),
    instrument=int,
)


def instrument_last_price(*, instrument: Instrument | int) -> tuple[Decimal, date] | None:
    """The last close of `instrument` and its date, or None when it has no prices."""
    instrument_id = instrument if isinstance(instrument, int) else instrument.pk
    row = _LAST_CLOSE.first(instrument=instrument_id)
    if row is None:
        return None
    return row[0], row[1]


# --- paper trading ---------------------------------------------------------------------------


def paper_account_list(*, user) -> QuerySet[PaperAccount]:
    """The user's paper accounts, the default one first, then by name."""
    return PaperAccount.objects.for_user(user).order_by("-is_default", "name", "pk")


def paper_balance_list(*, user, account: PaperAccount | None = None) -> QuerySet[PaperBalance]:
    """The user's balances (of one account if given), by account and currency."""
    rows = PaperBalance.objects.for_user(user).select_related("account")
    if account is not None:
        rows = rows.filter(account=account)
    return rows.order_by("account__name", "account_id", "currency")


def _last_bar(field: str) -> Subquery:
    return Subquery(
        PriceBar.objects.filter(instrument=OuterRef("instrument"))
        .order_by("-date")
        .values(field)[:1]
    )


def paper_position_list(
    *, user, account: PaperAccount | None = None, include_flat: bool = False
) -> QuerySet[PaperPosition]:
    """The user's positions annotated with `last_price` and `last_price_date` (last close).

    Flat rows (nothing held, nothing locked, no realized P&L) are left out unless asked for.
    Value them with `position_market_value` and `position_unrealized_pnl`.
    """
    rows = (
        PaperPosition.objects.for_user(user)
        .select_related("account", "instrument")
        .annotate(last_price=_last_bar("close"), last_price_date=_last_bar("date"))
    )
    if account is not None:
        rows = rows.filter(account=account)
    if not include_flat:
        rows = rows.filter(Q(quantity__gt=0) | Q(locked__gt=0) | ~Q(realized_pnl=0))
    return rows.order_by("account__name", "account_id", "instrument__symbol", "pk")


def position_market_value(position: PaperPosition) -> Decimal | None:
    """Quantity x last close (None without a price); needs `paper_position_list`'s annotation."""
    price = getattr(position, "last_price", None)
    if price is None:
        return None
    return quantize_money(multiply(position.quantity, price))


def position_unrealized_pnl(position: PaperPosition) -> Decimal | None:
    """Market value minus cost basis (None without a price)."""
    value = position_market_value(position)
    if value is None:
        return None
    return value - position.cost_basis


def order_list(
    *,
    user,
    account: PaperAccount | None = None,
    status: str | None = None,
    symbol: str | None = None,
    bot=None,
) -> QuerySet[Order]:
    """The user's orders, newest first, optionally filtered (symbol is case-insensitive)."""
    rows = Order.objects.for_user(user).select_related("account", "instrument")
    if account is not None:
        rows = rows.filter(account=account)
    if status:
        rows = rows.filter(status=status)
    if symbol:
        rows = rows.filter(instrument__symbol__iexact=symbol.strip())
    if bot is not None:
        rows = rows.filter(bot=bot)
    return rows.order_by("-created_at", "-id")


def paper_instrument_find(*, user, symbol: str, exchange: str = "") -> Instrument | None:
    """The instrument an order names: a shared one first, then the user's private one.

    Without an exchange, a symbol that only one visible instrument carries is enough.
    """
    symbol, exchange = (symbol or "").strip(), (exchange or "").strip()
    if not symbol:
        return None
    visible = Instrument.objects.visible_to(user).filter(symbol__iexact=symbol)
    exact = visible.filter(exchange__iexact=exchange).order_by("owner_id", "pk")
    found = exact.filter(owner__isnull=True).first() or exact.first()
    if found is not None or exchange:
        return found
    candidates = list(visible[:2])
    return candidates[0] if len(candidates) == 1 else None
