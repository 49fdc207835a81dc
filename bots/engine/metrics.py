"""Performance maths over an equity curve (SPEC §4 definitions), for backtests and bot runs.

Drawdown, volatility and Sharpe are the portfolio engine's (one definition for the whole app),
applied to the curve's period returns with no external flows. CAGR needs a fractional power, so
it is computed in float and converted back to Decimal (at `RATIO_PLACES`): the only float edge.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from itertools import pairwise

from bots.engine.numbers import ENGINE_CONTEXT, ONE, ZERO, divide
from portfolio.engine import returns as portfolio_returns

RATIO_PLACES = 8
RATIO_QUANTUM = ONE.scaleb(-RATIO_PLACES)
TRADING_DAYS = 252
DAYS_PER_YEAR = 365


@dataclass(frozen=True, slots=True, kw_only=True)
class CurveMetrics:
    """What SPEC §4 defines over an equity curve; None where a figure is undefined."""

    total_return: Decimal | None
    max_drawdown: Decimal
    volatility: Decimal | None
    sharpe: Decimal | None


def equity_curve_metrics(
    *, values: Sequence[Decimal], risk_free_rate: Decimal = ZERO
) -> CurveMetrics:
    """Total return, max drawdown, volatility and Sharpe of daily equity values (a bot run's)."""
    returns = period_returns(values=values)
    first, last = (values[0], values[-1]) if values else (ZERO, ZERO)
    return CurveMetrics(
        total_return=quantize_ratio(divide(last, first) - ONE) if first > ZERO else None,
        max_drawdown=max_drawdown(values=values),
        volatility=annualized_volatility(returns=returns),
        sharpe=sharpe_ratio(returns=returns, risk_free_rate=risk_free_rate),
    )


def quantize_ratio(value: Decimal) -> Decimal:
    """A ratio (return, drawdown, Sharpe...) at RATIO_PLACES, half-even."""
    return value.quantize(RATIO_QUANTUM, rounding=ROUND_HALF_EVEN, context=ENGINE_CONTEXT)


def period_returns(*, values: Sequence[Decimal]) -> list[Decimal]:
    """r(t) = V(t) / V(t-1) - 1 between consecutive values (0 when V(t-1) is 0); no flows."""
    with localcontext(ENGINE_CONTEXT):
        return [
            current / previous - ONE if previous else ZERO for previous, current in pairwise(values)
        ]


def max_drawdown(*, values: Sequence[Decimal]) -> Decimal:
    """The lowest V(t) / max V(s <= t) - 1 (0 or negative; 0 for fewer than two values)."""
    return quantize_ratio(portfolio_returns.max_drawdown(returns=period_returns(values=values)))


def annualized_volatility(
    *, returns: Sequence[Decimal], periods_per_year: int = TRADING_DAYS
) -> Decimal | None:
    """Sample standard deviation of the returns x sqrt(periods per year); None under two returns."""
    value = portfolio_returns.volatility(returns=returns, periods_per_year=periods_per_year)
    return None if value is None else quantize_ratio(value)


def sharpe_ratio(
    *,
    returns: Sequence[Decimal],
    risk_free_rate: Decimal = ZERO,
    periods_per_year: int = TRADING_DAYS,
) -> Decimal | None:
    """Mean excess return / its sample standard deviation x sqrt(periods per year).

    `risk_free_rate` is annual (a fraction) and is spread evenly over the periods. None under two
    returns or when the returns do not vary (the ratio is undefined, not infinite).
    """
    value = portfolio_returns.sharpe_ratio(
        returns=returns, risk_free_rate=risk_free_rate, periods_per_year=periods_per_year
    )
    return None if value is None else quantize_ratio(value)


def cagr(
    *, start_value: Decimal, end_value: Decimal, start: datetime, end: datetime
) -> Decimal | None:
    """(end / start) ^ (365 / days) - 1, actual/365; None for spans under a day or no value."""
    days = (end - start).total_seconds() / 86400
    if days < 1 or start_value <= ZERO or end_value <= ZERO:
        return None
    try:
        growth = (float(end_value) / float(start_value)) ** (DAYS_PER_YEAR / days) - 1
    except OverflowError:
        return None
    return _to_ratio(growth)


def _to_ratio(value: float) -> Decimal | None:
    if not math.isfinite(value):
        return None
    return quantize_ratio(Decimal(repr(value)))
