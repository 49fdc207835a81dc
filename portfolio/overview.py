"""The dashboard's portfolio overview: value per base currency, day change and top movers.

A read over the portfolio selectors (stored snapshots, holdings and price bars); it writes
nothing. Portfolios in different base currencies are totalled per currency, never converted.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Max

from portfolio.models import Instrument, PriceBar
from portfolio.selectors import (
    holding_list,
    instruments_with_quotes,
    portfolio_list,
    portfolio_performance,
    portfolio_series,
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


def _movers(instrument_ids: set[int], today: date) -> list[Mover]:
    """Each instrument's last close against the one before, in one query."""
    instruments = instruments_with_quotes(
        Instrument.objects.filter(pk__in=instrument_ids), on_or_before=today
    )
    return [
        Mover(
            symbol=instrument.symbol,
            currency=instrument.currency,
            close=instrument.last_close,
            change_pct=(instrument.last_close - instrument.previous_close)
            / instrument.previous_close,
            close_date=instrument.last_date,
        )
        for instrument in instruments
        if instrument.previous_close
    ]


def portfolio_overview(*, user, today: date) -> Overview:
    """The user's portfolios in sum: value and day change per base currency, top movers."""
    overview = Overview()
    totals: dict[str, CurrencyTotal] = {}
    held: set[int] = set()
    series_by_portfolio = []
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
        series_by_portfolio.append((total, series))
        held.update(holding_list(portfolio=portfolio).values_list("instrument_id", flat=True))
    # The day change is the last priced session's: before today's prices arrive (a Monday
    # morning, a holiday) it is the previous session's move, not a flat zero.
    last_priced = (
        PriceBar.objects.filter(instrument_id__in=held, date__lte=today).aggregate(
            last=Max("date")
        )["last"]
        or today
    )
    for total, series in series_by_portfolio:
        days = [row for row in series if row.date.weekday() < 5 and row.date <= last_priced]
        if len(days) >= 2:
            last, previous = days[-1], days[-2]
            # Money paid in or out that day is not a gain or a loss.
            total.day_change += last.value - previous.value - last.net_flow
            total.previous += previous.value
    movers = _movers(held, today)
    overview.movers = sorted(movers, key=lambda m: abs(m.change_pct), reverse=True)[:TOP_MOVERS]
    overview.totals = sorted(totals.values(), key=lambda t: t.currency)
    return overview
