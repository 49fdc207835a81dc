"""Makers of one user's backtests and signal validations for the ownership walker, through the
services (tests/test_ownership.py; `seed.mark(what)` makes text recognisable as theirs)."""

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bots.models import Backtest, SignalValidation
from bots.services import backtest_create, signal_validation_record
from bots.services.backtests import backtest_run_task
from portfolio.models import Instrument, PriceBar
from tests.bots.backtest_builders import SPEC_CONFIG, SPEC_PATH, START

_serial = itertools.count(1)


def _priced_instrument(user, seed) -> Instrument:
    serial = next(_serial)
    instrument = Instrument.objects.create(
        symbol=f"BT{serial}", owner=user, currency="USD", name=seed.mark(f"bt-instrument-{serial}")
    )
    for offset, (open_, high, low, close) in enumerate(SPEC_PATH):
        PriceBar.objects.create(
            instrument=instrument,
            date=START + timedelta(days=offset),
            open=Decimal(open_),
            high=Decimal(high),
            low=Decimal(low),
            close=Decimal(close),
        )
    return instrument


def queued_backtest(user, seed) -> Backtest:
    """A backtest waiting for the worker (its job is queued, not handed to a backend)."""
    return backtest_create(
        user=user,
        instrument=_priced_instrument(user, seed),
        start=START,
        end=START + timedelta(days=30),
        initial_balance=Decimal(10_000),
        fee_rate=Decimal(0),
        slippage_bps=Decimal(0),
        config=dict(SPEC_CONFIG),
        name=f"{seed.mark('backtest')}-{next(_serial)}",
        enqueue=False,
    )


def backtest(user, seed) -> Backtest:
    """A finished backtest with its orders, deals and equity curve."""
    made = queued_backtest(user, seed)
    backtest_run_task.call(job_id=made.job_id)
    made.refresh_from_db()
    return made


def backtest_body(world) -> dict[str, Any]:
    """An API backtest request over the world's own priced instrument."""
    instrument = world.rows["bots.Backtest"].instrument
    return {
        "symbol": instrument.symbol,
        "interval": "1d",
        "start": START.isoformat(),
        "end": (START + timedelta(days=30)).isoformat(),
        "initial_balance": "10000",
        "fee_rate": "0",
        "slippage_bps": "0",
        "config": dict(SPEC_CONFIG),
        "name": world.seed.mark(f"api-backtest-{next(_serial)}"),
    }


def backtest_form(world) -> dict[str, Any]:
    """The backtest page form over the world's own priced instrument."""
    body = backtest_body(world)
    config = body.pop("config")
    return {**body, **config, "exchange": "", "stop_loss_pct": "", "cooldown_seconds": "0"}


def signal_validation(user, seed) -> SignalValidation:
    return signal_validation_record(
        user=user,
        model_type=seed.mark("model"),
        signal_type="momentum",
        accuracy=Decimal("0.61"),
        precision=Decimal("0.58"),
        recall=Decimal("0.66"),
        f1=Decimal("0.617"),
        sample_size=1200,
        parameters={"note": seed.mark("parameters")},
    )


def signal_validation_body(world) -> dict[str, Any]:
    return {
        "model_type": world.seed.mark(f"api-model-{next(_serial)}"),
        "signal_type": "breakout",
        "accuracy": "0.5",
        "precision": "0.5",
        "recall": "0.5",
        "f1": "0.5",
        "sample_size": 10,
    }
