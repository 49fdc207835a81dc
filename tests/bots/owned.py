"""Makers of one user's bots-area rows for the ownership walker (tests/test_ownership.py).

Each takes the user and the walker's `Seed` (`seed.mark(what)` makes text recognisable as
theirs) and returns one more row of its model. The areas' own services replace the direct
inserts where a service exists, so a seeded row looks like a real one.
"""

import itertools
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from bots.models import (
    Backtest,
    Bot,
    BotEquityPoint,
    BotRun,
    BotTick,
    Deal,
    IdempotencyRecord,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    PaperAccount,
    PaperBalance,
    PaperPosition,
    SignalValidation,
)
from bots.services import OrderInput, order_place
from portfolio.models import Instrument
from tests.bots import backtest_owned

_serial = itertools.count(1)

DCA_CONFIG = {
    "base_order_size": "100",
    "safety_order_size": "200",
    "max_safety_orders": 3,
    "price_deviation_pct": "1",
    "safety_order_step_scale": "1.5",
    "safety_order_volume_scale": "2",
    "take_profit_pct": "1.5",
    "stop_loss_pct": None,
    "cooldown_seconds": 0,
}


def _instrument(user, seed) -> Instrument:
    serial = next(_serial)
    return Instrument.objects.create(
        symbol=f"BOT{serial}",
        owner=user,
        currency="USD",
        name=seed.mark(f"bot-instrument-{serial}"),
    )


def paper_account(user, seed) -> PaperAccount:
    account = PaperAccount.objects.create(
        user=user,
        name=f"{seed.mark('paper')}-{next(_serial)}",
        quote_currency="USD",
        starting_balance=Decimal(10_000),
    )
    PaperBalance.objects.create(account=account, currency="USD", free=Decimal(10_000))
    return account


def paper_balance(user, seed) -> PaperBalance:
    return PaperBalance.objects.get(account=paper_account(user, seed), currency="USD")


def paper_position(user, seed) -> PaperPosition:
    return PaperPosition.objects.create(
        account=paper_account(user, seed),
        instrument=_instrument(user, seed),
        quantity=Decimal(2),
        cost_basis=Decimal(200),
    )


def bot(user, seed) -> Bot:
    return Bot.objects.create(
        user=user,
        name=f"{seed.mark('bot')}-{next(_serial)}",
        account=paper_account(user, seed),
        instrument=_instrument(user, seed),
        config=DCA_CONFIG,
        required_capital=Decimal(1500),
    )


def bot_run(user, seed) -> BotRun:
    return BotRun.objects.create(
        bot=bot(user, seed),
        status="stopped",
        started_at=timezone.now() - timedelta(days=2),
        ended_at=timezone.now() - timedelta(days=1),
        error=seed.mark("run"),
    )


def bot_equity_point(user, seed) -> BotEquityPoint:
    run = bot_run(user, seed)
    return BotEquityPoint.objects.create(run=run, time=run.started_at, equity=Decimal(1500))


def bot_tick(user, seed) -> BotTick:
    run = bot_run(user, seed)
    return BotTick.objects.create(
        bot=run.bot,
        run=run,
        scheduled_at=run.started_at,
        executed_at=run.started_at,
        price=Decimal(100),
        message=seed.mark("tick"),
    )


def deal(user, seed) -> Deal:
    run = bot_run(user, seed)
    return Deal.objects.create(
        bot=run.bot,
        run=run,
        number=1,
        opened_at=run.started_at,
        base_price=Decimal(100),
        quantity=Decimal(1),
        quote_spent=Decimal(100),
    )


def order(user, seed) -> Order:
    position = paper_position(user, seed)
    return Order.objects.create(
        user=user,
        account=position.account,
        client_order_id=f"{seed.mark('order')}-{next(_serial)}"[-64:],
        instrument=position.instrument,
        side=OrderSide.BUY,
        order_type=OrderType.MARKET,
        quantity=Decimal(2),
        status=OrderStatus.FILLED,
        filled_quantity=Decimal(2),
        average_fill_price=Decimal(100),
        filled_at=timezone.now(),
    )


def idempotency_record(user, seed) -> IdempotencyRecord:
    return IdempotencyRecord.objects.create(
        user=user,
        scope="orders.create",
        key=f"{seed.mark('idempotency')}-{next(_serial)}",
        request_hash="0" * 64,
        response_status=201,
        response_body={"note": seed.mark("idempotent-answer")},
    )


def backtest(user, seed) -> Backtest:
    """A finished backtest, run through the service and the job task."""
    return backtest_owned.backtest(user, seed)


def signal_validation(user, seed) -> SignalValidation:
    return backtest_owned.signal_validation(user, seed)


BOTS_FACTORIES: dict[str, Callable] = {
    "bots.PaperAccount": paper_account,
    "bots.PaperBalance": paper_balance,
    "bots.PaperPosition": paper_position,
    "bots.Bot": bot,
    "bots.BotRun": bot_run,
    "bots.BotEquityPoint": bot_equity_point,
    "bots.BotTick": bot_tick,
    "bots.Deal": deal,
    "bots.Order": order,
    "bots.IdempotencyRecord": idempotency_record,
    "bots.Backtest": backtest,
    "bots.SignalValidation": signal_validation,
}


# --- paper trading routes (tests/test_ownership.py REGISTRY) -----------------------------------


def open_order(user, seed) -> Order:
    """An open limit order placed through the service, so the owner can cancel it."""
    account = paper_account(user, seed)
    return order_place(
        user=user,
        account=account,
        data=OrderInput(
            instrument=_instrument(user, seed),
            side=OrderSide.BUY,
            order_type=OrderType.LIMIT,
            quantity=Decimal(1),
            limit_price=Decimal(1),
            client_order_id=f"{seed.mark('open-order')}-{next(_serial)}"[-64:],
        ),
    )


def order_body(account: PaperAccount) -> dict:
    """An order body the API accepts for `account` (if it is the caller's): a small limit buy
    of the account owner's private instrument."""
    instrument = Instrument.objects.filter(owner=account.user).earliest("pk")
    return {
        "account": account.pk,
        "symbol": instrument.symbol,
        "exchange": instrument.exchange,
        "side": "buy",
        "type": "limit",
        "quantity": "1",
        "limit_price": "1",
    }


def ticket_body(account: PaperAccount) -> dict:
    """The paper page's order ticket for `account`, with a fresh idempotency key each time."""
    body = {key: value for key, value in order_body(account).items() if key != "account"}
    return body | {"idempotency_key": f"walk-{next(_serial)}"}
