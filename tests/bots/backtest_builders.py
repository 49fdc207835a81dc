"""Builders for the backtest and signal validation tests: priced instruments, requests, runs."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from bots.models import Backtest
from bots.services import backtest_create
from bots.services.backtests import backtest_run_task
from portfolio.models import Instrument, PriceBar
from tests.factories import InstrumentFactory

START = date(2024, 1, 1)

# SPEC §4 worked check: B = 100, S = 200, N = 3, d = 1%, s = 1.5, v = 2, tp = 1.5%.
SPEC_CONFIG: dict[str, Any] = {
    "base_order_size": "100",
    "safety_order_size": "200",
    "max_safety_orders": 3,
    "price_deviation_pct": "1",
    "safety_order_step_scale": "1.5",
    "safety_order_volume_scale": "2",
    "take_profit_pct": "1.5",
}

# Daily (open, high, low, close) walking the worked check: base at 100, the three safety orders
# on the way down, the take profit at 98.088380 on the way up, then a second deal.
SPEC_PATH: list[tuple[str, str, str, str]] = [
    ("100", "100.2", "99.6", "99.8"),
    ("99.8", "99.9", "99", "99.2"),
    ("99.2", "99.3", "97.5", "97.8"),
    ("97.8", "97.9", "95.25", "96"),
    ("96", "98.2", "95.9", "98"),
    ("98", "98.5", "97.9", "98.3"),
    ("98.3", "99", "98.1", "98.9"),
    ("98.9", "99.9", "98.8", "99.7"),
]


def priced_instrument(
    *, symbol: str = "DCAX", bars: list[tuple[str, str, str, str]] | None = None, **kwargs: Any
) -> Instrument:
    """A shared (or, with `owner=`, private) instrument with daily bars from START."""
    instrument = InstrumentFactory(symbol=symbol, **kwargs)
    for offset, (open_, high, low, close) in enumerate(bars or SPEC_PATH):
        PriceBar.objects.create(
            instrument=instrument,
            date=START + timedelta(days=offset),
            open=Decimal(open_),
            high=Decimal(high),
            low=Decimal(low),
            close=Decimal(close),
        )
    return instrument


def request_body(instrument: Instrument, **overrides: Any) -> dict[str, Any]:
    """An API request the service accepts for `instrument` over all of its bars."""
    body = {
        "symbol": instrument.symbol,
        "exchange": instrument.exchange,
        "interval": "1d",
        "start": START.isoformat(),
        "end": (START + timedelta(days=60)).isoformat(),
        "initial_balance": "10000",
        "fee_rate": "0",
        "slippage_bps": "0",
        "config": dict(SPEC_CONFIG),
    }
    body.update(overrides)
    return body


def queued_backtest(user, instrument: Instrument, **overrides: Any) -> Backtest:
    values: dict[str, Any] = {
        "start": START,
        "end": START + timedelta(days=60),
        "initial_balance": Decimal(10_000),
        "fee_rate": Decimal(0),
        "slippage_bps": Decimal(0),
        "config": dict(SPEC_CONFIG),
    }
    values.update(overrides)
    return backtest_create(user=user, instrument=instrument, enqueue=False, **values)


def finished_backtest(user, instrument: Instrument, **overrides: Any) -> Backtest:
    backtest = queued_backtest(user, instrument, **overrides)
    backtest_run_task.call(job_id=backtest.job_id)
    backtest.refresh_from_db()
    return backtest
