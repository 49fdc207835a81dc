"""Terse builders for engine inputs: strings become Decimals, ISO strings become dates."""

from datetime import date
from decimal import Decimal

from portfolio.engine import Split, TransactionRecord


def d(value: str | int) -> Decimal:
    return Decimal(str(value))


def day(iso: str) -> date:
    return date.fromisoformat(iso)


def tx(
    id: int,
    on: str,
    type: str,
    instrument: str | None = None,
    quantity: str | int = 1,
    price: str | int = 1,
    fee: str | int = 0,
    currency: str = "CHF",
    fx_rate: str | int = 1,
) -> TransactionRecord:
    return TransactionRecord(
        id=id,
        date=day(on),
        type=type,
        instrument=instrument,
        quantity=d(quantity),
        price=d(price),
        fee=d(fee),
        currency=currency,
        fx_rate=d(fx_rate),
    )


def split(instrument: str, on: str, numerator: int, denominator: int) -> Split:
    return Split(
        instrument=instrument, date=day(on), numerator=d(numerator), denominator=d(denominator)
    )
