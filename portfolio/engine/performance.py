"""Valuation, daily snapshots and the `performance` answer of SPEC §6, in the base currency.

Values use the last close on or before the valuation date and the FX rate of that date (a
missing rate raises `MissingFxRateError`). A close older than a split of its instrument is divided
by the split ratio, so a split day without a fresh bar does not double the value. A held
instrument without any close (a private, unlisted asset) is valued at its last trade price.

The day grid: `Calendar.WEEKDAYS` (the default) values Monday to Friday plus the end date, so that
the √252 annualisation of SPEC §4 matches the sample; activity on a skipped day (a Saturday
deposit) lands in the next valued day's flow, which SPEC's "flows at the start of the day" return
formula treats correctly. `Calendar.ALL_DAYS` values every calendar day (crypto).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum

from portfolio.engine.errors import EngineValidationError
from portfolio.engine.ledger import (
    Holding,
    LedgerState,
    LedgerSummary,
    PositionState,
    Split,
    SplitCalendar,
    TransactionRecord,
    _fold,
    ledger_advance,
    ledger_new,
    ledger_state_from_summary,
    ledger_summary,
    split_calendar,
)
from portfolio.engine.market import FxTable, PriceTable
from portfolio.engine.numbers import ENGINE_CONTEXT, ZERO
from portfolio.engine.returns import (
    daily_returns,
    max_drawdown,
    sharpe_ratio,
    time_weighted_return,
    volatility,
    xirr,
)

_ONE_DAY = timedelta(days=1)


class Calendar(StrEnum):
    WEEKDAYS = "weekdays"
    ALL_DAYS = "all_days"


class PriceSource(StrEnum):
    CLOSE = "close"
    TRADE = "trade"


@dataclass(frozen=True, slots=True)
class InstrumentInfo:
    """How an instrument key is shown: symbol and exchange."""

    symbol: str
    exchange: str = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A portfolio at the end of one day, base currency: what the Django layer stores per day."""

    date: date
    value: Decimal
    cost_basis: Decimal
    cash: Decimal
    net_external_flow: Decimal


@dataclass(frozen=True, slots=True)
class SnapshotRun:
    """Snapshots of a span, and the ledger state closed at its last day (to continue from)."""

    snapshots: tuple[Snapshot, ...]
    state: LedgerState


@dataclass(frozen=True, slots=True)
class PositionFigures:
    """One position's figures in the instrument's own currency."""

    average_cost: Decimal
    market_price: Decimal | None
    value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    fees: Decimal
    dividends: Decimal


@dataclass(frozen=True, slots=True)
class PositionPerformance:
    """One position of the `performance` answer; money in the base currency, `local` in its own.

    `weight` is the position's share of the portfolio value (cash included); None when that is 0.
    A closed position (quantity 0) is listed for its realized P&L, fees and dividends; it has no
    market price, FX rate or price source.
    """

    instrument: Hashable
    symbol: str
    exchange: str
    currency: str
    quantity: Decimal
    average_cost: Decimal
    market_price: Decimal | None
    value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    fees: Decimal
    dividends: Decimal
    weight: Decimal | None
    fx_rate: Decimal | None
    price_date: date | None
    price_source: PriceSource | None
    local: PositionFigures


@dataclass(frozen=True, slots=True)
class Performance:
    """The `performance` answer of SPEC §6; money in `currency` (the base), rates as fractions."""

    as_of: date
    currency: str
    value: Decimal
    cash: Decimal
    cost_basis: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    dividends: Decimal
    interest: Decimal
    net_pnl: Decimal
    total_return: Decimal
    twr: Decimal
    mwr: Decimal | None
    max_drawdown: Decimal
    volatility: Decimal | None
    sharpe: Decimal | None
    positions: tuple[PositionPerformance, ...]


def valuation_days(*, start: date, end: date, calendar: Calendar = Calendar.WEEKDAYS) -> list[date]:
    """The valued days from `start` to `end`: weekdays (plus `end` itself) or every day."""
    days = []
    day = start
    weekdays_only = Calendar(calendar) is Calendar.WEEKDAYS
    while day <= end:
        if not weekdays_only or day.weekday() < 5 or day == end:
            days.append(day)
        day += _ONE_DAY
    return days


def _market_price(
    position: PositionState | Holding,
    day: date,
    prices: PriceTable,
    splits: SplitCalendar,
) -> tuple[Decimal, date | None, PriceSource]:
    found = prices.close_on_or_before(instrument=position.instrument, day=day)
    if found is not None:
        close_date, close = found
        if splits and close_date < day:
            factor = splits.price_factor(
                instrument=position.instrument, after=close_date, through=day
            )
            if factor is not None:
                close *= factor
        return close, close_date, PriceSource.CLOSE
    if position.last_trade_price is None:
        raise EngineValidationError(
            field="prices",
            message=(
                f"No close for {position.instrument} on or before {day.isoformat()} and no "
                "trade price to fall back on."
            ),
        )
    return position.last_trade_price, position.last_trade_date, PriceSource.TRADE


def _value_state(
    state: LedgerState, day: date, prices: PriceTable, fx: FxTable, splits: SplitCalendar
) -> tuple[Decimal, Decimal]:
    base = state.base_currency
    holdings_value = cost_basis = ZERO
    for position in state.positions.values():
        quantity = position.quantity
        if not quantity:
            continue
        price = _market_price(position, day, prices, splits)[0]
        rate = fx.rate(currency=position.currency, base=base, day=day)
        holdings_value += quantity * price * rate
        cost_basis += position.cost_basis_base
    return holdings_value, cost_basis


def snapshots_build(
    *,
    transactions: Iterable[TransactionRecord],
    prices: PriceTable,
    fx: FxTable,
    end: date,
    base_currency: str | None = None,
    splits: SplitCalendar | Iterable[Split] = (),
    start: date | None = None,
    calendar: Calendar = Calendar.WEEKDAYS,
    state: LedgerState | None = None,
) -> SnapshotRun:
    """Fold `transactions` and value the portfolio at the end of each grid day up to `end`.

    Snapshots begin at `start` (default: the first transaction, or the day after `state.day` when
    continuing from a closed `state`). Transactions after `end` are not folded.
    """
    calendar_splits = split_calendar(splits)
    txs = [tx for tx in transactions if tx.date <= end]
    if state is None:
        if base_currency is None:
            raise EngineValidationError(
                field="base_currency", message="is required when no state is given."
            )
        state = ledger_new(base_currency=base_currency)
    if state.day is not None:
        if not state.day_closed:
            raise EngineValidationError(
                field="state", message="must be closed (ledger_advance) before continuing."
            )
        first = state.day + _ONE_DAY
    elif txs:
        first = txs[0].date
    else:
        first = start or end
    if start is None:
        start = first
    grid = valuation_days(start=min(first, start), end=end, calendar=calendar)

    snapshots: list[Snapshot] = []
    count = len(txs)
    i = 0
    with localcontext(ENGINE_CONTEXT):
        flow_mark = state.external_flow_total
        for day in grid:
            while i < count and txs[i].date <= day:
                _fold(state, txs[i], calendar_splits)
                i += 1
            ledger_advance(state=state, through=day, splits=calendar_splits)
            if day < start:
                flow_mark = state.external_flow_total
                continue
            holdings_value, cost_basis = _value_state(state, day, prices, fx, calendar_splits)
            total = state.external_flow_total
            snapshots.append(
                Snapshot(
                    date=day,
                    value=holdings_value + state.cash,
                    cost_basis=cost_basis,
                    cash=state.cash,
                    net_external_flow=total - flow_mark,
                )
            )
            flow_mark = total
    return SnapshotRun(snapshots=tuple(snapshots), state=state)


def _position_performance(
    holding: Holding,
    *,
    as_of: date,
    base: str,
    prices: PriceTable,
    fx: FxTable,
    splits: SplitCalendar,
    info: InstrumentInfo,
) -> PositionPerformance:
    quantity = holding.quantity
    if quantity:
        price, price_date, source = _market_price(holding, as_of, prices, splits)
        rate = fx.rate(currency=holding.currency, base=base, day=as_of)
        market_price, value_local = price * rate, quantity * price
        value = value_local * rate
    else:
        # A closed position is worth 0 whatever the market says, so it needs no market data.
        price = price_date = source = rate = market_price = None
        value_local = value = ZERO
    return PositionPerformance(
        instrument=holding.instrument,
        symbol=info.symbol,
        exchange=info.exchange,
        currency=holding.currency,
        quantity=quantity,
        average_cost=holding.average_cost_base,
        market_price=market_price,
        value=value,
        cost_basis=holding.cost_basis_base,
        unrealized_pnl=value - holding.cost_basis_base,
        realized_pnl=holding.realized_pnl_base,
        fees=holding.fees_base,
        dividends=holding.dividends_base,
        weight=None,
        fx_rate=rate,
        price_date=price_date,
        price_source=source,
        local=PositionFigures(
            average_cost=holding.average_cost,
            market_price=price,
            value=value_local,
            cost_basis=holding.cost_basis,
            unrealized_pnl=value_local - holding.cost_basis,
            realized_pnl=holding.realized_pnl,
            fees=holding.fees,
            dividends=holding.dividends,
        ),
    )


def _summary_at(summary: LedgerSummary, as_of: date, splits: SplitCalendar) -> LedgerSummary:
    if summary.as_of is not None and summary.as_of > as_of:
        raise EngineValidationError(
            field="as_of",
            message=(
                f"The ledger summary is of {summary.as_of.isoformat()}, after "
                f"{as_of.isoformat()}; fold the ledger only through the valuation date."
            ),
        )
    if summary.as_of is None or summary.as_of == as_of or not splits:
        return summary
    # Splits between the summary's day and the valuation day still change the quantities.
    state = ledger_state_from_summary(summary=summary)
    ledger_advance(state=state, through=as_of, splits=splits)
    return ledger_summary(state=state)


def _return_span(
    snapshots: Sequence[Snapshot], start: date | None
) -> tuple[Snapshot | None, Sequence[Snapshot]]:
    if start is None:
        # Days before any value or flow carry no return; they would only dilute the statistics.
        first = next(
            (i for i, s in enumerate(snapshots) if s.value or s.net_external_flow),
            len(snapshots),
        )
        return None, snapshots[first:]
    opening = None
    for i, snapshot in enumerate(snapshots):
        if snapshot.date >= start:
            return opening, snapshots[i:]
        opening = snapshot
    return opening, ()


def performance_from_snapshots(
    *,
    snapshots: Sequence[Snapshot],
    ledger: LedgerSummary,
    prices: PriceTable,
    fx: FxTable,
    as_of: date,
    splits: SplitCalendar | Iterable[Split] = (),
    instruments: Mapping[Hashable, InstrumentInfo] | None = None,
    risk_free_rate: Decimal = ZERO,
    start: date | None = None,
) -> Performance:
    """The `performance` answer from stored daily snapshots and the ledger summary at `as_of`.

    `snapshots` must be the portfolio's series from its first day, in date order (later ones are
    ignored). When the last is before `as_of`, a final point is added from the ledger: its flow is
    the ledger's total external flow less the snapshots' flows. Return statistics cover the span
    from `start` (default: the first day with a value or a flow); everything else is cumulative.
    """
    if not isinstance(risk_free_rate, Decimal):
        raise EngineValidationError(field="risk_free_rate", message="must be a Decimal.")
    calendar_splits = split_calendar(splits)
    instruments = instruments or {}
    base = ledger.base_currency
    with localcontext(ENGINE_CONTEXT):
        summary = _summary_at(ledger, as_of, calendar_splits)
        positions = [
            _position_performance(
                holding,
                as_of=as_of,
                base=base,
                prices=prices,
                fx=fx,
                splits=calendar_splits,
                info=instruments.get(holding.instrument) or InstrumentInfo(str(holding.instrument)),
            )
            for holding in summary.holdings
        ]
        holdings_value = sum((p.value for p in positions), ZERO)
        value = holdings_value + summary.cash
        cost_basis = sum((p.cost_basis for p in positions), ZERO)
        realized = sum((p.realized_pnl for p in positions), ZERO)
        unrealized = sum((p.unrealized_pnl for p in positions), ZERO)
        net_pnl = realized + unrealized - summary.fees
        total_return = net_pnl + summary.dividends + summary.interest
        positions = [replace(p, weight=p.value / value if value else None) for p in positions]
        positions.sort(key=lambda p: (-p.value, p.quantity == 0, p.symbol, p.exchange))

        series = _series_through(snapshots, summary, as_of, value, cost_basis)
        opening, span = _return_span(series, start)
        returns = daily_returns(
            values=[s.value for s in span],
            flows=[s.net_external_flow for s in span],
            opening_value=opening.value if opening else ZERO,
        )
        cashflows = []
        if opening is not None and opening.value:
            cashflows.append((opening.date, -opening.value))
        cashflows.extend((s.date, -s.net_external_flow) for s in span if s.net_external_flow)
        if span:
            cashflows.append((span[-1].date, span[-1].value))

        return Performance(
            as_of=as_of,
            currency=base,
            value=value,
            cash=summary.cash,
            cost_basis=cost_basis,
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            fees=summary.fees,
            dividends=summary.dividends,
            interest=summary.interest,
            net_pnl=net_pnl,
            total_return=total_return,
            twr=time_weighted_return(returns=returns),
            mwr=xirr(cashflows=cashflows),
            max_drawdown=max_drawdown(returns=returns),
            volatility=volatility(returns=returns),
            sharpe=sharpe_ratio(returns=returns, risk_free_rate=risk_free_rate),
            positions=tuple(positions),
        )


def _series_through(
    snapshots: Sequence[Snapshot],
    summary: LedgerSummary,
    as_of: date,
    value: Decimal,
    cost_basis: Decimal,
) -> list[Snapshot]:
    series: list[Snapshot] = []
    flows = ZERO
    previous: date | None = None
    for snapshot in snapshots:
        if previous is not None and snapshot.date <= previous:
            raise EngineValidationError(
                field="snapshots", message="must be in strictly increasing date order."
            )
        previous = snapshot.date
        if snapshot.date > as_of:
            break
        series.append(snapshot)
        flows += snapshot.net_external_flow
    if not series or series[-1].date < as_of:
        series.append(
            Snapshot(
                date=as_of,
                value=value,
                cost_basis=cost_basis,
                cash=summary.cash,
                net_external_flow=summary.net_external_flow - flows,
            )
        )
    return series


def portfolio_performance(
    *,
    transactions: Iterable[TransactionRecord],
    prices: PriceTable,
    fx: FxTable,
    base_currency: str,
    as_of: date,
    splits: SplitCalendar | Iterable[Split] = (),
    instruments: Mapping[Hashable, InstrumentInfo] | None = None,
    risk_free_rate: Decimal = ZERO,
    calendar: Calendar = Calendar.WEEKDAYS,
    start: date | None = None,
) -> Performance:
    """The `performance` answer straight from the ledger (snapshots built on the way)."""
    calendar_splits = split_calendar(splits)
    run = snapshots_build(
        transactions=transactions,
        prices=prices,
        fx=fx,
        end=as_of,
        base_currency=base_currency,
        splits=calendar_splits,
        calendar=calendar,
    )
    return performance_from_snapshots(
        snapshots=run.snapshots,
        ledger=ledger_summary(state=run.state),
        prices=prices,
        fx=fx,
        as_of=as_of,
        splits=calendar_splits,
        instruments=instruments,
        risk_free_rate=risk_free_rate,
        start=start,
    )
