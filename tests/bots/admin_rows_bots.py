"""One row of every bots admin model, for the admin walk in tests/ops/test_admin.py."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from bots.services import bot_create, bot_start, bot_stop, bot_tick_run, paper_account_default
from portfolio.models import Instrument, PriceBar


def bot_rows(user) -> None:
    """A bot that ran one tick (a deal, an order, a tick) and stopped (its run with equity)."""
    stock = Instrument.objects.create(symbol="BOTR", exchange="NYSE", currency="USD")
    PriceBar.objects.create(instrument=stock, date=timezone.localdate(), close=Decimal(100))
    bot = bot_create(
        user=user,
        name="Row bot",
        account=paper_account_default(user=user),
        instrument=stock,
        interval="1h",
        config={
            "base_order_size": "100",
            "safety_order_size": "100",
            "max_safety_orders": 2,
            "price_deviation_pct": "1",
            "take_profit_pct": "1",
        },
    )
    run = bot_start(bot=bot)
    bot_tick_run(bot_id=bot.pk, scheduled_at=run.started_at + timedelta(minutes=1))
    bot_stop(bot=bot, now=run.started_at + timedelta(minutes=2))
