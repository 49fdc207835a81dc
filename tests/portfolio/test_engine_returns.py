"""Return statistics: daily returns, TWR, drawdown, volatility, Sharpe and the XIRR solver."""

import math
from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from portfolio.engine import (
    EngineValidationError,
    daily_returns,
    max_drawdown,
    sharpe_ratio,
    time_weighted_return,
    volatility,
    xirr,
)
from portfolio.engine import returns as returns_engine
from tests.portfolio.builders import d, day


@pytest.mark.parametrize(
    ("values", "flows", "opening", "expected"),
    [
        (["110"], ["100"], "0", ["0.1"]),
        (["0", "0"], ["0", "0"], "0", ["0", "0"]),
        (["50", "60"], ["-100", "0"], "100", ["0", "0.2"]),
        (["0"], ["-120"], "100", ["0"]),
        (["99"], ["0"], "100", ["-0.01"]),
    ],
    ids=["first-day", "nothing-invested", "withdrawal-to-zero", "negative-denominator", "loss"],
)
def test_daily_return_is_value_over_previous_value_plus_flow(values, flows, opening, expected):
    returns = daily_returns(
        values=[d(v) for v in values], flows=[d(f) for f in flows], opening_value=d(opening)
    )

    assert returns == [d(e) for e in expected]


def test_daily_returns_need_one_flow_per_value():
    with pytest.raises(EngineValidationError):
        daily_returns(values=[d(1)], flows=[])


@pytest.mark.parametrize(
    ("returns", "twr", "drawdown"),
    [
        ([], "0", "0"),
        (["0.1", "0.1"], "0.21", "0"),
        (["-0.1"], "-0.1", "-0.1"),
        (["0.5", "-0.5", "0.2"], "-0.1", "-0.5"),
        (["-0.2", "0.5", "-0.25", "0.1"], "-0.01", "-0.25"),
    ],
)
def test_twr_chains_returns_and_drawdown_measures_from_the_running_peak(returns, twr, drawdown):
    decimals = [d(r) for r in returns]

    assert time_weighted_return(returns=decimals) == d(twr)
    assert max_drawdown(returns=decimals) == d(drawdown)


def test_volatility_and_sharpe_use_the_sample_standard_deviation():
    returns = [d("0.01"), d("-0.02"), d("0.03")]
    mean = 0.02 / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in (0.01, -0.02, 0.03)) / 2)

    assert float(volatility(returns=returns)) == pytest.approx(std * math.sqrt(252), rel=1e-12)
    assert float(sharpe_ratio(returns=returns)) == pytest.approx(
        mean / std * math.sqrt(252), rel=1e-12
    )
    assert float(sharpe_ratio(returns=returns, risk_free_rate=d("0.0252"))) == pytest.approx(
        (mean - 0.0001) / std * math.sqrt(252), rel=1e-12
    )


@pytest.mark.parametrize("returns", [[], [d("0.01")]], ids=["none", "one"])
def test_risk_figures_need_two_returns(returns):
    assert volatility(returns=returns) is None
    assert sharpe_ratio(returns=returns) is None


def test_sharpe_is_undefined_when_returns_do_not_vary():
    assert sharpe_ratio(returns=[d("0.01")] * 3) is None
    assert volatility(returns=[d("0.01")] * 3) == 0


XIRR_CASES = pytest.mark.parametrize(
    ("cashflows", "expected"),
    [
        ([("2021-01-01", "-1000"), ("2022-01-01", "1100")], 0.1),
        ([("2021-01-01", "-1000"), ("2022-01-01", "900")], -0.1),
        ([("2021-01-01", "-1000"), ("2021-07-02", "0"), ("2022-01-01", "1000")], 0.0),
        ([("2021-01-01", "-100"), ("2021-01-02", "110")], 1.1**365 - 1),
        ([("2021-01-01", "-100"), ("2021-01-02", "50")], 0.5**365 - 1),
        ([("2021-01-01", "-1000"), ("2025-01-01", "10")], 0.01 ** (365 / 1461) - 1),
    ],
    ids=["gain", "loss", "flat", "one-day-gain", "one-day-halving", "four-year-wipe-out"],
)


@XIRR_CASES
def test_xirr_finds_the_annual_rate(cashflows, expected):
    rate = xirr(cashflows=[(day(k), d(v)) for k, v in cashflows])

    assert float(rate) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@XIRR_CASES
def test_xirr_bisection_fallback_alone_finds_the_same_rate(monkeypatch, cashflows, expected):
    monkeypatch.setattr(returns_engine, "_newton", lambda times, amounts: None)

    rate = xirr(cashflows=[(day(k), d(v)) for k, v in cashflows])

    assert float(rate) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_xirr_with_two_roots_answers_the_one_nearest_zero():
    # -1000 + 2300 x - 1320 x^2 = 0 with x = 1 / (1 + r): r = 10 % or r = 20 %.
    flows = [
        (day("2021-01-01"), d(-1000)),
        (day("2022-01-01"), d(2300)),
        (day("2023-01-01"), d(-1320)),
    ]

    assert float(xirr(cashflows=flows)) == pytest.approx(0.1, rel=1e-9)


@pytest.mark.parametrize(
    "cashflows",
    [
        [],
        [("2021-01-01", "-100"), ("2021-06-01", "-100")],
        [("2021-01-01", "100"), ("2021-06-01", "100")],
        [("2021-01-01", "-100"), ("2021-01-01", "110")],
        [("2021-01-01", "-100"), ("2022-01-01", "0")],
    ],
    ids=["empty", "only-money-in", "only-money-out", "same-day", "total-loss"],
)
def test_xirr_has_no_answer_without_a_sign_change_over_time(cashflows):
    assert xirr(cashflows=[(day(k), d(v)) for k, v in cashflows]) is None


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=-0.95, max_value=20.0),
    payments=st.lists(
        st.tuples(st.integers(0, 3000), st.integers(1, 10**6)), min_size=1, max_size=12
    ),
    horizon=st.integers(1, 400),
)
def test_xirr_recovers_the_rate_that_priced_the_flows(rate, payments, horizon):
    """Money in on several days, one value out later: one root, the rate that priced the flows."""
    start = date(2020, 1, 1)
    last = max(offset for offset, _ in payments) + horizon
    end_value = sum(amount * (1 + rate) ** ((last - offset) / 365) for offset, amount in payments)
    flows = [(start + timedelta(days=offset), d(-amount)) for offset, amount in payments]
    assume(end_value >= 1)
    flows.append((start + timedelta(days=last), d(repr(end_value))))

    found = xirr(cashflows=flows)

    assert found is not None
    assert float(found) == pytest.approx(rate, rel=1e-6, abs=1e-6)
