"""The demo trader's watchlist, price alerts and dividends (`manage.py seed_demo`).

Written through the real services after the demo prices and ledger are in place, so the alert
that fires leaves its event and notification, and the confirmed dividends their DIVIDEND
transactions, exactly as in use. Deterministic: levels and dates follow from the demo closes
and `today`. Idempotent: each part is skipped once the trader has any row of its kind.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from portfolio.models import (
    AlertCondition,
    Dividend,
    Instrument,
    Portfolio,
    PriceAlert,
    PriceBar,
    WatchlistItem,
)
from portfolio.services import (
    WatchlistEntry,
    dividend_confirm,
    dividend_create,
    price_alert_create,
    price_alerts_check,
    watchlist_replace,
)
from portfolio.services.dividends import shares_held_before

if TYPE_CHECKING:
    from accounts.models import User

CENT = Decimal("0.01")
DIVIDEND_TICK = Decimal("0.0001")

# (symbol, fraction of the last close as target price or None, notes)
WATCHLIST = (
    ("NORD", Decimal("0.92"), "Waiting for a pull-back"),
    ("VINO", None, "Seasonal: check after harvest reports"),
    ("ALTA", Decimal("0.90"), ""),
    ("UMBR", None, "Earnings next month"),
    ("SOLR", None, ""),
)
# (symbol, condition, target as a fraction of the last close, notes). The first one's target
# is below an "above" condition: it fires on the check that follows, as a demo of a trigger.
ALERTS = (
    ("ACME", AlertCondition.ABOVE, Decimal("0.97"), "Breakout level"),
    ("GLBX", AlertCondition.BELOW, Decimal("0.90"), "Stop thinking about it below this"),
    ("BLAU", AlertCondition.ABOVE, Decimal("1.10"), ""),
    ("EUIX", AlertCondition.BELOW, Decimal("0.92"), "Add to the ETF here"),
)
# Special dividends (the demo ledger already has its regular quarterly ones): days before
# `today` of the ex date, and whether to confirm it. The last is paid in the future.
DIVIDENDS = ((150, True), (110, True), (70, True), (35, False), (8, False))
PAY_AFTER = timedelta(days=14)
SPECIAL_YIELD = Decimal("0.01")


def _last_closes(instruments: dict[str, Instrument], on_or_before: date) -> dict[str, Decimal]:
    closes: dict[str, Decimal] = {}
    for symbol, instrument in instruments.items():
        bar = (
            PriceBar.objects.filter(instrument=instrument, date__lte=on_or_before)
            .order_by("-date")
            .only("close")
            .first()
        )
        if bar is not None:
            closes[symbol] = bar.close
    return closes


def _weekday_on_or_before(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def demo_watchlist_seed(
    *, user: User, instruments: dict[str, Instrument], today: date
) -> list[str]:
    if WatchlistItem.objects.for_user(user).exists():
        return []
    closes = _last_closes({s: instruments[s] for s, _, _ in WATCHLIST}, today)
    entries = [
        WatchlistEntry(
            symbol=symbol,
            exchange=instruments[symbol].exchange,
            notes=notes,
            target_price=(closes[symbol] * share).quantize(CENT) if share else None,
        )
        for symbol, share, notes in WATCHLIST
        if symbol in closes
    ]
    watchlist_replace(user=user, entries=entries)
    return [f"added {len(entries)} watchlist items for {user.email}"]


def demo_alerts_seed(*, user: User, instruments: dict[str, Instrument], today: date) -> list[str]:
    if PriceAlert.objects.for_user(user).exists():
        return []
    closes = _last_closes({s: instruments[s] for s, _, _, _ in ALERTS}, today)
    made = []
    for symbol, condition, share, notes in ALERTS:
        if symbol not in closes:
            continue
        made.append(
            price_alert_create(
                user=user,
                instrument=instruments[symbol],
                condition=condition,
                target=(closes[symbol] * share).quantize(CENT),
                notes=notes,
            )
        )
    # As when prices arrive: the breakout alert fires, with its event and notification.
    fired = price_alerts_check(instrument_ids=[alert.instrument_id for alert in made])
    return [f"added {len(made)} price alerts for {user.email} ({fired} triggered)"]


def demo_dividends_seed(
    *, portfolio: Portfolio, instruments: dict[str, Instrument], today: date
) -> list[str]:
    if Dividend.objects.filter(portfolio=portfolio).exists():
        return []
    ex_dates = [_weekday_on_or_before(today - timedelta(days=days)) for days, _ in DIVIDENDS]
    symbols = sorted(instruments)
    held = shares_held_before(
        portfolio=portfolio,
        wanted=[(instruments[s].pk, ex_date) for s in symbols for ex_date in ex_dates],
    )
    confirmed = pending = 0
    used: set[str] = set()
    for index, ((_, confirm), ex_date) in enumerate(zip(DIVIDENDS, ex_dates, strict=True)):
        # A different held instrument each time, starting at a different place in the list.
        order = symbols[index * 5 % len(symbols) :] + symbols[: index * 5 % len(symbols)]
        choice = next(
            (s for s in order if s not in used and held[(instruments[s].pk, ex_date)] > 0),
            None,
        )
        if choice is None:
            continue
        used.add(choice)
        close = _last_closes({choice: instruments[choice]}, ex_date)[choice]
        dividend = dividend_create(
            portfolio=portfolio,
            instrument=instruments[choice],
            ex_date=ex_date,
            pay_date=ex_date + PAY_AFTER,
            declared_date=ex_date - timedelta(days=21),
            amount_per_share=(close * SPECIAL_YIELD).quantize(DIVIDEND_TICK),
            notes="Special dividend (demo)",
        )
        if confirm:
            dividend_confirm(dividend=dividend)
            confirmed += 1
        else:
            pending += 1
    return [f"added {confirmed} confirmed and {pending} pending dividends to “{portfolio.name}”"]


def demo_markets_seed(
    *, user: User, portfolio: Portfolio, instruments: dict[str, Instrument], today: date
) -> list[str]:
    """Give the demo trader a watchlist, alerts (one triggered) and dividends, once each."""
    return [
        *demo_watchlist_seed(user=user, instruments=instruments, today=today),
        *demo_alerts_seed(user=user, instruments=instruments, today=today),
        *demo_dividends_seed(portfolio=portfolio, instruments=instruments, today=today),
    ]
