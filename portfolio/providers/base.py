"""The market-data provider interface: a named source of daily bars for an instrument."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portfolio.models import Instrument


@dataclass(frozen=True)
class Bar:
    """One day's prices as a provider reports them (instrument currency)."""

    date: date
    close: Decimal
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    adjusted_close: Decimal | None = None
    volume: Decimal = Decimal(0)
    dividend: Decimal = Decimal(0)
    split_coefficient: Decimal = Decimal(1)


class ProviderError(Exception):
    """A provider could not answer; the message is safe to store and show to staff."""


class ProviderUnavailableError(ProviderError):
    """The call was not made: the circuit is open or the call budget is spent."""


class MarketDataProvider(abc.ABC):
    """A source of daily bars. Implementations are stateless: shared state is in ProviderState."""

    name: str = ""
    synthetic: bool = False

    @abc.abstractmethod
    def fetch_daily(self, *, instrument: Instrument, start: date, end: date) -> list[Bar]:
        """The bars of `instrument` from `start` to `end` (inclusive), oldest first."""
