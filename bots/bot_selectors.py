"""Reads of bots for pages and the API: lists, the open deal's ladder, P&L, the equity curve."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum

from accounts.models import User
from bots.engine import EngineValidationError, dca_levels, deal_unrealized_pnl
from bots.models import (
    Bot,
    BotEquityPoint,
    BotRun,
    BotStatus,
    BotTick,
    Deal,
    DealStatus,
    Order,
)
from bots.selectors import instrument_last_price
from bots.services.bots import LadderLevel, bot_ladder
from bots.services.runner import bot_config, bot_open_run, dca_state_from_json

ZERO = Decimal(0)
ENTRY_PLACES = Decimal("0.000001")


def bot_list(*, user: User) -> QuerySet[Bot]:
    """The user's bots by name, with account and instrument."""
    return Bot.objects.for_user(user).select_related("account", "instrument")


def bot_runs(*, bot: Bot) -> QuerySet[BotRun]:
    return BotRun.objects.filter(bot=bot).order_by("-started_at", "-id")


def bot_orders(*, bot: Bot) -> QuerySet[Order]:
    return (
        Order.objects.filter(bot=bot)
        .select_related("instrument", "deal")
        .order_by("-created_at", "-id")
    )


def bot_ticks(*, bot: Bot) -> QuerySet[BotTick]:
    return BotTick.objects.filter(bot=bot).order_by("-scheduled_at", "-id")


@dataclass(frozen=True)
class LadderRow:
    level: LadderLevel
    state: str  # filled, pending, cancelled


@dataclass(frozen=True)
class OpenDeal:
    """The open deal as the strategy sees it, with every level filled or pending."""

    number: int
    base_price: Decimal
    quantity: Decimal
    quote_spent: Decimal
    fees: Decimal
    average_entry: Decimal
    take_profit: Decimal | None
    stop_loss: Decimal | None
    rows: list[LadderRow]
    price: Decimal | None
    unrealized_pnl: Decimal | None


def bot_open_deal(*, bot: Bot, price: Decimal | None = None) -> OpenDeal | None:
    """The bot's open deal with its ladder (None when flat or the config no longer parses)."""
    state = dca_state_from_json(bot.state)
    deal = state.deal
    if deal is None:
        return None
    try:
        config = bot_config(bot)
    except EngineValidationError:
        return None
    levels = dca_levels(config=config, state=state)
    rows = []
    for level in bot_ladder(config=config, base_price=deal.base_price):
        if level.number <= deal.safety_orders_filled:
            status = "filled"
        elif deal.safety_orders_cancelled:
            status = "cancelled"
        else:
            status = "pending"
        rows.append(LadderRow(level=level, state=status))
    return OpenDeal(
        number=deal.number,
        base_price=deal.base_price,
        quantity=deal.quantity,
        quote_spent=deal.quote_spent,
        fees=deal.fees,
        average_entry=deal.average_entry.quantize(ENTRY_PLACES),
        take_profit=levels.take_profit,
        stop_loss=levels.stop_loss,
        rows=rows,
        price=price,
        unrealized_pnl=None if price is None else deal_unrealized_pnl(deal=deal, price=price),
    )


def bot_last_price(*, bot: Bot) -> Decimal | None:
    quote = instrument_last_price(instrument=bot.instrument_id)
    return None if quote is None else quote[0]


def bot_equity_chart(*, run: BotRun | None, currency: str) -> dict[str, Any]:
    """The run's equity points for charts.js's line chart, with a text summary."""
    if run is None:
        return {"labels": [], "values": [], "currency": currency, "summary": ""}
    points = list(BotEquityPoint.objects.filter(run=run).order_by("time"))
    values = [str(point.equity) for point in points]
    summary = ""
    if points:
        summary = (
            f"Equity from {points[0].equity:.2f} {currency} at {points[0].time:%Y-%m-%d %H:%M} "
            f"to {points[-1].equity:.2f} {currency} at {points[-1].time:%Y-%m-%d %H:%M} UTC, "
            f"{len(points)} samples (daily, and at stop)."
        )
    return {
        "labels": [f"{point.time:%Y-%m-%d %H:%M}" for point in points],
        "values": values,
        "currency": currency,
        "summary": summary,
        "points": points,
    }


def bot_chart_run(*, bot: Bot) -> BotRun | None:
    """The run whose equity the bot page charts: the open one, else the latest."""
    return bot_open_run(bot) or bot_runs(bot=bot).first()


def bot_summary(*, user: User) -> dict[str, Any]:
    """The user's bots in sum (two queries): how many, how many running, and the realized P&L
    of closed deals per quote currency (the sum `run_realized_pnl` takes over one run)."""
    counts = bot_list(user=user).aggregate(
        total=Count("pk"), running=Count("pk", filter=Q(status=BotStatus.RUNNING))
    )
    realized = (
        Deal.objects.for_user(user)
        .filter(status=DealStatus.CLOSED)
        .values(currency=F("bot__account__quote_currency"))
        .annotate(pnl=Sum("pnl"), deals=Count("pk"))
        .order_by("currency")
    )
    return {**counts, "realized": list(realized)}
