"""The DCA strategy engine: config validation, the ladder, and the deal state machine (SPEC §4)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bots.engine import (
    DcaConfig,
    DcaState,
    EngineValidationError,
    ExecutionCosts,
    dca_levels,
    dca_on_bar,
    dca_on_tick,
    ensure_capital,
    parse_dca_config,
    required_capital,
    safety_ladder,
)
from tests.bots.builders import START, d, minute, run_bars, run_ticks, spec_config

CENT = Decimal("0.01")

# SPEC §4 worked check: order, price, size, total quantity, average entry, take profit.
WORKED_CHECK = [
    ("base", "100.00", "100", "1.00000000", "100.000000", "101.500000"),
    ("safety_1", "99.00", "200", "3.02020202", "99.331104", "100.821070"),
    ("safety_2", "97.50", "400", "7.12276612", "98.276426", "99.750573"),
    ("safety_3", "95.25", "800", "15.52171625", "96.638798", "98.088380"),
]
WORKED_PATH = [d(100), d(99), d("97.50"), d("95.25")]


def places(value: Decimal, digits: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-digits))


# --- config ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"base_order_size": d(0)}, "base_order_size", "greater than 0"),
        ({"safety_order_size": d(-5)}, "safety_order_size", "greater than 0"),
        ({"base_order_size": d("1.123456789")}, "base_order_size", "8 decimal places"),
        ({"base_order_size": 100.0}, "base_order_size", "Decimal, not float"),
        ({"max_safety_orders": -1}, "max_safety_orders", "from 0 to 50"),
        ({"max_safety_orders": 51}, "max_safety_orders", "from 0 to 50"),
        ({"max_safety_orders": True}, "max_safety_orders", "whole number"),
        ({"price_deviation_pct": d(0)}, "price_deviation_pct", "greater than 0"),
        ({"price_deviation_pct": d(100)}, "price_deviation_pct", "less than 100"),
        ({"price_deviation_pct": d("NaN")}, "price_deviation_pct", "finite"),
        ({"safety_order_step_scale": d("0.9")}, "safety_order_step_scale", "from 1 to 10"),
        ({"safety_order_volume_scale": d(11)}, "safety_order_volume_scale", "from 1 to 10"),
        ({"take_profit_pct": d(0)}, "take_profit_pct", "greater than 0"),
        ({"stop_loss_pct": d(0)}, "stop_loss_pct", "greater than 0"),
        ({"stop_loss_pct": d(100)}, "stop_loss_pct", "less than 100"),
        ({"cooldown_seconds": -1}, "cooldown_seconds", "from 0 to"),
        (
            {"price_deviation_pct": d(10), "safety_order_step_scale": d(2), "max_safety_orders": 4},
            "max_safety_orders",
            "at most 3 safety orders fit",
        ),
        ({"price_deviation_pct": d(25), "max_safety_orders": 4}, "max_safety_orders", "zero"),
    ],
)
def test_config_rejects_bad_field_naming_it(overrides, field, fragment):
    with pytest.raises(EngineValidationError) as caught:
        spec_config(**overrides)
    assert list(caught.value.errors) == [field]
    assert fragment in caught.value.errors[field][0]


def test_config_reports_every_bad_field_at_once():
    with pytest.raises(EngineValidationError) as caught:
        spec_config(base_order_size=d(0), take_profit_pct=d(-1), cooldown_seconds=-5)
    assert set(caught.value.errors) == {"base_order_size", "take_profit_pct", "cooldown_seconds"}


def test_config_accepts_the_largest_ladder_that_stays_above_zero():
    config = spec_config(
        price_deviation_pct=d(10), safety_order_step_scale=d(2), max_safety_orders=3
    )
    ladder = safety_ladder(config=config, base_price=d(100))
    assert [order.trigger_price for order in ladder] == [d(90), d(70), d(30)]


def test_parse_reads_json_strings_and_numbers_into_the_same_config():
    data = {
        "base_order_size": "100",
        "safety_order_size": 200,
        "max_safety_orders": "3",
        "price_deviation_pct": "1",
        "safety_order_step_scale": 1.5,
        "safety_order_volume_scale": "2",
        "take_profit_pct": "1.5",
        "stop_loss_pct": "",
        "cooldown_seconds": None,
    }
    assert parse_dca_config(data=data) == spec_config()


def test_parse_round_trips_as_json():
    config = spec_config(stop_loss_pct=d("7.5"), cooldown_seconds=600)
    assert parse_dca_config(data=config.as_json()) == config
    assert config.as_json()["take_profit_pct"] == "1.5"


def test_parse_names_missing_unknown_and_unreadable_fields():
    data = {"base_order_size": "abc", "max_safety_orders": "2.5", "take_profit": "1"}
    with pytest.raises(EngineValidationError) as caught:
        parse_dca_config(data=data)
    errors = caught.value.errors
    assert errors["base_order_size"] == ["A number is required."]
    assert errors["max_safety_orders"] == ["A whole number is required."]
    assert errors["take_profit"] == ["Unknown setting."]
    for required in ("safety_order_size", "price_deviation_pct", "take_profit_pct"):
        assert errors[required] == ["This field is required."]


# --- ladder and capital ------------------------------------------------------------------------


def test_ladder_matches_the_worked_check():
    ladder = safety_ladder(config=spec_config(), base_price=d(100))
    assert [(o.number, o.trigger_price, o.size) for o in ladder] == [
        (1, d("99.00"), d(200)),
        (2, d("97.50"), d(400)),
        (3, d("95.25"), d(800)),
    ]


def test_ladder_with_step_scale_one_is_evenly_spaced():
    config = spec_config(safety_order_step_scale=d(1), safety_order_volume_scale=d(1))
    ladder = safety_ladder(config=config, base_price=d(250))
    assert [o.trigger_price for o in ladder] == [d("247.5"), d(245), d("242.5")]
    assert [o.size for o in ladder] == [d(200)] * 3


def test_ladder_rounds_triggers_to_price_places():
    config = spec_config(safety_order_step_scale=d("1.3"), max_safety_orders=5)
    ladder = safety_ladder(config=config, base_price=d("0.0003333333"))
    for order in ladder:
        assert order.trigger_price.as_tuple().exponent >= -10
        assert order.trigger_price > 0


@pytest.mark.parametrize(
    ("fee_rate", "expected"),
    [(d(0), d(1500)), (d("0.001"), d("1501.5")), (d("0.0025"), d("1503.75"))],
)
def test_required_capital_is_base_plus_safety_sizes_plus_their_fees(fee_rate, expected):
    assert required_capital(config=spec_config(), fee_rate=fee_rate) == expected


def test_required_capital_without_safety_orders_is_the_base_order():
    assert required_capital(config=spec_config(max_safety_orders=0)) == d(100)


@pytest.mark.parametrize(
    ("available", "fee_rate", "refused"),
    [
        (d(1500), d(0), False),
        (d("1499.99"), d(0), True),
        (d("1501.5"), d("0.001"), False),
        (d("1501.49"), d("0.001"), True),
    ],
)
def test_ensure_capital_refuses_a_config_the_balance_cannot_fund(available, fee_rate, refused):
    if not refused:
        ensure_capital(config=spec_config(), available=available, fee_rate=fee_rate)
        return
    with pytest.raises(EngineValidationError) as caught:
        ensure_capital(config=spec_config(), available=available, fee_rate=fee_rate)
    assert caught.value.field == "account"
    assert str(available) in caught.value.message


# --- worked check ------------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "row"), list(enumerate(WORKED_CHECK)))
def test_worked_check_order_by_order_on_ticks(index, row):
    kind, price, size, total_quantity, average_entry, take_profit = row
    config = spec_config()
    run = run_ticks(config, WORKED_PATH[: index + 1])
    order = run.orders[index]
    deal = run.state.deal
    assert (order.kind, order.side, order.price, order.notional) == (kind, "buy", d(price), d(size))
    assert order.quantity == (d(size) / d(price)).quantize(Decimal("1e-12"), rounding="ROUND_DOWN")
    assert places(deal.quantity, 8) == d(total_quantity)
    assert places(deal.average_entry, 6) == d(average_entry)
    assert places(dca_levels(config=config, state=run.state).take_profit, 6) == d(take_profit)
    assert len(run.orders) == index + 1


def test_worked_check_closing_at_98_088380_returns_22_50_on_1500():
    run = run_ticks(spec_config(), [*WORKED_PATH, d("98.088380")])
    (deal,) = run.deals
    sell = run.orders[-1]
    assert (sell.kind, sell.side, sell.price) == ("take_profit", "sell", d("98.088380"))
    assert sell.quantity == deal.quantity == sum(o.quantity for o in run.orders[:-1])
    assert deal.quote_spent == d(1500)
    assert places(deal.pnl, 2) == d("22.50")
    assert abs(deal.pnl - d("22.5")) < d("0.00001")
    assert run.state.deal is None


def test_worked_check_in_one_bar_walks_down_then_up():
    config = spec_config()
    run = run_bars(config, [(START, d(100), d(100), d("95.25"), d(98))])
    kinds = [(o.kind, o.price) for o in run.orders]
    (deal,) = run.deals
    assert kinds[:4] == [
        ("base", d(100)),
        ("safety_1", d(99)),
        ("safety_2", d("97.5")),
        ("safety_3", d("95.25")),
    ]
    assert kinds[4][0] == "take_profit"
    assert places(kinds[4][1], 6) == d("98.088380")
    assert places(deal.pnl, 2) == d("22.50")


def test_a_fee_reduces_the_deal_pnl_by_exactly_the_fees():
    prices = [*WORKED_PATH, d("98.088380")]
    free = run_ticks(spec_config(), prices)
    paid = run_ticks(spec_config(), prices, costs=ExecutionCosts(fee_rate=d("0.001")))
    assert [o.fee for o in paid.orders[:4]] == [d("0.1"), d("0.2"), d("0.4"), d("0.8")]
    assert paid.orders[4].fee == places(paid.orders[4].notional * d("0.001"), 8)
    assert [(o.price, o.quantity) for o in paid.orders] == [
        (o.price, o.quantity) for o in free.orders
    ]
    fees = sum(o.fee for o in paid.orders)
    assert paid.deals[0].fees == fees
    assert paid.deals[0].pnl == free.deals[0].pnl - fees
    assert paid.cash == free.cash - fees


@pytest.mark.parametrize(
    ("overrides", "prices", "kind", "price"),
    [
        ({}, ["100", "99"], "safety_1", "99"),
        ({}, ["100", "101.5"], "take_profit", "101.5"),
        ({"max_safety_orders": 0, "stop_loss_pct": d(5)}, ["100", "95"], "stop_loss", "95"),
    ],
)
def test_a_price_exactly_at_a_level_fills_it(overrides, prices, kind, price):
    run = run_ticks(spec_config(**overrides), [d(p) for p in prices])
    assert (run.orders[-1].kind, run.orders[-1].price) == (kind, d(price))


# --- stop loss ---------------------------------------------------------------------------------


def test_stop_loss_on_a_tick_sells_everything_at_the_tick_price():
    config = spec_config(max_safety_orders=1, stop_loss_pct=d(5))
    run = run_ticks(config, [d(100), d(99), d(95), d(94)])
    sell = run.orders[-1]
    (deal,) = run.deals
    assert [o.kind for o in run.orders] == ["base", "safety_1", "stop_loss"]
    assert (sell.side, sell.order_type, sell.price) == ("sell", "market", d(94))
    assert sell.quantity == run.orders[0].quantity + run.orders[1].quantity
    assert deal.exit_kind == "stop_loss"
    assert deal.pnl == places(sell.quantity * d(94), 8) - d(300)
    assert deal.pnl < 0


def test_stop_loss_inside_a_bar_fills_at_its_level_and_a_gap_at_the_open():
    config = spec_config(max_safety_orders=0, stop_loss_pct=d(5))
    level = d(95)
    inside = run_bars(
        config,
        [(minute(0), d(100), d(100), d(100), d(100)), (minute(1), d(98), d(98), d(90), d(91))],
    )
    gapped = run_bars(
        config,
        [(minute(0), d(100), d(100), d(100), d(100)), (minute(1), d(92), d(93), d(90), d(91))],
    )
    assert inside.orders[-1].price == level
    assert gapped.orders[-1].price == d(92)


def test_stop_loss_moves_against_the_trader_by_slippage():
    config = spec_config(max_safety_orders=0, stop_loss_pct=d(5))
    costs = ExecutionCosts(slippage_bps=d(10))
    run = run_bars(
        config,
        [(minute(0), d(100), d(100), d(100), d(100)), (minute(1), d(98), d(98), d(90), d(91))],
        costs=costs,
    )
    base, stop = run.orders
    assert base.price == d("100.1")
    level = places(d(100) / base.quantity * d("0.95"), 10)
    assert stop.price == places(level * d("0.999"), 10)
    assert stop.price < level


def test_safety_orders_above_the_stop_fill_before_it_moves_down():
    # SL 1.5%: SO1 (99) and SO2 (98) sit above each successive stop level, SO3 (97) does not.
    config = spec_config(
        max_safety_orders=3,
        safety_order_step_scale=d(1),
        safety_order_volume_scale=d(1),
        stop_loss_pct=d("1.5"),
    )
    run = run_bars(
        config,
        [(minute(0), d(100), d(100), d(100), d(100)), (minute(1), d(100), d(100), d(90), d(91))],
    )
    kinds = [o.kind for o in run.orders]
    assert kinds == ["base", "safety_1", "safety_2", "stop_loss"]
    stop_level = places(d(500) / sum(o.quantity for o in run.orders[:3]) * d("0.985"), 10)
    assert stop_level > d(97)
    assert run.orders[-1].price == stop_level


def test_a_safety_trigger_level_with_the_stop_fills_first_and_moves_the_stop_down():
    config = spec_config(stop_loss_pct=d(1))
    run = run_ticks(config, [d(100), d(99)])
    assert [o.kind for o in run.orders] == ["base", "safety_1"]
    assert dca_levels(config=config, state=run.state).stop_loss < d(99)


def test_a_stop_above_the_next_safety_trigger_fires_first():
    config = spec_config(stop_loss_pct=d("0.5"))
    run = run_bars(
        config,
        [(minute(0), d(100), d(100), d(100), d(100)), (minute(1), d(100), d(100), d(90), d(91))],
    )
    assert [(o.kind, o.price) for o in run.orders] == [("base", d(100)), ("stop_loss", d("99.5"))]


# --- bars: open, gaps, later bars --------------------------------------------------------------


def test_a_gap_down_fills_every_standing_safety_order_it_jumped_at_the_open():
    run = run_bars(
        spec_config(),
        [
            (minute(0), d(100), d(100), d(100), d(100)),
            (minute(1), d(96), d(96), d("95.5"), d("95.5")),
        ],
    )
    assert [(o.kind, o.price) for o in run.orders] == [
        ("base", d(100)),
        ("safety_1", d(96)),
        ("safety_2", d(96)),
    ]
    assert run.orders[1].quantity == d("2.083333333333")
    assert run.orders[2].quantity == d("4.166666666666")


def test_levels_set_inside_a_bar_fill_at_their_own_price():
    # The walk is open -> low -> high: the safety orders fill on the way down to 96, the new take
    # profit on the way back up to the high.
    config = spec_config()
    run = run_bars(config, [(minute(0), d(100), d(100), d(96), d(96))])
    assert [(o.kind, o.price) for o in run.orders] == [
        ("base", d(100)),
        ("safety_1", d(99)),
        ("safety_2", d("97.5")),
        ("take_profit", d("99.7505727064")),
    ]


def test_a_gap_up_over_the_take_profit_sells_at_the_open():
    run = run_bars(
        spec_config(),
        [(minute(0), d(100), d(100), d(100), d(100)), (minute(1), d(103), d(104), d(102), d(103))],
    )
    sell = run.orders[-1]
    assert (sell.kind, sell.price) == ("take_profit", d(103))


def test_a_bar_opening_exactly_at_the_take_profit_sells_before_walking_down():
    run = run_bars(
        spec_config(),
        [
            (minute(0), d(100), d(100), d(100), d(100)),
            (minute(1), d("101.5"), d("101.5"), d(98), d(99)),
        ],
    )
    assert [(o.kind, o.price) for o in run.orders] == [
        ("base", d(100)),
        ("take_profit", d("101.5")),
    ]


def test_take_profit_inside_a_bar_sells_at_the_level():
    run = run_bars(
        spec_config(),
        [(minute(0), d(100), d(100), d(100), d(100)), (minute(1), d(100), d(102), d(100), d(101))],
    )
    assert run.orders[-1].price == d("101.5")


def test_a_deal_closed_in_a_bar_reopens_at_a_later_bar_open():
    run = run_bars(
        spec_config(),
        [(minute(0), d(100), d(102), d(100), d(101)), (minute(1), d(101), d(101), d(101), d(101))],
    )
    assert [(o.deal, o.kind, o.time) for o in run.orders] == [
        (1, "base", minute(0)),
        (1, "take_profit", minute(0)),
        (2, "base", minute(1)),
    ]
    assert run.orders[-1].price == d(101)


# --- cooldown ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cooldown_seconds", "reopen_minutes_after_close"),
    [(0, 1), (60, 1), (61, 2), (300, 5), (301, 6)],
)
def test_cooldown_delays_the_next_deal_to_the_first_tick_after_it(
    cooldown_seconds, reopen_minutes_after_close
):
    config = spec_config(cooldown_seconds=cooldown_seconds)
    run = run_ticks(config, [d(100), d(102)] + [d(100)] * 10)
    second_base = next(o for o in run.orders if o.deal == 2)
    assert run.deals[0].closed_at == minute(1)
    assert second_base.time == minute(1 + reopen_minutes_after_close)
    assert second_base.kind == "base"


def test_no_deal_reopens_at_the_same_time_as_the_close_even_without_cooldown():
    config = spec_config()
    closing = run_ticks(config, [d(100), d(102)])
    again = dca_on_tick(
        config=config,
        state=closing.state,
        time=minute(1),
        price=d(102),
        costs=ExecutionCosts(),
        quote_available=closing.cash,
    )
    assert again.orders == ()
    assert again.state is closing.state


# --- funds -------------------------------------------------------------------------------------


def test_a_base_order_the_balance_cannot_pay_is_refused_and_changes_nothing():
    state = DcaState()
    step = dca_on_tick(
        config=spec_config(),
        state=state,
        time=START,
        price=d(100),
        costs=ExecutionCosts(fee_rate=d("0.001")),
        quote_available=d("100.09"),
    )
    assert step.state is state
    assert step.orders == ()
    (rejection,) = step.rejections
    assert rejection.kind == "base"
    assert "Insufficient funds" in rejection.reason
    assert "100.1" in rejection.reason


def test_an_unpayable_safety_order_cancels_the_rest_of_the_ladder():
    run = run_ticks(spec_config(), [d(100), d(99), d("97.5"), d("95.25"), d(101)], cash=d(300))
    assert [o.kind for o in run.orders] == ["base", "safety_1", "take_profit"]
    assert [r.kind for r in run.rejections] == ["safety_2"]
    assert run.states[2].deal.safety_orders_cancelled
    assert dca_levels(config=spec_config(), state=run.states[3]).next_safety_order is None
    assert run.cash > 0


# --- validation at the door --------------------------------------------------------------------


def test_tick_refuses_a_naive_time():
    with pytest.raises(EngineValidationError) as caught:
        dca_on_tick(
            config=spec_config(),
            state=DcaState(),
            time=datetime(2024, 1, 1),  # noqa: DTZ001 - the point of the test
            price=d(100),
            costs=ExecutionCosts(),
            quote_available=d(1000),
        )
    assert caught.value.field == "time"


def test_tick_refuses_going_back_in_time():
    run = run_ticks(spec_config(), [d(100)])
    with pytest.raises(EngineValidationError) as caught:
        dca_on_tick(
            config=spec_config(),
            state=run.state,
            time=START - timedelta(seconds=1),
            price=d(100),
            costs=ExecutionCosts(),
            quote_available=d(1000),
        )
    assert caught.value.field == "time"


@pytest.mark.parametrize(
    ("open_", "high", "low", "close"),
    [(d(100), d(99), d(98), d(99)), (d(100), d(101), d(101), d(101)), (d(0), d(1), d(0), d(1))],
)
def test_bar_refuses_impossible_ohlc(open_, high, low, close):
    with pytest.raises(EngineValidationError) as caught:
        dca_on_bar(
            config=spec_config(),
            state=DcaState(),
            time=START,
            open=open_,
            high=high,
            low=low,
            close=close,
            costs=ExecutionCosts(),
            quote_available=d(1000),
        )
    assert caught.value.field == "bar"


@pytest.mark.parametrize(
    ("costs", "field"),
    [
        ({"fee_rate": d(-1)}, "fee_rate"),
        ({"fee_rate": d(1)}, "fee_rate"),
        ({"slippage_bps": d(-1)}, "slippage_bps"),
        ({"slippage_bps": 5}, "slippage_bps"),
    ],
)
def test_execution_costs_refuse_out_of_range_values(costs, field):
    with pytest.raises(EngineValidationError) as caught:
        ExecutionCosts(**costs)
    assert caught.value.field == field


def test_levels_are_empty_without_a_deal():
    levels = dca_levels(config=spec_config(), state=DcaState())
    assert (levels.next_safety_order, levels.take_profit, levels.stop_loss) == (None, None, None)


def test_state_survives_a_round_trip_through_its_facts():
    """The Django layer stores the deal's facts and rebuilds the state; the next tick agrees."""
    config = spec_config(stop_loss_pct=d(10))
    run = run_ticks(config, [d(100), d(99)])
    deal = run.state.deal
    rebuilt = DcaState(
        deal=replace(deal, opened_at=deal.opened_at.astimezone(UTC)),
        deals_opened=run.state.deals_opened,
        last_closed_at=run.state.last_closed_at,
    )
    args = {
        "config": config,
        "time": minute(2),
        "price": d("97.4"),
        "costs": ExecutionCosts(),
        "quote_available": run.cash,
    }
    assert dca_on_tick(state=rebuilt, **args) == dca_on_tick(state=run.state, **args)


def test_config_is_hashable_and_reusable_across_runs():
    assert {spec_config(): 1}[spec_config()] == 1
    assert isinstance(spec_config(), DcaConfig)
