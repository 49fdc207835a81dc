"""Writes of bots: create, update, delete, and the lifecycle start → pause/resume → stop.

Rules (docs in the module's functions):
- the config is validated by the engine (`parse_dca_config`); its errors come back as
  `config.<field>` field errors, and it is stored normalized (`DcaConfig.as_json`);
- required capital is the engine's (base order + every safety order + their fees at the paper
  fee rate); a bot whose required capital exceeds the account's free balance in the instrument's
  currency is refused (an `account` field error), at create, update and start;
- only a stopped bot's settings change (its name may change any time): the open deal's ladder
  and the run's allocated capital come from them;
- a wrong state (start a running bot, pause a stopped one...) raises `BotStateError`, which the
  API answers with 409 and pages show as an error message.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from audit.models import ActivityAction
from audit.services import activity_record, activity_records_failure
from bots.app_settings import app_settings
from bots.engine import (
    DcaConfig,
    DcaOrder,
    DcaState,
    DealResult,
    EngineValidationError,
    SafetyOrder,
    equity_curve_metrics,
    parse_dca_config,
    required_capital,
    safety_ladder,
)
from bots.engine.numbers import HUNDRED, ONE, display
from bots.engine.paper import SELL, fee_for, market_fill_price, notional_for
from bots.models import (
    Bot,
    BotEquityPoint,
    BotInterval,
    BotRun,
    BotStatus,
    BotType,
    Deal,
    DealExit,
    Order,
    OrderStatus,
    OrderType,
    PaperAccount,
    PaperBalance,
    RunStatus,
)
from bots.selectors import instrument_last_price
from bots.services.book import book_lock
from bots.services.runner import (
    bot_costs,
    bot_open_run,
    dca_state_from_json,
    dca_state_to_json,
    deal_close,
    equity_sample,
    orders_apply,
    run_realized_pnl,
)
from portfolio.models import Instrument
from trading_lab.exceptions import ApplicationError

INVALID = "Invalid input."
SETTINGS_FIELDS = (
    "account",
    "instrument",
    "interval",
    "config",
    "max_position_size",
    "risk_per_trade",
)
BOT_FIELDS = ("name", *SETTINGS_FIELDS)


class BotStateError(ApplicationError):
    """The action does not apply to the bot in its current status (the API answers 409)."""


# ---------------------------------------------------------------------------------------------
# Config, capital and the ladder preview


def bot_config_parse(*, data: Any) -> DcaConfig:
    """The engine's validated config, or ApplicationError with `config.<field>` errors."""
    if not isinstance(data, dict):
        raise ApplicationError(INVALID, {"config": ["Must be an object of DCA settings."]})
    try:
        return parse_dca_config(data=data)
    except EngineValidationError as exc:
        raise ApplicationError(
            INVALID, {f"config.{field}": messages for field, messages in exc.errors.items()}
        ) from exc


def account_free_balance(*, account: PaperAccount, currency: str) -> Decimal:
    """What the account has free to spend in `currency` (0 when it never held it)."""
    balance = PaperBalance.objects.filter(account=account, currency=currency).first()
    return balance.free if balance is not None else Decimal(0)


@dataclass(frozen=True)
class LadderLevel:
    """One row of a deal's ladder: the base order (number 0) or a safety order."""

    number: int
    kind: str
    deviation_pct: Decimal
    trigger_price: Decimal
    size: Decimal
    total_size: Decimal


@dataclass(frozen=True)
class BotPreview:
    """What a config implies: the ladder at `base_price`, the capital, and whether it fits."""

    config: DcaConfig
    base_price: Decimal
    price_date: Any
    levels: list[LadderLevel]
    required_capital: Decimal
    currency: str
    free_balance: Decimal | None
    fits: bool | None


def bot_ladder(*, config: DcaConfig, base_price: Decimal) -> list[LadderLevel]:
    """The base order and every safety order of a deal opened at `base_price`."""
    levels = [
        LadderLevel(
            number=0,
            kind="base",
            deviation_pct=Decimal(0),
            trigger_price=base_price,
            size=config.base_order_size,
            total_size=config.base_order_size,
        )
    ]
    total = config.base_order_size
    order: SafetyOrder
    for order in safety_ladder(config=config, base_price=base_price):
        total += order.size
        deviation = (ONE - order.trigger_price / base_price) * HUNDRED
        levels.append(
            LadderLevel(
                number=order.number,
                kind=f"safety_{order.number}",
                deviation_pct=deviation.quantize(Decimal("0.0001")),
                trigger_price=order.trigger_price,
                size=order.size,
                total_size=total,
            )
        )
    return levels


def bot_preview(
    *,
    user: User,
    config_data: Any,
    account: PaperAccount | None = None,
    instrument: Instrument | None = None,
    base_price: Decimal | None = None,
) -> BotPreview:
    """Validate a config and describe it (used by the bot form as the user types)."""
    config = bot_config_parse(data=config_data)
    if account is not None and account.user_id != user.pk:
        raise ApplicationError(INVALID, {"account": ["This account does not exist."]})
    if instrument is not None:
        _check_visible(user, instrument)
    price_date = None
    if base_price is None and instrument is not None:
        quote = instrument_last_price(instrument=instrument)
        if quote is not None:
            base_price, price_date = quote
    if base_price is None or base_price <= 0:
        base_price = Decimal(100)
    currency = (
        instrument.currency
        if instrument is not None
        else (
            account.quote_currency if account is not None else app_settings.default_paper_currency
        )
    )
    needed = required_capital(config=config, fee_rate=app_settings.fee_rate)
    free = account_free_balance(account=account, currency=currency) if account else None
    return BotPreview(
        config=config,
        base_price=base_price,
        price_date=price_date,
        levels=bot_ladder(config=config, base_price=base_price),
        required_capital=needed,
        currency=currency,
        free_balance=free,
        fits=None if free is None else needed <= free,
    )


# ---------------------------------------------------------------------------------------------
# Create, update, delete


def _check_visible(user: User, instrument: Instrument) -> None:
    if not Instrument.objects.visible_to(user).filter(pk=instrument.pk).exists():
        raise ApplicationError(INVALID, {"instrument": ["This instrument does not exist."]})


def _check_capital(bot: Bot, config: DcaConfig) -> Decimal:
    needed = required_capital(config=config, fee_rate=app_settings.fee_rate)
    currency = bot.instrument.currency
    free = account_free_balance(account=bot.account, currency=currency)
    if needed > free:
        message = (
            f"The bot needs {display(needed)} {currency} including fees (base order plus every "
            f"safety order); the account has only {display(free)} {currency} free."
        )
        raise ApplicationError(message, {"account": [message]})
    if bot.max_position_size is not None and needed > bot.max_position_size:
        message = (
            f"A full deal needs {display(needed)} {currency}, more than the maximum position "
            f"size of {display(bot.max_position_size)}."
        )
        raise ApplicationError(message, {"max_position_size": [message]})
    return needed


def _validate(bot: Bot) -> None:
    errors: dict[str, list[str]] = {}
    name = (bot.name or "").strip()
    if not name:
        errors["name"] = ["This field is required."]
    elif Bot.objects.filter(user_id=bot.user_id, name=name).exclude(pk=bot.pk).exists():
        errors["name"] = ["You already have a bot with this name."]
    if bot.bot_type not in BotType.values:
        errors["bot_type"] = ["Unknown bot type."]
    if bot.interval not in BotInterval.values:
        errors["interval"] = [f"Must be one of {', '.join(BotInterval.values)}."]
    if bot.account.user_id != bot.user_id:
        errors["account"] = ["This account does not exist."]
    if bot.max_position_size is not None and bot.max_position_size <= 0:
        errors["max_position_size"] = ["Must be greater than 0."]
    if bot.risk_per_trade is not None and not 0 < bot.risk_per_trade <= 100:
        errors["risk_per_trade"] = ["Must be greater than 0 and at most 100 (percent)."]
    if errors:
        raise ApplicationError(INVALID, errors)
    bot.name = name
    _check_visible(bot.user, bot.instrument)


def bot_create(
    *,
    user: User,
    name: str,
    account: PaperAccount,
    instrument: Instrument,
    config: Any,
    interval: str = BotInterval.H1,
    bot_type: str = BotType.DCA,
    max_position_size: Decimal | None = None,
    risk_per_trade: Decimal | None = None,
    request: HttpRequest | None = None,
) -> Bot:
    """Create a stopped bot on one of the user's paper accounts and a visible instrument."""
    parsed = bot_config_parse(data=config)
    bot = Bot(
        user=user,
        name=name,
        bot_type=bot_type,
        account=account,
        instrument=instrument,
        interval=interval,
        config=parsed.as_json(),
        max_position_size=max_position_size,
        risk_per_trade=risk_per_trade,
    )
    _validate(bot)
    with transaction.atomic():
        bot.required_capital = _check_capital(bot, parsed)
        bot.save()
        activity_record(
            user=user,
            action=ActivityAction.BOT_CREATED,
            description=f"Bot {bot.name} created on {instrument}.",
            details={"bot": bot.pk},
            request=request,
        )
    return bot


def bot_update(*, bot: Bot, data: dict[str, Any], request: HttpRequest | None = None) -> Bot:
    """Change a bot's name (any time) or settings (only while it is stopped)."""
    with transaction.atomic():
        bot = (
            Bot.objects.select_for_update(of=("self",))
            .select_related("account", "instrument", "user")
            .get(pk=bot.pk)
        )
        parsed = None
        if "config" in data:
            parsed = bot_config_parse(data=data["config"])
            data = {**data, "config": parsed.as_json()}
        changed = [name for name in BOT_FIELDS if name in data and getattr(bot, name) != data[name]]
        settings_changed = [name for name in changed if name in SETTINGS_FIELDS]
        if settings_changed and bot.status != BotStatus.STOPPED:
            raise BotStateError(
                "Stop the bot before changing its settings; only its name can change now.",
                {name: ["Only a stopped bot's settings can change."] for name in settings_changed},
            )
        for name in changed:
            setattr(bot, name, data[name])
        _validate(bot)
        if settings_changed:
            bot.required_capital = _check_capital(bot, parsed or bot_config_parse(data=bot.config))
        if changed:
            bot.save()
        activity_record(
            user=bot.user,
            action=ActivityAction.BOT_UPDATED,
            description=f"Bot {bot.name} updated.",
            details={"bot": bot.pk, "changed": changed},
            request=request,
        )
    return bot


def bot_delete(*, bot: Bot, request: HttpRequest | None = None) -> None:
    """Delete a stopped bot with its runs, deals and ticks; its orders stay in the account."""
    with transaction.atomic():
        bot = Bot.objects.select_for_update(of=("self",)).select_related("user").get(pk=bot.pk)
        if bot.status != BotStatus.STOPPED:
            raise BotStateError(f"Stop the bot before deleting it; it is {bot.status}.")
        pk, name, user = bot.pk, bot.name, bot.user
        bot.delete()
        activity_record(
            user=user,
            action=ActivityAction.BOT_DELETED,
            description=f"Bot {name} deleted.",
            details={"bot": pk},
            request=request,
        )


# ---------------------------------------------------------------------------------------------
# Lifecycle


def _locked(bot: Bot) -> Bot:
    return (
        Bot.objects.select_for_update(of=("self",))
        .select_related("account", "instrument", "user")
        .get(pk=bot.pk)
    )


def _refuse(bot: Bot, action: str, allowed: tuple[str, ...]) -> None:
    if bot.status not in allowed:
        raise BotStateError(
            f"A {bot.get_status_display().lower()} bot cannot be {action}.",
            {"status": [f"Needs a bot that is {' or '.join(allowed)}; this one is {bot.status}."]},
        )


@activity_records_failure(ActivityAction.BOT_STARTED, "Starting the bot")
def bot_start(
    *, bot: Bot, request: HttpRequest | None = None, now: datetime | None = None
) -> BotRun:
    """Open a run with the required capital allocated; the first tick is due at once."""
    now = now or timezone.now()
    with transaction.atomic():
        bot = _locked(bot)
        _refuse(bot, "started", (BotStatus.STOPPED,))
        needed = _check_capital(bot, bot_config_parse(data=bot.config))
        run = BotRun.objects.create(
            bot=bot, status=RunStatus.RUNNING, started_at=now, allocated_capital=needed
        )
        BotEquityPoint.objects.create(run=run, time=now, equity=needed)
        bot.status = BotStatus.RUNNING
        bot.next_run_at = now
        bot.required_capital = needed
        bot.error = ""
        bot.save(update_fields=["status", "next_run_at", "required_capital", "error", "updated_at"])
        activity_record(
            user=bot.user,
            action=ActivityAction.BOT_STARTED,
            description=f"Bot {bot.name} started with {display(needed)} allocated.",
            details={"bot": bot.pk, "run": run.pk},
            request=request,
        )
    return run


def _set_status(bot: Bot, run: BotRun | None, status: str, next_run_at: datetime | None) -> None:
    bot.status = status
    bot.next_run_at = next_run_at
    bot.save(update_fields=["status", "next_run_at", "updated_at"])
    if run is not None:
        run.status = status
        run.save(update_fields=["status", "updated_at"])


@activity_records_failure(ActivityAction.BOT_PAUSED, "Pausing the bot")
def bot_pause(*, bot: Bot, request: HttpRequest | None = None) -> Bot:
    """Stop scheduling a running bot's ticks; its open deal stays open."""
    with transaction.atomic():
        bot = _locked(bot)
        _refuse(bot, "paused", (BotStatus.RUNNING,))
        _set_status(bot, bot_open_run(bot), BotStatus.PAUSED, None)
        activity_record(
            user=bot.user,
            action=ActivityAction.BOT_PAUSED,
            description=f"Bot {bot.name} paused.",
            details={"bot": bot.pk},
            request=request,
        )
    return bot


@activity_records_failure(ActivityAction.BOT_RESUMED, "Resuming the bot")
def bot_resume(*, bot: Bot, request: HttpRequest | None = None, now: datetime | None = None) -> Bot:
    """Schedule a paused bot again; its next tick is due at once."""
    with transaction.atomic():
        bot = _locked(bot)
        _refuse(bot, "resumed", (BotStatus.PAUSED,))
        _set_status(bot, bot_open_run(bot), BotStatus.RUNNING, now or timezone.now())
        activity_record(
            user=bot.user,
            action=ActivityAction.BOT_RESUMED,
            description=f"Bot {bot.name} resumed.",
            details={"bot": bot.pk},
            request=request,
        )
    return bot


@activity_records_failure(ActivityAction.BOT_STOPPED, "Stopping the bot")
def bot_stop(
    *, bot: Bot, request: HttpRequest | None = None, now: datetime | None = None
) -> BotRun | None:
    """Close the open deal at market, then close the run with its metrics.

    Works from running, paused and error. Refused (nothing changes) when a deal is open and the
    instrument has no price to close it at.
    """
    now = now or timezone.now()
    with transaction.atomic():
        bot = _locked(bot)
        _refuse(bot, "stopped", (BotStatus.RUNNING, BotStatus.PAUSED, BotStatus.ERROR))
        run = bot_open_run(bot)
        state = dca_state_from_json(bot.state)
        price = None
        quote = instrument_last_price(instrument=bot.instrument_id)
        if quote is not None:
            price = quote[0]
        if state.deal is not None:
            if price is None:
                raise ApplicationError(
                    "The open deal cannot be closed: the instrument has no price yet."
                )
            state = _close_deal_at_market(bot, run, state, price, now)
            bot.state = dca_state_to_json(state)
        if run is not None:
            _run_close(run, state, price, now)
        bot.status = BotStatus.STOPPED
        bot.next_run_at = None
        bot.save(update_fields=["status", "next_run_at", "state", "updated_at"])
        activity_record(
            user=bot.user,
            action=ActivityAction.BOT_STOPPED,
            description=f"Bot {bot.name} stopped.",
            details={"bot": bot.pk, "run": run.pk if run else None},
            request=request,
        )
    return run


def _close_deal_at_market(
    bot: Bot, run: BotRun | None, state: DcaState, price: Decimal, now: datetime
) -> DcaState:
    deal = state.deal
    costs = bot_costs()
    fill_price = market_fill_price(side=SELL, price=price, slippage_bps=costs.slippage_bps)
    notional = notional_for(quantity=deal.quantity, price=fill_price)
    fee = fee_for(notional=notional, fee_rate=costs.fee_rate)
    order = DcaOrder(
        deal=deal.number,
        kind=DealExit.BOT_STOPPED,
        side=SELL,
        order_type=OrderType.MARKET,
        price=fill_price,
        quantity=deal.quantity,
        notional=notional,
        fee=fee,
        time=now,
    )
    row = Deal.objects.filter(bot=bot, number=deal.number).first()
    locked = book_lock(account=bot.account, instrument=bot.instrument)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    orders_apply(
        bot=bot,
        run=run,
        tick=None,
        deal=row,
        locked=locked,
        orders=(order,),
        key=now,
        id_prefix=f"bot{bot.pk}-{stamp}-stop",
    )
    fees = deal.fees + fee
    result = DealResult(
        number=deal.number,
        opened_at=deal.opened_at,
        closed_at=now,
        exit_kind=DealExit.BOT_STOPPED,
        safety_orders_filled=deal.safety_orders_filled,
        quantity=deal.quantity,
        quote_spent=deal.quote_spent,
        proceeds=notional,
        fees=fees,
        pnl=notional - deal.quote_spent - fees,
    )
    if row is not None:
        deal_close(row, DealExit.BOT_STOPPED, result)
    return DcaState(deal=None, deals_opened=state.deals_opened, last_closed_at=now)


def _run_close(run: BotRun, state: DcaState, price: Decimal | None, now: datetime) -> None:
    """End the run: equity at stop, then total trades, P&L, max drawdown and Sharpe."""
    run.total_pnl = run_realized_pnl(run)
    equity_sample(run=run, state=state, price=price, time=now, at_stop=True)
    values = list(
        BotEquityPoint.objects.filter(run=run).order_by("time").values_list("equity", flat=True)
    )
    metrics = equity_curve_metrics(values=values)
    run.total_trades = Order.objects.filter(run=run, status=OrderStatus.FILLED).count()
    run.max_drawdown = metrics.max_drawdown
    run.sharpe_ratio = metrics.sharpe
    if run.status != RunStatus.ERROR:
        run.status = RunStatus.STOPPED
    run.ended_at = now
    run.save()
