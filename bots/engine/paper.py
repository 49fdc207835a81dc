"""Paper fill rules (SPEC §4 "Paper engine") as pure functions over plain values.

One order touches one account's quote balance and one instrument position; `PaperBook` holds both.
Every function returns a `PaperResult` with the new book, and never mutates its input, so the
Django layer can persist order, balance and position in one transaction. An order the balance
cannot pay comes back `rejected` with a reason and the book it was given, unchanged.

Rules:
- a market order fills at the current price moved against the trader by `slippage_bps`;
- a limit order locks funds (buy: notional + fee in quote currency; sell: the base quantity) and
  fills when the price reaches or crosses its limit, at the limit price; cancel releases the lock;
- fee = fee rate x notional, charged in the quote currency;
- the position keeps its cost basis (average cost); a sell realizes (price - average cost) x
  quantity, fees excluded (SPEC §4).
"""

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from bots.engine.errors import EngineValidationError
from bots.engine.numbers import (
    BASIS_POINTS,
    ONE,
    QUANTITY_PLACES,
    ZERO,
    decimal_places,
    display,
    divide,
    multiply,
    quantize_money,
    quantize_price,
    require_decimal,
)

Side = Literal["buy", "sell"]
BUY: Side = "buy"
SELL: Side = "sell"
SIDES: tuple[Side, ...] = (BUY, SELL)

PaperStatus = Literal["filled", "open", "cancelled", "rejected"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionCosts:
    """What a fill costs: `fee_rate` a fraction of notional (0.001 = 0.1%), slippage in bps."""

    fee_rate: Decimal = ZERO
    slippage_bps: Decimal = ZERO

    def __post_init__(self) -> None:
        errors = _costs_errors(fee_rate=self.fee_rate, slippage_bps=self.slippage_bps)
        if errors:
            raise EngineValidationError(errors=errors)


@dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    """One currency of a paper account: `free` to spend, `locked` behind open orders."""

    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """One instrument of a paper account; `locked` is the part behind open sell orders."""

    quantity: Decimal = ZERO
    locked: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    @property
    def free(self) -> Decimal:
        """The quantity that can still be sold or locked."""
        return self.quantity - self.locked

    @property
    def average_price(self) -> Decimal:
        """Cost basis per unit at PRICE places (0 when flat)."""
        if not self.quantity:
            return ZERO
        return quantize_price(divide(self.cost_basis, self.quantity))


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperBook:
    """The quote balance and the position one order reads and changes."""

    balance: Balance = Balance()
    position: Position = Position()


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """An executed order: notional = price x quantity; realized P&L is zero for buys."""

    side: Side
    price: Decimal
    quantity: Decimal
    notional: Decimal
    fee: Decimal
    realized_pnl: Decimal = ZERO


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitOrder:
    """A resting limit order and what it locked (quote notional + fee for buys, quantity for sells).

    Persist `fee_rate` and `locked` with the order: a later change of the configured fee rate must
    not change what a cancel releases or what the fill costs.
    """

    side: Side
    quantity: Decimal
    limit_price: Decimal
    fee_rate: Decimal
    locked: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperResult:
    """The outcome of one call: status, the book after it, and the fill or open order if any."""

    status: PaperStatus
    book: PaperBook
    fill: Fill | None = None
    order: LimitOrder | None = None
    reject_reason: str | None = None


def market_fill_price(*, side: Side, price: Decimal, slippage_bps: Decimal) -> Decimal:
    """`price` moved against the trader by `slippage_bps` (up for buys, down for sells)."""
    move = divide(slippage_bps, BASIS_POINTS)
    return quantize_price(multiply(price, ONE + move if side == BUY else ONE - move))


def notional_for(*, quantity: Decimal, price: Decimal) -> Decimal:
    """Quantity x price in quote currency at MONEY places."""
    return quantize_money(multiply(quantity, price))


def fee_for(*, notional: Decimal, fee_rate: Decimal) -> Decimal:
    """The fee on a fill: rate x notional in quote currency at MONEY places."""
    return quantize_money(multiply(notional, fee_rate))


def paper_market_order(
    *,
    book: PaperBook,
    side: Side,
    quantity: Decimal,
    price: Decimal,
    costs: ExecutionCosts,
) -> PaperResult:
    """Fill a market order now at `price` (the last close) moved by slippage, or reject it."""
    _check_order(side=side, quantity=quantity, price=price, price_field="price")
    fill_price = market_fill_price(side=side, price=price, slippage_bps=costs.slippage_bps)
    notional = notional_for(quantity=quantity, price=fill_price)
    fee = fee_for(notional=notional, fee_rate=costs.fee_rate)
    return paper_fill_apply(
        book=book, side=side, quantity=quantity, price=fill_price, notional=notional, fee=fee
    )


def paper_fill_apply(
    *,
    book: PaperBook,
    side: Side,
    quantity: Decimal,
    price: Decimal,
    notional: Decimal,
    fee: Decimal,
) -> PaperResult:
    """Apply an already priced fill (a DCA order, say) from free funds, or reject it unchanged."""
    _check_order(side=side, quantity=quantity, price=price, price_field="price")
    if side == BUY:
        cost = notional + fee
        if cost > book.balance.free:
            return _rejected(book, _short_of_funds(cost, book.balance.free))
        balance = replace(book.balance, free=book.balance.free - cost)
        return _buy_filled(book, balance, side, quantity, price, notional, fee)
    if quantity > book.position.free:
        return _rejected(book, _short_of_quantity(quantity, book.position.free))
    return _sell_filled(book, quantity, price, notional, fee, from_locked=False)


def paper_limit_order(
    *,
    book: PaperBook,
    side: Side,
    quantity: Decimal,
    limit_price: Decimal,
    fee_rate: Decimal,
) -> PaperResult:
    """Place a limit order: lock what it will need, or reject it unchanged."""
    _check_order(side=side, quantity=quantity, price=limit_price, price_field="limit_price")
    fee_errors = _costs_errors(fee_rate=fee_rate, slippage_bps=ZERO)
    if fee_errors:
        raise EngineValidationError(errors=fee_errors)
    if side == BUY:
        notional = notional_for(quantity=quantity, price=limit_price)
        lock = notional + fee_for(notional=notional, fee_rate=fee_rate)
        if lock > book.balance.free:
            return _rejected(book, _short_of_funds(lock, book.balance.free))
        balance = Balance(free=book.balance.free - lock, locked=book.balance.locked + lock)
        new_book = replace(book, balance=balance)
    else:
        lock = quantity
        if lock > book.position.free:
            return _rejected(book, _short_of_quantity(quantity, book.position.free))
        new_book = replace(
            book, position=replace(book.position, locked=book.position.locked + lock)
        )
    order = LimitOrder(
        side=side, quantity=quantity, limit_price=limit_price, fee_rate=fee_rate, locked=lock
    )
    return PaperResult(status="open", book=new_book, order=order)


def paper_limit_order_match(*, book: PaperBook, order: LimitOrder, price: Decimal) -> PaperResult:
    """Fill `order` at its limit price if `price` reached it (buy: at/below; sell: at/above)."""
    require_decimal(price, field="price")
    crossed = price <= order.limit_price if order.side == BUY else price >= order.limit_price
    if not crossed:
        return PaperResult(status="open", book=book, order=order)
    notional = notional_for(quantity=order.quantity, price=order.limit_price)
    fee = fee_for(notional=notional, fee_rate=order.fee_rate)
    if order.side == SELL:
        return _sell_filled(
            book, order.quantity, order.limit_price, notional, fee, from_locked=True
        )
    # The lock was computed from the same price and rate, so it pays the fill to the unit.
    balance = Balance(
        free=book.balance.free + order.locked - notional - fee,
        locked=book.balance.locked - order.locked,
    )
    return _buy_filled(book, balance, BUY, order.quantity, order.limit_price, notional, fee)


def paper_order_cancel(*, book: PaperBook, order: LimitOrder) -> PaperResult:
    """Cancel an open limit order and release what it locked."""
    if order.side == BUY:
        balance = Balance(
            free=book.balance.free + order.locked, locked=book.balance.locked - order.locked
        )
        return PaperResult(status="cancelled", book=replace(book, balance=balance))
    position = replace(book.position, locked=book.position.locked - order.locked)
    return PaperResult(status="cancelled", book=replace(book, position=position))


def _costs_errors(*, fee_rate: Decimal, slippage_bps: Decimal) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field, value in (("fee_rate", fee_rate), ("slippage_bps", slippage_bps)):
        try:
            require_decimal(value, field=field)
        except EngineValidationError as error:
            errors.update(error.errors)
    if "fee_rate" not in errors and not ZERO <= fee_rate < ONE:
        errors["fee_rate"] = ["Must be a fraction from 0 up to (not including) 1."]
    if "slippage_bps" not in errors and not ZERO <= slippage_bps < BASIS_POINTS:
        errors["slippage_bps"] = ["Must be from 0 up to (not including) 10000 bps."]
    return errors


def _check_order(*, side: str, quantity: Decimal, price: Decimal, price_field: str) -> None:
    errors: dict[str, list[str]] = {}
    if side not in SIDES:
        errors["side"] = ["Must be buy or sell."]
    try:
        require_decimal(quantity, field="quantity")
        if quantity <= ZERO:
            errors["quantity"] = ["Must be greater than 0."]
        elif decimal_places(quantity) > QUANTITY_PLACES:
            errors["quantity"] = [f"At most {QUANTITY_PLACES} decimal places."]
    except EngineValidationError as error:
        errors.update(error.errors)
    try:
        require_decimal(price, field=price_field)
        if price <= ZERO:
            errors[price_field] = ["Must be greater than 0."]
    except EngineValidationError as error:
        errors.update(error.errors)
    if errors:
        raise EngineValidationError(errors=errors)


def _rejected(book: PaperBook, reason: str) -> PaperResult:
    return PaperResult(status="rejected", book=book, reject_reason=reason)


def _short_of_funds(needed: Decimal, free: Decimal) -> str:
    return (
        f"Insufficient funds: the order needs {display(needed)} including the fee, "
        f"{display(free)} is free."
    )


def _short_of_quantity(ordered: Decimal, free: Decimal) -> str:
    return f"Not enough to sell: {display(free)} is free, {display(ordered)} was ordered."


def _buy_filled(
    book: PaperBook,
    balance: Balance,
    side: Side,
    quantity: Decimal,
    price: Decimal,
    notional: Decimal,
    fee: Decimal,
) -> PaperResult:
    position = replace(
        book.position,
        quantity=book.position.quantity + quantity,
        cost_basis=book.position.cost_basis + notional,
    )
    fill = Fill(side=side, price=price, quantity=quantity, notional=notional, fee=fee)
    return PaperResult(
        status="filled", book=PaperBook(balance=balance, position=position), fill=fill
    )


def _sell_filled(
    book: PaperBook,
    quantity: Decimal,
    price: Decimal,
    notional: Decimal,
    fee: Decimal,
    *,
    from_locked: bool,
) -> PaperResult:
    held = book.position
    if quantity == held.quantity:
        cost_share = held.cost_basis
    else:
        cost_share = quantize_money(divide(multiply(held.cost_basis, quantity), held.quantity))
    realized = notional - cost_share
    position = Position(
        quantity=held.quantity - quantity,
        locked=held.locked - quantity if from_locked else held.locked,
        cost_basis=held.cost_basis - cost_share,
        realized_pnl=held.realized_pnl + realized,
    )
    balance = replace(book.balance, free=book.balance.free + notional - fee)
    fill = Fill(
        side=SELL,
        price=price,
        quantity=quantity,
        notional=notional,
        fee=fee,
        realized_pnl=realized,
    )
    return PaperResult(
        status="filled", book=PaperBook(balance=balance, position=position), fill=fill
    )
