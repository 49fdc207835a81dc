"""The dashboard's portfolio overview: value per base currency, day change and top movers.

A read over the portfolio selectors (stored snapshots, holdings and price bars); it writes
nothing. Portfolios in different base currencies are totalled per currency, never converted.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from portfolio.models import Instrument
from portfolio.selectors import (
    holding_list,
    portfolio_list,
    portfolio_performance,
    portfolio_series,
    price_bar_list,
)
from trading_lab.exceptions import ApplicationError

TOP_MOVERS = 5
# Far enough back to find the previous trading day across a long weekend.
_LOOKBACK = timedelta(days=7)


@dataclass
class CurrencyTotal:
    currency: str
    value: Decimal = Decimal(0)
    day_change: Decimal = Decimal(0)
    previous: Decimal = Decimal(0)

    @property
    def day_change_pct(self) -> Decimal | None:
        return self.day_change / self.previous if self.previous else None


@dataclass(frozen=True)
class Mover:
    symbol: str
    currency: str
    close: Decimal
    change_pct: Decimal
    close_date: date


@dataclass
class Overview:
    portfolio_count: int = 0
    totals: list[CurrencyTotal] = field(default_factory=list)
    movers: list[Mover] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _mover(instrument: Instrument, today: date) -> Mover | None:
    bars = list(price_bar_list(instrument=instrument, start=today - _LOOKBACK, end=today))[-2:]
    if len(bars) < 2 or not bars[0].close:
        return None
    previous, last = bars
    return Mover(
        symbol=instrument.symbol,
        currency=instrument.currency,
        close=last.close,
        change_pct=(last.close - previous.close) / previous.close,
        close_date=last.date,
    )


def portfolio_overview(*, user, today: date) -> Overview:
    """The user's portfolios in sum: value and day change per base currency, top movers."""
    overview = Overview()
    totals: dict[str, CurrencyTotal] = {}
    held: dict[int, Instrument] = {}
    for portfolio in portfolio_list(user=user):
        overview.portfolio_count += 1
        try:
            performance = portfolio_performance(portfolio=portfolio, as_of=today)
            series = portfolio_series(portfolio=portfolio, start=today - _LOOKBACK, end=today)
        except ApplicationError as error:
            overview.problems.append(f"{portfolio.name}: {error.message}")
            continue
        total = totals.setdefault(portfolio.base_currency, CurrencyTotal(portfolio.base_currency))
        total.value += performance.value
        # Weekdays only: on a weekend the last day's change is Friday's, not a flat zero.
        days = [row for row in series if row.date.weekday() < 5]
        if len(days) >= 2:
            last, previous = days[-1], days[-2]
            # Money paid in or out that day is not a gain or a loss.
            total.day_change += last.value - previous.value - last.net_flow
            total.previous += previous.value
        for holding in holding_list(portfolio=portfolio):
            held[holding.instrument_id] = holding.instrument
    movers = [mover for mover in (_mover(i, today) for i in held.values()) if mover is not None]
    overview.movers = sorted(movers, key=lambda m: abs(m.change_pct), reverse=True)[:TOP_MOVERS]
    overview.totals = sorted(totals.values(), key=lambda t: t.currency)
    return overview
