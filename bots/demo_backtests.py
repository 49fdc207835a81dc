"""The demo trader's finished backtest (`seed_demo`): a DCA config over a year of a synthetic
instrument's stored bars, run in-process through the same service and job task as any other."""

from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Max, Min

from accounts.models import User
from bots.models import Backtest
from bots.services import backtest_create
from bots.services.backtests import backtest_run_task
from portfolio.demo import EXCHANGE
from portfolio.models import Instrument, PriceBar
from trading_lab.exceptions import ApplicationError

DEMO_NAME = "Demo: ACME DCA, one year"
DEMO_SYMBOL = "ACME"
DEMO_SPAN = timedelta(days=365)
DEMO_CONFIG = {
    "base_order_size": "500",
    "safety_order_size": "500",
    "max_safety_orders": 4,
    "price_deviation_pct": "2",
    "safety_order_step_scale": "1.5",
    "safety_order_volume_scale": "1.5",
    "take_profit_pct": "3",
    "stop_loss_pct": None,
    "cooldown_seconds": 0,
}


def demo_backtest_seed(*, user: User, today: date) -> list[str]:
    """Give `user` the demo backtest unless it has it (or the demo prices are missing)."""
    if Backtest.objects.for_user(user).filter(name=DEMO_NAME).exists():
        return []
    instrument = Instrument.objects.filter(
        owner__isnull=True, exchange=EXCHANGE, symbol=DEMO_SYMBOL
    ).first()
    if instrument is None:
        return []
    span = PriceBar.objects.filter(instrument=instrument, date__lte=today).aggregate(
        first=Min("date"), last=Max("date")
    )
    if span["last"] is None:
        return []
    start = max(span["first"], span["last"] - DEMO_SPAN)
    backtest = backtest_create(
        user=user,
        instrument=instrument,
        start=start,
        end=span["last"],
        initial_balance=Decimal(10_000),
        fee_rate=Decimal("0.001"),
        slippage_bps=Decimal(5),
        config=DEMO_CONFIG,
        name=DEMO_NAME,
        enqueue=False,
    )
    try:
        backtest_run_task.call(job_id=backtest.job_id)
    except ApplicationError as exc:
        return [f"demo backtest failed: {exc.message}"]
    backtest.refresh_from_db()
    orders = backtest.metrics.get("orders", 0)
    return [f"ran the demo backtest “{DEMO_NAME}” ({backtest.bars} bars, {orders} orders)"]
