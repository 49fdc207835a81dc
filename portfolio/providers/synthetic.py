"""A random-walk price provider for demos and tests: no network, labelled synthetic everywhere.

Each instrument's walk starts on `EPOCH` from a seed made of the configured seed, its symbol and
exchange, so a day's bar is the same whichever window asks for it, in every process.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from portfolio.app_settings import app_settings
from portfolio.models import AssetClass, Instrument
from portfolio.providers.base import Bar, MarketDataProvider

EPOCH = date(2000, 1, 3)
TICK = Decimal("0.0001")
FLOOR = 0.01  # the walk reflects off this level, so every price stays positive


def _rng(seed: str, instrument: Instrument) -> random.Random:
    digest = hashlib.sha256(f"{seed}|{instrument.symbol}|{instrument.exchange}".encode()).digest()
    # Not for security: a reproducible stream of demo prices.
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311


def _price(value: float, rounding: str | None = None) -> Decimal:
    exact = Decimal(repr(value))
    return exact.quantize(TICK, rounding=rounding) if rounding else exact.quantize(TICK)


def _trades_on(day: date, instrument: Instrument) -> bool:
    return instrument.asset_class == AssetClass.CRYPTO or day.weekday() < 5


class SyntheticProvider(MarketDataProvider):
    """Geometric random walk with realistic OHLC: low <= open, close <= high, all > 0."""

    name = "synthetic"
    synthetic = True

    def __init__(self, seed: str | None = None) -> None:
        self._seed = seed

    @property
    def seed(self) -> str:
        return self._seed if self._seed is not None else app_settings.synthetic_seed

    def fetch_daily(self, *, instrument: Instrument, start: date, end: date) -> list[Bar]:
        rng = _rng(self.seed, instrument)
        crypto = instrument.asset_class == AssetClass.CRYPTO
        level = 20 + rng.random() * 480
        volatility = (0.03 if crypto else 0.01) + rng.random() * 0.015
        drift = rng.uniform(-0.0002, 0.0006)
        bars = []
        day = EPOCH
        while day <= end:
            if _trades_on(day, instrument):
                open_ = max(FLOOR, level * math.exp(rng.gauss(0, volatility / 3)))
                level = max(FLOOR, level * math.exp(rng.gauss(drift, volatility)))
                up = abs(rng.gauss(0, volatility / 2))
                down = min(abs(rng.gauss(0, volatility / 2)), 0.5)
                volume = int(rng.lognormvariate(12, 0.6))
                if day >= start:
                    bars.append(_bar(day, open_, level, up, down, volume))
            day += timedelta(days=1)
        return bars


def _bar(day: date, open_: float, close: float, up: float, down: float, volume: int) -> Bar:
    open_price, close_price = _price(open_), _price(close)
    top, bottom = max(open_price, close_price), min(open_price, close_price)
    high = max(top, _price(max(open_, close) * (1 + up), ROUND_CEILING))
    low = min(bottom, max(TICK, _price(min(open_, close) * (1 - down), ROUND_FLOOR)))
    return Bar(
        date=day,
        open=open_price,
        high=high,
        low=low,
        close=close_price,
        adjusted_close=close_price,
        volume=Decimal(volume),
    )
