"""Plain builders for the engine tests: the SPEC worked-check config, times, price paths."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bots.engine import (
    DcaConfig,
    DcaOrder,
    DcaRejection,
    DcaState,
    DealResult,
    ExecutionCosts,
    dca_on_bar,
    dca_on_tick,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
NO_COSTS = ExecutionCosts()
PLENTY = Decimal(1_000_000)


def spec_config(**overrides) -> DcaConfig:
    """SPEC §4 worked check: B = 100, S = 200, N = 3, d = 1%, s = 1.5, v = 2, tp = 1.5%."""
    values = {
        "base_order_size": Decimal(100),
        "safety_order_size": Decimal(200),
        "max_safety_orders": 3,
        "price_deviation_pct": Decimal(1),
        "safety_order_step_scale": Decimal("1.5"),
        "safety_order_volume_scale": Decimal(2),
        "take_profit_pct": Decimal("1.5"),
    }
    values.update(overrides)
    return DcaConfig(**values)


def minute(n: int) -> datetime:
    return START + timedelta(minutes=n)


def one_price_bars(prices: Sequence[Decimal], *, step: timedelta = timedelta(minutes=1)):
    return [(START + i * step, price, price, price, price) for i, price in enumerate(prices)]


@dataclass
class Run:
    """What a sequence of engine steps produced, and the free cash it left."""

    cash: Decimal
    state: DcaState = field(default_factory=DcaState)
    orders: list[DcaOrder] = field(default_factory=list)
    rejections: list[DcaRejection] = field(default_factory=list)
    deals: list[DealResult] = field(default_factory=list)
    states: list[DcaState] = field(default_factory=list)

    def record(self, step) -> None:
        self.state = step.state
        self.cash += step.cash_change
        self.orders.extend(step.orders)
        self.rejections.extend(step.rejections)
        if step.closed_deal is not None:
            self.deals.append(step.closed_deal)
        self.states.append(step.state)


def run_ticks(
    config: DcaConfig,
    prices: Sequence[Decimal],
    *,
    costs: ExecutionCosts = NO_COSTS,
    cash: Decimal = PLENTY,
    step: timedelta = timedelta(minutes=1),
) -> Run:
    """Feed `prices` to `dca_on_tick` one per `step`, tracking free cash like a paper account."""
    run = Run(cash=cash)
    for i, price in enumerate(prices):
        run.record(
            dca_on_tick(
                config=config,
                state=run.state,
                time=START + i * step,
                price=price,
                costs=costs,
                quote_available=run.cash,
            )
        )
    return run


def run_bars(
    config: DcaConfig,
    bars: Sequence[tuple],
    *,
    costs: ExecutionCosts = NO_COSTS,
    cash: Decimal = PLENTY,
) -> Run:
    """Feed `(time, open, high, low, close)` bars to `dca_on_bar` one by one."""
    run = Run(cash=cash)
    for time, open_, high, low, close in bars:
        run.record(
            dca_on_bar(
                config=config,
                state=run.state,
                time=time,
                open=open_,
                high=high,
                low=low,
                close=close,
                costs=costs,
                quote_available=run.cash,
            )
        )
    return run


def d(value: str | int) -> Decimal:
    return Decimal(value)
