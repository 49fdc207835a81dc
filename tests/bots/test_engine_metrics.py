"""Performance maths over equity curves (SPEC §4 definitions) and bot-run equity."""

import math
from datetime import timedelta
from decimal import Decimal

import pytest

from bots.engine import (
    ExecutionCosts,
    annualized_volatility,
    cagr,
    dca_equity,
    deal_unrealized_pnl,
    equity_curve_metrics,
    max_drawdown,
    period_returns,
    sharpe_ratio,
)
from tests.bots.builders import START, d, run_ticks, spec_config


def ratio(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("1e-8"))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["100", "110", "99"], ["0.1", "-0.1"]),
        (["0", "50", "75"], ["0", "0.5"]),
        (["100"], []),
    ],
)
def test_period_returns_divide_each_value_by_the_one_before(values, expected):
    assert period_returns(values=[d(v) for v in values]) == [d(e) for e in expected]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["100", "120", "90", "130", "117"], "-0.25"),
        (["100", "101", "102"], "0"),
        (["100", "50", "25"], "-0.75"),
        ([], "0"),
    ],
)
def test_max_drawdown_is_the_worst_fall_from_a_running_peak(values, expected):
    assert max_drawdown(values=[d(v) for v in values]) == d(expected)


def test_volatility_and_sharpe_annualize_the_sample_statistics():
    returns = [d("0.01"), d("-0.005"), d("0.02"), d("0.0")]
    floats = [0.01, -0.005, 0.02, 0.0]
    mean = sum(floats) / 4
    sample_sd = math.sqrt(sum((r - mean) ** 2 for r in floats) / 3)
    assert annualized_volatility(returns=returns) == ratio(sample_sd * math.sqrt(252))
    assert sharpe_ratio(returns=returns) == ratio(mean / sample_sd * math.sqrt(252))


@pytest.mark.parametrize("returns", [[], [d("0.01")], [d("0.01"), d("0.01"), d("0.01")]])
def test_sharpe_is_undefined_without_variation(returns):
    assert sharpe_ratio(returns=returns) is None


@pytest.mark.parametrize(
    ("start_value", "end_value", "days", "expected"),
    [
        ("1000", "1100", 365, 0.1),
        ("1000", "2000", 730, math.sqrt(2) - 1),
        ("1000", "900", 365, -0.1),
    ],
)
def test_cagr_is_the_actual_365_annual_rate(start_value, end_value, days, expected):
    value = cagr(
        start_value=d(start_value),
        end_value=d(end_value),
        start=START,
        end=START + timedelta(days=days),
    )
    assert value == ratio(expected)


@pytest.mark.parametrize(
    ("end_value", "span"),
    [("1100", timedelta(hours=23)), ("0", timedelta(days=30))],
)
def test_cagr_is_undefined_for_spans_under_a_day_or_nothing_left(end_value, span):
    assert cagr(start_value=d(1000), end_value=d(end_value), start=START, end=START + span) is None


def test_equity_curve_metrics_gather_the_spec_figures():
    metrics = equity_curve_metrics(values=[d(1000), d(1100), d(990), d("1039.5")])
    assert metrics.total_return == d("0.0395")
    assert metrics.max_drawdown == d("-0.1")
    assert metrics.sharpe == sharpe_ratio(returns=[d("0.1"), d("-0.1"), d("0.05")])


def test_bot_run_equity_is_cash_plus_the_open_position():
    config = spec_config()
    costs = ExecutionCosts(fee_rate=d("0.001"))
    run = run_ticks(config, [d(100), d(102), d(101), d(99), d("97.5")], costs=costs, cash=d(2000))
    realized = sum(deal.pnl for deal in run.deals)
    last = d("97.5")
    deal = run.state.deal
    position_value = (deal.quantity * last).quantize(Decimal("1e-8"))
    assert deal_unrealized_pnl(deal=deal, price=last) == position_value - deal.quote_spent - (
        deal.fees
    )
    equity = dca_equity(
        allocated_capital=d(2000), realized_pnl=realized, state=run.state, price=last
    )
    assert equity == run.cash + position_value
    assert realized > 0
