"""Property-based tests of the ledger fold and the performance answer on random ledgers."""

from datetime import date, timedelta
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.engine import (
    FxTable,
    PriceTable,
    Split,
    TransactionRecord,
    ledger_advance,
    ledger_fold,
    ledger_fold_all,
    ledger_state_from_summary,
    ledger_summary,
    performance_from_snapshots,
    portfolio_performance,
    snapshots_build,
)
from portfolio.engine.numbers import ENGINE_CONTEXT

BASE = "USD"
CURRENCY = {"AAA": "USD", "BBB": "EUR"}
START = date(2022, 1, 3)
RATIOS = [(2, 1), (3, 1), (1, 2), (1, 4), (5, 2)]
TYPES = ["BUY", "BUY", "SELL", "SELL", "DIVIDEND", "FEE", "DEPOSIT", "WITHDRAWAL", "INTEREST"]


# Strategies are built once: building one per draw costs more than the engine under test.
GAPS = st.integers(0, 3)
SPLIT_ODDS = st.integers(0, 4)
INSTRUMENTS = st.sampled_from(sorted(CURRENCY))
SPLIT_RATIOS = st.sampled_from(RATIOS)
KINDS = st.sampled_from(TYPES)
CASH_CURRENCIES = st.sampled_from(["USD", "EUR"])
BUY_TENTHS = st.integers(1, 1000)
SELL_QUARTERS = st.integers(1, 4)
PRICES = st.integers(1, 50_000).map(lambda n: Decimal(n) / 100)
FEES = st.integers(0, 500).map(lambda n: Decimal(n) / 100)
FX_RATES = st.integers(80, 150).map(lambda n: Decimal(n) / 100)
CLOSES = st.integers(100, 20_000).map(lambda n: Decimal(n) / 100)


@st.composite
def ledgers(draw, *, with_splits: bool = True, max_size: int = 40):
    """Random transactions (never selling more than held) and splits, in ledger order."""
    held = dict.fromkeys(CURRENCY, Decimal(0))
    transactions: list[TransactionRecord] = []
    splits: list[Split] = []
    current = START
    # The generator tracks holdings with the engine's arithmetic so "sell everything" is exact.
    with localcontext(ENGINE_CONTEXT):
        for seq in range(draw(st.integers(1, max_size))):
            gap = draw(GAPS)
            if gap:
                current += timedelta(days=gap)
                if with_splits and draw(SPLIT_ODDS) == 0:
                    instrument = draw(INSTRUMENTS)
                    numerator, denominator = draw(SPLIT_RATIOS)
                    splits.append(
                        Split(
                            instrument=instrument,
                            date=current,
                            numerator=Decimal(numerator),
                            denominator=Decimal(denominator),
                        )
                    )
                    held[instrument] = held[instrument] * numerator / denominator
            kind = draw(KINDS)
            instrument = draw(INSTRUMENTS)
            if kind == "SELL" and not held[instrument]:
                kind = "BUY"
            if kind in {"DEPOSIT", "WITHDRAWAL", "INTEREST"} or (
                kind == "FEE" and draw(st.booleans())
            ):
                instrument = None
            currency = CURRENCY[instrument] if instrument else draw(CASH_CURRENCIES)
            quantity = Decimal(1)
            if kind == "BUY":
                quantity = Decimal(draw(BUY_TENTHS)) / 10
                held[instrument] += quantity
            elif kind == "SELL":
                part = draw(SELL_QUARTERS)
                quantity = held[instrument] if part == 4 else held[instrument] * part / 4
                held[instrument] -= quantity
            elif kind == "DIVIDEND":
                quantity = held[instrument] or Decimal(1)
            transactions.append(
                TransactionRecord(
                    id=seq,
                    date=current,
                    type=kind,
                    instrument=instrument,
                    quantity=quantity,
                    price=draw(PRICES),
                    fee=draw(FEES),
                    currency=currency,
                    fx_rate=Decimal(1) if currency == BASE else draw(FX_RATES),
                )
            )
    return transactions, splits


def fold(transactions, splits, **kwargs):
    return ledger_fold_all(transactions=transactions, splits=splits, **kwargs)


@settings(max_examples=100, deadline=None)
@given(ledger=ledgers(), data=st.data())
def test_folding_in_two_parts_with_the_state_carried_over_equals_folding_all(ledger, data):
    transactions, splits = ledger
    cut = data.draw(st.integers(0, len(transactions)), label="cut")

    whole = fold(transactions, splits, base_currency=BASE)
    head = fold(transactions[:cut], splits, base_currency=BASE)
    carried = fold(transactions[cut:], splits, state=head.copy())

    assert carried == whole
    assert ledger_summary(state=carried) == ledger_summary(state=whole)


@settings(max_examples=100, deadline=None)
@given(ledger=ledgers(), data=st.data())
def test_continuing_from_a_stored_end_of_day_summary_equals_folding_all(ledger, data):
    transactions, splits = ledger
    boundaries = [
        i for i in range(1, len(transactions)) if transactions[i].date > transactions[i - 1].date
    ]
    cut = data.draw(st.sampled_from(boundaries or [len(transactions)]), label="cut")

    stored = ledger_summary(
        state=fold(
            transactions[:cut], splits, base_currency=BASE, through=transactions[cut - 1].date
        )
    )
    state = ledger_state_from_summary(summary=stored)
    fold(transactions[cut:], splits, state=state)

    assert ledger_summary(state=state) == ledger_summary(
        state=fold(transactions, splits, base_currency=BASE)
    )


@settings(max_examples=100, deadline=None)
@given(ledger=ledgers())
def test_quantities_cost_and_closing_cash_never_go_negative(ledger):
    transactions, splits = ledger
    state = fold([], splits, base_currency=BASE)

    for transaction in transactions:
        if state.day is not None and transaction.date > state.day:
            ledger_advance(state=state, through=state.day, splits=splits)
            assert state.cash >= 0
        ledger_fold(state=state, transaction=transaction, splits=splits)
        for position in state.positions.values():
            assert position.quantity >= 0
            assert position.cost_basis >= 0
            assert position.cost_basis_base >= 0
            assert (position.quantity == 0) == (position.cost_basis == 0)

    assert ledger_summary(state=state).cash >= 0


def rewrite_before_split(transactions, split):
    """Apply a split by hand to the earlier transactions: quantity * ratio, price / ratio."""
    ratio = split.numerator / split.denominator
    rewritten = []
    for t in transactions:
        if t.instrument == split.instrument and t.date < split.date and t.type != "FEE":
            t = TransactionRecord(
                id=t.id,
                date=t.date,
                type=t.type,
                instrument=t.instrument,
                quantity=t.quantity * ratio,
                price=t.price / ratio,
                fee=t.fee,
                currency=t.currency,
                fx_rate=t.fx_rate,
            )
        rewritten.append(t)
    return rewritten


@settings(max_examples=100, deadline=None)
@given(
    ledger=ledgers(with_splits=False),
    ratio=st.sampled_from([(2, 1), (4, 1), (1, 2), (5, 2), (2, 5)]),
    data=st.data(),
)
def test_a_split_equals_rewriting_the_earlier_transactions(ledger, ratio, data):
    last = ledger[0][-1].date
    split_on = data.draw(
        st.dates(min_value=START, max_value=last + timedelta(days=1)), label="split date"
    )
    # The ledger was drawn without the split: later sales of AAA would be sized for unsplit
    # holdings, so they are left out.
    transactions = [
        t
        for t in ledger[0]
        if not (t.instrument == "AAA" and t.type == "SELL" and t.date >= split_on)
    ]
    split = Split(
        instrument="AAA", date=split_on, numerator=Decimal(ratio[0]), denominator=Decimal(ratio[1])
    )
    through = max(last, split_on)

    with_split = ledger_summary(
        state=fold(transactions, [split], base_currency=BASE, through=through)
    )
    by_hand = ledger_summary(
        state=fold(
            rewrite_before_split(transactions, split), [], base_currency=BASE, through=through
        )
    )

    assert by_hand.cash == with_split.cash
    assert by_hand.net_external_flow == with_split.net_external_flow
    for expected, actual in zip(by_hand.holdings, with_split.holdings, strict=True):
        for name in ("quantity", "cost_basis", "cost_basis_base", "realized_pnl_base", "fees"):
            assert getattr(actual, name) == pytest.approx(
                getattr(expected, name), abs=Decimal("1e-20")
            )


@st.composite
def markets(draw, transactions):
    """Random daily closes for both instruments and EUR/USD rates over the ledger's span."""
    end = transactions[-1].date + timedelta(days=draw(st.integers(0, 4)))
    days = [START + timedelta(days=n) for n in range((end - START).days + 1)]
    close_rows = [
        (instrument, d, draw(CLOSES)) for instrument in CURRENCY for d in days if draw(GAPS)
    ]
    fx_rows = [("EUR", "USD", START, draw(FX_RATES))]
    fx_rows += [("EUR", "USD", d, draw(FX_RATES)) for d in days[1:] if draw(st.booleans())]
    return PriceTable(close_rows), FxTable(fx_rows), end


@settings(max_examples=60, deadline=None)
@given(ledger=ledgers(max_size=25), data=st.data())
def test_value_less_external_flows_is_the_total_return(ledger, data):
    transactions, splits = ledger
    prices, fx, end = data.draw(markets(transactions), label="market")

    run = snapshots_build(
        transactions=transactions,
        prices=prices,
        fx=fx,
        base_currency=BASE,
        splits=splits,
        end=end,
    )
    summary = ledger_summary(state=run.state)
    performance = performance_from_snapshots(
        snapshots=run.snapshots, ledger=summary, prices=prices, fx=fx, as_of=end, splits=splits
    )

    assert sum(s.net_external_flow for s in run.snapshots) == summary.net_external_flow
    assert all(s.cash >= 0 and s.value >= 0 for s in run.snapshots)
    assert run.snapshots[-1].value == performance.value
    assert performance.value - summary.net_external_flow == pytest.approx(
        performance.total_return, abs=Decimal("1e-18")
    )
    assert performance == portfolio_performance(
        transactions=transactions,
        prices=prices,
        fx=fx,
        base_currency=BASE,
        as_of=end,
        splits=splits,
    )
