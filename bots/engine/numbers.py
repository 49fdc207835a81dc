"""Precision and rounding of every engine number, and parsing of numbers from JSON-ish input.

The scales come from `trading_lab.decimals` (the database columns), so what the engine produces is
exactly what the Django layer stores and reloads: a live bot and a backtest never drift apart by a
rounding step. Rules, applied where a value becomes a fact (a fill):

- prices (fill prices, trigger and exit levels): PRICE places, half-even;
- quantities: QUANTITY places, rounded down, so nobody receives more than was paid for;
- money (notionals, fees, P&L, order sizes): MONEY places, half-even.

Intermediate arithmetic runs in `ENGINE_CONTEXT` (40 significant digits, so a product of a price
and a quantity is exact before it is rounded).
"""

from datetime import datetime
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any

from bots.engine.errors import EngineValidationError
from trading_lab.decimals import MONEY, PRICE, QUANTITY

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
BASIS_POINTS = Decimal(10000)

MONEY_PLACES: int = MONEY["decimal_places"]
PRICE_PLACES: int = PRICE["decimal_places"]
QUANTITY_PLACES: int = QUANTITY["decimal_places"]

MONEY_QUANTUM = ONE.scaleb(-MONEY_PLACES)
PRICE_QUANTUM = ONE.scaleb(-PRICE_PLACES)
QUANTITY_QUANTUM = ONE.scaleb(-QUANTITY_PLACES)

ENGINE_CONTEXT = Context(
    prec=40,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)


# Arithmetic at engine precision without switching the thread's context (hot paths use these).
multiply = ENGINE_CONTEXT.multiply
divide = ENGINE_CONTEXT.divide


def quantize_money(value: Decimal) -> Decimal:
    """An amount of quote currency at MONEY places, half-even."""
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN, context=ENGINE_CONTEXT)


def quantize_price(value: Decimal) -> Decimal:
    """A price at PRICE places, half-even."""
    return value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN, context=ENGINE_CONTEXT)


def quantize_quantity(value: Decimal) -> Decimal:
    """A quantity at QUANTITY places, rounded down (never more than was paid for)."""
    return value.quantize(QUANTITY_QUANTUM, rounding=ROUND_DOWN, context=ENGINE_CONTEXT)


def decimal_places(value: Decimal) -> int:
    """How many digits `value` has after the point (0 for whole numbers)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def parse_decimal(value: Any, *, field: str) -> Decimal:
    """`value` (Decimal, int, numeric string, JSON float) as a finite Decimal, or a field error."""
    if isinstance(value, bool) or value is None:
        raise EngineValidationError(field=field, message="A number is required.")
    if isinstance(value, float):
        # JSON numbers arrive as floats; their shortest repr is what the client wrote.
        value = repr(value)
    if isinstance(value, str):
        value = value.strip()
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise EngineValidationError(field=field, message="A number is required.") from None
    if not number.is_finite():
        raise EngineValidationError(field=field, message="A finite number is required.")
    return number


def parse_int(value: Any, *, field: str) -> int:
    """`value` as a whole number (int, or a numeric string/Decimal without a fraction)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = parse_decimal(value, field=field)
    if number != number.to_integral_value():
        raise EngineValidationError(field=field, message="A whole number is required.")
    return int(number)


def require_decimal(value: Any, *, field: str) -> Decimal:
    """`value` itself when it is a finite Decimal; engine inputs never take floats silently."""
    if not isinstance(value, Decimal):
        raise EngineValidationError(
            field=field, message=f"Must be a Decimal, not {type(value).__name__}."
        )
    if not value.is_finite():
        raise EngineValidationError(field=field, message="A finite number is required.")
    return value


def display(value: Decimal) -> str:
    """`value` for a message: plain notation without trailing zeros (1501.5, not 1501.50000000)."""
    return format(value.normalize(context=ENGINE_CONTEXT), "f")


def json_value(value: Any) -> Any:
    """JSON-safe: Decimals as plain-notation strings (never "0E-8"), datetimes in ISO 8601."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return value
