"""Precision of every Decimal column, defined once (SPEC §3).

Use as `models.DecimalField(**MONEY)`. Quantities keep 12 places so crypto fractions survive.
"""

from decimal import Decimal

MONEY = {"max_digits": 24, "decimal_places": 8}
PRICE = {"max_digits": 24, "decimal_places": 10}
QUANTITY = {"max_digits": 30, "decimal_places": 12}
RATE = {"max_digits": 24, "decimal_places": 12}
PERCENT = {"max_digits": 12, "decimal_places": 6}

ZERO = Decimal(0)
