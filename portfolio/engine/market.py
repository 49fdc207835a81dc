"""Market data lookups the valuation needs: last close and last FX rate on or before a date.

Both tables are built once from plain rows (what a `values_list` query returns) and are immutable
afterwards. Lookups are a binary search per call.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable
from datetime import date
from decimal import Decimal

from portfolio.engine.errors import EngineValidationError, MissingFxRateError
from portfolio.engine.numbers import ENGINE_CONTEXT, ONE


def _positive(value: object, *, name: str, where: str) -> Decimal:
    if not isinstance(value, Decimal | int) or isinstance(value, bool) or value <= 0:
        raise EngineValidationError(
            field=name, message=f"must be a Decimal greater than zero ({where}), not {value!r}."
        )
    return Decimal(value)


def _index(rows: dict[object, dict[date, Decimal]]) -> dict[object, tuple[list[date], list]]:
    indexed = {}
    for key, by_date in rows.items():
        ordered = sorted(by_date.items())
        indexed[key] = ([d for d, _ in ordered], [v for _, v in ordered])
    return indexed


class PriceTable:
    """Daily closes per instrument, from rows of `(instrument, date, close)`.

    A later row for the same instrument and date replaces an earlier one.
    """

    __slots__ = ("_series",)

    def __init__(self, closes: Iterable[tuple[Hashable, date, Decimal]] = ()) -> None:
        rows: dict[object, dict[date, Decimal]] = {}
        for instrument, day, close in closes:
            where = f"{instrument} on {day.isoformat()}"
            rows.setdefault(instrument, {})[day] = _positive(close, name="close", where=where)
        self._series = _index(rows)

    def close_on_or_before(self, *, instrument: Hashable, day: date) -> tuple[date, Decimal] | None:
        """The last close of `instrument` on or before `day`, with its date; None if none."""
        series = self._series.get(instrument)
        if series is None:
            return None
        dates, closes = series
        i = bisect.bisect_right(dates, day)
        if i == 0:
            return None
        return dates[i - 1], closes[i - 1]


class FxTable:
    """FX rates from rows of `(base, quote, date, rate)`: one `base` unit costs `rate` `quote`.

    Converting an amount in currency C into the portfolio's base currency B multiplies by the C/B
    rate, or divides by the B/C rate when only the inverse pair is stored; the most recent of the
    two on or before the date wins (the direct pair on a tie). Nothing is triangulated.
    """

    __slots__ = ("_series",)

    def __init__(self, rates: Iterable[tuple[str, str, date, Decimal]] = ()) -> None:
        rows: dict[object, dict[date, Decimal]] = {}
        for base, quote, day, rate in rates:
            if base == quote:
                raise EngineValidationError(
                    field="quote", message=f"must differ from the base currency ({base})."
                )
            where = f"{base}/{quote} on {day.isoformat()}"
            rows.setdefault((base, quote), {})[day] = _positive(rate, name="rate", where=where)
        self._series = _index(rows)

    def _last(self, pair: tuple[str, str], day: date) -> tuple[date, Decimal] | None:
        series = self._series.get(pair)
        if series is None:
            return None
        dates, rates = series
        i = bisect.bisect_right(dates, day)
        if i == 0:
            return None
        return dates[i - 1], rates[i - 1]

    def rate(self, *, currency: str, base: str, day: date) -> Decimal:
        """The factor converting `currency` into `base` on `day`; raises `MissingFxRateError`."""
        if currency == base:
            return ONE
        direct = self._last((currency, base), day)
        inverse = self._last((base, currency), day)
        if direct is None and inverse is None:
            raise MissingFxRateError(currency=currency, base=base, on=day)
        if inverse is None or (direct is not None and direct[0] >= inverse[0]):
            return direct[1]
        return ENGINE_CONTEXT.divide(ONE, inverse[1])
