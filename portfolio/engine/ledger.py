"""The ledger fold: transactions (and splits) in, holdings, cash and external flows out (SPEC §4).

All money is tracked twice for positions: in the instrument's currency and in the portfolio's base
currency at each transaction's own FX rate. Portfolio-level figures (cash, fees, dividends,
interest, flows) are in the base currency only: the ledger keeps one base-currency cash balance.

The state is a mutable accumulator on purpose: folding one transaction updates it in place, so a
long ledger costs no copy per step. Take `state.copy()` to keep a checkpoint.

Days and implicit deposits: a state has an open day. Folding a transaction of a later date first
closes the open day (a negative cash balance becomes an implicit deposit of that day, SPEC
"cash"), then applies the splits dated after the closed day up to the new date, then opens the new
day. Implicit deposits therefore depend on a day's closing cash, not on the order of its entries.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, localcontext
from enum import StrEnum
from types import MappingProxyType

from portfolio.engine.errors import EngineValidationError, LedgerOrderError, OversellError
from portfolio.engine.numbers import ENGINE_CONTEXT, ZERO


class TransactionType(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    DIVIDEND = "DIVIDEND"
    INTEREST = "INTEREST"
    FEE = "FEE"
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"


INSTRUMENT_TYPES = frozenset({TransactionType.BUY, TransactionType.SELL, TransactionType.DIVIDEND})
CASH_ONLY_TYPES = frozenset({TransactionType.DEPOSIT, TransactionType.WITHDRAWAL})
# Each type by its value (a member is its own value: StrEnum).
_TYPES: Mapping[str, TransactionType] = MappingProxyType({t.value: t for t in TransactionType})


def _decimal(value: object, *, name: str) -> Decimal:
    # Floats are refused: a binary float has already lost the decimal the user typed.
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise EngineValidationError(field=name, message=f"must be finite, not {value}.")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise EngineValidationError(
        field=name, message=f"must be a Decimal or an integer, not {type(value).__name__}."
    )


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """One ledger entry. Amounts are in `currency`; `fx_rate` converts them to the base currency.

    A base amount is `amount * fx_rate`. DEPOSIT, WITHDRAWAL, INTEREST and FEE carry their amount as
    `quantity * price` (quantity 1 by default); BUY, SELL and DIVIDEND use price per share.
    """

    id: Hashable
    date: date
    type: TransactionType
    instrument: Hashable | None
    price: Decimal
    currency: str
    quantity: Decimal = Decimal(1)
    fee: Decimal = ZERO
    fx_rate: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        # A dict look-up: calling the enum costs more than the rest of the checks together.
        kind = _TYPES.get(self.type) if isinstance(self.type, str) else None
        if kind is None:
            allowed = ", ".join(t.value for t in TransactionType)
            raise EngineValidationError(
                field="type", message=f"{self.type!r} is not one of {allowed}."
            )
        object.__setattr__(self, "type", kind)
        for name in ("quantity", "price", "fee", "fx_rate"):
            object.__setattr__(self, name, _decimal(getattr(self, name), name=name))
        if not isinstance(self.date, date):
            raise EngineValidationError(field="date", message="must be a date.")
        if self.quantity <= 0:
            raise EngineValidationError(field="quantity", message="must be greater than zero.")
        if self.price <= 0:
            raise EngineValidationError(field="price", message="must be greater than zero.")
        if self.fee < 0:
            raise EngineValidationError(field="fee", message="must not be negative.")
        if self.fx_rate <= 0:
            raise EngineValidationError(field="fx_rate", message="must be greater than zero.")
        if not self.currency:
            raise EngineValidationError(field="currency", message="is required.")
        if kind in INSTRUMENT_TYPES and self.instrument is None:
            raise EngineValidationError(field="instrument", message=f"is required for {kind}.")
        if kind in CASH_ONLY_TYPES and self.instrument is not None:
            raise EngineValidationError(field="instrument", message=f"must be empty for {kind}.")


@dataclass(frozen=True, slots=True)
class Split:
    """A split of `instrument` effective on `date`: earlier holdings * numerator / denominator."""

    instrument: Hashable
    date: date
    numerator: Decimal
    denominator: Decimal

    def __post_init__(self) -> None:
        for name in ("numerator", "denominator"):
            value = _decimal(getattr(self, name), name=name)
            if value <= 0:
                raise EngineValidationError(field=name, message="must be greater than zero.")
            object.__setattr__(self, name, value)


class SplitCalendar:
    """Splits indexed by date (and by instrument) for the fold and for price adjustment.

    Immutable once built; build it once per computation and pass it to every call.
    """

    __slots__ = ("_by_instrument", "_dates", "_splits")

    def __init__(self, splits: Iterable[Split] = ()) -> None:
        ordered = sorted(splits, key=lambda s: s.date)
        self._splits: tuple[Split, ...] = tuple(ordered)
        self._dates: tuple[date, ...] = tuple(s.date for s in ordered)
        by_instrument: dict[Hashable, list[Split]] = {}
        for split in ordered:
            by_instrument.setdefault(split.instrument, []).append(split)
        self._by_instrument: dict[Hashable, tuple[Split, ...]] = {
            key: tuple(value) for key, value in by_instrument.items()
        }

    def __bool__(self) -> bool:
        return bool(self._splits)

    def between(self, *, after: date, through: date) -> tuple[Split, ...]:
        """Splits dated after `after` and on or before `through`, in date order."""
        if not self._splits or through <= after:
            return ()
        lo = bisect.bisect_right(self._dates, after)
        hi = bisect.bisect_right(self._dates, through)
        return self._splits[lo:hi]

    def price_factor(self, *, instrument: Hashable, after: date, through: date) -> Decimal | None:
        """The factor turning a price of `after` into one comparable after the later splits."""
        splits = self._by_instrument.get(instrument)
        if not splits:
            return None
        factor = None
        for split in splits:
            if after < split.date <= through:
                step = split.denominator / split.numerator
                factor = step if factor is None else factor * step
        return factor


def split_calendar(splits: SplitCalendar | Iterable[Split]) -> SplitCalendar:
    """Return `splits` as a `SplitCalendar`, building one from a plain list when needed."""
    return splits if isinstance(splits, SplitCalendar) else SplitCalendar(splits)


@dataclass(slots=True)
class PositionState:
    """The running figures of one instrument: `*_base` in the base currency, the rest in its own."""

    instrument: Hashable
    currency: str
    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO
    cost_basis_base: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    realized_pnl_base: Decimal = ZERO
    fees: Decimal = ZERO
    fees_base: Decimal = ZERO
    dividends: Decimal = ZERO
    dividends_base: Decimal = ZERO
    last_trade_price: Decimal | None = None
    last_trade_date: date | None = None


@dataclass(slots=True)
class LedgerState:
    """The running ledger of one portfolio. Mutated in place by `ledger_fold`; see module docs."""

    base_currency: str
    day: date | None = None
    day_closed: bool = False
    cash: Decimal = ZERO
    fees: Decimal = ZERO
    dividends: Decimal = ZERO
    interest: Decimal = ZERO
    deposits: Decimal = ZERO
    withdrawals: Decimal = ZERO
    implicit_deposits: Decimal = ZERO
    external_flow_total: Decimal = ZERO
    flows: dict[date, Decimal] = field(default_factory=dict)
    positions: dict[Hashable, PositionState] = field(default_factory=dict)

    def copy(self) -> LedgerState:
        """An independent copy, for checkpoints."""
        return replace(
            self,
            flows=dict(self.flows),
            positions={key: replace(pos) for key, pos in self.positions.items()},
        )


@dataclass(frozen=True, slots=True)
class Holding:
    """One instrument's figures at a point in time (both currencies; `*_base` in the base)."""

    instrument: Hashable
    currency: str
    quantity: Decimal
    average_cost: Decimal
    average_cost_base: Decimal
    cost_basis: Decimal
    cost_basis_base: Decimal
    realized_pnl: Decimal
    realized_pnl_base: Decimal
    fees: Decimal
    fees_base: Decimal
    dividends: Decimal
    dividends_base: Decimal
    last_trade_price: Decimal | None = None
    last_trade_date: date | None = None


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    """The ledger at the end of `as_of`, all portfolio figures in `base_currency`.

    `flows` maps each day to its net external flow (deposits - withdrawals + implicit deposits);
    `net_external_flow` is their sum. `holdings` lists every instrument ever held, closed ones
    (quantity 0) included, so their realized P&L, fees and dividends still add up.
    """

    base_currency: str
    as_of: date | None
    cash: Decimal
    fees: Decimal
    dividends: Decimal
    interest: Decimal
    deposits: Decimal
    withdrawals: Decimal
    implicit_deposits: Decimal
    net_external_flow: Decimal
    flows: Mapping[date, Decimal]
    holdings: tuple[Holding, ...]


def _close_day(state: LedgerState) -> None:
    if state.cash < 0:
        shortfall = -state.cash
        state.cash = ZERO
        state.implicit_deposits += shortfall
        state.external_flow_total += shortfall
        day = state.day
        state.flows[day] = state.flows.get(day, ZERO) + shortfall
    state.day_closed = True


def _apply_splits(state: LedgerState, splits: SplitCalendar, after: date, through: date) -> None:
    for split in splits.between(after=after, through=through):
        pos = state.positions.get(split.instrument)
        if pos is None:
            continue
        pos.quantity = pos.quantity * split.numerator / split.denominator
        if pos.last_trade_price is not None:
            pos.last_trade_price = pos.last_trade_price * split.denominator / split.numerator


def _move_to(state: LedgerState, day: date, splits: SplitCalendar, tx_id: Hashable) -> None:
    current = state.day
    if current is None:
        state.day = day
        state.day_closed = False
    elif day > current:
        if not state.day_closed:
            _close_day(state)
        _apply_splits(state, splits, current, day)
        state.day = day
        state.day_closed = False
    elif day < current:
        raise LedgerOrderError(
            field="date",
            message=(
                f"Transaction {tx_id} on {day.isoformat()} comes after the ledger reached "
                f"{current.isoformat()}; fold transactions in date order."
            ),
        )
    elif state.day_closed:
        raise LedgerOrderError(
            field="date",
            message=(
                f"Transaction {tx_id} on {day.isoformat()} arrives after that day was closed; "
                "recompute from the day before."
            ),
        )


def _position(state: LedgerState, tx: TransactionRecord) -> PositionState:
    pos = state.positions.get(tx.instrument)
    if pos is None:
        pos = PositionState(instrument=tx.instrument, currency=tx.currency)
        state.positions[tx.instrument] = pos
    elif pos.currency != tx.currency:
        raise EngineValidationError(
            field="currency",
            message=(
                f"Transaction {tx.id} on {tx.date.isoformat()} is in {tx.currency}, but "
                f"{tx.instrument} is held in {pos.currency}; record it in {pos.currency}."
            ),
        )
    return pos


def _fold(state: LedgerState, tx: TransactionRecord, splits: SplitCalendar) -> None:
    if tx.currency == state.base_currency and tx.fx_rate != 1:
        raise EngineValidationError(
            field="fx_rate",
            message=(
                f"Transaction {tx.id} is in the base currency {state.base_currency}; "
                f"its FX rate must be 1, not {tx.fx_rate}."
            ),
        )
    _move_to(state, tx.date, splits, tx.id)
    kind = tx.type
    fx = tx.fx_rate
    amount = tx.quantity * tx.price
    fee = tx.fee
    fee_base = fee * fx

    if kind is TransactionType.BUY:
        pos = _position(state, tx)
        state.fees += fee_base
        pos.quantity += tx.quantity
        pos.cost_basis += amount
        pos.cost_basis_base += amount * fx
        pos.fees += fee
        pos.fees_base += fee_base
        pos.last_trade_price = tx.price
        pos.last_trade_date = tx.date
        state.cash -= (amount + fee) * fx
    elif kind is TransactionType.SELL:
        pos = state.positions.get(tx.instrument)
        held = pos.quantity if pos is not None else ZERO
        if tx.quantity > held:
            raise OversellError(
                transaction=tx.id,
                on=tx.date,
                instrument=tx.instrument,
                requested=tx.quantity,
                held=held,
            )
        pos = _position(state, tx)
        state.fees += fee_base
        if tx.quantity == held:
            removed, removed_base = pos.cost_basis, pos.cost_basis_base
        else:
            removed = pos.cost_basis * tx.quantity / held
            removed_base = pos.cost_basis_base * tx.quantity / held
        pos.quantity = held - tx.quantity
        pos.cost_basis -= removed
        pos.cost_basis_base -= removed_base
        pos.realized_pnl += amount - removed
        pos.realized_pnl_base += amount * fx - removed_base
        pos.fees += fee
        pos.fees_base += fee_base
        pos.last_trade_price = tx.price
        pos.last_trade_date = tx.date
        state.cash += (amount - fee) * fx
    elif kind is TransactionType.DIVIDEND:
        pos = _position(state, tx)
        state.fees += fee_base
        amount_base = amount * fx
        pos.dividends += amount
        pos.dividends_base += amount_base
        pos.fees += fee
        pos.fees_base += fee_base
        state.dividends += amount_base
        state.cash += amount_base - fee_base
    elif kind is TransactionType.INTEREST:
        state.fees += fee_base
        amount_base = amount * fx
        state.interest += amount_base
        state.cash += amount_base - fee_base
    elif kind is TransactionType.FEE:
        amount_base = amount * fx
        if tx.instrument is not None:
            pos = _position(state, tx)
            pos.fees += amount + fee
            pos.fees_base += amount_base + fee_base
        state.fees += amount_base + fee_base
        state.cash -= amount_base + fee_base
    else:
        state.fees += fee_base
        amount_base = amount * fx
        signed = amount_base if kind is TransactionType.DEPOSIT else -amount_base
        if kind is TransactionType.DEPOSIT:
            state.deposits += amount_base
        else:
            state.withdrawals += amount_base
        state.cash += signed - fee_base
        state.external_flow_total += signed
        state.flows[tx.date] = state.flows.get(tx.date, ZERO) + signed


def ledger_new(*, base_currency: str) -> LedgerState:
    """An empty ledger in `base_currency`."""
    if not base_currency:
        raise EngineValidationError(field="base_currency", message="is required.")
    return LedgerState(base_currency=base_currency)


def ledger_fold(
    *,
    state: LedgerState,
    transaction: TransactionRecord,
    splits: SplitCalendar | Iterable[Split] = (),
) -> LedgerState:
    """Fold one transaction onto `state` in place and return it (same-date entries keep order).

    Raises `OversellError` for a SELL of more than is held, `LedgerOrderError` out of date order;
    a refused transaction leaves none of its amounts in the state (the day may have moved on).
    Pass one `SplitCalendar` to every call: a plain list is re-indexed on each call.
    """
    calendar = split_calendar(splits)
    with localcontext(ENGINE_CONTEXT):
        _fold(state, transaction, calendar)
    return state


def ledger_advance(
    *, state: LedgerState, through: date, splits: SplitCalendar | Iterable[Split] = ()
) -> LedgerState:
    """Close the ledger through the end of `through`: settle implicit deposits, apply splits."""
    calendar = split_calendar(splits)
    current = state.day
    if current is None:
        state.day = through
        state.day_closed = True
        return state
    if through < current:
        raise LedgerOrderError(
            field="date",
            message=(
                f"Cannot close the ledger through {through.isoformat()}: it already reached "
                f"{current.isoformat()}."
            ),
        )
    with localcontext(ENGINE_CONTEXT):
        if not state.day_closed:
            _close_day(state)
        if through > current:
            _apply_splits(state, calendar, current, through)
            state.day = through
    return state


def ledger_fold_all(
    *,
    transactions: Iterable[TransactionRecord],
    splits: SplitCalendar | Iterable[Split] = (),
    base_currency: str | None = None,
    state: LedgerState | None = None,
    through: date | None = None,
) -> LedgerState:
    """Fold `transactions` (in ledger order) onto `state`, or onto a new ledger in `base_currency`.

    With `through`, transactions dated after it are refused and the ledger is closed through it.
    """
    if state is None:
        if base_currency is None:
            raise EngineValidationError(
                field="base_currency", message="is required when no state is given."
            )
        state = ledger_new(base_currency=base_currency)
    calendar = split_calendar(splits)
    with localcontext(ENGINE_CONTEXT):
        for tx in transactions:
            if through is not None and tx.date > through:
                raise LedgerOrderError(
                    field="date",
                    message=(
                        f"Transaction {tx.id} on {tx.date.isoformat()} is after "
                        f"{through.isoformat()}, the date the ledger is folded through."
                    ),
                )
            _fold(state, tx, calendar)
    if through is not None:
        ledger_advance(state=state, through=through, splits=calendar)
    return state


def _holding(pos: PositionState) -> Holding:
    quantity = pos.quantity
    if quantity:
        average, average_base = pos.cost_basis / quantity, pos.cost_basis_base / quantity
    else:
        average = average_base = ZERO
    return Holding(
        instrument=pos.instrument,
        currency=pos.currency,
        quantity=quantity,
        average_cost=average,
        average_cost_base=average_base,
        cost_basis=pos.cost_basis,
        cost_basis_base=pos.cost_basis_base,
        realized_pnl=pos.realized_pnl,
        realized_pnl_base=pos.realized_pnl_base,
        fees=pos.fees,
        fees_base=pos.fees_base,
        dividends=pos.dividends,
        dividends_base=pos.dividends_base,
        last_trade_price=pos.last_trade_price,
        last_trade_date=pos.last_trade_date,
    )


def ledger_summary(*, state: LedgerState) -> LedgerSummary:
    """The ledger's figures at the end of its current day (an open day is settled on a copy)."""
    with localcontext(ENGINE_CONTEXT):
        cash = state.cash
        implicit = state.implicit_deposits
        external = state.external_flow_total
        flows = dict(state.flows)
        if not state.day_closed and cash < 0:
            shortfall = -cash
            cash = ZERO
            implicit += shortfall
            external += shortfall
            flows[state.day] = flows.get(state.day, ZERO) + shortfall
        return LedgerSummary(
            base_currency=state.base_currency,
            as_of=state.day,
            cash=cash,
            fees=state.fees,
            dividends=state.dividends,
            interest=state.interest,
            deposits=state.deposits,
            withdrawals=state.withdrawals,
            implicit_deposits=implicit,
            net_external_flow=external,
            flows=MappingProxyType(dict(sorted(flows.items()))),
            holdings=tuple(_holding(pos) for pos in state.positions.values()),
        )


def ledger_state_from_summary(*, summary: LedgerSummary) -> LedgerState:
    """A ledger state closed at `summary.as_of`, to fold later transactions onto stored figures."""
    positions = {
        h.instrument: PositionState(
            instrument=h.instrument,
            currency=h.currency,
            quantity=h.quantity,
            cost_basis=h.cost_basis,
            cost_basis_base=h.cost_basis_base,
            realized_pnl=h.realized_pnl,
            realized_pnl_base=h.realized_pnl_base,
            fees=h.fees,
            fees_base=h.fees_base,
            dividends=h.dividends,
            dividends_base=h.dividends_base,
            last_trade_price=h.last_trade_price,
            last_trade_date=h.last_trade_date,
        )
        for h in summary.holdings
    }
    return LedgerState(
        base_currency=summary.base_currency,
        day=summary.as_of,
        day_closed=summary.as_of is not None,
        cash=summary.cash,
        fees=summary.fees,
        dividends=summary.dividends,
        interest=summary.interest,
        deposits=summary.deposits,
        withdrawals=summary.withdrawals,
        implicit_deposits=summary.implicit_deposits,
        external_flow_total=summary.net_external_flow,
        flows=dict(summary.flows),
        positions=positions,
    )
