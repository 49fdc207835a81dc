"""Reads of the portfolio area: lists, holdings, performance, series, and the derived ledger.

`ledger_derive` is the one place the engine's fold and snapshot build are fed from the database:
the services write what it returns, and `verify_ledger` compares it with what is stored.
`portfolio_performance` and `portfolio_series` read stored rows (holdings, `LedgerTotals`, daily
snapshots) with a fixed number of queries, so their cost does not grow with the number of
transactions: days after the last write are valued on the fly from the stored state, and only an
`as_of` before the last write folds the transactions up to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from portfolio import engine
from portfolio.engine.numbers import ENGINE_CONTEXT
from portfolio.models import (
    FxRate,
    Holding,
    Instrument,
    LedgerTotals,
    Portfolio,
    PortfolioSnapshot,
    PriceBar,
    Split,
    Transaction,
)
from trading_lab.decimals import MONEY, PRICE, QUANTITY
from trading_lab.exceptions import ApplicationError

# Django's `week_day` lookup: 1 is Sunday, 7 is Saturday.
_WEEKEND = (1, 7)


def quantize(value: Decimal, spec: dict) -> Decimal:
    """`value` rounded (half-even) to the decimal places of a column precision from decimals.py."""
    with localcontext(ENGINE_CONTEXT):
        return value.quantize(Decimal(1).scaleb(-spec["decimal_places"]), rounding=ROUND_HALF_EVEN)


def portfolio_list(*, user) -> QuerySet[Portfolio]:
    """The user's portfolios, by name."""
    return Portfolio.objects.for_user(user).order_by("name", "pk")


def transaction_list(
    *,
    user,
    portfolio: Portfolio | None = None,
    symbol: str | None = None,
    type: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Transaction]:
    """The user's transactions, newest first, optionally filtered (symbol is case-insensitive)."""
    rows = Transaction.objects.for_user(user).select_related("instrument", "portfolio")
    if portfolio is not None:
        rows = rows.filter(portfolio=portfolio)
    if symbol:
        rows = rows.filter(instrument__symbol__iexact=symbol)
    if type:
        rows = rows.filter(type=type)
    if date_from is not None:
        rows = rows.filter(date__gte=date_from)
    if date_to is not None:
        rows = rows.filter(date__lte=date_to)
    return rows.order_by("-date", "-id")


def holding_list(*, portfolio: Portfolio, include_closed: bool = False) -> QuerySet[Holding]:
    """The portfolio's stored holdings (open positions unless `include_closed`), by symbol."""
    rows = Holding.objects.filter(portfolio=portfolio).select_related("instrument")
    if not include_closed:
        rows = rows.filter(quantity__gt=0)
    return rows.order_by("instrument__symbol", "instrument__exchange", "pk")


def instrument_search(*, user, query: str = "") -> QuerySet[Instrument]:
    """Shared instruments and the user's private ones whose symbol or name matches `query`."""
    rows = Instrument.objects.visible_to(user)
    query = (query or "").strip()
    if query:
        rows = rows.filter(Q(symbol__istartswith=query) | Q(name__icontains=query))
    return rows.order_by("symbol", "exchange", "pk")


def instruments_with_quotes(
    instruments: QuerySet[Instrument], *, on_or_before: date | None = None
) -> QuerySet[Instrument]:
    """`instruments` annotated with `last_close`, `last_date` and `previous_close` (the close
    before the last), from their price bars up to `on_or_before`: one query for any number."""
    bars = PriceBar.objects.filter(instrument=OuterRef("pk"))
    if on_or_before is not None:
        bars = bars.filter(date__lte=on_or_before)
    latest = bars.order_by("-date")
    return instruments.annotate(
        last_close=Subquery(latest.values("close")[:1]),
        last_date=Subquery(latest.values("date")[:1]),
        previous_close=Subquery(latest.values("close")[1:2]),
    )


def price_bar_list(
    *, instrument: Instrument, start: date | None = None, end: date | None = None
) -> QuerySet[PriceBar]:
    """An instrument's daily bars in date order, optionally limited to [start, end]."""
    rows = PriceBar.objects.filter(instrument=instrument)
    if start is not None:
        rows = rows.filter(date__gte=start)
    if end is not None:
        rows = rows.filter(date__lte=end)
    return rows.order_by("date")


# --- market data and ledger rows as engine inputs -------------------------------------------


# A transaction's columns as an engine record takes them, in `ledger_record`'s order.
LEDGER_RECORD_COLUMNS = (
    "id",
    "date",
    "type",
    "instrument_id",
    "quantity",
    "price",
    "fee",
    "currency",
    "fx_rate",
)


def ledger_record(values: Sequence[Any]) -> engine.TransactionRecord:
    """The engine record of one transaction's `LEDGER_RECORD_COLUMNS` values."""
    pk, day, kind, instrument_id, quantity, price, fee, currency, fx_rate = values
    return engine.TransactionRecord(
        id=pk,
        date=day,
        type=kind,
        instrument=instrument_id,
        quantity=quantity,
        price=price,
        fee=fee,
        currency=currency,
        fx_rate=fx_rate,
    )


def ledger_records(
    *, portfolio: Portfolio, through: date | None = None
) -> list[engine.TransactionRecord]:
    """The portfolio's transactions in ledger order (date, then entry order) as engine records."""
    rows = Transaction.objects.filter(portfolio=portfolio)
    if through is not None:
        rows = rows.filter(date__lte=through)
    return [
        ledger_record(values)
        for values in rows.order_by("date", "id").values_list(*LEDGER_RECORD_COLUMNS)
    ]


def split_calendar(*, instrument_ids: Iterable[int]) -> engine.SplitCalendar:
    """The splits of the given instruments."""
    ids = list(instrument_ids)
    if not ids:
        return engine.SplitCalendar()
    return engine.SplitCalendar(
        engine.Split(instrument=i, date=d, numerator=n, denominator=m)
        for i, d, n, m in Split.objects.filter(instrument_id__in=ids)
        .order_by()
        .values_list("instrument_id", "date", "numerator", "denominator")
    )


def price_table(
    *, instrument_ids: Iterable[int], start: date | None, end: date
) -> engine.PriceTable:
    """Closes dated after `start` through `end`, plus each instrument's last close on or before
    `start` (everything through `end` when `start` is None): what valuing (start, end] needs.
    """
    ids = list(instrument_ids)
    if not ids:
        return engine.PriceTable()
    rows = PriceBar.objects.filter(instrument_id__in=ids).order_by()
    if start is None:
        rows = rows.filter(date__lte=end)
    else:
        last_before = (
            PriceBar.objects.filter(instrument_id=OuterRef("instrument_id"), date__lte=start)
            .order_by("-date")
            .values("date")[:1]
        )
        rows = rows.filter(Q(date__gt=start, date__lte=end) | Q(date=Subquery(last_before)))
    return engine.PriceTable(rows.values_list("instrument_id", "date", "close"))


def fx_table(
    *, base: str, currencies: Iterable[str], start: date | None, end: date
) -> engine.FxTable:
    """Rates between `base` and each other currency (both directions), dated as `price_table`."""
    others = sorted(set(currencies) - {base})
    if not others:
        return engine.FxTable()
    rows = FxRate.objects.filter(
        Q(base__in=others, quote=base) | Q(base=base, quote__in=others)
    ).order_by()
    if start is None:
        rows = rows.filter(date__lte=end)
    else:
        last_before = (
            FxRate.objects.filter(base=OuterRef("base"), quote=OuterRef("quote"), date__lte=start)
            .order_by("-date")
            .values("date")[:1]
        )
        rows = rows.filter(Q(date__gt=start, date__lte=end) | Q(date=Subquery(last_before)))
    return engine.FxTable(rows.values_list("base", "quote", "date", "rate"))


@dataclass(frozen=True)
class DerivedLedger:
    """A portfolio's derived rows as the engine computes them from the ledger (unsaved).

    `snapshots` covers the days after `snapshots_after` (every day when it is None); stored
    snapshots up to and including that day are unaffected.
    """

    holdings: list[Holding]
    totals: LedgerTotals
    snapshots: list[PortfolioSnapshot]
    snapshots_after: date | None


HOLDING_FIELDS = (
    "quantity",
    "average_cost",
    "average_cost_base",
    "cost_basis",
    "cost_basis_base",
    "realized_pnl",
    "realized_pnl_base",
    "fees",
    "fees_base",
    "dividends",
    "dividends_base",
    "last_trade_price",
    "last_trade_date",
)
_HOLDING_PRECISION = {
    "quantity": QUANTITY,
    "average_cost": PRICE,
    "average_cost_base": PRICE,
    "last_trade_price": PRICE,
}
TOTALS_FIELDS = (
    "as_of",
    "cash",
    "fees",
    "dividends",
    "interest",
    "deposits",
    "withdrawals",
    "implicit_deposits",
    "net_external_flow",
)
SNAPSHOT_FIELDS = ("value", "cost_basis", "cash", "net_flow")


def _stored_value(name: str, value):
    if isinstance(value, Decimal):
        return quantize(value, _HOLDING_PRECISION.get(name, MONEY))
    return value


def _holding_row(portfolio: Portfolio, holding: engine.Holding) -> Holding:
    return Holding(
        portfolio=portfolio,
        instrument_id=holding.instrument,
        **{name: _stored_value(name, getattr(holding, name)) for name in HOLDING_FIELDS},
    )


def _totals_row(portfolio: Portfolio, summary: engine.LedgerSummary | None) -> LedgerTotals:
    if summary is None:
        return LedgerTotals(portfolio=portfolio, as_of=None)
    return LedgerTotals(
        portfolio=portfolio,
        as_of=summary.as_of,
        **{name: quantize(getattr(summary, name), MONEY) for name in TOTALS_FIELDS[1:]},
    )


def _snapshot_row(portfolio: Portfolio, snapshot: engine.Snapshot) -> PortfolioSnapshot:
    return PortfolioSnapshot(
        portfolio=portfolio,
        date=snapshot.date,
        value=quantize(snapshot.value, MONEY),
        cost_basis=quantize(snapshot.cost_basis, MONEY),
        cash=quantize(snapshot.cash, MONEY),
        net_flow=quantize(snapshot.net_external_flow, MONEY),
    )


def ledger_derive(
    *,
    portfolio: Portfolio,
    since: date | None = None,
    end: date | None = None,
) -> DerivedLedger:
    """Fold the whole ledger and value it daily from `since` (a changed day) through `end`.

    Snapshots are rebuilt from the last stored weekday snapshot before `since`, so a change
    costs the days after it, not the whole history; without a usable one, from the start.
    `end` defaults to today and is never before the last transaction. Raises the engine's
    errors (oversell, missing FX rate...). A bulk write that has the ledger in memory calls
    `ledger_inputs` and `ledger_fold` itself.
    """
    records = ledger_records(portfolio=portfolio)
    inputs = None
    if records:
        inputs = ledger_inputs(
            portfolio=portfolio,
            first=records[0].date,
            last=records[-1].date,
            instrument_ids={r.instrument for r in records if r.instrument is not None},
            currencies={r.currency for r in records},
            since=since,
            end=end,
        )
    return ledger_fold(portfolio=portfolio, records=records, inputs=inputs)


@dataclass(frozen=True)
class LedgerInputs:
    """What folding a ledger reads besides its transactions (`ledger_inputs`)."""

    end: date
    after: date | None  # the stored snapshot the new ones follow, or None for all of them
    splits: engine.SplitCalendar
    prices: engine.PriceTable
    fx: engine.FxTable


def ledger_inputs(
    *,
    portfolio: Portfolio,
    first: date,
    last: date,
    instrument_ids: set[int],
    currencies: set[str],
    since: date | None = None,
    end: date | None = None,
) -> LedgerInputs:
    """The splits, prices, FX rates and snapshot a ledger's fold needs (see `ledger_derive`),
    for a ledger whose dates run from `first` to `last`, of these instruments and currencies.

    Read apart from the fold so that a bulk write can read them before its inserts and fold
    while the database is still taking the rows (`ledger_fold` queries nothing).
    """
    end = max(end or timezone.localdate(), last)
    after = None
    if since is not None and since > first:
        after = (
            PortfolioSnapshot.objects.filter(portfolio=portfolio, date__lt=since)
            .exclude(date__week_day__in=_WEEKEND)
            .order_by("-date")
            .values_list("date", flat=True)
            .first()
        )
    return LedgerInputs(
        end=end,
        after=after,
        splits=split_calendar(instrument_ids=instrument_ids),
        prices=price_table(instrument_ids=instrument_ids, start=after, end=end),
        fx=fx_table(base=portfolio.base_currency, currencies=currencies, start=after, end=end),
    )


def ledger_fold(
    *,
    portfolio: Portfolio,
    records: list[engine.TransactionRecord],
    inputs: LedgerInputs | None,
) -> DerivedLedger:
    """`ledger_derive`'s result from the ledger and its `ledger_inputs` (None for no records),
    without a query. Raises the engine's errors."""
    if not records or inputs is None:
        return DerivedLedger(
            holdings=[],
            totals=_totals_row(portfolio, None),
            snapshots=[],
            snapshots_after=None,
        )
    base, after, splits = portfolio.base_currency, inputs.after, inputs.splits
    if after is None:
        run = engine.snapshots_build(
            transactions=records,
            prices=inputs.prices,
            fx=inputs.fx,
            end=inputs.end,
            base_currency=base,
            splits=splits,
        )
    else:
        state = engine.ledger_fold_all(
            transactions=[r for r in records if r.date <= after],
            base_currency=base,
            splits=splits,
            through=after,
        )
        run = engine.snapshots_build(
            transactions=[r for r in records if r.date > after],
            prices=inputs.prices,
            fx=inputs.fx,
            end=inputs.end,
            splits=splits,
            state=state,
        )
    summary = engine.ledger_summary(state=run.state)
    return DerivedLedger(
        holdings=[_holding_row(portfolio, h) for h in summary.holdings],
        totals=_totals_row(portfolio, summary),
        snapshots=[_snapshot_row(portfolio, s) for s in run.snapshots],
        snapshots_after=after,
    )


# --- performance and series from stored rows -------------------------------------------------


def _risk_free_rate() -> Decimal:
    return Decimal(str(settings.PORTFOLIO_RISK_FREE_RATE))


def _engine_holding(row: Holding) -> engine.Holding:
    return engine.Holding(
        instrument=row.instrument_id,
        currency=row.instrument.currency,
        **{name: getattr(row, name) for name in HOLDING_FIELDS},
    )


def _engine_snapshot(row: PortfolioSnapshot) -> engine.Snapshot:
    return engine.Snapshot(
        date=row.date,
        value=row.value,
        cost_basis=row.cost_basis,
        cash=row.cash,
        net_external_flow=row.net_flow,
    )


@dataclass(frozen=True)
class _StoredLedger:
    totals: LedgerTotals | None
    holdings: list[Holding]

    @property
    def as_of(self) -> date | None:
        return self.totals.as_of if self.totals is not None else None

    def summary(self, base: str) -> engine.LedgerSummary:
        totals = self.totals
        if totals is None or totals.as_of is None:
            return engine.ledger_summary(state=engine.ledger_new(base_currency=base))
        return engine.LedgerSummary(
            base_currency=base,
            as_of=totals.as_of,
            cash=totals.cash,
            fees=totals.fees,
            dividends=totals.dividends,
            interest=totals.interest,
            deposits=totals.deposits,
            withdrawals=totals.withdrawals,
            implicit_deposits=totals.implicit_deposits,
            net_external_flow=totals.net_external_flow,
            # Per-day flows live in the snapshots; nothing downstream reads them from here.
            flows={},
            holdings=tuple(_engine_holding(h) for h in self.holdings),
        )


def _stored_ledger(portfolio: Portfolio) -> _StoredLedger:
    totals = LedgerTotals.objects.filter(portfolio=portfolio).first()
    holdings = list(
        Holding.objects.filter(portfolio=portfolio).select_related("instrument").order_by("pk")
    )
    return _StoredLedger(totals=totals, holdings=holdings)


def _instrument_infos(holdings: Iterable[Holding]) -> dict[int, engine.InstrumentInfo]:
    return {
        h.instrument_id: engine.InstrumentInfo(
            symbol=h.instrument.symbol, exchange=h.instrument.exchange
        )
        for h in holdings
    }


def _extend(
    *,
    portfolio: Portfolio,
    stored: _StoredLedger,
    end: date,
    splits: engine.SplitCalendar,
) -> tuple[list[engine.Snapshot], engine.LedgerSummary, engine.PriceTable, engine.FxTable]:
    """Value the days after the stored rows through `end`, when the ledger has not moved since.

    Every write rebuilds through its own day and no transaction is dated in the future, so no
    transaction is dated after the stored `as_of`: the state there (stored holdings and totals)
    only meets prices, FX rates and splits on later days.
    """
    base = portfolio.base_currency
    summary = stored.summary(base)
    ids = [h.instrument_id for h in stored.holdings]
    currencies = {h.instrument.currency for h in stored.holdings}
    start = stored.as_of
    prices = price_table(instrument_ids=ids, start=start, end=end)
    fx = fx_table(base=base, currencies=currencies, start=start, end=end)
    if start is None or end <= start:
        return [], summary, prices, fx
    run = engine.snapshots_build(
        transactions=(),
        prices=prices,
        fx=fx,
        end=end,
        splits=splits,
        state=engine.ledger_state_from_summary(summary=summary),
    )
    return list(run.snapshots), engine.ledger_summary(state=run.state), prices, fx


def _answerable(exc: engine.EngineValidationError) -> ApplicationError:
    # Market data the valuation needs can be missing (an FX rate, say): a 400 naming it.
    return ApplicationError(exc.message, exc.as_field_errors())


def portfolio_performance(*, portfolio: Portfolio, as_of: date) -> engine.Performance:
    """The SPEC §4/§6 performance answer at `as_of`, from stored snapshots, holdings and totals.

    The query count is fixed. From the last write onward nothing is folded; an `as_of` before
    the last write folds the transactions up to it in memory (one query). Missing market data
    is an `ApplicationError` naming it.
    """
    try:
        return _performance(portfolio, as_of)
    except engine.EngineValidationError as exc:
        raise _answerable(exc) from exc


@dataclass(frozen=True)
class PerformanceRow:
    """One portfolio's performance for a list page, or why it could not be valued."""

    portfolio: Portfolio
    performance: engine.Performance | None
    problem: str


def portfolio_performance_rows(
    *, portfolios: Iterable[Portfolio], as_of: date
) -> list[PerformanceRow]:
    """Each portfolio's `portfolio_performance`; a portfolio that cannot be valued (a missing
    FX rate...) gets its message instead, so one bad ledger never fails a whole list."""
    rows = []
    for portfolio in portfolios:
        try:
            rows.append(
                PerformanceRow(
                    portfolio, portfolio_performance(portfolio=portfolio, as_of=as_of), ""
                )
            )
        except ApplicationError as error:
            rows.append(PerformanceRow(portfolio, None, error.message))
    return rows


def _performance(portfolio: Portfolio, as_of: date) -> engine.Performance:
    base = portfolio.base_currency
    stored = _stored_ledger(portfolio)
    ids = [h.instrument_id for h in stored.holdings]
    splits = split_calendar(instrument_ids=ids)
    infos = _instrument_infos(stored.holdings)
    stored_rows = [
        _engine_snapshot(s)
        for s in PortfolioSnapshot.objects.filter(portfolio=portfolio, date__lte=as_of).order_by(
            "date"
        )
    ]
    if stored.as_of is None or as_of >= stored.as_of:
        extra, summary, prices, fx = _extend(
            portfolio=portfolio, stored=stored, end=as_of, splits=splits
        )
        snapshots = stored_rows + extra
    else:
        records = ledger_records(portfolio=portfolio, through=as_of)
        state = engine.ledger_fold_all(
            transactions=records, base_currency=base, splits=splits, through=as_of
        )
        summary = engine.ledger_summary(state=state)
        currencies = {h.instrument.currency for h in stored.holdings}
        prices = price_table(instrument_ids=ids, start=as_of, end=as_of)
        fx = fx_table(base=base, currencies=currencies, start=as_of, end=as_of)
        snapshots = stored_rows
    return engine.performance_from_snapshots(
        snapshots=snapshots,
        ledger=summary,
        prices=prices,
        fx=fx,
        as_of=as_of,
        splits=splits,
        instruments=infos,
        risk_free_rate=_risk_free_rate(),
    )


def portfolio_series(*, portfolio: Portfolio, start: date, end: date) -> list[PortfolioSnapshot]:
    """Daily snapshots in [start, end]; days after the last write are valued on the fly."""
    rows = list(
        PortfolioSnapshot.objects.filter(
            portfolio=portfolio, date__gte=start, date__lte=end
        ).order_by("date")
    )
    stored = _stored_ledger(portfolio)
    if stored.as_of is None or end <= stored.as_of:
        return rows
    splits = split_calendar(instrument_ids=[h.instrument_id for h in stored.holdings])
    try:
        extra, _, _, _ = _extend(portfolio=portfolio, stored=stored, end=end, splits=splits)
    except engine.EngineValidationError as exc:
        raise _answerable(exc) from exc
    return rows + [_snapshot_row(portfolio, s) for s in extra if s.date >= start]
