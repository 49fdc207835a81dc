"""The DCA strategy (SPEC §4 "DCA"): its config, the safety-order ladder, and a deal state machine.

The state machine is pure: `dca_on_bar` and `dca_on_tick` take the config, the current state, one
bar or one price, the execution costs and the free quote balance, and return the orders that filled
and the new state. Live ticks, backtests and tests all run `_walk` below.

Percentages in the config are percent numbers (Decimal("1.5") is 1.5%). Order sizes are quote
currency. Rounding follows `bots.engine.numbers`: fill prices and levels at PRICE places,
quantities (quote size / fill price) rounded down at QUANTITY places, money at MONEY places. The
average entry (quote spent / quantity bought, fees excluded) is kept unrounded; the take-profit and
stop-loss levels derived from it are rounded to PRICE places.
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import Any, Literal

from bots.engine.errors import EngineValidationError
from bots.engine.numbers import (
    ENGINE_CONTEXT,
    HUNDRED,
    MONEY_PLACES,
    ONE,
    ZERO,
    decimal_places,
    display,
    divide,
    json_value,
    multiply,
    parse_decimal,
    parse_int,
    quantize_money,
    quantize_price,
    quantize_quantity,
    require_decimal,
)
from bots.engine.paper import (
    BUY,
    SELL,
    ExecutionCosts,
    Side,
    fee_for,
    market_fill_price,
    notional_for,
)

MAX_SAFETY_ORDERS = 50
MAX_SCALE = Decimal(10)
MAX_COOLDOWN_SECONDS = 366 * 24 * 3600

# What an absent or empty config value means; every other field is required.
_OPTIONAL_DEFAULTS: dict[str, Any] = {
    "safety_order_step_scale": ONE,
    "safety_order_volume_scale": ONE,
    "stop_loss_pct": None,
    "cooldown_seconds": 0,
}
_WHOLE_NUMBER_FIELDS = frozenset({"max_safety_orders", "cooldown_seconds"})

OrderType = Literal["market", "limit"]
ExitKind = Literal["take_profit", "stop_loss"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DcaConfig:
    """A validated DCA bot config (SPEC §6 field names); constructing one checks every field."""

    base_order_size: Decimal
    safety_order_size: Decimal
    max_safety_orders: int
    price_deviation_pct: Decimal
    safety_order_step_scale: Decimal = ONE
    safety_order_volume_scale: Decimal = ONE
    take_profit_pct: Decimal
    stop_loss_pct: Decimal | None = None
    cooldown_seconds: int = 0

    def __post_init__(self) -> None:
        errors = _config_errors(self)
        if errors:
            raise EngineValidationError(errors=errors)

    def as_json(self) -> dict[str, Any]:
        """The config as JSON-safe values (Decimals as strings), as `parse_dca_config` reads it."""
        return {field.name: json_value(getattr(self, field.name)) for field in fields(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyOrder:
    """Safety order `number` (1..N): buys `size` in quote currency at `trigger_price`."""

    number: int
    trigger_price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class DcaDeal:
    """The facts of an open deal; everything else (levels, average entry) is derived from them."""

    number: int
    opened_at: datetime
    base_price: Decimal
    quantity: Decimal
    quote_spent: Decimal
    fees: Decimal
    safety_orders_filled: int = 0
    safety_orders_cancelled: bool = False

    @property
    def average_entry(self) -> Decimal:
        """Quote spent / quantity bought, fees excluded (unrounded)."""
        return divide(self.quote_spent, self.quantity)


@dataclass(frozen=True, slots=True, kw_only=True)
class DcaState:
    """Where a bot stands: the open deal (if any), deals opened so far, when the last closed."""

    deal: DcaDeal | None = None
    deals_opened: int = 0
    last_closed_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DcaLevels:
    """The prices the open deal reacts to next (all None when no deal is open)."""

    next_safety_order: SafetyOrder | None = None
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DcaOrder:
    """One filled order; notional is the quote amount (the order size for buys), fee in quote."""

    deal: int
    kind: str
    side: Side
    order_type: OrderType
    price: Decimal
    quantity: Decimal
    notional: Decimal
    fee: Decimal
    time: datetime

    @property
    def cash_change(self) -> Decimal:
        """What the fill does to the free quote balance."""
        if self.side == BUY:
            return -(self.notional + self.fee)
        return self.notional - self.fee

    def as_json(self) -> dict[str, Any]:
        """The SPEC §6 backtest order record (plus the deal number), JSON-safe."""
        record = {
            "side": self.side,
            "kind": self.kind,
            "price": self.price,
            "quantity": self.quantity,
            "fee": self.fee,
            "time": self.time,
            "deal": self.deal,
        }
        return {key: json_value(value) for key, value in record.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class DcaRejection:
    """An order the strategy wanted but the free balance could not pay; nothing changed for it."""

    deal: int
    kind: str
    time: datetime
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DealResult:
    """A closed deal: P&L = proceeds - quote spent - every fee of the deal."""

    number: int
    opened_at: datetime
    closed_at: datetime
    exit_kind: ExitKind
    safety_orders_filled: int
    quantity: Decimal
    quote_spent: Decimal
    proceeds: Decimal
    fees: Decimal
    pnl: Decimal

    def as_json(self) -> dict[str, Any]:
        """Every field, JSON-safe."""
        return {field.name: json_value(getattr(self, field.name)) for field in fields(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class DcaStep:
    """What one bar or tick did: the new state, fills in order, refused orders, a closed deal."""

    state: DcaState
    orders: tuple[DcaOrder, ...] = ()
    rejections: tuple[DcaRejection, ...] = ()
    closed_deal: DealResult | None = None

    @property
    def cash_change(self) -> Decimal:
        """The sum of the fills' effects on the free quote balance."""
        return sum((order.cash_change for order in self.orders), ZERO)


def parse_dca_config(*, data: Mapping[str, Any]) -> DcaConfig:
    """Build a `DcaConfig` from JSON-ish values (strings, numbers), reporting every bad field."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    known = [field.name for field in fields(DcaConfig)]
    for key in data:
        if key not in known:
            errors[key] = ["Unknown setting."]
    for name in known:
        raw = data.get(name)
        if raw is None or raw == "":
            if name in _OPTIONAL_DEFAULTS:
                values[name] = _OPTIONAL_DEFAULTS[name]
            else:
                errors[name] = ["This field is required."]
            continue
        parse = parse_int if name in _WHOLE_NUMBER_FIELDS else parse_decimal
        try:
            values[name] = parse(raw, field=name)
        except EngineValidationError as error:
            errors.update(error.errors)
    if errors:
        raise EngineValidationError(errors=errors)
    return DcaConfig(**values)


def safety_ladder(*, config: DcaConfig, base_price: Decimal) -> tuple[SafetyOrder, ...]:
    """The N safety orders of a deal whose base order filled at `base_price` (P0)."""
    require_decimal(base_price, field="base_price")
    if base_price <= ZERO:
        raise EngineValidationError(field="base_price", message="Must be greater than 0.")
    plan = _plan(config)
    return tuple(
        SafetyOrder(number=n, trigger_price=quantize_price(multiply(base_price, factor)), size=size)
        for n, (factor, size) in enumerate(zip(plan.factors, plan.sizes, strict=True), 1)
    )


def required_capital(*, config: DcaConfig, fee_rate: Decimal = ZERO) -> Decimal:
    """B + the sum of safety order sizes; with `fee_rate`, plus the fee on each of those buys."""
    plan = _plan(config)
    sizes = (config.base_order_size, *plan.sizes)
    fees = sum((fee_for(notional=size, fee_rate=fee_rate) for size in sizes), ZERO)
    return sum(sizes, ZERO) + fees


def ensure_capital(
    *,
    config: DcaConfig,
    available: Decimal,
    fee_rate: Decimal = ZERO,
    field: str = "account",
) -> None:
    """Refuse (field error on `field`) a config whose required capital exceeds `available`."""
    needed = required_capital(config=config, fee_rate=fee_rate)
    if needed > available:
        with_fees = " including fees" if fee_rate else ""
        raise EngineValidationError(
            field=field,
            message=(
                f"The bot needs {display(needed)}{with_fees} (base order plus every safety "
                f"order); only {display(available)} is available."
            ),
        )


def dca_levels(*, config: DcaConfig, state: DcaState) -> DcaLevels:
    """The next safety order, take-profit and stop-loss prices of the open deal."""
    deal = state.deal
    if deal is None:
        return DcaLevels()
    plan = _plan(config)
    return DcaLevels(
        next_safety_order=_next_safety(plan, deal),
        take_profit=_take_profit(plan, deal),
        stop_loss=_stop_loss(plan, deal),
    )


def deal_unrealized_pnl(*, deal: DcaDeal, price: Decimal) -> Decimal:
    """The open deal marked at `price`: its value minus quote spent minus the fees it has paid."""
    return notional_for(quantity=deal.quantity, price=price) - deal.quote_spent - deal.fees


def dca_equity(
    *, allocated_capital: Decimal, realized_pnl: Decimal, state: DcaState, price: Decimal
) -> Decimal:
    """Bot-run equity (SPEC §4): allocated capital + realized P&L + unrealized P&L at `price`.

    `realized_pnl` is the sum of the run's closed `DealResult.pnl` (fees counted), so the result
    equals the free cash plus the open position at `price`.
    """
    unrealized = ZERO if state.deal is None else deal_unrealized_pnl(deal=state.deal, price=price)
    return allocated_capital + realized_pnl + unrealized


def dca_on_tick(
    *,
    config: DcaConfig,
    state: DcaState,
    time: datetime,
    price: Decimal,
    costs: ExecutionCosts,
    quote_available: Decimal,
) -> DcaStep:
    """Apply one live tick (the last close `price` at `time`): the bar rules with one price."""
    _check_time(state, time)
    require_decimal(price, field="price")
    if price <= ZERO:
        raise EngineValidationError(field="price", message="Must be greater than 0.")
    require_decimal(quote_available, field="quote_available")
    return _walk(config, _plan(config), state, time, price, price, price, costs, quote_available)


def dca_on_bar(
    *,
    config: DcaConfig,
    state: DcaState,
    time: datetime,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    costs: ExecutionCosts,
    quote_available: Decimal,
) -> DcaStep:
    """Apply one OHLC bar, walking open -> low -> high -> close (SPEC §4)."""
    _check_time(state, time)
    for name, value in (("open", open), ("high", high), ("low", low), ("close", close)):
        require_decimal(value, field=name)
    if not (ZERO < low <= open <= high and low <= close <= high):
        raise EngineValidationError(field="bar", message="Needs 0 < low <= open, close <= high.")
    require_decimal(quote_available, field="quote_available")
    return _walk(config, _plan(config), state, time, open, high, low, costs, quote_available)


# --- internals ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a config implies once: trigger factors (P0 multiples), sizes, level multipliers."""

    config: DcaConfig
    factors: tuple[Decimal, ...]
    sizes: tuple[Decimal, ...]
    take_profit_factor: Decimal
    stop_loss_factor: Decimal | None
    cooldown: timedelta


@lru_cache(maxsize=256)
def _plan(config: DcaConfig) -> _Plan:
    with localcontext(ENGINE_CONTEXT):
        deviations = _cumulative_deviations(config)
        factors = tuple(ONE - deviation for deviation in deviations)
        scale = config.safety_order_volume_scale
        sizes = tuple(
            quantize_money(config.safety_order_size * scale ** (n - 1))
            for n in range(1, config.max_safety_orders + 1)
        )
        return _Plan(
            config=config,
            factors=factors,
            sizes=sizes,
            take_profit_factor=ONE + config.take_profit_pct / HUNDRED,
            stop_loss_factor=(
                None if config.stop_loss_pct is None else ONE - config.stop_loss_pct / HUNDRED
            ),
            cooldown=timedelta(seconds=config.cooldown_seconds),
        )


def _cumulative_deviations(config: DcaConfig) -> list[Decimal]:
    """d x (s^n - 1)/(s - 1) for n = 1..N, as the running sum d x (1 + s + ... + s^(n-1)).

    The sum equals the SPEC's closed form (and d x n when s = 1) and stays exact for decimal s,
    where the division would not.
    """
    step = config.price_deviation_pct / HUNDRED
    total = ZERO
    deviations = []
    for _ in range(config.max_safety_orders):
        total += step
        deviations.append(total)
        step *= config.safety_order_step_scale
    return deviations


def _next_safety(plan: _Plan, deal: DcaDeal) -> SafetyOrder | None:
    n = deal.safety_orders_filled + 1
    if deal.safety_orders_cancelled or n > len(plan.sizes):
        return None
    trigger = quantize_price(multiply(deal.base_price, plan.factors[n - 1]))
    return SafetyOrder(number=n, trigger_price=trigger, size=plan.sizes[n - 1])


def _take_profit(plan: _Plan, deal: DcaDeal) -> Decimal:
    return quantize_price(multiply(deal.average_entry, plan.take_profit_factor))


def _stop_loss(plan: _Plan, deal: DcaDeal) -> Decimal | None:
    if plan.stop_loss_factor is None:
        return None
    return quantize_price(multiply(deal.average_entry, plan.stop_loss_factor))


def _may_open(plan: _Plan, state: DcaState, time: datetime) -> bool:
    """A new deal waits for a later bar/tick than the close, and at least the cooldown after it."""
    last = state.last_closed_at
    return last is None or (time > last and time - last >= plan.cooldown)


def _walk(
    config: DcaConfig,
    plan: _Plan,
    state: DcaState,
    time: datetime,
    open_: Decimal,
    high: Decimal,
    low: Decimal,
    costs: ExecutionCosts,
    cash: Decimal,
) -> DcaStep:
    """One bar: open a deal at the open, safety orders and stop loss down to the low, take profit
    up to the high. Levels that stood before the bar and that the open is already beyond fill at
    the open; every other level fills at its own price. Market orders (base, stop loss) fill at the
    price the walk is at, moved by slippage.
    """
    orders: list[DcaOrder] = []
    rejections: list[DcaRejection] = []
    deal = state.deal
    deals_opened = state.deals_opened

    def close(kind: ExitKind, order_type: OrderType, price: Decimal) -> DcaStep:
        return _closed(deal, deals_opened, orders, rejections, kind, order_type, price, costs, time)

    if deal is None:
        if not _may_open(plan, state, time):
            return DcaStep(state=state)
        number = deals_opened + 1
        price = market_fill_price(side=BUY, price=open_, slippage_bps=costs.slippage_bps)
        order, refusal = _buy(
            number, "base", "market", price, config.base_order_size, costs, cash, time
        )
        if order is None:
            return DcaStep(state=state, rejections=(refusal,))
        orders.append(order)
        cash -= order.notional + order.fee
        deals_opened = number
        deal = DcaDeal(
            number=number,
            opened_at=time,
            base_price=price,
            quantity=order.quantity,
            quote_spent=order.notional,
            fees=order.fee,
        )
        levels_stood = False
    else:
        levels_stood = True
        take_profit = _take_profit(plan, deal)
        if open_ >= take_profit:
            return close("take_profit", "limit", open_)
    cursor = open_
    while True:
        safety = _next_safety(plan, deal)
        stop = _stop_loss(plan, deal)
        safety_hit = safety is not None and low <= safety.trigger_price
        stop_hit = stop is not None and low <= stop
        if safety_hit and (not stop_hit or safety.trigger_price >= stop):
            trigger = safety.trigger_price
            price = min(trigger, cursor) if levels_stood else trigger
            kind = f"safety_{safety.number}"
            order, refusal = _buy(deal.number, kind, "limit", price, safety.size, costs, cash, time)
            if order is None:
                # Sizes never shrink (volume scale >= 1) and a deal never adds cash, so no later
                # safety order of this deal could be paid either.
                rejections.append(refusal)
                deal = replace(deal, safety_orders_cancelled=True)
                continue
            orders.append(order)
            cash -= order.notional + order.fee
            deal = replace(
                deal,
                quantity=deal.quantity + order.quantity,
                quote_spent=deal.quote_spent + order.notional,
                fees=deal.fees + order.fee,
                safety_orders_filled=safety.number,
            )
            cursor = min(cursor, price)
            continue
        if stop_hit:
            price = market_fill_price(
                side=SELL, price=min(stop, cursor), slippage_bps=costs.slippage_bps
            )
            return close("stop_loss", "market", price)
        break
    take_profit = _take_profit(plan, deal)
    if high >= take_profit:
        return close("take_profit", "limit", take_profit)
    new_state = DcaState(deal=deal, deals_opened=deals_opened, last_closed_at=state.last_closed_at)
    return DcaStep(state=new_state, orders=tuple(orders), rejections=tuple(rejections))


def _buy(
    deal: int,
    kind: str,
    order_type: OrderType,
    price: Decimal,
    size: Decimal,
    costs: ExecutionCosts,
    cash: Decimal,
    time: datetime,
) -> tuple[DcaOrder, None] | tuple[None, DcaRejection]:
    fee = fee_for(notional=size, fee_rate=costs.fee_rate)
    if size + fee > cash:
        reason = (
            f"Insufficient funds: {kind} needs {display(size + fee)} (size {display(size)} + "
            f"fee {display(fee)}), {display(cash)} is free."
        )
        return None, DcaRejection(deal=deal, kind=kind, time=time, reason=reason)
    quantity = quantize_quantity(divide(size, price))
    if not quantity:
        reason = f"Order too small: {display(size)} buys no quantity at {display(price)}."
        return None, DcaRejection(deal=deal, kind=kind, time=time, reason=reason)
    order = DcaOrder(
        deal=deal,
        kind=kind,
        side=BUY,
        order_type=order_type,
        price=price,
        quantity=quantity,
        notional=size,
        fee=fee,
        time=time,
    )
    return order, None


def _closed(
    deal: DcaDeal,
    deals_opened: int,
    orders: list[DcaOrder],
    rejections: list[DcaRejection],
    kind: ExitKind,
    order_type: OrderType,
    price: Decimal,
    costs: ExecutionCosts,
    time: datetime,
) -> DcaStep:
    notional = notional_for(quantity=deal.quantity, price=price)
    fee = fee_for(notional=notional, fee_rate=costs.fee_rate)
    orders.append(
        DcaOrder(
            deal=deal.number,
            kind=kind,
            side=SELL,
            order_type=order_type,
            price=price,
            quantity=deal.quantity,
            notional=notional,
            fee=fee,
            time=time,
        )
    )
    fees = deal.fees + fee
    result = DealResult(
        number=deal.number,
        opened_at=deal.opened_at,
        closed_at=time,
        exit_kind=kind,
        safety_orders_filled=deal.safety_orders_filled,
        quantity=deal.quantity,
        quote_spent=deal.quote_spent,
        proceeds=notional,
        fees=fees,
        pnl=notional - deal.quote_spent - fees,
    )
    return DcaStep(
        state=DcaState(deal=None, deals_opened=deals_opened, last_closed_at=time),
        orders=tuple(orders),
        rejections=tuple(rejections),
        closed_deal=result,
    )


def _check_time(state: DcaState, time: datetime) -> None:
    if not isinstance(time, datetime) or time.tzinfo is None:
        raise EngineValidationError(field="time", message="Must be a timezone-aware datetime.")
    latest = state.deal.opened_at if state.deal is not None else state.last_closed_at
    if latest is not None and time < latest:
        raise EngineValidationError(
            field="time", message=f"{time.isoformat()} is before the bot's last event ({latest})."
        )


def _config_errors(config: DcaConfig) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def check(field: str, ok: bool, message: str) -> None:
        if not ok and field not in errors:
            errors[field] = [message]

    decimals = (
        "base_order_size",
        "safety_order_size",
        "price_deviation_pct",
        "safety_order_step_scale",
        "safety_order_volume_scale",
        "take_profit_pct",
    )
    for name in decimals:
        try:
            require_decimal(getattr(config, name), field=name)
        except EngineValidationError as error:
            errors.update(error.errors)
    if config.stop_loss_pct is not None:
        try:
            require_decimal(config.stop_loss_pct, field="stop_loss_pct")
        except EngineValidationError as error:
            errors.update(error.errors)
    for name in ("max_safety_orders", "cooldown_seconds"):
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool):
            errors[name] = ["Must be a whole number."]
    if errors:
        return errors

    for name in ("base_order_size", "safety_order_size"):
        value = getattr(config, name)
        check(name, value > ZERO, "Must be greater than 0.")
        check(
            name, decimal_places(value) <= MONEY_PLACES, f"At most {MONEY_PLACES} decimal places."
        )
    check(
        "max_safety_orders",
        0 <= config.max_safety_orders <= MAX_SAFETY_ORDERS,
        f"Must be from 0 to {MAX_SAFETY_ORDERS}.",
    )
    check(
        "price_deviation_pct",
        ZERO < config.price_deviation_pct < HUNDRED,
        "Must be greater than 0 and less than 100 (percent).",
    )
    for name in ("safety_order_step_scale", "safety_order_volume_scale"):
        check(name, ONE <= getattr(config, name) <= MAX_SCALE, f"Must be from 1 to {MAX_SCALE}.")
    check("take_profit_pct", config.take_profit_pct > ZERO, "Must be greater than 0 (percent).")
    if config.stop_loss_pct is not None:
        check(
            "stop_loss_pct",
            ZERO < config.stop_loss_pct < HUNDRED,
            "Must be greater than 0 and less than 100 (percent), or empty for no stop loss.",
        )
    check(
        "cooldown_seconds",
        0 <= config.cooldown_seconds <= MAX_COOLDOWN_SECONDS,
        f"Must be from 0 to {MAX_COOLDOWN_SECONDS} seconds.",
    )
    if not errors and config.max_safety_orders:
        with localcontext(ENGINE_CONTEXT):
            deviations = _cumulative_deviations(config)
        if deviations[-1] >= ONE:
            fitting = sum(1 for deviation in deviations if deviation < ONE)
            errors["max_safety_orders"] = [
                f"Safety order {config.max_safety_orders} would trigger "
                f"{deviations[-1] * HUNDRED:f}% below the base price, at or below zero: with this "
                f"price deviation and step scale at most {fitting} safety orders fit."
            ]
    return errors
