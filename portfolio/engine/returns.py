"""Return statistics of SPEC §4 over a daily value series: TWR, MWR (XIRR), drawdown, risk.

Everything but MWR is computed in `Decimal` under `ENGINE_CONTEXT` (square roots with
`Decimal.sqrt`). MWR is solved in binary floating point, because it needs fractional powers many
times per iteration, and converted to a `Decimal` of 12 significant digits at the end.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, localcontext

from portfolio.engine.errors import EngineValidationError
from portfolio.engine.numbers import ENGINE_CONTEXT, ONE, ZERO

TRADING_DAYS_PER_YEAR = 252
DAYS_PER_YEAR = 365.0

# XIRR is solved for the log growth u = ln(1 + rate): the domain is the whole real line, and
# factoring out the largest exponent keeps every sum finite, so no rate overflows.
_NEWTON_START = math.log1p(0.1)
_NEWTON_STEPS = 100
_TOLERANCE = 1e-12
_RESIDUAL = 1e-9
# Log growths probed for a sign change when Newton fails: from a rate of -100 % (to float
# precision) up to ~1e304, so even a one-day span, whose annualised rate explodes, is solved.
_BRACKET_GRID = (
    -700.0, -300.0, -100.0, -50.0, -20.0, -10.0, -5.0, -3.0, -2.0, -1.5, -1.0, -0.5, -0.25,
    -0.1, -0.05, 0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0,
    300.0, 700.0,
)  # fmt: skip


def daily_returns(
    *, values: Sequence[Decimal], flows: Sequence[Decimal], opening_value: Decimal = ZERO
) -> list[Decimal]:
    """r(t) = V(t) / (V(t-1) + F(t)) - 1 per day; 0 when the denominator is zero or negative.

    `opening_value` is V before the first day (0 for a ledger's first day).
    """
    if len(values) != len(flows):
        raise EngineValidationError(
            field="flows", message="needs exactly one external flow per value."
        )
    returns: list[Decimal] = []
    previous = opening_value
    with localcontext(ENGINE_CONTEXT):
        for value, flow in zip(values, flows, strict=True):
            denominator = previous + flow
            returns.append(value / denominator - ONE if denominator > 0 else ZERO)
            previous = value
    return returns


def time_weighted_return(*, returns: Sequence[Decimal]) -> Decimal:
    """TWR = Π(1 + r) - 1 (0 for an empty span)."""
    with localcontext(ENGINE_CONTEXT):
        index = ONE
        for r in returns:
            index *= ONE + r
        return index - ONE


def max_drawdown(*, returns: Sequence[Decimal]) -> Decimal:
    """The lowest I(t) / max I(s <= t) - 1 over the TWR index I, which starts at 1 (<= 0)."""
    with localcontext(ENGINE_CONTEXT):
        index = peak = ONE
        worst = ZERO
        for r in returns:
            index *= ONE + r
            if index > peak:
                peak = index
            else:
                drawdown = index / peak - ONE
                if drawdown < worst:
                    worst = drawdown
        return worst


def _mean_and_sample_std(returns: Sequence[Decimal]) -> tuple[Decimal, Decimal] | None:
    n = len(returns)
    if n < 2:
        return None
    mean = sum(returns, ZERO) / n
    variance = sum(((r - mean) ** 2 for r in returns), ZERO) / (n - 1)
    return mean, variance.sqrt()


def volatility(
    *, returns: Sequence[Decimal], periods_per_year: int = TRADING_DAYS_PER_YEAR
) -> Decimal | None:
    """Sample standard deviation of the daily returns * √252; None with fewer than two returns."""
    with localcontext(ENGINE_CONTEXT):
        stats = _mean_and_sample_std(returns)
        if stats is None:
            return None
        return stats[1] * Decimal(periods_per_year).sqrt()


def sharpe_ratio(
    *,
    returns: Sequence[Decimal],
    risk_free_rate: Decimal = ZERO,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> Decimal | None:
    """(mean daily return - annual risk-free rate / 252) / sample std * √252.

    None with fewer than two returns or when the returns do not vary.
    """
    with localcontext(ENGINE_CONTEXT):
        stats = _mean_and_sample_std(returns)
        if stats is None or stats[1] == 0:
            return None
        mean, std = stats
        excess = mean - risk_free_rate / periods_per_year
        return excess / std * Decimal(periods_per_year).sqrt()


def _scaled_npv(u: float, times: Sequence[float], amounts: Sequence[float]):
    """NPV, its slope in u, and the sum of |terms|, all divided by the largest discount factor."""
    exponents = [-t * u for t in times]
    top = max(exponents)
    npv = slope = magnitude = 0.0
    for t, amount, exponent in zip(times, amounts, exponents, strict=True):
        term = amount * math.exp(exponent - top)
        npv += term
        slope -= t * term
        magnitude += abs(term)
    return npv, slope, magnitude


def _is_root(u: float, times: Sequence[float], amounts: Sequence[float]) -> bool:
    npv, _, magnitude = _scaled_npv(u, times, amounts)
    return abs(npv) <= _RESIDUAL * magnitude


def _newton(times: Sequence[float], amounts: Sequence[float]) -> float | None:
    u = _NEWTON_START
    for _ in range(_NEWTON_STEPS):
        npv, slope, _ = _scaled_npv(u, times, amounts)
        if slope == 0:
            return None
        step = npv / slope
        u -= step
        if not math.isfinite(u) or abs(u) > _BRACKET_GRID[-1]:
            return None
        if abs(step) <= _TOLERANCE * max(1.0, abs(u)):
            return u if _is_root(u, times, amounts) else None
    return None


def _bisect(times: Sequence[float], amounts: Sequence[float]) -> float | None:
    signs = [(u, _scaled_npv(u, times, amounts)[0]) for u in _BRACKET_GRID]
    brackets = []
    for (lo, f_lo), (hi, f_hi) in itertools.pairwise(signs):
        if f_lo == 0:
            return lo
        if (f_lo < 0) != (f_hi < 0):
            brackets.append((lo, f_lo, hi))
    if not brackets:
        return None
    # Of several roots, the one nearest 0 % is the economically plausible one.
    lo, f_lo, hi = min(brackets, key=lambda b: min(abs(b[0]), abs(b[2])))
    for _ in range(400):
        mid = (lo + hi) / 2
        f_mid = _scaled_npv(mid, times, amounts)[0]
        if f_mid == 0 or hi - lo <= _TOLERANCE * max(1.0, abs(mid)):
            return mid
        if (f_mid < 0) == (f_lo < 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return (lo + hi) / 2


def xirr(*, cashflows: Sequence[tuple[date, Decimal]]) -> Decimal | None:
    """The annual rate (actual/365) at which the dated cash flows discount to zero, or None.

    Sign convention: money paid into the portfolio is negative, money out (and the end value) is
    positive. None when there is no root: flows all of one sign, all on one day, or no sign change.
    Newton's method from 10 %, then bisection over a sign change when Newton fails; a rate that
    rounds to -100 % in floating point is answered as -1.
    """
    flows = [(day, float(amount)) for day, amount in cashflows if amount != 0]
    if not any(a > 0 for _, a in flows) or not any(a < 0 for _, a in flows):
        return None
    first = min(day for day, _ in flows)
    times = [(day - first).days / DAYS_PER_YEAR for day, _ in flows]
    if not any(times):
        return None
    amounts = [a for _, a in flows]
    u = _newton(times, amounts)
    if u is None:
        u = _bisect(times, amounts)
    if u is None:
        return None
    return Decimal(f"{math.expm1(u):.12g}")
