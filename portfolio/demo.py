"""The portfolio part of the demo data (`manage.py seed_demo`): synthetic market data and a ledger.

A dozen shared instruments on the `DEMO` exchange, half in USD and half in EUR, get about two
years of daily bars from the synthetic provider and EUR/USD rates from a seeded random walk; the
demo trader gets a portfolio of a few hundred transactions of every type, written through the
ledger service in one call so holdings, snapshots and performance are the real thing; then a
watchlist, price alerts and dividends (`portfolio.demo_markets`).

Deterministic: a day's bar and rate depend only on the seed and the day (whichever window asks),
and the ledger is planned from them with a fixed seed. Idempotent: the market data is upserted, so
an unchanged day writes nothing, and a demo portfolio that already has transactions is left as
the trader (or an earlier run) left it.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from django.db import transaction

from portfolio.demo_markets import demo_markets_seed
from portfolio.models import AssetClass, Instrument, Portfolio, TransactionType
from portfolio.providers import MarketDataProvider, provider_get
from portfolio.providers.synthetic import EPOCH
from portfolio.services import (
    TransactionInput,
    fx_rates_import,
    portfolio_create,
    price_bars_import,
    transactions_bulk_create,
)
from portfolio.services.market import FxRateRow, PriceBarRow

if TYPE_CHECKING:
    from accounts.models import User

SEED = "trading-lab-demo"
EXCHANGE = "DEMO"
HISTORY_DAYS = 730
PORTFOLIO_NAME = "Demo portfolio"
PORTFOLIO_DESCRIPTION = "Synthetic prices and trades, made by manage.py seed_demo."
BASE_CURRENCY = "USD"
EXTERNAL_ID_PREFIX = "demo-"

CENT = Decimal("0.01")
RATE_TICK = Decimal("0.000001")
DIVIDEND_TICK = Decimal("0.0001")


@dataclass(frozen=True)
class DemoInstrument:
    symbol: str
    name: str
    currency: str
    asset_class: str = AssetClass.EQUITY


INSTRUMENTS = (
    DemoInstrument("ACME", "Acme Robotics (synthetic)", "USD"),
    DemoInstrument("GLBX", "Globex Energy (synthetic)", "USD"),
    DemoInstrument("INTK", "Initech Software (synthetic)", "USD"),
    DemoInstrument("UMBR", "Umbrella Health (synthetic)", "USD"),
    DemoInstrument("STRK", "Stark Industrial (synthetic)", "USD"),
    DemoInstrument("USIX", "US Broad Market Tracker (synthetic)", "USD", AssetClass.ETF),
    DemoInstrument("BLAU", "Blauwerk Maschinenbau (synthetic)", "EUR"),
    DemoInstrument("SOLR", "Soleil Renouvelables (synthetic)", "EUR"),
    DemoInstrument("NORD", "Nordlicht Logistik (synthetic)", "EUR"),
    DemoInstrument("VINO", "Vinoteca Italiana (synthetic)", "EUR"),
    DemoInstrument("ALTA", "Alta Telecom (synthetic)", "EUR"),
    DemoInstrument("EUIX", "Euro Area Tracker (synthetic)", "EUR", AssetClass.ETF),
)


def _rng(label: str) -> random.Random:
    digest = hashlib.sha256(f"{SEED}|{label}".encode()).digest()
    # Not for security: a reproducible stream of demo data.
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311


def demo_window(*, today: date) -> tuple[date, date]:
    """The days the demo market data covers: about two years up to `today`."""
    return today - timedelta(days=HISTORY_DAYS), today


def demo_price_rows(*, start: date, end: date) -> tuple[PriceBarRow, ...]:
    """The synthetic provider's bars of every demo instrument from `start` to `end`."""
    provider = provider_get("synthetic")
    return _price_rows(provider=provider, seed=getattr(provider, "seed", ""), start=start, end=end)


# A seed's bars never change, so the walks (most of a seed's time) are computed once per
# process however often it seeds (the test suite seeds many times).
@functools.lru_cache(maxsize=4)
def _price_rows(
    *, provider: MarketDataProvider, seed: str, start: date, end: date
) -> tuple[PriceBarRow, ...]:
    rows: list[PriceBarRow] = []
    for spec in INSTRUMENTS:
        # The walk depends on symbol, exchange and asset class only: no saved row is needed.
        probe = Instrument(symbol=spec.symbol, exchange=EXCHANGE, asset_class=spec.asset_class)
        bars = provider.fetch_daily(instrument=probe, start=start, end=end)
        rows += [
            PriceBarRow(
                symbol=spec.symbol,
                exchange=EXCHANGE,
                currency=spec.currency,
                name=spec.name,
                asset_class=spec.asset_class,
                **asdict(bar),
            )
            for bar in bars
        ]
    return tuple(rows)


@functools.lru_cache(maxsize=4)
def demo_fx_rows(*, start: date, end: date) -> tuple[FxRateRow, ...]:
    """EUR/USD on every weekday from `start` to `end`: a mean-reverting walk around 1.10."""
    rng = _rng("EUR/USD")
    anchor = math.log(1.10)
    level = anchor
    rows = []
    day = EPOCH
    while day <= end:
        if day.weekday() < 5:
            level += 0.02 * (anchor - level) + rng.gauss(0, 0.004)
            if day >= start:
                rate = Decimal(repr(math.exp(level))).quantize(RATE_TICK)
                rows.append(FxRateRow(base="EUR", quote=BASE_CURRENCY, date=day, rate=rate))
        day += timedelta(days=1)
    return tuple(rows)


def demo_price_rows_cache_clear() -> None:
    """Forget the cached walks, so the next seed computes them again."""
    _price_rows.cache_clear()
    demo_fx_rows.cache_clear()


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def demo_transactions(
    *,
    price_rows: Sequence[PriceBarRow],
    fx_rows: Sequence[FxRateRow],
    instruments: dict[str, Instrument],
) -> list[TransactionInput]:
    """Plan the demo ledger: deposits first, then trades, income, fees and one withdrawal.

    Sells never exceed what is held and buys stay within the cash (kept in the base currency at
    the day's EUR/USD rate, with a margin so the ledger never needs an implicit deposit).
    """
    closes: dict[date, dict[str, Decimal]] = {}
    for row in price_rows:
        closes.setdefault(row.date, {})[row.symbol] = row.close
    eurusd = {row.date: row.rate for row in fx_rows}
    days = sorted(day for day in closes if day in eurusd)
    rng = _rng("ledger")
    held: dict[str, Decimal] = {}
    cash = Decimal(0)
    plan: list[TransactionInput] = []

    def to_base(symbol: str, day: date) -> Decimal:
        return eurusd[day] if instruments[symbol].currency == "EUR" else Decimal(1)

    def cash_entry(kind: str, day: date, amount: Decimal, notes: str) -> None:
        nonlocal cash
        plan.append(TransactionInput(type=kind, date=day, quantity=None, price=amount, notes=notes))
        cash += -amount if kind in (TransactionType.WITHDRAWAL, TransactionType.FEE) else amount

    withdrawal_day = days[len(days) * 3 // 5]
    top_up_day = days[len(days) // 3]
    for index, day in enumerate(days):
        if index == 0:
            cash_entry(TransactionType.DEPOSIT, day, Decimal("100000.00"), "Opening deposit")
        elif day == top_up_day:
            cash_entry(TransactionType.DEPOSIT, day, Decimal("25000.00"), "Savings top-up")
        elif day == withdrawal_day:
            # Half the cash at most, so the withdrawal never overdraws the account.
            amount = _cents(min(Decimal("12000"), max(cash, Decimal(0)) / 2))
            if amount > 0:
                cash_entry(TransactionType.WITHDRAWAL, day, amount, "Home repairs")
        first_of_month = index == 0 or days[index - 1].month != day.month
        if first_of_month and index > 0:
            cash_entry(TransactionType.FEE, day, Decimal("4.99"), "Monthly platform fee")
            if cash > 0:
                interest = _cents(cash * Decimal("0.02") / 12)
                if interest > 0:
                    cash_entry(TransactionType.INTEREST, day, interest, "Interest on cash")
        if first_of_month and day.month % 3 == 0:
            for symbol in sorted(s for s, quantity in held.items() if quantity > 0):
                per_share = (closes[day][symbol] * Decimal("0.006")).quantize(DIVIDEND_TICK)
                if per_share <= 0:
                    continue
                plan.append(
                    TransactionInput(
                        type=TransactionType.DIVIDEND,
                        date=day,
                        quantity=held[symbol],
                        price=per_share,
                        instrument=instruments[symbol],
                        notes="Quarterly dividend",
                    )
                )
                cash += held[symbol] * per_share * to_base(symbol, day)
        trades = 1 if rng.random() < 0.5 else 0
        if index < 10:
            # Build the opening positions in the first fortnight.
            trades = 2
        for _ in range(trades):
            spec = INSTRUMENTS[rng.randrange(len(INSTRUMENTS))]
            symbol, price = spec.symbol, closes[day][spec.symbol]
            fee = Decimal(rng.randrange(100, 600)) / 100
            fx = to_base(symbol, day)
            owned = held.get(symbol, Decimal(0))
            if owned > 0 and rng.random() < 0.35:
                share = Decimal(rng.randrange(20, 101)) / 100
                quantity = max(Decimal(1), (owned * share).to_integral(ROUND_DOWN))
                kind = TransactionType.SELL
                cash += (quantity * price - fee) * fx
                held[symbol] = owned - quantity
            else:
                budget = min(cash * Decimal("0.9"), Decimal(rng.randrange(2000, 9000)))
                quantity = (budget / (price * fx)).to_integral(ROUND_DOWN)
                if quantity < 1 or (quantity * price + fee) * fx > cash * Decimal("0.95"):
                    continue
                kind = TransactionType.BUY
                cash -= (quantity * price + fee) * fx
                held[symbol] = owned + quantity
            plan.append(
                TransactionInput(
                    type=kind,
                    date=day,
                    quantity=quantity,
                    price=price,
                    fee=fee,
                    instrument=instruments[symbol],
                )
            )
    for number, item in enumerate(plan, start=1):
        item.external_id = f"{EXTERNAL_ID_PREFIX}{number:04d}"
    return plan


@dataclass(frozen=True)
class DemoMarket:
    """What the market part of the seed wrote or found, for planning the ledger."""

    changes: list[str]
    instruments: dict[str, Instrument]
    price_rows: tuple[PriceBarRow, ...]
    fx_rows: tuple[FxRateRow, ...]


def demo_market_seed(*, start: date, end: date) -> DemoMarket:
    """Upsert the demo instruments' bars and the EUR/USD rates (instruments marked synthetic)."""
    changes = []
    price_rows = demo_price_rows(start=start, end=end)
    fx_rows = demo_fx_rows(start=start, end=end)
    # Rates first: the bar import revalues the portfolios holding demo instruments at once.
    fx = fx_rates_import(rows=fx_rows)
    if fx.created or fx.updated:
        changes.append(f"EUR/USD rates: {fx.summary('rates')}")
    prices = price_bars_import(rows=price_rows, source="synthetic")
    if prices.created or prices.updated:
        changes.append(f"synthetic prices: {prices.summary('price bars')}")
    instruments = {
        i.symbol: i
        for i in Instrument.objects.filter(
            owner__isnull=True, exchange=EXCHANGE, symbol__in=[s.symbol for s in INSTRUMENTS]
        )
    }
    marked = []
    for instrument in sorted(instruments.values(), key=str):
        if not instrument.is_synthetic:
            # Saved one by one so each change lands in model history.
            instrument.is_synthetic = True
            instrument.save(update_fields=["is_synthetic", "updated_at"])
            marked.append(str(instrument))
    if marked:
        changes.append(f"marked synthetic: {', '.join(marked)}")
    return DemoMarket(changes, instruments, price_rows, fx_rows)


def demo_portfolio_seed(*, user: User, market: DemoMarket) -> list[str]:
    """Give `user` the demo portfolio and its ledger unless it already has transactions."""
    changes = []
    portfolio = Portfolio.objects.for_user(user).filter(name=PORTFOLIO_NAME).first()
    if portfolio is None:
        portfolio = portfolio_create(
            user=user,
            name=PORTFOLIO_NAME,
            base_currency=BASE_CURRENCY,
            description=PORTFOLIO_DESCRIPTION,
        )
        changes.append(f"created “{PORTFOLIO_NAME}” for {user.email}")
    if portfolio.transactions.exists():
        return changes
    plan = demo_transactions(
        price_rows=market.price_rows, fx_rows=market.fx_rows, instruments=market.instruments
    )
    transactions_bulk_create(portfolio=portfolio, inputs=plan)
    changes.append(f"added {len(plan)} transactions to “{PORTFOLIO_NAME}”")
    return changes


def demo_seed(*, user: User, today: date) -> list[str]:
    """Bring the demo market data and `user`'s demo portfolio in place; return what changed."""
    start, end = demo_window(today=today)
    with transaction.atomic():
        market = demo_market_seed(start=start, end=end)
        changes = [*market.changes, *demo_portfolio_seed(user=user, market=market)]
        portfolio = Portfolio.objects.for_user(user).get(name=PORTFOLIO_NAME)
        return [
            *changes,
            *demo_markets_seed(
                user=user, portfolio=portfolio, instruments=market.instruments, today=today
            ),
        ]
