"""The bot runner (SPEC §5): the scheduler enqueues due ticks, the worker runs each exactly once.

Scheduler side (`bot_ticks_enqueue_due`, called from every scheduler pass): for each running bot
whose `next_run_at` has come, in its own transaction, lock the bot row (SKIP LOCKED, so a second
scheduler moves on to other bots), enqueue the tick task for (bot, scheduled_at=next_run_at) and
move `next_run_at` to the first interval slot after now. Slots that passed while nothing ran are
skipped, not replayed. With the database task backend the enqueue commits with the move.

Worker side (`bot_tick_run`): one transaction per tick. Lock the bot row, then insert the tick row
(bot, scheduled_at): unique, so a duplicate delivery, a retry after a crash or a second worker
finds it and does nothing. The strategy (`bots.engine.dca_on_tick`) reads the bot's persisted
state and the instrument's last close; every order it fills goes through the paper book
(`book_lock`/`book_save`) with its Order row, deal row, the new state and the run's equity sample,
all committed together or not at all. A kill at any moment leaves either the whole tick or none.

Runner bookkeeping (`next_run_at`, `last_tick_at`) and the strategy state are written with
`QuerySet.update()`: they move on every tick, model history leaves them out (audit/history.py) and
the tick rows are their record. Everything else a tick decides (orders, balances, positions,
deals, run totals) is written once, after the strategy decided, with the history entries auditlog
would have written, all inserted in one statement at the end of the tick (`HistoryBatch`).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, router, transaction
from django.db.models import Sum
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from bots.app_settings import app_settings
from bots.engine import (
    DcaConfig,
    DcaDeal,
    DcaOrder,
    DcaState,
    ExecutionCosts,
    PaperBook,
    dca_equity,
    dca_on_tick,
    paper_fill_apply,
    parse_dca_config,
)
from bots.engine.numbers import json_value
from bots.models import (
    Bot,
    BotEquityPoint,
    BotRun,
    BotStatus,
    BotTick,
    Deal,
    DealStatus,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    RunStatus,
    TickStatus,
)
from bots.selectors import instrument_last_price
from bots.services.book import LockedBook, book_lock, book_save
from bots.services.history import HistoryBatch, history_snapshot
from trading_lab.prepared import PreparedInsert, PreparedRead, PreparedUpdate

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZERO = Decimal(0)
ERROR_MAX = 2000


class TickError(Exception):
    """The book refused an order the strategy had cleared: the bot cannot go on safely."""


# ---------------------------------------------------------------------------------------------
# Slots and the strategy's state


def bot_interval(*, interval: str) -> timedelta:
    """The length of one tick of `interval` (`BOTS_INTERVAL_SECONDS` may shorten it in tests)."""
    return timedelta(seconds=app_settings.interval_seconds(interval))


def bot_next_slot(*, interval: str, after: datetime) -> datetime:
    """The first interval boundary strictly after `after` (slots are aligned to the epoch)."""
    step = bot_interval(interval=interval)
    return EPOCH + ((after - EPOCH) // step + 1) * step


def ticks_missed(*, interval: str, previous: datetime, current: datetime) -> int:
    """How many slots lie strictly between two ticks' slots (0 when they are consecutive)."""
    step = bot_interval(interval=interval)
    return max(0, (current - EPOCH) // step - (previous - EPOCH) // step - 1)


def dca_state_to_json(state: DcaState) -> dict[str, Any]:
    """The strategy state as the JSON the Bot row stores (Decimals as strings)."""
    deal = state.deal
    return {
        "deals_opened": state.deals_opened,
        "last_closed_at": json_value(state.last_closed_at),
        "deal": None
        if deal is None
        else {
            "number": deal.number,
            "opened_at": json_value(deal.opened_at),
            "base_price": json_value(deal.base_price),
            "quantity": json_value(deal.quantity),
            "quote_spent": json_value(deal.quote_spent),
            "fees": json_value(deal.fees),
            "safety_orders_filled": deal.safety_orders_filled,
            "safety_orders_cancelled": deal.safety_orders_cancelled,
        },
    }


def dca_state_from_json(data: dict[str, Any] | None) -> DcaState:
    """The strategy state back from `dca_state_to_json` (an empty dict is a fresh bot)."""
    data = data or {}
    raw = data.get("deal")
    deal = None
    if raw:
        deal = DcaDeal(
            number=int(raw["number"]),
            opened_at=datetime.fromisoformat(raw["opened_at"]),
            base_price=Decimal(raw["base_price"]),
            quantity=Decimal(raw["quantity"]),
            quote_spent=Decimal(raw["quote_spent"]),
            fees=Decimal(raw["fees"]),
            safety_orders_filled=int(raw.get("safety_orders_filled", 0)),
            safety_orders_cancelled=bool(raw.get("safety_orders_cancelled", False)),
        )
    closed = data.get("last_closed_at")
    return DcaState(
        deal=deal,
        deals_opened=int(data.get("deals_opened", 0)),
        last_closed_at=datetime.fromisoformat(closed) if closed else None,
    )


# The tick's hot reads, compiled once per connection (trading_lab/prepared.py): on SQLite,
# building and compiling these reads cost the tick more than running them.
_BOT_LOCK = PreparedRead(
    lambda bot: (
        Bot.objects.select_for_update(of=("self",))
        .select_related("account", "instrument")
        .filter(pk=bot)
        .order_by()[:1]
    ),
    bot=int,
)
_LATEST_TICK = PreparedRead(
    lambda bot: (
        BotTick.objects.filter(bot=bot)
        .order_by("-scheduled_at")
        .values_list("scheduled_at", "run_id")[:1]
    ),
    bot=int,
)
_OPEN_RUN = PreparedRead(
    lambda bot: BotRun.objects.filter(bot=bot, ended_at__isnull=True).order_by()[:1], bot=int
)
_DEAL = PreparedRead(
    lambda bot, number: Deal.objects.filter(bot=bot, number=number).order_by()[:1],
    bot=int,
    number=int,
)
_TICK_INSERT = PreparedInsert(BotTick)
_LATEST_EQUITY_POINT = PreparedRead(
    lambda run: BotEquityPoint.objects.filter(run=run).order_by("-time")[:1], run=int
)
_EQUITY_POINT_MOVE = PreparedUpdate(BotEquityPoint, ["time", "equity", "updated_at"])
_BOT_TICKED_UPDATE = PreparedUpdate(Bot, ["last_tick_at"], signals=False)
_BOT_STATE_UPDATE = PreparedUpdate(Bot, ["last_tick_at", "state", "updated_at"], signals=False)


def bot_costs() -> ExecutionCosts:
    """What a bot's fills cost: the paper engine's fee rate and slippage settings."""
    return app_settings.execution_costs()


def bot_config(bot: Bot) -> DcaConfig:
    return parse_dca_config(data=bot.config)


def bot_open_run(bot: Bot) -> BotRun | None:
    run = _OPEN_RUN.first(bot=bot.pk)
    if run is not None:
        run.bot = bot  # its history entry names the bot: no second read of it
    return run


def client_order_id_for(*, bot_id: int, scheduled_at: datetime, kind: str) -> str:
    """A bot order's id, derived from its tick: the same tick can never place it twice."""
    stamp = scheduled_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"bot{bot_id}-{stamp}-{kind}"[:64]


# ---------------------------------------------------------------------------------------------
# Scheduler side


def _enqueue_tick(bot_id: int, scheduled_at: datetime) -> None:
    from bots.tasks import bot_tick

    kwargs = {"bot_id": bot_id, "scheduled_at": scheduled_at.isoformat()}
    backend = bot_tick.get_backend()
    same_database = isinstance(backend, DatabaseBackend) and router.db_for_write(
        DBTaskResult
    ) == router.db_for_write(Bot)
    if same_database:
        bot_tick.enqueue(**kwargs)
    else:
        # A broker outside this transaction: enqueue once the slot move is committed.
        transaction.on_commit(lambda: bot_tick.enqueue(**kwargs))


def bot_ticks_enqueue_due(*, now: datetime | None = None) -> list[tuple[int, datetime]]:
    """Enqueue one tick for every running bot due at `now`, one transaction each.

    Returns the (bot id, scheduled at) pairs enqueued by this call.
    """
    enqueued: list[tuple[int, datetime]] = []
    while True:
        tick_now = now or timezone.now()
        with transaction.atomic():
            bot = (
                Bot.objects.select_for_update(skip_locked=True)
                .filter(status=BotStatus.RUNNING, next_run_at__lte=tick_now)
                .order_by("next_run_at", "pk")
                .only("pk", "interval", "next_run_at")
                .first()
            )
            if bot is None:
                return enqueued
            scheduled_at = bot.next_run_at
            Bot.objects.filter(pk=bot.pk).update(
                next_run_at=bot_next_slot(interval=bot.interval, after=tick_now),
                updated_at=timezone.now(),
            )
            _enqueue_tick(bot.pk, scheduled_at)
        enqueued.append((bot.pk, scheduled_at))


# ---------------------------------------------------------------------------------------------
# Worker side


@dataclass(frozen=True)
class TickOutcome:
    """What one call of `bot_tick_run` did: the tick row, or None when it had already run."""

    tick: BotTick | None
    duplicate: bool = False


def bot_tick_run(*, bot_id: int, scheduled_at: datetime) -> TickOutcome:
    """Run the tick (bot, scheduled_at) once, in one transaction; a repeat does nothing.

    An unexpected failure rolls the tick back, then marks the bot and its run `error` with the
    message and records the tick as failed, so the bot is no longer scheduled. A database failure
    is raised as is (the task fails; the bot goes on at its next slot).
    """
    try:
        with transaction.atomic():
            bot = _BOT_LOCK.first(bot=bot_id)
            if bot is None:
                return TickOutcome(tick=None, duplicate=True)
            latest = _LATEST_TICK.first(bot=bot.pk)
            # The bot's latest tick answers "has this one run?" unless a later one ran since.
            if latest is not None and (
                latest[0] == scheduled_at
                or (
                    latest[0] > scheduled_at
                    and BotTick.objects.filter(bot=bot, scheduled_at=scheduled_at).exists()
                )
            ):
                return TickOutcome(tick=None, duplicate=True)
            return TickOutcome(tick=_tick(bot, scheduled_at, latest))
    except IntegrityError:
        # The unique (bot, scheduled_at) is the backstop if two workers ever met on one tick.
        if BotTick.objects.filter(bot_id=bot_id, scheduled_at=scheduled_at).exists():
            return TickOutcome(tick=None, duplicate=True)
        return TickOutcome(tick=_tick_failed(bot_id, scheduled_at, "IntegrityError"))
    except (OperationalError, InterfaceError):
        # The database, not the bot, failed (connection lost, lock timeout): the slot is lost
        # like any missed one and the bot carries on at its next tick.
        raise
    except Exception as exc:
        logger.exception("Tick of bot %s at %s failed.", bot_id, scheduled_at)
        message = f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
        return TickOutcome(tick=_tick_failed(bot_id, scheduled_at, message))


def _tick_failed(bot_id: int, scheduled_at: datetime, message: str) -> BotTick | None:
    with transaction.atomic():
        bot = Bot.objects.select_for_update(of=("self",)).filter(pk=bot_id).first()
        if bot is None or BotTick.objects.filter(bot=bot, scheduled_at=scheduled_at).exists():
            return None
        run = bot_open_run(bot)
        if bot.status in (BotStatus.RUNNING, BotStatus.PAUSED):
            bot.status = BotStatus.ERROR
            bot.next_run_at = None
            bot.error = message
            bot.save(update_fields=["status", "next_run_at", "error", "updated_at"])
            if run is not None:
                run.status = RunStatus.ERROR
                run.error = message
                run.save(update_fields=["status", "error", "updated_at"])
        return BotTick.objects.create(
            bot=bot,
            run=run,
            scheduled_at=scheduled_at,
            executed_at=timezone.now(),
            status=TickStatus.FAILED,
            message=message,
        )


def _skip(bot: Bot, run: BotRun | None, scheduled_at: datetime, message: str) -> BotTick:
    return BotTick.objects.create(
        bot=bot,
        run=run,
        scheduled_at=scheduled_at,
        executed_at=timezone.now(),
        status=TickStatus.SKIPPED,
        message=message,
    )


def _tick(bot: Bot, scheduled_at: datetime, latest: tuple[datetime, int | None] | None) -> BotTick:
    """The tick's work; `latest` is the bot's latest tick (its slot and run) before this one."""
    run = bot_open_run(bot)
    if bot.status != BotStatus.RUNNING or run is None:
        return _skip(bot, run, scheduled_at, f"The bot is {bot.get_status_display().lower()}.")
    if latest is not None and latest[0] > scheduled_at:
        # Delivered after a later tick of the same bot ran: the strategy never goes back in time.
        return _skip(bot, run, scheduled_at, "A later tick already ran; this one is stale.")
    missed = 0
    if latest is not None and latest[1] == run.pk:
        missed = ticks_missed(interval=bot.interval, previous=latest[0], current=scheduled_at)
    quote = instrument_last_price(instrument=bot.instrument_id)
    if quote is None:
        tick = _skip(bot, run, scheduled_at, "No price for the instrument yet.")
        if missed:
            tick.missed = missed
            tick.save(update_fields=["missed"])
        return tick
    price, _ = quote

    config = bot_config(bot)
    state = dca_state_from_json(bot.state)
    costs = bot_costs()
    locked = book_lock(account=bot.account, instrument=bot.instrument)
    # The rows' history entries name their account and instrument: reuse the loaded ones.
    locked.balance.account = locked.position.account = bot.account
    locked.position.instrument = bot.instrument
    step = dca_on_tick(
        config=config,
        state=state,
        time=scheduled_at,
        price=price,
        costs=costs,
        quote_available=locked.balance.free,
    )
    # Every row is written once, after the strategy decided, and the history of all of them
    # goes in with one statement at the end (same entries as saving them one by one).
    history = HistoryBatch()
    touched = step.orders or step.rejections
    deal, deal_new = _deal_row(bot, run, step, history) if touched else (None, False)
    filled, book = orders_fill(
        bot=bot,
        run=run,
        deal=deal,
        locked=locked,
        orders=step.orders,
        key=scheduled_at,
        fee_rate=costs.fee_rate,
    )
    rejected = _rejections(bot, run, deal, state, config, costs, price, step, scheduled_at)
    tick = BotTick(
        bot=bot,
        run=run,
        scheduled_at=scheduled_at,
        executed_at=timezone.now(),
        status=TickStatus.DONE,
        price=price,
        missed=missed,
        orders_placed=len(filled),
        message=" ".join(rejection.reason for rejection in step.rejections)[:ERROR_MAX],
    )
    _TICK_INSERT.save(tick)
    if filled or rejected:
        rows = [*filled, *rejected]
        for row in rows:
            row.tick = tick
            history.insert(row)
    book_save(locked=locked, book=book, history=history)
    if step.closed_deal is not None:
        deal_close(deal, step.closed_deal.exit_kind, step.closed_deal, history=history)
    elif deal is not None and not deal_new:
        # A deal created by this tick was created from these very facts.
        _deal_sync(deal, step.state.deal, history)
    # `state` and `last_tick_at` are bookkeeping history leaves out (audit/history.py): a plain
    # UPDATE, no signals.
    bot.last_tick_at = scheduled_at
    if step.state != state:
        bot.state = dca_state_to_json(step.state)
        _BOT_STATE_UPDATE.save(bot)
    else:
        _BOT_TICKED_UPDATE.save(bot)
    if filled:
        old = history_snapshot(run)
        run.total_trades += len(filled)
        if step.closed_deal is not None:
            run.total_pnl += step.closed_deal.pnl
        history.update(run, old=old, fields=["total_trades", "total_pnl", "updated_at"])
    equity_sample(run=run, state=step.state, price=price, time=scheduled_at)
    history.write()
    return tick


def orders_fill(
    *,
    bot: Bot,
    run: BotRun | None,
    deal: Deal | None,
    locked: LockedBook,
    orders: tuple[DcaOrder, ...],
    key: datetime,
    fee_rate: Decimal,
    id_prefix: str | None = None,
) -> tuple[list[Order], PaperBook]:
    """Fill the strategy's orders through the locked paper book: the Order rows (not saved yet)
    and the book after them."""
    book = locked.book
    rows = []
    for dca_order in orders:
        result = paper_fill_apply(
            book=book,
            side=dca_order.side,
            quantity=dca_order.quantity,
            price=dca_order.price,
            notional=dca_order.notional,
            fee=dca_order.fee,
        )
        if result.status != "filled":
            raise TickError(
                f"The paper book refused the {dca_order.kind} order: {result.reject_reason}"
            )
        book = result.book
        limit = dca_order.order_type == OrderType.LIMIT
        client_order_id = (
            f"{id_prefix}-{dca_order.kind}"
            if id_prefix
            else client_order_id_for(bot_id=bot.pk, scheduled_at=key, kind=dca_order.kind)
        )
        rows.append(
            Order(
                user_id=bot.user_id,
                account=bot.account,
                bot=bot,
                run=run,
                deal=deal,
                client_order_id=client_order_id,
                instrument=bot.instrument,
                side=dca_order.side,
                order_type=dca_order.order_type,
                kind=dca_order.kind,
                quantity=dca_order.quantity,
                limit_price=dca_order.price if limit else None,
                status=OrderStatus.FILLED,
                filled_quantity=dca_order.quantity,
                average_fill_price=dca_order.price,
                fee=dca_order.fee,
                fee_rate=fee_rate,
                filled_at=timezone.now(),
            )
        )
    return rows, book


def orders_apply(
    *,
    bot: Bot,
    run: BotRun | None,
    tick: BotTick | None,
    deal: Deal | None,
    locked: LockedBook,
    orders: tuple[DcaOrder, ...],
    key: datetime,
    id_prefix: str | None = None,
) -> list[Order]:
    """Fill the strategy's orders through the locked paper book and store each as an Order."""
    rows, book = orders_fill(
        bot=bot,
        run=run,
        deal=deal,
        locked=locked,
        orders=orders,
        key=key,
        fee_rate=app_settings.fee_rate,
        id_prefix=id_prefix,
    )
    for row in rows:
        row.tick = tick
        row.save(force_insert=True)
    book_save(locked=locked, book=book)
    return rows


def _rejections(
    bot: Bot,
    run: BotRun,
    deal: Deal | None,
    before: DcaState,
    config: DcaConfig,
    costs: ExecutionCosts,
    price: Decimal,
    step,
    scheduled_at: datetime,
) -> list[Order]:
    """Orders the balance could not pay, as rejected Order rows (not saved yet) with the
    engine's reason."""
    from bots.engine import safety_ladder
    from bots.engine.numbers import divide, quantize_quantity
    from bots.engine.paper import BUY, market_fill_price

    rows = []
    for rejection in step.rejections:
        if rejection.kind == "base":
            size = config.base_order_size
            limit_price = None
            at = market_fill_price(side=BUY, price=price, slippage_bps=costs.slippage_bps)
        else:
            open_deal = step.state.deal or before.deal
            number = int(rejection.kind.removeprefix("safety_"))
            level = safety_ladder(config=config, base_price=open_deal.base_price)[number - 1]
            size, limit_price = level.size, level.trigger_price
            at = limit_price
        quantity = quantize_quantity(divide(size, at))
        if not quantity:
            # Too small to be an order at all: the tick message keeps the engine's reason.
            continue
        rows.append(
            Order(
                user_id=bot.user_id,
                account=bot.account,
                bot=bot,
                run=run,
                deal=deal,
                client_order_id=client_order_id_for(
                    bot_id=bot.pk, scheduled_at=scheduled_at, kind=rejection.kind
                ),
                instrument=bot.instrument,
                side=OrderSide.BUY,
                order_type=OrderType.MARKET if limit_price is None else OrderType.LIMIT,
                kind=rejection.kind,
                quantity=quantity,
                limit_price=limit_price,
                status=OrderStatus.REJECTED,
                fee_rate=costs.fee_rate,
                reject_reason=rejection.reason,
            )
        )
    return rows


def _deal_row(bot: Bot, run: BotRun, step, history: HistoryBatch) -> tuple[Deal | None, bool]:
    """The Deal row the step's orders belong to, created when the step opened it, and whether
    it was created now."""
    opened = step.state.deal
    if step.closed_deal is not None:
        number = step.closed_deal.number
    elif opened is not None:
        number = opened.number
    else:
        return None, False
    deal = _DEAL.first(bot=bot.pk, number=number)
    if deal is not None:
        deal.bot = bot  # its history entry names the bot: no second read of it
        return deal, False
    deal = Deal(
        bot=bot,
        run=run,
        number=number,
        opened_at=opened.opened_at,
        base_price=opened.base_price,
        quantity=opened.quantity,
        quote_spent=opened.quote_spent,
        fees=opened.fees,
        safety_orders_filled=opened.safety_orders_filled,
    )
    history.insert(deal)
    return deal, True


DEAL_FACTS = ("quantity", "quote_spent", "fees", "safety_orders_filled")
DEAL_CLOSE_FIELDS = (
    "status",
    "closed_at",
    "exit_kind",
    "quantity",
    "quote_spent",
    "fees",
    "proceeds",
    "pnl",
    "safety_orders_filled",
)


def _deal_sync(deal: Deal, facts: DcaDeal, history: HistoryBatch) -> None:
    values = {name: getattr(facts, name) for name in DEAL_FACTS}
    if all(getattr(deal, name) == value for name, value in values.items()):
        return
    old = history_snapshot(deal)
    for name, value in values.items():
        setattr(deal, name, value)
    history.update(deal, old=old, fields=[*DEAL_FACTS, "updated_at"])


def deal_close(deal: Deal, exit_kind: str, result, *, history: HistoryBatch | None = None) -> None:
    """Close the deal row with the engine's result (its history in `history` when given)."""
    old = history_snapshot(deal) if history is not None else None
    deal.status = DealStatus.CLOSED
    deal.closed_at = result.closed_at
    deal.exit_kind = exit_kind
    deal.quantity = result.quantity
    deal.quote_spent = result.quote_spent
    deal.fees = result.fees
    deal.proceeds = result.proceeds
    deal.pnl = result.pnl
    deal.safety_orders_filled = result.safety_orders_filled
    fields = [*DEAL_CLOSE_FIELDS, "updated_at"]
    if history is None:
        deal.save(update_fields=fields)
    else:
        history.update(deal, old=old, fields=fields)


def run_realized_pnl(run: BotRun) -> Decimal:
    """The P&L of the run's closed deals, fees counted."""
    total = Deal.objects.filter(run=run, status=DealStatus.CLOSED).aggregate(total=Sum("pnl"))
    return total["total"] or ZERO


def equity_sample(
    *,
    run: BotRun,
    state: DcaState,
    price: Decimal | None,
    time: datetime,
    at_stop: bool = False,
) -> None:
    """Record the run's equity at `time`: one point per UTC day (the day's latest) after the
    point `bot_start` wrote (allocated capital at `started_at`), which a tick at that very
    instant leaves as it is. The sample `at_stop` is the run's last word whatever the clock."""
    if time <= run.started_at:
        return
    equity = dca_equity(
        allocated_capital=run.allocated_capital,
        # The run's total P&L is its closed deals' P&L, kept by every tick and by the stop.
        realized_pnl=run.total_pnl,
        state=state,
        price=price if price is not None else ZERO,
    )
    day_start = datetime.combine(time.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)
    if not at_stop:
        # The usual tick: the run's latest point is the day's and older. It moves; otherwise
        # (first tick of the day, or a newer point) the read below decides.
        latest = _LATEST_EQUITY_POINT.first(run=run.pk)
        if latest is not None and day_start <= latest.time <= time and latest.time > run.started_at:
            latest.time, latest.equity = time, equity
            _EQUITY_POINT_MOVE.save(latest)
            return
    point = (
        BotEquityPoint.objects.filter(run=run, time__gte=day_start, time__gt=run.started_at)
        .order_by("-time")
        .first()
    )
    if point is None:
        BotEquityPoint.objects.create(run=run, time=time, equity=equity)
    elif at_stop or time >= point.time:
        point.time, point.equity = time, equity
        point.save(update_fields=["time", "equity", "updated_at"])
