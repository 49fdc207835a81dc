"""Property: whatever order of writes reaches the database through the services, the stored
holdings, totals and snapshots equal a recomputation of the whole ledger from scratch.

Each example gets its own portfolio, so examples share the test's database without sharing
state. A refused write (an oversell, say) must leave every stored row as it was.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio.models import (
    FxRate,
    Holding,
    LedgerTotals,
    PortfolioSnapshot,
    Split,
    Transaction,
)
from portfolio.selectors import (
    HOLDING_FIELDS,
    SNAPSHOT_FIELDS,
    TOTALS_FIELDS,
    holding_list,
    ledger_derive,
)
from portfolio.services import (
    TransactionInput,
    portfolio_create,
    snapshots_rebuild_for_instruments,
    transaction_create,
    transaction_delete,
    transaction_update,
)
from tests.factories import InstrumentFactory, PriceBarFactory, UserFactory
from trading_lab.exceptions import ApplicationError

START = date(2024, 3, 1)
SPAN = 40

days = st.integers(min_value=0, max_value=SPAN).map(lambda n: START + timedelta(days=n))
amounts = st.decimals(min_value=Decimal("0.5"), max_value=Decimal(200), places=2)
fees = st.one_of(st.just(Decimal(0)), st.decimals(min_value=0, max_value=5, places=2))
fractions = st.sampled_from([Decimal("0.25"), Decimal("0.5"), Decimal(1)])
instrument_index = st.integers(min_value=0, max_value=1)

operations = st.one_of(
    st.tuples(st.just("BUY"), days, instrument_index, amounts, amounts, fees),
    st.tuples(st.just("SELL"), days, instrument_index, fractions, amounts, fees),
    st.tuples(st.just("DIVIDEND"), days, instrument_index, amounts, amounts, fees),
    st.tuples(st.sampled_from(["DEPOSIT", "WITHDRAWAL", "FEE", "INTEREST"]), days, amounts, fees),
    st.tuples(st.just("SPLIT"), days, instrument_index, st.sampled_from([(2, 1), (3, 2), (4, 1)])),
    st.tuples(st.just("EDIT"), st.integers(min_value=0), days, amounts),
    st.tuples(st.just("DELETE"), st.integers(min_value=0)),
)


def stored_rows(portfolio) -> tuple:
    holdings = {
        h.instrument_id: tuple(getattr(h, f) for f in HOLDING_FIELDS)
        for h in Holding.objects.filter(portfolio=portfolio)
    }
    totals = LedgerTotals.objects.get(portfolio=portfolio)
    snapshots = [
        (s.date, *(getattr(s, f) for f in SNAPSHOT_FIELDS))
        for s in PortfolioSnapshot.objects.filter(portfolio=portfolio).order_by("date")
    ]
    return holdings, tuple(getattr(totals, f) for f in TOTALS_FIELDS), snapshots


def recomputed_rows(portfolio) -> tuple:
    derived = ledger_derive(portfolio=portfolio)
    holdings = {
        h.instrument_id: tuple(getattr(h, f) for f in HOLDING_FIELDS) for h in derived.holdings
    }
    snapshots = [(s.date, *(getattr(s, f) for f in SNAPSHOT_FIELDS)) for s in derived.snapshots]
    return holdings, tuple(getattr(derived.totals, f) for f in TOTALS_FIELDS), snapshots


def _apply(portfolio, instruments, op) -> None:
    kind = op[0]
    if kind in ("BUY", "DIVIDEND"):
        _, on, index, quantity, price, fee = op
        transaction_create(
            portfolio=portfolio,
            data=TransactionInput(kind, on, quantity, price, fee, instrument=instruments[index]),
        )
    elif kind == "SELL":
        _, on, index, fraction, price, fee = op
        held = holding_list(portfolio=portfolio).filter(instrument=instruments[index]).first()
        if held is None:
            return
        # A share of what is held now; dated earlier it may still be refused as an oversell.
        quantity = (held.quantity * fraction).quantize(Decimal("0.000001"))
        if quantity <= 0:
            return
        transaction_create(
            portfolio=portfolio,
            data=TransactionInput(kind, on, quantity, price, fee, instrument=instruments[index]),
        )
    elif kind in ("DEPOSIT", "WITHDRAWAL", "FEE", "INTEREST"):
        _, on, amount, fee = op
        transaction_create(portfolio=portfolio, data=TransactionInput(kind, on, None, amount, fee))
    elif kind == "SPLIT":
        _, on, index, (numerator, denominator) = op
        instrument = instruments[index]
        if Split.objects.filter(instrument=instrument, date=on).exists():
            return
        Split.objects.create(
            instrument=instrument, date=on, numerator=numerator, denominator=denominator
        )
        snapshots_rebuild_for_instruments(instrument_ids=[instrument.pk], since=on)
    else:
        existing = list(Transaction.objects.filter(portfolio=portfolio).order_by("pk"))
        if not existing:
            return
        target = existing[op[1] % len(existing)]
        if kind == "DELETE":
            transaction_delete(transaction=target)
            return
        _, _, on, price = op
        transaction_update(
            transaction=target,
            data=TransactionInput(
                target.type,
                on,
                target.quantity,
                price,
                target.fee,
                instrument=target.instrument,
            ),
        )


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=12))
def test_stored_derived_rows_always_equal_a_recompute_from_scratch(ops):
    portfolio = portfolio_create(user=UserFactory(), name="Property", base_currency="CHF")
    instruments = [
        InstrumentFactory(currency="CHF"),
        InstrumentFactory(currency="USD"),
    ]
    # Rates are shared reference data: the first example creates them, the others reuse them.
    FxRate.objects.get_or_create(base="USD", quote="CHF", date=START, rate=Decimal("0.9"))
    FxRate.objects.get_or_create(
        base="CHF", quote="USD", date=START + timedelta(days=20), rate=Decimal("1.25")
    )
    for n in range(0, SPAN, 4):
        PriceBarFactory(
            instrument=instruments[n % 2], date=START + timedelta(days=n), close=Decimal(50 + n)
        )

    for op in ops:
        before = stored_rows(portfolio)
        try:
            _apply(portfolio, instruments, op)
        except ApplicationError:
            assert stored_rows(portfolio) == before
        assert stored_rows(portfolio) == recomputed_rows(portfolio)
