"""Reads of the watchlist, alert, notification and dividend pages, each scoped to its reader."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db.models import Count, F, Q, QuerySet

from portfolio.models import (
    AlertEvent,
    Dividend,
    Instrument,
    Notification,
    PriceAlert,
    Transaction,
    TransactionType,
    WatchlistItem,
)
from portfolio.selectors import instruments_with_quotes, quantize
from trading_lab.decimals import MONEY


@dataclass(frozen=True)
class WatchlistRow:
    """A watchlist item with its instrument's last close and the change from the one before."""

    item: WatchlistItem
    instrument: Instrument | None
    close: Decimal | None = None
    close_date: date | None = None
    change: Decimal | None = None
    change_pct: Decimal | None = None


def _key(symbol: str, exchange: str) -> tuple[str, str]:
    return symbol.strip().upper(), (exchange or "").strip().upper()


def watchlist_rows(*, user) -> list[WatchlistRow]:
    """The user's watchlist with quotes, in two queries however long the list is."""
    items = list(WatchlistItem.objects.for_user(user))
    if not items:
        return []
    wanted = reduce(or_, (Q(symbol__iexact=i.symbol, exchange__iexact=i.exchange) for i in items))
    instruments = (
        instruments_with_quotes(Instrument.objects.visible_to(user).filter(wanted))
        # Shared rows last, so they win over a private one of the same name (as instrument_find).
        .order_by(F("owner_id").desc(nulls_last=True))
    )
    found = {_key(i.symbol, i.exchange): i for i in instruments}
    rows = []
    for item in items:
        instrument = found.get(_key(item.symbol, item.exchange))
        if instrument is None or instrument.last_close is None:
            rows.append(WatchlistRow(item=item, instrument=instrument))
            continue
        change = change_pct = None
        if instrument.previous_close:
            change = instrument.last_close - instrument.previous_close
            change_pct = change / instrument.previous_close
        rows.append(
            WatchlistRow(
                item=item,
                instrument=instrument,
                close=instrument.last_close,
                close_date=instrument.last_date,
                change=change,
                change_pct=change_pct,
            )
        )
    return rows


def price_alert_list(*, user) -> QuerySet[PriceAlert]:
    """The user's alerts, newest first, with their instrument and how often each fired."""
    return (
        PriceAlert.objects.for_user(user)
        .select_related("instrument")
        .annotate(event_count=Count("events"))
    )


def alert_event_list(*, user, alert: PriceAlert | None = None) -> QuerySet[AlertEvent]:
    """Alert firings of the user, newest first; of one alert when given."""
    events = AlertEvent.objects.for_user(user).select_related("alert__instrument")
    return events.filter(alert=alert) if alert is not None else events


def notification_list(*, user) -> QuerySet[Notification]:
    """The user's in-app notifications, newest first."""
    return Notification.objects.for_user(user)


def notification_unread_count(*, user) -> int:
    """How many of the user's notifications are unread (one indexed COUNT)."""
    return Notification.objects.for_user(user).filter(read_at__isnull=True).count()


def dividend_list(
    *, user, status: str | None = None, portfolio_id: int | None = None
) -> QuerySet[Dividend]:
    """The user's dividends across portfolios, newest ex date first, optionally filtered."""
    rows = Dividend.objects.for_user(user).select_related("instrument", "portfolio")
    if status:
        rows = rows.filter(status=status)
    if portfolio_id is not None:
        rows = rows.filter(portfolio_id=portfolio_id)
    return rows


@dataclass(frozen=True)
class IncomeLine:
    label: str
    currency: str
    amount: Decimal
    payments: int


@dataclass(frozen=True)
class DividendIncome:
    """Dividend income received, by year and by symbol, in the currency it was paid in."""

    by_year: list[IncomeLine]
    by_symbol: list[IncomeLine]
    currencies: list[str]

    def chart(self) -> dict:
        """Chart data of the yearly income: one dataset per currency."""
        years = sorted({line.label for line in self.by_year})
        amounts = {(line.label, line.currency): line.amount for line in self.by_year}
        return {
            "labels": years,
            "datasets": [
                {
                    "label": currency,
                    "values": [str(amounts.get((year, currency), Decimal(0))) for year in years],
                }
                for currency in self.currencies
            ],
        }

    def summary(self) -> str:
        """The chart as a sentence, for readers who cannot see it."""
        parts = [f"{line.label}: {line.amount:,.2f} {line.currency}" for line in self.by_year]
        return "Dividend income by year — " + "; ".join(parts) + "." if parts else ""


def dividend_income(*, user, portfolio_id: int | None = None) -> DividendIncome:
    """Income from the DIVIDEND entries of the user's ledgers (confirmed dividends included).

    Money is added up in Python, in Decimals: SQLite's SUM over a product is a float.
    """
    entries = Transaction.objects.for_user(user).filter(type=TransactionType.DIVIDEND)
    if portfolio_id is not None:
        entries = entries.filter(portfolio_id=portfolio_id)
    years: dict[tuple[str, str], list] = defaultdict(lambda: [Decimal(0), 0])
    symbols: dict[tuple[str, str], list] = defaultdict(lambda: [Decimal(0), 0])
    for paid_on, currency, quantity, price, symbol, exchange in entries.values_list(
        "date", "currency", "quantity", "price", "instrument__symbol", "instrument__exchange"
    ):
        amount = quantity * price
        label = f"{symbol}.{exchange}" if exchange else symbol
        for table, key in ((years, (str(paid_on.year), currency)), (symbols, (label, currency))):
            table[key][0] += amount
            table[key][1] += 1

    def lines(table: dict, order) -> list[IncomeLine]:
        made = [
            IncomeLine(label, currency, quantize(total, MONEY), count)
            for (label, currency), (total, count) in table.items()
        ]
        return sorted(made, key=order)

    return DividendIncome(
        by_year=lines(years, lambda line: (line.label, line.currency)),
        by_symbol=lines(symbols, lambda line: (line.currency, -line.amount, line.label)),
        currencies=sorted({currency for _, currency in years}),
    )
