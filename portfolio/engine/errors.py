"""Errors the portfolio engine raises: each names the input field it is about."""

from collections.abc import Hashable
from datetime import date
from decimal import Decimal


class EngineError(Exception):
    """Base class of every error the portfolio engine raises."""


class EngineValidationError(EngineError):
    """An input the engine cannot accept; `field` names it so callers can answer per field."""

    def __init__(self, *, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def as_field_errors(self) -> dict[str, list[str]]:
        """The error in the `{"field": ["message"]}` shape of the API's error body."""
        return {self.field: [self.message]}


class LedgerOrderError(EngineValidationError):
    """A transaction arrived out of date order, or after its day was closed."""


class OversellError(EngineValidationError):
    """A SELL of more than was held on its date."""

    def __init__(
        self,
        *,
        transaction: Hashable,
        on: date,
        instrument: Hashable,
        requested: Decimal,
        held: Decimal,
    ) -> None:
        super().__init__(
            field="quantity",
            message=(
                f"Transaction {transaction} on {on.isoformat()} sells {requested} of "
                f"{instrument}, but only {held} is held on that date."
            ),
        )
        self.transaction = transaction
        self.on = on
        self.instrument = instrument
        self.requested = requested
        self.held = held


class MissingFxRateError(EngineValidationError):
    """No FX rate on or before the date for the currency pair a conversion needs."""

    def __init__(self, *, currency: str, base: str, on: date) -> None:
        super().__init__(
            field="fx_rate",
            message=(
                f"No FX rate for {currency}/{base} on or before {on.isoformat()}; "
                "import the rate before valuing in that currency."
            ),
        )
        self.currency = currency
        self.base = base
        self.on = on
