"""Portfolio selectors: performance and series from stored rows equal the engine's answer straight
from the ledger, at a fixed query count; lists are scoped and filtered."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portfolio import engine
from portfolio.models import FxRate, PriceBar, Split, TransactionType
from portfolio.selectors import (
    holding_list,
    instrument_search,
    ledger_derive,
    ledger_records,
    portfolio_list,
    portfolio_performance,
    portfolio_series,
    transaction_list,
)
from portfolio.services import TransactionInput, portfolio_create, transactions_bulk_create
from portfolio.services.ledger import _write_derived
from tests.factories import (
    FxRateFactory,
    InstrumentFactory,
    PortfolioFactory,
    PriceBarFactory,
    SplitFactory,
    TransactionFactory,
    UserFactory,
)
from trading_lab.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

D = Decimal
START = date(2024, 1, 1)
TODAY = timezone.localdate()


def _input(kind, on, instrument=None, quantity="1", price="10", fee="0") -> TransactionInput:
    return TransactionInput(
        type=kind,
        date=on,
        quantity=D(quantity),
        price=D(price),
        fee=D(fee),
        instrument=instrument,
    )


def _history(portfolio, instruments, count: int) -> None:
    """`count` transactions over a few months: deposits, buys, sells, dividends and fees."""
    inputs = [_input(TransactionType.DEPOSIT, START, price="1000000")]
    for n in range(count - 1):
        on = START + timedelta(days=n % 120)
        instrument = instruments[n % len(instruments)]
        kind = (TransactionType.BUY, TransactionType.BUY, TransactionType.DIVIDEND)[n % 3]
        if n % 7 == 6:
            kind = TransactionType.FEE
            instrument = None
        inputs.append(_input(kind, on, instrument, quantity="2", price=f"{10 + n % 5}.25"))
    transactions_bulk_create(portfolio=portfolio, inputs=sorted(inputs, key=lambda i: i.date))


@pytest.fixture
def market():
    chf_stock = InstrumentFactory(symbol="NOVN", currency="CHF")
    usd_stock = InstrumentFactory(symbol="AAPL", currency="USD")
    for n in range(0, 200, 3):
        day = START + timedelta(days=n)
        PriceBarFactory(instrument=chf_stock, date=day, close=D(f"{20 + n % 7}.5"))
        PriceBarFactory(instrument=usd_stock, date=day, close=D(f"{30 + n % 11}.25"))
        FxRateFactory(base="USD", quote="CHF", date=day, rate=D(f"0.{80 + n % 9}"))
    SplitFactory(instrument=usd_stock, date=START + timedelta(days=60), numerator=2, denominator=1)
    return [chf_stock, usd_stock]


def engine_answer(portfolio, as_of: date) -> engine.Performance:
    """The performance computed from the ledger and every market row, no stored rows at all."""
    records = ledger_records(portfolio=portfolio, through=as_of)
    ids = {r.instrument for r in records if r.instrument is not None}
    return engine.portfolio_performance(
        transactions=records,
        prices=engine.PriceTable(PriceBar.objects.values_list("instrument_id", "date", "close")),
        fx=engine.FxTable(FxRate.objects.values_list("base", "quote", "date", "rate")),
        base_currency=portfolio.base_currency,
        as_of=as_of,
        splits=[
            engine.Split(instrument=i, date=d, numerator=n, denominator=m)
            for i, d, n, m in Split.objects.values_list(
                "instrument_id", "date", "numerator", "denominator"
            )
        ],
        instruments={
            h.instrument_id: engine.InstrumentInfo(h.instrument.symbol, h.instrument.exchange)
            for h in holding_list(portfolio=portfolio, include_closed=True)
            if h.instrument_id in ids
        },
    )


def _comparable(perf: engine.Performance) -> tuple:
    positions = tuple(
        (p.instrument, p.quantity, p.value, p.cost_basis, p.realized_pnl, p.fees, p.dividends)
        for p in perf.positions
        if p.quantity or p.realized_pnl or p.fees or p.dividends
    )
    figures = (
        perf.value,
        perf.cash,
        perf.cost_basis,
        perf.realized_pnl,
        perf.unrealized_pnl,
        perf.fees,
        perf.dividends,
        perf.interest,
        perf.net_pnl,
        perf.total_return,
        perf.twr,
        perf.mwr,
        perf.max_drawdown,
        perf.volatility,
        perf.sharpe,
    )
    return figures, positions


@pytest.mark.parametrize("as_of", [date(2024, 2, 15), date(2024, 5, 3), TODAY])
def test_performance_from_stored_rows_equals_the_engine_from_the_ledger(user, market, as_of):
    portfolio = portfolio_create(user=user, name="Main", base_currency="CHF")
    _history(portfolio, market, 60)
    stored = portfolio_performance(portfolio=portfolio, as_of=as_of)
    assert _comparable(stored) == _comparable(engine_answer(portfolio, as_of))


def test_days_after_the_last_write_are_valued_from_the_stored_rows(user, market):
    portfolio = portfolio_create(user=user, name="Main", base_currency="CHF")
    _history(portfolio, market, 30)
    # Store the derived rows as a write on 2024-05-01 would have left them.
    _write_derived(portfolio, ledger_derive(portfolio=portfolio, end=date(2024, 5, 1)))
    as_of = date(2024, 6, 14)
    stored = portfolio_performance(portfolio=portfolio, as_of=as_of)
    assert _comparable(stored) == _comparable(engine_answer(portfolio, as_of))

    series = portfolio_series(portfolio=portfolio, start=date(2024, 4, 29), end=as_of)
    expected = [
        (s.date, s.value, s.cash, s.net_flow)
        for s in ledger_derive(portfolio=portfolio, end=as_of).snapshots
        if s.date >= date(2024, 4, 29)
    ]
    assert [(s.date, s.value, s.cash, s.net_flow) for s in series] == expected


def _performance_queries(portfolio, as_of: date) -> int:
    with CaptureQueriesContext(connection) as queries:
        portfolio_performance(portfolio=portfolio, as_of=as_of)
    return len(queries)


@pytest.mark.parametrize("as_of", [date(2024, 3, 1), TODAY], ids=["past", "today"])
def test_performance_issues_the_same_queries_for_10_and_500_transactions(user, market, as_of):
    small = portfolio_create(user=user, name="Small", base_currency="CHF")
    large = portfolio_create(user=user, name="Large", base_currency="CHF")
    _history(small, market, 10)
    _history(large, market, 500)
    assert _performance_queries(small, as_of) == _performance_queries(large, as_of)


def test_holding_list_shows_open_positions_unless_closed_ones_are_asked_for(user):
    portfolio = portfolio_create(user=user, name="Main")
    kept, closed = InstrumentFactory(symbol="KEPT"), InstrumentFactory(symbol="GONE")
    transactions_bulk_create(
        portfolio=portfolio,
        inputs=[
            _input(TransactionType.BUY, START, kept),
            _input(TransactionType.BUY, START, closed),
            _input(TransactionType.SELL, START + timedelta(days=1), closed, price="12"),
        ],
    )
    assert [h.instrument.symbol for h in holding_list(portfolio=portfolio)] == ["KEPT"]
    assert [
        h.instrument.symbol for h in holding_list(portfolio=portfolio, include_closed=True)
    ] == ["GONE", "KEPT"]


def test_lists_hold_only_the_callers_rows(user, other_user):
    mine = PortfolioFactory(user=user)
    theirs = PortfolioFactory(user=other_user)
    TransactionFactory(portfolio=mine)
    TransactionFactory(portfolio=theirs)
    assert list(portfolio_list(user=user)) == [mine]
    assert {t.portfolio for t in transaction_list(user=user)} == {mine}
    assert not transaction_list(user=user, portfolio=theirs).exists()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["dep", "b2", "b1"]),
        ({"symbol": "novn"}, ["b1"]),
        ({"type": TransactionType.BUY}, ["b2", "b1"]),
        ({"date_from": date(2024, 1, 3)}, ["dep", "b2"]),
        ({"date_to": date(2024, 1, 3)}, ["b2", "b1"]),
    ],
)
def test_transaction_list_filters_and_orders_newest_first(user, filters, expected):
    portfolio = portfolio_create(user=user, name="Main")
    novn, aapl = InstrumentFactory(symbol="NOVN"), InstrumentFactory(symbol="AAPL")
    rows = [
        TransactionInput("BUY", date(2024, 1, 2), D(1), D(10), instrument=novn, external_id="b1"),
        TransactionInput("BUY", date(2024, 1, 3), D(1), D(10), instrument=aapl, external_id="b2"),
        TransactionInput("DEPOSIT", date(2024, 1, 4), None, D(10), external_id="dep"),
    ]
    transactions_bulk_create(portfolio=portfolio, inputs=rows)
    found = transaction_list(user=user, portfolio=portfolio, **filters)
    assert [t.external_id for t in found] == expected


def test_instrument_search_finds_shared_and_own_private_instruments_only(user):
    shared = InstrumentFactory(symbol="NOVN", name="Novartis")
    own = InstrumentFactory(symbol="NOVHOUSE", owner=user)
    InstrumentFactory(symbol="NOVOTHER", owner=UserFactory())
    assert set(instrument_search(user=user, query="nov")) == {shared, own}
    assert list(instrument_search(user=user, query="novartis")) == [shared]


def test_performance_without_a_needed_fx_rate_is_an_error_naming_the_pair(user):
    portfolio = portfolio_create(user=user, name="Main", base_currency="CHF")
    stock = InstrumentFactory(symbol="AAPL", currency="USD")
    FxRateFactory(base="USD", quote="CHF", date=START, rate=D("0.9"))
    transactions_bulk_create(
        portfolio=portfolio, inputs=[_input(TransactionType.BUY, START, stock)]
    )
    # Staff removed the rate after the trade was valued with it.
    FxRate.objects.all().delete()
    with pytest.raises(ApplicationError) as caught:
        portfolio_performance(portfolio=portfolio, as_of=START + timedelta(days=3))
    assert "USD/CHF" in caught.value.extra["fx_rate"][0]
