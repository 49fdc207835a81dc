"""The backtest runner: the DCA strategy over bars, equity curve, metrics, progress, refusals."""

import math
import statistics
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from bots.engine import BarColumns, EngineValidationError, backtest_run
from tests.bots.builders import (
    START,
    d,
    minute,
    one_price_bars,
    run_ticks,
    spec_config,
)

ZERO = Decimal(0)
TEN_THOUSAND = Decimal(10000)


def run(config, bars, *, initial_balance=TEN_THOUSAND, fee_rate=ZERO, slippage_bps=ZERO, **kwargs):
    return backtest_run(
        config=config,
        bars=bars,
        initial_balance=initial_balance,
        fee_rate=fee_rate,
        slippage_bps=slippage_bps,
        **kwargs,
    )


def stepping_bars(prices: list[Decimal]) -> list[tuple]:
    """Bars that walk from each price to the next: open at one, low/high reaching the next."""
    bars = [(minute(0), prices[0], prices[0], prices[0], prices[0])]
    for i, (before, after) in enumerate(pairwise(prices), 1):
        bars.append((minute(i), before, max(before, after), min(before, after), after))
    return bars


WORKED_PRICES = [d(100), d(99), d("97.5"), d("95.25"), d("98.088380")]


def test_worked_check_through_a_backtest_matches_the_live_ticks_order_by_order():
    config = spec_config()
    result = run(config, stepping_bars(WORKED_PRICES))
    ticks = run_ticks(config, WORKED_PRICES[:4])
    buys = [(o.kind, o.price, o.quantity, o.notional) for o in result.orders[:4]]
    assert buys == [(o.kind, o.price, o.quantity, o.notional) for o in ticks.orders]
    assert [o.as_json()["kind"] for o in result.orders] == [
        "base",
        "safety_1",
        "safety_2",
        "safety_3",
        "take_profit",
    ]
    (deal,) = result.deals
    assert deal.quote_spent == d(1500)
    assert deal.pnl.quantize(d("0.01")) == d("22.50")
    assert result.metrics.realized_pnl == deal.pnl
    assert result.metrics.final_equity == d(10000) + deal.pnl


def test_worked_check_with_a_fee_loses_exactly_the_fees():
    config = spec_config()
    free = run(config, stepping_bars(WORKED_PRICES))
    paid = run(config, stepping_bars(WORKED_PRICES), fee_rate=d("0.001"))
    fees = sum(o.fee for o in paid.orders)
    assert paid.metrics.fees == fees
    assert fees == d("1.5") + (paid.orders[-1].notional * d("0.001")).quantize(d("1e-8"))
    assert paid.metrics.net_pnl == free.metrics.net_pnl - fees


def test_order_records_have_the_spec_fields_as_strings():
    result = run(spec_config(), stepping_bars(WORKED_PRICES), fee_rate=d("0.001"))
    record = result.orders[0].as_json()
    assert set(record) == {"side", "kind", "price", "quantity", "fee", "time", "deal"}
    assert record == {
        "side": "buy",
        "kind": "base",
        "price": "100.0000000000",
        "quantity": "1.000000000000",
        "fee": "0.10000000",
        "time": "2024-01-01T00:00:00+00:00",
        "deal": 1,
    }
    assert run(spec_config(), stepping_bars(WORKED_PRICES)).orders[0].as_json()["fee"] == (
        "0.00000000"
    )


def test_equity_is_sampled_at_start_at_each_days_last_bar_and_at_the_end():
    config = spec_config(max_safety_orders=0, take_profit_pct=d(50))
    hours = [START + timedelta(hours=h) for h in range(0, 60, 6)]
    closes = [d(100), d(90), d(80), d(85), d(95), d(100), d(110), d(120), d(105), d(101)]
    bars = [(t, c, c, c, c) for t, c in zip(hours, closes, strict=True)]
    result = run(config, bars, initial_balance=d(1000))
    quantity = result.orders[0].quantity
    expected = [
        (hours[0], d(1000)),
        (hours[3], d(900) + quantity * d(85)),
        (hours[7], d(900) + quantity * d(120)),
        (hours[9], d(900) + quantity * d(101)),
    ]
    assert [(p.time, p.equity) for p in result.equity_curve] == expected
    metrics = result.metrics
    assert metrics.final_equity == expected[-1][1]
    assert metrics.unrealized_pnl == quantity * d(101) - d(100)
    assert metrics.final_equity == d(1000) + metrics.realized_pnl + metrics.unrealized_pnl
    assert metrics.open_deal


def test_metrics_follow_the_spec_definitions_over_the_daily_curve():
    config = spec_config(max_safety_orders=0, take_profit_pct=d(10))
    bars = [
        (date(2024, 3, 1), d(100), d(100), d(100), d(100)),
        (date(2024, 3, 2), d(100), d(100), d(90), d(90)),
        (date(2024, 3, 3), d(90), d(95), d(90), d(95)),
        (date(2024, 3, 4), d(96), d(110), d(96), d(110)),
        (date(2024, 3, 5), d(50), d(50), d(45), d(45)),
    ]
    result = run(config, bars, initial_balance=d(1000))
    values = [p.equity for p in result.equity_curve]
    assert values == [d(1000), d(1000), d(990), d(995), d(1010), d(1000)]
    returns = [float(b / a - 1) for a, b in pairwise(values)]
    mean = sum(returns) / len(returns)
    sample_sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    metrics = result.metrics
    assert metrics.total_return == 0
    assert metrics.max_drawdown == d("-0.01")
    assert metrics.sharpe == Decimal(repr(mean / sample_sd * math.sqrt(252))).quantize(d("1e-8"))
    assert metrics.volatility == Decimal(repr(sample_sd * math.sqrt(252))).quantize(d("1e-8"))
    assert metrics.cagr == 0
    assert (metrics.deals_opened, metrics.deals_closed, metrics.deals_won) == (2, 1, 1)
    assert metrics.win_rate == 1
    assert result.orders[-1].time == datetime(2024, 3, 5, tzinfo=UTC)


def test_win_rate_counts_losing_deals():
    config = spec_config(max_safety_orders=0, take_profit_pct=d(5), stop_loss_pct=d(5))
    prices = [d(100), d(106), d(100), d(94), d(100), d(106)]
    result = run(config, one_price_bars(prices))
    assert [deal.exit_kind for deal in result.deals] == ["take_profit", "stop_loss", "take_profit"]
    assert result.metrics.win_rate == (d(2) / d(3)).quantize(d("1e-8"))
    assert result.metrics.stop_losses == 1


def test_a_flat_run_has_no_sharpe_and_no_drawdown():
    config = spec_config(max_safety_orders=0, take_profit_pct=d(50))
    bars = one_price_bars([d(100)] * 5, step=timedelta(days=1))
    metrics = run(config, bars).metrics
    assert metrics.sharpe is None
    assert metrics.max_drawdown == 0
    assert metrics.win_rate is None


@pytest.mark.parametrize("count", [1, 7, 100, 1001])
def test_progress_is_reported_at_most_100_times_and_ends_at_100(count):
    seen: list[int] = []
    bars = one_price_bars([d(100)] * count)
    run(spec_config(), bars, progress=seen.append)
    assert 1 <= len(seen) <= 100
    assert seen == sorted(seen)
    assert seen[-1] == 100


def test_columns_and_rows_give_the_same_backtest():
    bars = stepping_bars([d(100), d(97), d(103), d(96), d(99), d(104), d(101)])
    columns = BarColumns(*(list(column) for column in zip(*bars, strict=True)))
    by_rows = run(spec_config(), bars, fee_rate=d("0.001"), slippage_bps=d(5))
    by_columns = run(spec_config(), columns, fee_rate=d("0.001"), slippage_bps=d(5))
    assert by_rows == by_columns
    assert len(by_rows.orders) > 3


def test_cooldown_holds_in_a_backtest_like_on_ticks():
    config = spec_config(cooldown_seconds=300)
    prices = [d(100), d(102)] + [d(100)] * 10
    result = run(config, one_price_bars(prices))
    second = next(o for o in result.orders if o.deal == 2)
    assert second.time == minute(6)


def test_a_balance_that_can_no_longer_pay_a_base_order_stops_trading():
    config = spec_config(max_safety_orders=0, stop_loss_pct=d(50))
    bars = one_price_bars([d(100), d(40), d(40), d(100), d(40)])
    result = run(config, bars, initial_balance=d(100))
    assert [o.kind for o in result.orders] == ["base", "stop_loss"]
    assert result.metrics.rejected_orders == 1
    assert result.rejections[0].kind == "base"
    assert result.metrics.final_equity == d(40)


def test_result_serializes_to_json_safe_values():
    result = run(spec_config(), stepping_bars(WORKED_PRICES), fee_rate=d("0.001"))
    data = result.as_json()
    assert set(data) == {"metrics", "equity_curve", "orders", "deals", "rejections"}
    assert data["metrics"]["deals_closed"] == 1
    assert isinstance(data["metrics"]["total_return"], str)
    assert data["equity_curve"][0] == {"time": "2024-01-01T00:00:00+00:00", "equity": "10000"}
    assert data["deals"][0]["exit_kind"] == "take_profit"


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"bars": []}, "bars", "no price bars"),
        (
            {"bars": [(minute(1), d(1), d(1), d(1), d(1)), (minute(0), d(1), d(1), d(1), d(1))]},
            "bars",
            "must increase",
        ),
        (
            {
                "bars": [(minute(0), d(1), d(1), d(1), d(1)), (minute(1), d(1), d(1), d(1), d(1))]
                * 2
            },
            "bars",
            "must increase",
        ),
        ({"bars": [(minute(0), d(5), d(4), d(3), d(4))]}, "bars", "low <= open"),
        ({"bars": [(datetime(2024, 1, 1), d(1), d(1), d(1), d(1))]}, "bars", "timezone-aware"),  # noqa: DTZ001
        ({"bars": [(minute(0), 1.0, 1.0, 1.0, 1.0)]}, "bars", "Decimals"),
        ({"bars": [(minute(0), d(1), d(1), d(1))]}, "bars", "(time, open, high, low, close)"),
        ({"initial_balance": d(1499)}, "initial_balance", "needs 1500"),
        ({"initial_balance": d(1500), "fee_rate": d("0.001")}, "initial_balance", "1501.5"),
        ({"initial_balance": d(-1)}, "initial_balance", "greater than 0"),
        ({"fee_rate": d("1.5")}, "fee_rate", "fraction"),
        ({"slippage_bps": d(-3)}, "slippage_bps", "10000"),
    ],
)
def test_backtest_refuses_bad_input_naming_the_field(kwargs, field, fragment):
    args = {"bars": one_price_bars([d(100)]), "initial_balance": d(10000)}
    args.update(kwargs)
    with pytest.raises(EngineValidationError) as caught:
        run(spec_config(), **args)
    assert field in caught.value.errors
    assert fragment in " ".join(caught.value.errors[field])


def test_sharpe_uses_the_risk_free_rate_when_given():
    config = spec_config(max_safety_orders=0, take_profit_pct=d(10))
    days = [date(2024, 3, n) for n in range(1, 6)]
    closes = [d(100), d(101), d(99), d(104), d(102)]
    bars = [(day, c, c, c, c) for day, c in zip(days, closes, strict=True)]
    plain = run(config, bars, initial_balance=d(1000)).metrics.sharpe
    with_rate = run(config, bars, initial_balance=d(1000), risk_free_rate=d("0.05")).metrics.sharpe
    values = [d(1000)] + [d(900) + c / 100 * 100 for c in closes]
    returns = [float(b / a - 1) - 0.05 / 252 for a, b in pairwise(values)]
    expected = statistics.fmean(returns) / statistics.stdev(returns) * math.sqrt(252)
    assert with_rate == Decimal(repr(expected)).quantize(d("1e-8"))
    assert with_rate < plain
