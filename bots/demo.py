"""The demo trader's running DCA bot (`seed_demo`), and the intraday quotes that keep it trading.

Stored prices are daily bars, so a bot ticking every minute would see one price all day. For the
demo, a scheduled job (`demo-intraday-quotes`, every minute, created here) moves today's bar of
each synthetic instrument a running bot trades to an intraday quote: a deterministic function of
the time around the previous close (two waves, ±1.6% at most), imported through the market data
service like any other price, so alerts and limit orders see it too. With small deviations and
take profit, a newcomer sees deals open, add safety orders and close within minutes of
`make run`. Only synthetic (demo) instruments that a running bot trades are touched, on every
day including weekends (the daily synthetic walk has weekday bars only).
"""

import math
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.models import ScheduledJob
from bots.models import Bot, BotStatus
from bots.services import bot_create, bot_start, paper_account_default
from portfolio.demo import EXCHANGE
from portfolio.models import Instrument, PriceBar
from portfolio.services import price_bars_import
from portfolio.services.market import PriceBarRow
from trading_lab.exceptions import ApplicationError

DEMO_BOT_NAME = "Demo DCA bot (every minute)"
DEMO_BOT_SYMBOL = "ACME"
DEMO_BOT_CONFIG = {
    "base_order_size": "200",
    "safety_order_size": "200",
    "max_safety_orders": 4,
    "price_deviation_pct": "0.4",
    "safety_order_step_scale": "1.2",
    "safety_order_volume_scale": "1.5",
    "take_profit_pct": "0.5",
    "stop_loss_pct": None,
    "cooldown_seconds": 60,
}
QUOTES_JOB = "demo-intraday-quotes"
QUOTES_TASK = "bots.tasks.demo_quotes_refresh"
TICK = Decimal("0.0001")


def intraday_quote(*, anchor: Decimal, moment: datetime) -> Decimal:
    """The synthetic quote at `moment` around `anchor`: a 1.2% wave of 16 minutes plus a 0.4%
    wave of 5 minutes (deterministic, so every process agrees)."""
    seconds = moment.timestamp()
    move = 0.012 * math.sin(2 * math.pi * seconds / 960) + 0.004 * math.sin(
        2 * math.pi * seconds / 300 + 1.3
    )
    return (anchor * Decimal(repr(1 + move))).quantize(TICK)


def demo_quotes_refresh(*, now: datetime | None = None) -> int:
    """Move today's bar of every synthetic instrument a running bot trades to its intraday quote.

    Returns how many instruments moved.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    instruments = Instrument.objects.filter(
        owner__isnull=True, is_synthetic=True, bots__status=BotStatus.RUNNING
    ).distinct()
    rows = []
    for instrument in instruments:
        bars = PriceBar.objects.filter(instrument=instrument)
        previous = bars.filter(date__lt=today).order_by("-date").first()
        current = bars.filter(date=today).first()
        if previous is None and current is None:
            continue
        anchor = previous.close if previous is not None else current.open or current.close
        quote = intraday_quote(anchor=anchor, moment=now)
        open_ = (current.open if current is not None else None) or anchor
        known = [open_, quote] + ([current.high, current.low] if current is not None else [])
        known = [price for price in known if price is not None]
        rows.append(
            PriceBarRow(
                symbol=instrument.symbol,
                exchange=instrument.exchange,
                date=today,
                open=open_,
                high=max(known),
                low=min(known),
                close=quote,
            )
        )
    if rows:
        price_bars_import(rows=rows, source="synthetic")
    return len(rows)


def demo_bot_seed(*, user: User, today: date) -> list[str]:
    """Give `user` the running demo bot and the quote job, unless they exist; return changes."""
    changes = []
    job, created = ScheduledJob.objects.get_or_create(
        name=QUOTES_JOB,
        defaults={
            "task": QUOTES_TASK,
            "interval_seconds": 60,
            "description": "Demo only: moves today's bar of synthetic instruments that running "
            "bots trade to an intraday quote, so the demo bot trades within minutes.",
            "next_run_at": timezone.now(),
        },
    )
    if created:
        changes.append(f"scheduled the job “{job.name}” (every minute)")
    if Bot.objects.for_user(user).filter(name=DEMO_BOT_NAME).exists():
        return changes
    instrument = Instrument.objects.filter(
        owner__isnull=True, exchange=EXCHANGE, symbol=DEMO_BOT_SYMBOL
    ).first()
    if instrument is None:
        return changes
    try:
        with transaction.atomic():
            bot = bot_create(
                user=user,
                name=DEMO_BOT_NAME,
                account=paper_account_default(user=user),
                instrument=instrument,
                interval="1m",
                config=DEMO_BOT_CONFIG,
            )
            bot_start(bot=bot)
    except ApplicationError as exc:
        return [*changes, f"demo bot not started: {exc.message}"]
    # The quote job moves the price from its first run, a few seconds after `make run`; the seed
    # itself writes nothing that depends on the time, so seeding twice gives the same data.
    return [*changes, f"started the demo bot “{DEMO_BOT_NAME}” on {instrument.symbol}"]
