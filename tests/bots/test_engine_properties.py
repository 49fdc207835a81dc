"""Property-based checks of the bots engines over random configs, price paths and order flows."""

from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bots.engine import (
    Balance,
    DcaConfig,
    DcaState,
    EngineValidationError,
    ExecutionCosts,
    PaperBook,
    Position,
    backtest_run,
    dca_levels,
    dca_on_bar,
    paper_fill_apply,
    paper_limit_order,
    paper_limit_order_match,
    paper_market_order,
    paper_order_cancel,
    required_capital,
)
from tests.bots.builders import START, one_price_bars, run_bars, run_ticks

PROPERTY_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
BOUNDARY_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=200)


def decimals(low: int, high: int, places: int) -> st.SearchStrategy[Decimal]:
    """Decimals from low to high in steps of 10^-places."""
    scale = 10**places
    return st.integers(low * scale, high * scale).map(lambda i: Decimal(i).scaleb(-places))


def round_or(strategy: st.SearchStrategy[Decimal]) -> st.SearchStrategy[Decimal]:
    """Mostly round percentages, whose levels land exactly on grid prices, else anything."""
    return st.sampled_from([Decimal("0.5"), Decimal(1), Decimal("1.5"), Decimal(2)]) | strategy


@st.composite
def configs(draw) -> DcaConfig:
    try:
        return DcaConfig(
            base_order_size=draw(decimals(10, 300, 2)),
            safety_order_size=draw(decimals(10, 300, 2)),
            max_safety_orders=draw(st.integers(0, 6)),
            price_deviation_pct=draw(round_or(decimals(0, 4, 2).filter(bool))),
            safety_order_step_scale=draw(decimals(1, 2, 1)),
            safety_order_volume_scale=draw(decimals(1, 2, 1)),
            take_profit_pct=draw(round_or(decimals(0, 5, 2).filter(bool))),
            stop_loss_pct=draw(st.none() | decimals(1, 40, 1)),
            cooldown_seconds=draw(st.sampled_from([0, 60, 150, 600])),
        )
    except EngineValidationError:
        assume(False)
        raise


costs_strategy = st.builds(
    ExecutionCosts,
    fee_rate=st.sampled_from([Decimal(0), Decimal("0.001"), Decimal("0.0025")]),
    slippage_bps=st.sampled_from([Decimal(0), Decimal(5), Decimal(30)]),
)


QUARTER = Decimal("0.25")


@st.composite
def price_paths(draw, min_size: int = 1, max_size: int = 80) -> list[Decimal]:
    """A walk from 100 in quarter steps (round levels are then hit exactly, as real ticks do),
    or a random walk from 100 in steps of up to 4% at cent precision, never below a cent."""
    if draw(st.booleans()):
        steps = draw(st.lists(st.integers(-3, 3), min_size=min_size - 1, max_size=max_size - 1))
        path = [price := Decimal(100)]
        for step in steps:
            price = max(QUARTER, price + step * QUARTER)
            path.append(price)
        return path
    moves = draw(st.lists(st.integers(-400, 400), min_size=min_size, max_size=max_size))
    price = Decimal(100)
    path = []
    for bps in moves:
        price = max(Decimal("0.01"), (price * (1 + Decimal(bps) / 10000)).quantize(Decimal("0.01")))
        path.append(price)
    return path


@st.composite
def ohlc_bars(draw) -> list[tuple]:
    """Bars whose opens follow a random walk, with random wicks and gaps between bars."""
    closes = draw(price_paths(min_size=1, max_size=60))
    bars = []
    previous = Decimal(100)
    for i, close in enumerate(closes):
        gap = Decimal(draw(st.integers(-150, 150))) / 10000
        open_ = max(Decimal("0.01"), (previous * (1 + gap)).quantize(Decimal("0.01")))
        up = Decimal(draw(st.integers(0, 300))) / 10000
        down = Decimal(draw(st.integers(0, 300))) / 10000
        high = (max(open_, close) * (1 + up)).quantize(Decimal("0.01"))
        low = max(Decimal("0.01"), (min(open_, close) * (1 - down)).quantize(Decimal("0.01")))
        bars.append((START + timedelta(minutes=i), open_, high, low, close))
        previous = close
    return bars


def budget(config: DcaConfig, costs: ExecutionCosts, extra: int) -> Decimal:
    return required_capital(config=config, fee_rate=costs.fee_rate) + extra


@PROPERTY_SETTINGS
@given(configs(), costs_strategy, price_paths(), st.integers(0, 200))
def test_random_ticks_never_overspend_and_every_close_sells_what_was_bought(
    config, costs, prices, extra
):
    run = run_ticks(config, prices, costs=costs, cash=budget(config, costs, extra))
    cash = budget(config, costs, extra)
    for order in run.orders:
        cash += order.cash_change
        assert cash >= 0
    assert cash == run.cash
    for deal in run.deals:
        deal_orders = [o for o in run.orders if o.deal == deal.number]
        bought = sum(o.quantity for o in deal_orders if o.side == "buy")
        (sell,) = [o for o in deal_orders if o.side == "sell"]
        assert sell.quantity == bought == deal.quantity
        assert deal.quote_spent == sum(o.notional for o in deal_orders if o.side == "buy")
        assert deal.pnl == sell.notional - deal.quote_spent - sum(o.fee for o in deal_orders)


@PROPERTY_SETTINGS
@given(configs(), costs_strategy, price_paths(), st.integers(0, 200))
def test_dca_fills_applied_through_the_paper_engine_keep_the_same_books(
    config, costs, prices, extra
):
    """What the live layer will do: each DCA fill goes through the paper rules and is accepted."""
    run = run_ticks(config, prices, costs=costs, cash=budget(config, costs, extra))
    book = PaperBook(balance=Balance(free=budget(config, costs, extra)))
    for order in run.orders:
        result = paper_fill_apply(
            book=book,
            side=order.side,
            quantity=order.quantity,
            price=order.price,
            notional=order.notional,
            fee=order.fee,
        )
        assert result.status == "filled"
        book = result.book
        assert book.balance.free >= 0
    assert book.balance.free == run.cash
    open_quantity = run.state.deal.quantity if run.state.deal else 0
    assert book.position.quantity == open_quantity
    assert book.position.realized_pnl == sum(deal.proceeds - deal.quote_spent for deal in run.deals)


@PROPERTY_SETTINGS
@given(configs(), costs_strategy, price_paths(), st.integers(0, 200))
def test_live_ticks_and_one_price_bars_give_the_same_orders(config, costs, prices, extra):
    cash = budget(config, costs, extra)
    ticks = run_ticks(config, prices, costs=costs, cash=cash)
    result = backtest_run(
        config=config,
        bars=one_price_bars(prices),
        initial_balance=cash,
        fee_rate=costs.fee_rate,
        slippage_bps=costs.slippage_bps,
    )
    assert list(result.orders) == ticks.orders
    assert list(result.deals) == ticks.deals
    assert result.final_state == ticks.state


@PROPERTY_SETTINGS
@given(configs(), costs_strategy, ohlc_bars(), st.integers(0, 200))
def test_the_runners_fast_path_skips_only_bars_where_nothing_happens(config, costs, bars, extra):
    cash = budget(config, costs, extra)
    stepped = run_bars(config, bars, costs=costs, cash=cash)
    result = backtest_run(
        config=config,
        bars=bars,
        initial_balance=cash,
        fee_rate=costs.fee_rate,
        slippage_bps=costs.slippage_bps,
    )
    assert list(result.orders) == stepped.orders
    assert result.final_state == stepped.state
    assert result.metrics.final_equity >= 0


@PROPERTY_SETTINGS
@given(configs(), ohlc_bars())
def test_without_slippage_every_fill_lies_within_its_bar(config, bars):
    cash = required_capital(config=config)
    run = run_bars(config, bars, cash=cash)
    ranges = {bar[0]: (bar[3], bar[2]) for bar in bars}
    for order in run.orders:
        low, high = ranges[order.time]
        assert low <= order.price <= high, order
    assert run.cash >= 0


@st.composite
def level_touching_bars(draw, config: DcaConfig, costs: ExecutionCosts, cash: Decimal, one_price):
    """Bars whose prices often sit exactly on the open deal's next trigger, stop or take profit.

    The levels come from stepping the engine along as the bars are drawn; exact touches are the
    boundary the runner's skip test must get right, and random prices almost never produce them.
    """
    state, bars, price = DcaState(), [], Decimal(100)
    for i in range(draw(st.integers(1, 40))):
        levels = dca_levels(config=config, state=state)
        down = [lvl for lvl in (levels.stop_loss, levels.next_safety_order) if lvl is not None]
        down = [getattr(lvl, "trigger_price", lvl) for lvl in down]
        up = [levels.take_profit] if levels.take_profit is not None else []
        walk = max(QUARTER, price + draw(st.integers(-4, 4)) * QUARTER)
        if one_price:
            price = draw(st.sampled_from([walk, *down, *up]))
            bar = (START + timedelta(minutes=i), price, price, price, price)
        else:
            open_ = price
            low = min(open_, draw(st.sampled_from([walk, *down])))
            high = max(open_, draw(st.sampled_from([walk, *up])))
            price = draw(st.sampled_from([low, high, open_]))
            bar = (START + timedelta(minutes=i), open_, high, low, price)
        step = dca_on_bar(
            config=config,
            state=state,
            time=bar[0],
            open=bar[1],
            high=bar[2],
            low=bar[3],
            close=bar[4],
            costs=costs,
            quote_available=cash,
        )
        state, cash = step.state, cash + step.cash_change
        bars.append(bar)
    return bars


@BOUNDARY_SETTINGS
@given(st.data(), configs(), costs_strategy, st.booleans())
def test_bars_touching_levels_exactly_give_the_same_orders_stepped_and_backtested(
    data, config, costs, one_price
):
    cash = budget(config, costs, 0)
    bars = data.draw(level_touching_bars(config, costs, cash, one_price))
    if one_price:
        stepped = run_ticks(config, [bar[1] for bar in bars], costs=costs, cash=cash)
    else:
        stepped = run_bars(config, bars, costs=costs, cash=cash)
    result = backtest_run(
        config=config,
        bars=bars,
        initial_balance=cash,
        fee_rate=costs.fee_rate,
        slippage_bps=costs.slippage_bps,
    )
    assert list(result.orders) == stepped.orders
    assert result.final_state == stepped.state


# --- paper engine ------------------------------------------------------------------------------

paper_actions = st.lists(
    st.tuples(
        st.sampled_from(["market", "limit", "match", "cancel"]),
        st.sampled_from(["buy", "sell"]),
        decimals(0, 5, 3).filter(bool),
        decimals(1, 200, 2),
        st.integers(0, 10),
    ),
    max_size=40,
)


@PROPERTY_SETTINGS
@given(paper_actions, costs_strategy)
def test_random_paper_orders_never_drive_balances_or_positions_negative(actions, costs):
    book = PaperBook(balance=Balance(free=Decimal(500)), position=Position())
    open_orders = []
    for action, side, quantity, price, pick in actions:
        before = book
        if action == "market":
            result = paper_market_order(
                book=book, side=side, quantity=quantity, price=price, costs=costs
            )
        elif action == "limit":
            result = paper_limit_order(
                book=book, side=side, quantity=quantity, limit_price=price, fee_rate=costs.fee_rate
            )
            if result.order is not None:
                open_orders.append(result.order)
        elif not open_orders:
            continue
        else:
            order = open_orders[pick % len(open_orders)]
            if action == "match":
                result = paper_limit_order_match(book=book, order=order, price=price)
            else:
                result = paper_order_cancel(book=book, order=order)
            if result.status in ("filled", "cancelled"):
                open_orders.remove(order)
        if result.status == "rejected":
            assert result.book is before
        book = result.book
        assert book.balance.free >= 0
        assert book.balance.locked == sum(o.locked for o in open_orders if o.side == "buy")
        assert book.position.locked == sum(o.locked for o in open_orders if o.side == "sell")
        assert book.position.quantity >= book.position.locked >= 0
        assert book.position.cost_basis >= 0
