"""Writes of paper trading (SPEC §3, §4 "Paper engine"): accounts, manual orders, limit matching.

The fill rules are the engine's (`bots.engine.paper`); this module makes them durable. Each order
is one `transaction.atomic`: the book (balance, then position) is locked with `book_lock`, the
engine decides, and the order row, the book and the activity-log row are written together.

Decisions (see docs/api.md "Paper trading"):
- A refused order (insufficient funds or quantity, no price yet for a market order) is stored
  with status `rejected` and its reason; the book work runs in a savepoint that is rolled back,
  so not even an empty balance or position row is left behind.
- A limit order whose limit the last close already crosses fills at once at its limit price;
  otherwise it rests `open` with its funds locked until a new price crosses it
  (`limit_orders_match`, called wherever prices arrive) or it is cancelled.
- Reset refuses while a running or paused bot trades on the account; it cancels the account's
  open orders, deletes its positions and puts the balances back to the starting balance (in
  the quote currency; other currencies to zero). Model history keeps the old rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.models import ActivityAction
from audit.services import activity_record, activity_records_failure
from bots.app_settings import app_settings
from bots.engine import (
    EngineValidationError,
    ExecutionCosts,
    LimitOrder,
    PaperResult,
    paper_limit_order,
    paper_limit_order_match,
    paper_market_order,
    paper_order_cancel,
)
from bots.engine.numbers import display
from bots.models import (
    OPEN_ORDER_STATUSES,
    Bot,
    BotStatus,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    PaperAccount,
    PaperBalance,
    PaperPosition,
)
from bots.selectors import instrument_last_price
from bots.services.book import book_lock, book_save, client_order_id_new
from portfolio.models import Instrument
from trading_lab.exceptions import ApplicationError

INVALID = "Invalid input."
ZERO = Decimal(0)
# Bots in these states trade on their account, so a reset would pull the book from under them.
TRADING_BOT_STATUSES = (BotStatus.RUNNING, BotStatus.PAUSED)


def _clean(obj: Any, **kwargs: Any) -> None:
    try:
        obj.full_clean(**kwargs)
    except ValidationError as exc:
        raise ApplicationError(INVALID, exc.message_dict) from exc


def _number(value: Decimal) -> str:
    return display(value)


# ---------------------------------------------------------------------------------------------
# Accounts


def paper_account_create(
    *,
    user,
    name: str,
    quote_currency: str,
    starting_balance: Decimal | None = None,
    request: HttpRequest | None = None,
) -> PaperAccount:
    """A new paper account holding `starting_balance` of its quote currency.

    The user's first account becomes their default one (the account orders use when none is
    named).
    """
    account = PaperAccount(
        user=user,
        name=(name or "").strip(),
        quote_currency=(quote_currency or "").strip().upper(),
        starting_balance=(
            app_settings.default_paper_balance if starting_balance is None else starting_balance
        ),
    )
    _clean(account, exclude=["is_default"], validate_constraints=False)
    if account.starting_balance <= 0:
        raise ApplicationError(INVALID, {"starting_balance": ["Must be greater than zero."]})
    if PaperAccount.objects.for_user(user).filter(name__iexact=account.name).exists():
        raise ApplicationError(INVALID, {"name": ["You already have an account with this name."]})
    try:
        with db_transaction.atomic():
            account.is_default = (
                not PaperAccount.objects.for_user(user).filter(is_default=True).exists()
            )
            account.save()
            PaperBalance.objects.create(
                account=account, currency=account.quote_currency, free=account.starting_balance
            )
            activity_record(
                user=user,
                action=ActivityAction.PAPER_ACCOUNT_CREATED,
                description=(
                    f"Paper account “{account.name}” created with "
                    f"{_number(account.starting_balance)} {account.quote_currency}."
                ),
                details={"account": account.pk},
                request=request,
            )
    except IntegrityError as exc:
        # A concurrent create took the name (or the default flag) first.
        raise ApplicationError(
            INVALID, {"name": ["You already have an account with this name."]}
        ) from exc
    return account


def paper_account_reset(*, account: PaperAccount, request: HttpRequest | None = None) -> int:
    """Back to the starting balance: open orders cancelled, positions deleted, balances reset.

    Refused while a running or paused bot trades on the account. Returns how many open orders
    were cancelled.
    """
    with db_transaction.atomic():
        account = PaperAccount.objects.select_for_update().get(pk=account.pk)
        trading = Bot.objects.filter(account=account, status__in=TRADING_BOT_STATUSES)
        names = list(trading.values_list("name", flat=True)[:3])
        if names:
            raise ApplicationError(
                f"Stop the bots trading on this account first: {', '.join(names)}."
            )
        # Same lock order as book_lock: balances, then positions, then the orders.
        balances = list(PaperBalance.objects.select_for_update().filter(account=account))
        positions = list(PaperPosition.objects.select_for_update().filter(account=account))
        now = timezone.now()
        cancelled = 0
        for order in Order.objects.select_for_update().filter(
            account=account, status__in=OPEN_ORDER_STATUSES
        ):
            order.status = OrderStatus.CANCELLED
            order.cancelled_at = now
            order.save(update_fields=["status", "cancelled_at", "updated_at"])
            cancelled += 1
        for position in positions:
            position.delete()
        quote_balance = None
        for balance in balances:
            target = ZERO
            if balance.currency == account.quote_currency:
                quote_balance, target = balance, account.starting_balance
            if (balance.free, balance.locked) != (target, ZERO):
                balance.free, balance.locked = target, ZERO
                balance.save(update_fields=["free", "locked", "updated_at"])
        if quote_balance is None:
            PaperBalance.objects.create(
                account=account, currency=account.quote_currency, free=account.starting_balance
            )
        activity_record(
            user=account.user,
            action=ActivityAction.PAPER_ACCOUNT_RESET,
            description=(
                f"Paper account “{account.name}” reset to "
                f"{_number(account.starting_balance)} {account.quote_currency}"
                + (f"; {cancelled} open order(s) cancelled." if cancelled else ".")
            ),
            details={"account": account.pk, "orders_cancelled": cancelled},
            request=request,
        )
    return cancelled


# ---------------------------------------------------------------------------------------------
# Orders


@dataclass(frozen=True)
class OrderInput:
    """A manual order as the API and the ticket form give it (instrument already resolved)."""

    instrument: Instrument
    side: str
    order_type: str
    quantity: Decimal
    limit_price: Decimal | None = None
    client_order_id: str | None = None


class _Rejected(Exception):  # noqa: N818 (control flow: rolls the book's savepoint back)
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_input(*, user, account: PaperAccount, data: OrderInput) -> None:
    errors: dict[str, list[str]] = {}
    if account.user_id != user.pk:
        errors["account"] = ["This account does not exist."]
    if not Instrument.objects.visible_to(user).filter(pk=data.instrument.pk).exists():
        errors["symbol"] = ["This instrument does not exist."]
    if data.side not in OrderSide.values:
        errors["side"] = ["Must be buy or sell."]
    if data.order_type not in OrderType.values:
        errors["type"] = ["Must be market or limit."]
    elif data.order_type == OrderType.LIMIT and data.limit_price is None:
        errors["limit_price"] = ["A limit order needs a limit price."]
    elif data.order_type == OrderType.MARKET and data.limit_price is not None:
        errors["limit_price"] = ["A market order takes no limit price."]
    if data.limit_price is not None and data.limit_price <= 0:
        errors["limit_price"] = ["Must be greater than zero."]
    if data.quantity <= 0:
        errors["quantity"] = ["Must be greater than zero."]
    if data.client_order_id is not None:
        if not data.client_order_id.strip() or len(data.client_order_id) > 64:
            errors["client_order_id"] = ["Must be 1 to 64 characters."]
        elif Order.objects.filter(client_order_id=data.client_order_id).exists():
            errors["client_order_id"] = ["An order with this client order id already exists."]
    if errors:
        raise ApplicationError(INVALID, errors)


def _engine_errors(exc: EngineValidationError) -> ApplicationError:
    renamed = {("type" if key == "order_type" else key): value for key, value in exc.errors.items()}
    return ApplicationError(INVALID, renamed)


def _apply_fill(order: Order, result: PaperResult, now) -> None:
    fill = result.fill
    order.status = OrderStatus.FILLED
    order.filled_quantity = fill.quantity
    order.average_fill_price = fill.price
    order.fee = fill.fee
    order.filled_at = now


def _limit_of(order: Order) -> LimitOrder:
    return LimitOrder(
        side=order.side,
        quantity=order.quantity,
        limit_price=order.limit_price,
        fee_rate=order.fee_rate,
        locked=order.locked,
    )


@activity_records_failure(ActivityAction.ORDER_PLACED, "Placing the order")
def order_place(
    *,
    user,
    account: PaperAccount,
    data: OrderInput,
    request: HttpRequest | None = None,
) -> Order:
    """Place a manual order on one of the user's paper accounts; the order row is returned.

    Market orders fill now at the last close moved by slippage; limit orders lock their funds
    (and fill at once if the last close already crosses the limit). A refused order is stored
    `rejected` with its reason and changes no balance or position. Bad input raises
    ApplicationError with field errors and stores nothing.
    """
    _check_input(user=user, account=account, data=data)
    costs = app_settings.execution_costs()
    order = Order(
        user=user,
        account=account,
        client_order_id=data.client_order_id or client_order_id_new(),
        instrument=data.instrument,
        side=data.side,
        order_type=data.order_type,
        quantity=data.quantity,
        limit_price=data.limit_price if data.order_type == OrderType.LIMIT else None,
        fee_rate=costs.fee_rate,
    )
    try:
        order.full_clean(exclude=["user", "account", "instrument"], validate_constraints=False)
    except ValidationError as exc:
        renamed = {
            ("type" if key == "order_type" else key): value
            for key, value in exc.message_dict.items()
        }
        raise ApplicationError(INVALID, renamed) from exc
    try:
        with db_transaction.atomic():
            try:
                with db_transaction.atomic():
                    _place_on_book(order, costs)
            except _Rejected as rejected:
                order.status = OrderStatus.REJECTED
                order.reject_reason = rejected.reason
                order.locked = ZERO
                order.save()
            activity_record(
                user=user,
                action=ActivityAction.ORDER_PLACED,
                description=_order_summary(order),
                details={"order": order.pk, "status": order.status},
                request=request,
            )
    except EngineValidationError as exc:
        raise _engine_errors(exc) from exc
    except IntegrityError as exc:
        if Order.objects.filter(client_order_id=order.client_order_id).exists():
            raise ApplicationError(
                INVALID,
                {"client_order_id": ["An order with this client order id already exists."]},
            ) from exc
        raise
    return order


def _place_on_book(order: Order, costs: ExecutionCosts) -> None:
    """Decide and write one order against its locked book (inside the caller's savepoint)."""
    now = timezone.now()
    last = instrument_last_price(instrument=order.instrument)
    if order.order_type == OrderType.MARKET and last is None:
        raise _Rejected(f"No price for {order.instrument.symbol} yet: a market order needs one.")
    locked = book_lock(account=order.account, instrument=order.instrument)
    if order.order_type == OrderType.MARKET:
        result = paper_market_order(
            book=locked.book,
            side=order.side,
            quantity=order.quantity,
            price=last[0],
            costs=costs,
        )
    else:
        result = paper_limit_order(
            book=locked.book,
            side=order.side,
            quantity=order.quantity,
            limit_price=order.limit_price,
            fee_rate=costs.fee_rate,
        )
    if result.status == "rejected":
        raise _Rejected(result.reject_reason or "Rejected.")
    if result.status == "filled":
        _apply_fill(order, result, now)
    else:
        order.status = OrderStatus.OPEN
        order.locked = result.order.locked
        if last is not None:
            matched = paper_limit_order_match(book=result.book, order=result.order, price=last[0])
            if matched.status == "filled":
                result = matched
                _apply_fill(order, result, now)
    order.save()
    book_save(locked=locked, book=result.book)


@activity_records_failure(ActivityAction.ORDER_CANCELLED, "Cancelling the order")
def order_cancel(*, order: Order, request: HttpRequest | None = None) -> Order:
    """Cancel an open order and release what it locked; anything else is refused."""
    with db_transaction.atomic():
        locked = book_lock(account=order.account, instrument=order.instrument)
        order = Order.objects.select_for_update().select_related("instrument").get(pk=order.pk)
        if order.status not in OPEN_ORDER_STATUSES:
            raise ApplicationError(
                f"Only open orders can be cancelled; this one is {order.get_status_display()}."
            )
        if order.order_type == OrderType.LIMIT and order.locked:
            result = paper_order_cancel(book=locked.book, order=_limit_of(order))
            book_save(locked=locked, book=result.book)
        order.status = OrderStatus.CANCELLED
        order.cancelled_at = timezone.now()
        order.save(update_fields=["status", "cancelled_at", "updated_at"])
        activity_record(
            user=order.user,
            action=ActivityAction.ORDER_CANCELLED,
            description=f"Cancelled: {_order_summary(order)}",
            details={"order": order.pk},
            request=request,
        )
    return order


def limit_orders_match(*, instrument_ids: list[int] | set[int]) -> int:
    """Fill the open limit orders of these instruments whose limit their last close crosses.

    Called where prices arrive (portfolio.services.market), inside the arriving transaction;
    each fill locks its book like any order. Returns how many orders filled.
    """
    ids = list(instrument_ids)
    if not ids:
        return 0
    candidates = (
        Order.objects.filter(
            instrument_id__in=ids, order_type=OrderType.LIMIT, status=OrderStatus.OPEN
        )
        .select_related("account", "instrument")
        .order_by("created_at", "id")
    )
    prices: dict[int, Decimal | None] = {}
    filled = 0
    for candidate in candidates:
        if candidate.instrument_id not in prices:
            last = instrument_last_price(instrument=candidate.instrument_id)
            prices[candidate.instrument_id] = last[0] if last else None
        price = prices[candidate.instrument_id]
        if price is None or not _crosses(candidate, price):
            continue
        if _limit_order_fill(order=candidate, price=price):
            filled += 1
    return filled


def _crosses(order: Order, price: Decimal) -> bool:
    if order.side == OrderSide.BUY:
        return price <= order.limit_price
    return price >= order.limit_price


def _limit_order_fill(*, order: Order, price: Decimal) -> bool:
    with db_transaction.atomic():
        locked = book_lock(account=order.account, instrument=order.instrument)
        order = Order.objects.select_for_update().select_related("instrument").get(pk=order.pk)
        if order.status != OrderStatus.OPEN:
            return False
        result = paper_limit_order_match(book=locked.book, order=_limit_of(order), price=price)
        if result.status != "filled":
            return False
        _apply_fill(order, result, timezone.now())
        order.save()
        book_save(locked=locked, book=result.book)
    return True


def _order_summary(order: Order) -> str:
    what = f"{order.get_side_display()} {_number(order.quantity)} {order.instrument.symbol}"
    if order.order_type == OrderType.LIMIT:
        what += f" limit {_number(order.limit_price)}"
    else:
        what += " at market"
    if order.status == OrderStatus.FILLED:
        return f"{what}: filled at {_number(order.average_fill_price)}."
    if order.status == OrderStatus.REJECTED:
        return f"{what}: rejected. {order.reject_reason}"
    return f"{what}: {order.get_status_display().lower()}."
