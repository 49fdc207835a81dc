"""The Decimal arithmetic every engine function runs under, defined once.

34 significant digits (IEEE decimal128), banker's rounding, and traps on invalid operations and
division by zero so a bad input fails loudly instead of producing NaN. Results are not quantized:
quantizing to the column precisions of `trading_lab.decimals` happens where values are stored or
shown.
"""

from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    FloatOperation,
    InvalidOperation,
    Overflow,
)

ENGINE_CONTEXT = Context(
    prec=34,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow, FloatOperation],
)

ZERO = Decimal(0)
ONE = Decimal(1)
