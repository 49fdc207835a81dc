"""Backtest runner: the DCA strategy over a sequence of OHLC bars (SPEC §3 Backtest, §4).

The per-bar path is lean on purpose (the benchmark is a year of one-minute bars): while a deal is
open, a bar whose high stays under the take profit and whose low stays above the next safety
trigger and the stop loss cannot change anything, so it costs two comparisons. Only bars where a
level can be hit, or where a new deal may open, go through the strategy's own `_walk` (the code a
live tick runs), so a backtest and live ticks cannot disagree.

Equity = allocated capital (the initial balance) + realized P&L + unrealized P&L, with fees counted
in P&L, which is the free cash plus the open position at the bar's close. It is sampled at the
first bar (before any trade), at the last bar of each UTC day and at the end.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, localcontext
from typing import Any

from bots.engine.dca import (
    DcaConfig,
    DcaOrder,
    DcaRejection,
    DcaState,
    DealResult,
    _plan,
    _walk,
    dca_levels,
    deal_unrealized_pnl,
    ensure_capital,
)
from bots.engine.errors import EngineValidationError
from bots.engine.metrics import cagr, equity_curve_metrics, quantize_ratio
from bots.engine.numbers import (
    ENGINE_CONTEXT,
    ONE,
    ZERO,
    json_value,
    quantize_money,
    require_decimal,
)
from bots.engine.paper import ExecutionCosts

Bar = tuple[datetime, Decimal, Decimal, Decimal, Decimal]
ProgressCallback = Callable[[int], None]

PROGRESS_STEPS = 100
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BarColumns:
    """Bars as parallel columns (times, opens, highs, lows, closes), e.g. from a query."""

    times: Sequence[datetime]
    opens: Sequence[Decimal]
    highs: Sequence[Decimal]
    lows: Sequence[Decimal]
    closes: Sequence[Decimal]

    def __len__(self) -> int:
        return len(self.times)


@dataclass(frozen=True, slots=True, kw_only=True)
class EquityPoint:
    """Equity at the close of the bar at `time`."""

    time: datetime
    equity: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestMetrics:
    """The summary of a run; ratios are fractions (0.05 = 5%), None where undefined."""

    initial_balance: Decimal
    final_equity: Decimal
    net_pnl: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    total_return: Decimal
    cagr: Decimal | None
    max_drawdown: Decimal
    volatility: Decimal | None
    sharpe: Decimal | None
    win_rate: Decimal | None
    deals_opened: int
    deals_closed: int
    deals_won: int
    stop_losses: int
    orders: int
    rejected_orders: int
    fees: Decimal
    open_deal: bool

    def as_json(self) -> dict[str, Any]:
        """Every metric, JSON-safe (Decimals as strings)."""
        return {field.name: json_value(getattr(self, field.name)) for field in fields(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestResult:
    """Orders in fill order, closed deals, refused orders, the equity curve and the metrics."""

    orders: tuple[DcaOrder, ...]
    deals: tuple[DealResult, ...]
    rejections: tuple[DcaRejection, ...]
    equity_curve: tuple[EquityPoint, ...]
    metrics: BacktestMetrics
    final_state: DcaState

    def as_json(self) -> dict[str, Any]:
        """What a finished Backtest row stores: metrics, equity curve, orders, deals, refusals."""
        return {
            "metrics": self.metrics.as_json(),
            "equity_curve": [
                {"time": json_value(point.time), "equity": json_value(point.equity)}
                for point in self.equity_curve
            ],
            "orders": [order.as_json() for order in self.orders],
            "deals": [deal.as_json() for deal in self.deals],
            "rejections": [
                {
                    "deal": rejection.deal,
                    "kind": rejection.kind,
                    "time": json_value(rejection.time),
                    "reason": rejection.reason,
                }
                for rejection in self.rejections
            ],
        }


def backtest_run(
    *,
    config: DcaConfig,
    bars: Sequence[Bar] | BarColumns,
    initial_balance: Decimal,
    fee_rate: Decimal,
    slippage_bps: Decimal,
    risk_free_rate: Decimal = ZERO,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Run `config` over `bars` (time-ordered (time, open, high, low, close), times aware UTC).

    `progress(percent)` is called at most about 100 times. Refuses (field errors) a balance that
    cannot pay the base order, every safety order and their fees, and malformed bars.
    """
    costs = ExecutionCosts(fee_rate=fee_rate, slippage_bps=slippage_bps)
    require_decimal(initial_balance, field="initial_balance")
    require_decimal(risk_free_rate, field="risk_free_rate")
    if initial_balance <= ZERO:
        raise EngineValidationError(field="initial_balance", message="Must be greater than 0.")
    ensure_capital(
        config=config, available=initial_balance, fee_rate=fee_rate, field="initial_balance"
    )
    count = len(bars)
    if not count:
        raise EngineValidationError(field="bars", message="There are no price bars to test on.")
    bars = _as_datetimes(bars)
    with localcontext(ENGINE_CONTEXT):
        return _run(config, bars, count, initial_balance, costs, risk_free_rate, progress)


def _run(
    config: DcaConfig,
    bars: Sequence[Bar] | BarColumns,
    count: int,
    initial_balance: Decimal,
    costs: ExecutionCosts,
    risk_free_rate: Decimal,
    progress: ProgressCallback | None,
) -> BacktestResult:
    plan = _plan(config)
    cooldown = plan.cooldown
    state = DcaState()
    cash = initial_balance
    quantity = ZERO
    orders: list[DcaOrder] = []
    deals: list[DealResult] = []
    rejections: list[DcaRejection] = []

    # The levels of the open deal, refreshed after every step: while a bar's high stays under
    # `take_profit` and its low above `floor` (the next safety trigger or stop loss, whichever is
    # higher; 0 when neither is left) nothing can happen.
    in_deal = False
    take_profit = floor = ZERO
    # When flat: the earliest time a new deal may open, and whether the balance can never pay one.
    closed_at: datetime | None = None
    reopen_at: datetime | None = None
    halted = False

    first_time = _first_time(bars)
    curve = [EquityPoint(time=first_time, equity=initial_balance)]
    next_midnight = _next_midnight(first_time)
    previous_time = first_time - ONE_DAY
    previous_close = ZERO

    for chunk, end in _chunks(bars, count):
        for bar_time, open_, high, low, close in chunk:
            if bar_time >= next_midnight:
                # The first bar of a new UTC day: the previous bar closed the last one.
                equity = quantize_money(cash + quantity * previous_close) if quantity else cash
                curve.append(EquityPoint(time=previous_time, equity=equity))
                next_midnight = _next_midnight(bar_time)
            if bar_time <= previous_time:
                raise EngineValidationError(
                    field="bars",
                    message=f"Bar times must increase: {bar_time} follows {previous_time}.",
                )
            if not (ZERO < low <= open_ <= high and low <= close <= high):
                raise EngineValidationError(
                    field="bars", message=f"Bar at {bar_time} needs 0 < low <= open, close <= high."
                )
            previous_time = bar_time
            previous_close = close
            if in_deal:
                if high < take_profit and low > floor:
                    continue
            elif halted or (
                closed_at is not None and (bar_time <= closed_at or bar_time < reopen_at)
            ):
                continue

            step = _walk(config, plan, state, bar_time, open_, high, low, costs, cash)
            state = step.state
            if step.orders:
                orders.extend(step.orders)
                cash += step.cash_change
            if step.rejections:
                rejections.extend(step.rejections)
            if step.closed_deal is not None:
                deals.append(step.closed_deal)
                closed_at = state.last_closed_at
                reopen_at = closed_at + cooldown
            deal = state.deal
            if deal is None:
                in_deal = False
                quantity = ZERO
                # Flat with a refused base order: no cash will ever arrive, so stop trying.
                halted = bool(step.rejections) and not step.orders
            else:
                in_deal = True
                quantity = deal.quantity
                levels = dca_levels(config=config, state=state)
                take_profit = levels.take_profit
                floor = max(
                    levels.next_safety_order.trigger_price if levels.next_safety_order else ZERO,
                    levels.stop_loss or ZERO,
                )
        if progress is not None:
            progress(end * 100 // count)

    final_equity = quantize_money(cash + quantity * previous_close) if quantity else cash
    curve.append(EquityPoint(time=previous_time, equity=final_equity))
    metrics = _metrics(
        initial_balance,
        final_equity,
        curve,
        orders,
        deals,
        rejections,
        state,
        previous_close,
        risk_free_rate,
    )
    return BacktestResult(
        orders=tuple(orders),
        deals=tuple(deals),
        rejections=tuple(rejections),
        equity_curve=tuple(curve),
        metrics=metrics,
        final_state=state,
    )


def _first_time(bars: Sequence[Bar] | BarColumns) -> datetime:
    """The first bar's time, after checking that bar's types (the loop trusts the rest to match)."""
    if isinstance(bars, BarColumns):
        first = (bars.times[0], bars.opens[0], bars.highs[0], bars.lows[0], bars.closes[0])
    else:
        first = tuple(bars[0])
    if len(first) != 5:
        raise EngineValidationError(
            field="bars", message="Each bar is (time, open, high, low, close)."
        )
    if not isinstance(first[0], datetime) or first[0].tzinfo is None:
        raise EngineValidationError(
            field="bars", message="Bar times must be timezone-aware datetimes (or dates)."
        )
    if not all(isinstance(price, Decimal) for price in first[1:]):
        raise EngineValidationError(field="bars", message="Bar prices must be Decimals.")
    return first[0]


def _as_datetimes(bars: Sequence[Bar] | BarColumns) -> Sequence[Bar] | BarColumns:
    """Daily bars keyed by date become bars at midnight UTC of that date."""
    first = bars.times[0] if isinstance(bars, BarColumns) else bars[0][0]
    if isinstance(first, datetime) or not isinstance(first, date):
        return bars
    rows = (
        zip(bars.times, bars.opens, bars.highs, bars.lows, bars.closes, strict=True)
        if (isinstance(bars, BarColumns))
        else bars
    )
    return [(datetime.combine(day, time.min, tzinfo=UTC), *prices) for day, *prices in rows]


def _chunks(bars: Sequence[Bar] | BarColumns, count: int) -> Iterator[tuple[Iterator[Bar], int]]:
    """About PROGRESS_STEPS slices of the bars, each with the index it ends at."""
    size = -(-count // PROGRESS_STEPS)
    for start in range(0, count, size):
        end = min(start + size, count)
        if isinstance(bars, BarColumns):
            rows = zip(
                bars.times[start:end],
                bars.opens[start:end],
                bars.highs[start:end],
                bars.lows[start:end],
                bars.closes[start:end],
                strict=True,
            )
        else:
            rows = iter(bars[start:end])
        yield rows, end


def _next_midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date() + ONE_DAY, time.min, tzinfo=UTC)


def _metrics(
    initial_balance: Decimal,
    final_equity: Decimal,
    curve: list[EquityPoint],
    orders: list[DcaOrder],
    deals: list[DealResult],
    rejections: list[DcaRejection],
    state: DcaState,
    last_close: Decimal,
    risk_free_rate: Decimal,
) -> BacktestMetrics:
    curve_metrics = equity_curve_metrics(
        values=[point.equity for point in curve], risk_free_rate=risk_free_rate
    )
    realized = sum((deal.pnl for deal in deals), ZERO)
    open_deal = state.deal
    unrealized = (
        ZERO if open_deal is None else deal_unrealized_pnl(deal=open_deal, price=last_close)
    )
    closed = len(deals)
    won = sum(1 for deal in deals if deal.pnl > ZERO)
    return BacktestMetrics(
        initial_balance=initial_balance,
        final_equity=final_equity,
        net_pnl=final_equity - initial_balance,
        realized_pnl=realized,
        unrealized_pnl=unrealized,
        total_return=quantize_ratio(final_equity / initial_balance - ONE),
        cagr=cagr(
            start_value=initial_balance,
            end_value=final_equity,
            start=curve[0].time,
            end=curve[-1].time,
        ),
        max_drawdown=curve_metrics.max_drawdown,
        volatility=curve_metrics.volatility,
        sharpe=curve_metrics.sharpe,
        win_rate=quantize_ratio(Decimal(won) / Decimal(closed)) if closed else None,
        deals_opened=state.deals_opened,
        deals_closed=closed,
        deals_won=won,
        stop_losses=sum(1 for deal in deals if deal.exit_kind == "stop_loss"),
        orders=len(orders),
        rejected_orders=len(rejections),
        fees=sum((order.fee for order in orders), ZERO),
        open_deal=open_deal is not None,
    )
