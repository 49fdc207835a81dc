"""The ledger services: SPEC §3 transaction rules, §4 worked check, derived rows kept in step."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from audit.models import ActivityAction, ActivityLog
from portfolio.models import (
    Holding,
    Instrument,
    LedgerTotals,
    Portfolio,
    PortfolioSnapshot,
    Transaction,
    TransactionType,
)
from portfolio.selectors import holding_list, ledger_derive, portfolio_performance
from portfolio.services import (
    TransactionInput,
    fx_rate_lookup,
    instrument_resolve,
    portfolio_create,
    portfolio_delete,
    portfolio_update,
    transaction_create,
    transaction_delete,
    transaction_update,
    transactions_bulk_create,
)
from tests.factories import (
    FxRateFactory,
    InstrumentFactory,
    PortfolioFactory,
    PriceBarFactory,
    SplitFactory,
    UserFactory,
)
from trading_lab.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

D = Decimal


def buy(instrument, on, quantity, price, fee="0", **kwargs) -> TransactionInput:
    return TransactionInput(
        type=TransactionType.BUY,
        date=on,
        quantity=D(quantity),
        price=D(price),
        fee=D(fee),
        instrument=instrument,
        **kwargs,
    )


def sell(instrument, on, quantity, price, fee="0", **kwargs) -> TransactionInput:
    return TransactionInput(
        type=TransactionType.SELL,
        date=on,
        quantity=D(quantity),
        price=D(price),
        fee=D(fee),
        instrument=instrument,
        **kwargs,
    )


def cash(kind, on, amount, **kwargs) -> TransactionInput:
    return TransactionInput(type=kind, date=on, quantity=None, price=D(amount), **kwargs)


def stored_state(portfolio) -> dict:
    """Every derived row of a portfolio, comparable across recomputations."""
    holdings = {
        h.instrument_id: tuple(
            getattr(h, f) for f in ("quantity", "cost_basis_base", "realized_pnl_base")
        )
        for h in Holding.objects.filter(portfolio=portfolio)
    }
    snapshots = list(
        PortfolioSnapshot.objects.filter(portfolio=portfolio)
        .order_by("date")
        .values_list("date", "value", "cost_basis", "cash", "net_flow")
    )
    totals = LedgerTotals.objects.get(portfolio=portfolio)
    return {"holdings": holdings, "snapshots": snapshots, "cash": totals.cash}


def assert_matches_full_recompute(portfolio) -> None:
    derived = ledger_derive(portfolio=portfolio)
    assert derived.snapshots_after is None
    expected_snapshots = [
        (s.date, s.value, s.cost_basis, s.cash, s.net_flow) for s in derived.snapshots
    ]
    expected_holdings = {
        h.instrument_id: (h.quantity, h.cost_basis_base, h.realized_pnl_base)
        for h in derived.holdings
    }
    state = stored_state(portfolio)
    assert state["holdings"] == expected_holdings
    assert state["snapshots"] == expected_snapshots
    assert state["cash"] == derived.totals.cash


@pytest.fixture
def chf(user):
    return portfolio_create(user=user, name="Swiss", base_currency="CHF")


@pytest.fixture
def novn():
    return InstrumentFactory(symbol="NOVN", exchange="SIX", currency="CHF")


# --- SPEC §4 worked check ---------------------------------------------------------------------


def test_worked_check_through_the_services_gives_the_spec_figures(chf, novn):
    transaction_create(portfolio=chf, data=buy(novn, date(2022, 3, 7), "2", "75.80", "2.95"))
    transaction_create(portfolio=chf, data=sell(novn, date(2022, 4, 8), "1", "85.73", "1.30"))
    PriceBarFactory(instrument=novn, date=date(2022, 4, 11), close=D("87.80"))

    (holding,) = holding_list(portfolio=chf)
    assert (holding.quantity, holding.cost_basis, holding.realized_pnl) == (
        1,
        D("75.80"),
        D("9.93"),
    )

    perf = portfolio_performance(portfolio=chf, as_of=date(2022, 4, 11))
    (position,) = perf.positions
    assert position.quantity == 1
    assert perf.cost_basis == D("75.80")
    assert position.value == D("87.80")
    assert perf.realized_pnl == D("9.93")
    assert perf.unrealized_pnl == D("12.00")
    assert perf.fees == D("4.25")
    assert perf.net_pnl == D("17.68")
    assert perf.currency == "CHF"


# --- defaults and field rules -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "with_instrument", "expected_currency"),
    [
        (TransactionType.BUY, True, "EUR"),
        (TransactionType.DIVIDEND, True, "EUR"),
        (TransactionType.DEPOSIT, False, "CHF"),
        (TransactionType.WITHDRAWAL, False, "CHF"),
        (TransactionType.INTEREST, False, "CHF"),
        (TransactionType.FEE, False, "CHF"),
    ],
)
def test_currency_defaults_to_the_instruments_or_the_portfolio_base(
    chf, kind, with_instrument, expected_currency
):
    eur_stock = InstrumentFactory(currency="EUR")
    FxRateFactory(base="EUR", quote="CHF", date=date(2024, 1, 1), rate=D("0.95"))
    transaction_create(portfolio=chf, data=cash(TransactionType.DEPOSIT, date(2024, 1, 2), "1000"))
    if kind is TransactionType.DIVIDEND:
        transaction_create(portfolio=chf, data=buy(eur_stock, date(2024, 1, 2), "1", "10"))
    data = TransactionInput(
        type=kind,
        date=date(2024, 1, 3),
        quantity=D(1),
        price=D(5),
        instrument=eur_stock if with_instrument else None,
    )
    txn = transaction_create(portfolio=chf, data=data)
    assert txn.currency == expected_currency
    assert txn.fx_rate == (D("0.95") if expected_currency == "EUR" else D(1))


@pytest.mark.parametrize(
    "kind",
    [
        TransactionType.DEPOSIT,
        TransactionType.WITHDRAWAL,
        TransactionType.INTEREST,
        TransactionType.FEE,
    ],
)
def test_cash_types_default_to_quantity_one(chf, kind):
    txn = transaction_create(portfolio=chf, data=cash(kind, date(2024, 1, 2), "250"))
    assert txn.quantity == 1
    assert txn.amount == D(250)


def _refusal(portfolio, data) -> dict:
    with pytest.raises(ApplicationError) as caught:
        transaction_create(portfolio=portfolio, data=data)
    return caught.value.extra


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda i: buy(i, timezone.localdate() + timedelta(days=1), "1", "10"), "date"),
        (lambda i: buy(None, date(2024, 1, 2), "1", "10"), "instrument"),
        (lambda i: buy(i, date(2024, 1, 2), "0", "10"), "quantity"),
        (lambda i: buy(i, date(2024, 1, 2), "1", "-1"), "price"),
        (lambda i: buy(i, date(2024, 1, 2), "1", "10", fee="-1"), "fee"),
        (lambda i: buy(i, date(2024, 1, 2), "1", "10", currency="USD"), "currency"),
        (lambda i: buy(i, date(2024, 1, 2), "1", "10", fx_rate=D(2)), "fx_rate"),
        (
            lambda i: TransactionInput("BUY", date(2024, 1, 2), None, D(10), instrument=i),
            "quantity",
        ),
        (lambda i: TransactionInput("SWAP", date(2024, 1, 2), D(1), D(10), instrument=i), "type"),
        (
            lambda i: cash(TransactionType.DEPOSIT, date(2024, 1, 2), "10", instrument=i),
            "instrument",
        ),
    ],
    ids=[
        "future date",
        "buy without instrument",
        "zero quantity",
        "negative price",
        "negative fee",
        "currency other than the instrument's",
        "fx rate other than 1 in the base currency",
        "buy without quantity",
        "unknown type",
        "deposit with an instrument",
    ],
)
def test_invalid_input_is_a_field_error_and_writes_nothing(chf, novn, make, field):
    errors = _refusal(chf, make(novn))
    assert field in errors
    assert not Transaction.objects.filter(portfolio=chf).exists()
    assert not PortfolioSnapshot.objects.filter(portfolio=chf).exists()


def test_another_users_private_instrument_does_not_exist_for_the_caller(chf):
    private = InstrumentFactory(owner=UserFactory(), currency="CHF")
    errors = _refusal(chf, buy(private, date(2024, 1, 2), "1", "10"))
    assert errors == {"instrument": ["Object does not exist."]}


# --- FX --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("USD", "CHF", "2024-01-01", "0.90")], D("0.90")),
        ([("CHF", "USD", "2024-01-01", "1.25")], D("0.8")),
        # The more recent of the direct and the inverse pair wins.
        ([("USD", "CHF", "2024-01-01", "0.90"), ("CHF", "USD", "2024-01-05", "1.25")], D("0.8")),
        ([("USD", "CHF", "2024-01-05", "0.90"), ("USD", "CHF", "2024-01-20", "0.70")], D("0.90")),
    ],
    ids=["direct", "inverse", "newer inverse", "last on or before the day"],
)
def test_fx_rate_lookup_takes_the_last_rate_on_or_before_the_day(rows, expected):
    for base, quote, on, rate in rows:
        FxRateFactory(base=base, quote=quote, date=date.fromisoformat(on), rate=D(rate))
    assert fx_rate_lookup(currency="USD", base="CHF", day=date(2024, 1, 10)) == expected


def test_fx_rate_lookup_is_one_for_the_same_currency():
    assert fx_rate_lookup(currency="CHF", base="CHF", day=date(2024, 1, 10)) == 1


def test_a_missing_fx_rate_is_an_error_naming_the_pair_and_date(chf):
    usd_stock = InstrumentFactory(symbol="AAPL", currency="USD")
    FxRateFactory(base="USD", quote="CHF", date=date(2024, 2, 1), rate=D("0.9"))
    errors = _refusal(chf, buy(usd_stock, date(2024, 1, 15), "1", "100"))
    (message,) = errors["fx_rate"]
    assert "USD/CHF" in message
    assert "2024-01-15" in message


def test_multi_currency_cost_converts_at_the_trade_date_and_value_at_the_valuation_date(chf):
    usd_stock = InstrumentFactory(symbol="AAPL", currency="USD")
    FxRateFactory(base="USD", quote="CHF", date=date(2024, 1, 2), rate=D("0.90"))
    FxRateFactory(base="USD", quote="CHF", date=date(2024, 1, 4), rate=D("0.80"))
    PriceBarFactory(instrument=usd_stock, date=date(2024, 1, 5), close=D("120"))
    transaction_create(portfolio=chf, data=buy(usd_stock, date(2024, 1, 2), "2", "100"))
    transaction_create(portfolio=chf, data=sell(usd_stock, date(2024, 1, 4), "1", "110"))

    (holding,) = holding_list(portfolio=chf)
    assert holding.cost_basis == D(100)  # in USD
    assert holding.cost_basis_base == D(90)  # 100 USD at the buy's 0.90
    # Proceeds 110 x 0.80 = 88 CHF less the base cost of one share, 90 CHF.
    assert holding.realized_pnl_base == D(-2)
    perf = portfolio_performance(portfolio=chf, as_of=date(2024, 1, 5))
    (position,) = perf.positions
    assert position.value == D(96)  # 120 USD at the valuation date's 0.80
    assert position.local.value == D(120)


# --- oversell, ordering, backdating -----------------------------------------------------------


def test_selling_more_than_is_held_is_refused(chf, novn):
    transaction_create(portfolio=chf, data=buy(novn, date(2024, 1, 2), "2", "10"))
    before = stored_state(chf)
    errors = _refusal(chf, sell(novn, date(2024, 1, 3), "3", "10"))
    assert "quantity" in errors
    assert "NOVN" in errors["quantity"][0]
    assert Transaction.objects.filter(portfolio=chf).count() == 1
    assert stored_state(chf) == before


def test_a_sell_dated_before_the_buy_is_an_oversell(chf, novn):
    transaction_create(portfolio=chf, data=buy(novn, date(2024, 1, 5), "2", "10"))
    assert "quantity" in _refusal(chf, sell(novn, date(2024, 1, 4), "1", "10"))


def test_same_day_transactions_keep_their_entry_order(chf, novn):
    transaction_create(portfolio=chf, data=buy(novn, date(2024, 1, 2), "1", "10"))
    transaction_create(portfolio=chf, data=sell(novn, date(2024, 1, 2), "1", "12"))
    (holding,) = holding_list(portfolio=chf, include_closed=True)
    assert (holding.quantity, holding.realized_pnl) == (0, D(2))

    other = portfolio_create(user=chf.user, name="Other", base_currency="CHF")
    transaction_create(portfolio=other, data=buy(novn, date(2024, 1, 1), "1", "10"))
    transaction_create(portfolio=other, data=sell(novn, date(2024, 1, 2), "1", "12"))
    # Entered after the sell on the same day, so the sell still finds only one share.
    transaction_create(portfolio=other, data=buy(novn, date(2024, 1, 2), "5", "10"))
    assert holding_list(portfolio=other).get().quantity == 5


def test_an_edit_that_makes_a_later_sell_an_oversell_is_refused_whole(chf, novn):
    first = transaction_create(portfolio=chf, data=buy(novn, date(2024, 1, 2), "2", "10"))
    transaction_create(portfolio=chf, data=sell(novn, date(2024, 2, 1), "2", "12"))
    before = stored_state(chf)
    with pytest.raises(ApplicationError) as caught:
        transaction_update(transaction=first, data=buy(novn, date(2024, 1, 2), "1", "10"))
    assert "2024-02-01" in caught.value.extra["quantity"][0]
    first.refresh_from_db()
    assert first.quantity == 2
    assert stored_state(chf) == before


def test_an_edit_moving_the_buy_after_the_sell_is_refused(chf, novn):
    first = transaction_create(portfolio=chf, data=buy(novn, date(2024, 1, 2), "2", "10"))
    transaction_create(portfolio=chf, data=sell(novn, date(2024, 2, 1), "1", "12"))
    with pytest.raises(ApplicationError):
        transaction_update(transaction=first, data=buy(novn, date(2024, 3, 1), "2", "10"))
    first.refresh_from_db()
    assert first.date == date(2024, 1, 2)


def test_deleting_a_buy_that_a_later_sell_needs_is_refused(chf, novn):
    first = transaction_create(portfolio=chf, data=buy(novn, date(2024, 1, 2), "2", "10"))
    transaction_create(portfolio=chf, data=sell(novn, date(2024, 2, 1), "2", "12"))
    before = stored_state(chf)
    with pytest.raises(ApplicationError):
        transaction_delete(transaction=first)
    assert Transaction.objects.filter(pk=first.pk).exists()
    assert stored_state(chf) == before


def test_a_backdated_insert_gives_the_same_rows_as_a_full_recompute(chf, novn):
    PriceBarFactory(instrument=novn, date=date(2024, 1, 3), close=D("11"))
    PriceBarFactory(instrument=novn, date=date(2024, 2, 5), close=D("13"))
    transaction_create(portfolio=chf, data=buy(novn, date(2024, 1, 2), "2", "10"))
    transaction_create(portfolio=chf, data=sell(novn, date(2024, 3, 1), "1", "14"))
    transaction_create(portfolio=chf, data=cash(TransactionType.DEPOSIT, date(2024, 3, 4), "50"))
    backdated = transaction_create(
        portfolio=chf, data=buy(novn, date(2024, 1, 10), "3", "12", fee="1")
    )
    assert_matches_full_recompute(chf)
    assert holding_list(portfolio=chf).get().quantity == 4
    transaction_update(transaction=backdated, data=buy(novn, date(2024, 1, 17), "3", "12"))
    assert_matches_full_recompute(chf)
    transaction_delete(transaction=backdated)
    assert_matches_full_recompute(chf)
    assert holding_list(portfolio=chf).get().quantity == 1


def test_a_split_applies_at_read_time_and_never_rewrites_transactions(chf, novn):
    bought = transaction_create(portfolio=chf, data=buy(novn, date(2024, 1, 2), "10", "100"))
    PriceBarFactory(instrument=novn, date=date(2024, 1, 3), close=D("100"))
    SplitFactory(instrument=novn, date=date(2024, 2, 1), numerator=D(2), denominator=D(1))
    transaction_create(portfolio=chf, data=sell(novn, date(2024, 3, 1), "15", "55"))

    bought.refresh_from_db()
    assert (bought.quantity, bought.price) == (10, 100)
    holding = holding_list(portfolio=chf).get()
    assert holding.quantity == 5
    assert holding.cost_basis == D(250)
    # The pre-split close of 100 counts as 50 after the split, so no value jump.
    perf = portfolio_performance(portfolio=chf, as_of=date(2024, 3, 1))
    assert perf.positions[0].value == D(250)
    assert_matches_full_recompute(chf)


# --- portfolios, instruments, bulk, activity --------------------------------------------------


def test_each_write_records_an_activity_row(chf, novn):
    txn = transaction_create(portfolio=chf, data=buy(novn, date(2024, 1, 2), "2", "10"))
    transaction_update(transaction=txn, data=buy(novn, date(2024, 1, 2), "3", "10"))
    transaction_delete(transaction=txn)
    actions = list(
        ActivityLog.objects.filter(user=chf.user).order_by("seq").values_list("action", flat=True)
    )
    assert actions == [
        ActivityAction.PORTFOLIO_CREATED,
        ActivityAction.TRANSACTION_CREATED,
        ActivityAction.TRANSACTION_UPDATED,
        ActivityAction.TRANSACTION_DELETED,
    ]


def test_transactions_and_holdings_land_in_model_history(chf, novn):
    txn = transaction_create(portfolio=chf, data=buy(novn, date(2024, 1, 2), "2", "10"))
    holding = Holding.objects.get(portfolio=chf)
    assert LogEntry.objects.get_for_object(txn).count() == 1
    assert LogEntry.objects.get_for_object(holding).count() == 1


def test_deleting_a_portfolio_deletes_its_ledger_and_is_recorded(chf, novn):
    transaction_create(portfolio=chf, data=buy(novn, date(2024, 1, 2), "2", "10"))
    portfolio_delete(portfolio=chf)
    assert not Portfolio.objects.filter(pk=chf.pk).exists()
    for model in (Transaction, Holding, PortfolioSnapshot, LedgerTotals):
        assert not model.objects.filter(portfolio_id=chf.pk).exists()
    last = ActivityLog.objects.filter(user=chf.user).order_by("-seq").first()
    assert last.action == ActivityAction.PORTFOLIO_DELETED
    assert last.details["transactions"] == 1


def test_portfolio_names_are_unique_per_user_only(user, other_user):
    portfolio_create(user=user, name="Main")
    portfolio_create(user=other_user, name="Main")
    with pytest.raises(ApplicationError) as caught:
        portfolio_create(user=user, name="Main")
    assert "name" in caught.value.extra


def test_the_base_currency_is_fixed_once_there_are_transactions(chf):
    portfolio_update(portfolio=chf, data={"base_currency": "EUR"})
    chf.refresh_from_db()
    assert chf.base_currency == "EUR"
    transaction_create(portfolio=chf, data=cash(TransactionType.DEPOSIT, date(2024, 1, 2), "10"))
    with pytest.raises(ApplicationError) as caught:
        portfolio_update(portfolio=chf, data={"base_currency": "USD"})
    assert "base_currency" in caught.value.extra


def test_instrument_resolve_prefers_shared_then_private_and_creates_with_a_currency(user):
    shared = InstrumentFactory(symbol="NOVN", exchange="SIX", currency="CHF")
    assert instrument_resolve(user=user, symbol="novn", exchange="six") == shared

    with pytest.raises(ApplicationError) as caught:
        instrument_resolve(user=user, symbol="MYHOUSE")
    assert "symbol" in caught.value.extra

    created = instrument_resolve(user=user, symbol="MyHouse", currency="chf", name="Flat")
    assert (created.owner, created.symbol, created.currency) == (user, "MYHOUSE", "CHF")
    assert instrument_resolve(user=user, symbol="myhouse") == created
    # Another user's private instrument is invisible: they get their own.
    theirs = instrument_resolve(user=UserFactory(), symbol="MYHOUSE", currency="EUR")
    assert theirs != created
    assert Instrument.objects.filter(symbol="MYHOUSE").count() == 2


def test_instrument_resolve_without_exchange_takes_the_one_listing_not_a_new_private_row(user):
    acme = InstrumentFactory(symbol="ACME", exchange="DEMO", currency="USD")
    assert instrument_resolve(user=user, symbol="acme", currency="USD") == acme
    # Listed on two exchanges: no guess, so the currency makes a private one as before.
    InstrumentFactory(symbol="ACME", exchange="XETR", currency="EUR")
    mine = instrument_resolve(user=user, symbol="ACME", currency="USD")
    assert (mine.owner, mine.exchange) == (user, "")
    assert Instrument.objects.filter(symbol="ACME").count() == 3


def test_bulk_create_is_all_or_nothing_with_errors_per_input(chf, novn):
    transaction_create(
        portfolio=chf,
        data=cash(TransactionType.DEPOSIT, date(2024, 1, 2), "10", external_id="dep-1"),
    )
    inputs = [
        buy(novn, date(2024, 1, 3), "1", "10", external_id="b-1"),
        buy(novn, date(2024, 1, 3), "1", "-10"),
        cash(TransactionType.DEPOSIT, date(2024, 1, 4), "5", external_id="dep-1"),
        buy(novn, date(2024, 1, 5), "1", "10", external_id="b-1"),
    ]
    with pytest.raises(ApplicationError) as caught:
        transactions_bulk_create(portfolio=chf, inputs=inputs)
    assert set(caught.value.extra) == {"1", "2", "3"}
    assert "external_id" in caught.value.extra["2"]
    assert Transaction.objects.filter(portfolio=chf).count() == 1


def test_bulk_create_refuses_an_oversell_anywhere_in_the_batch(chf, novn):
    inputs = [
        buy(novn, date(2024, 1, 3), "1", "10"),
        sell(novn, date(2024, 1, 4), "2", "10"),
    ]
    with pytest.raises(ApplicationError):
        transactions_bulk_create(portfolio=chf, inputs=inputs)
    assert not Transaction.objects.filter(portfolio=chf).exists()


def test_bulk_create_adds_everything_with_one_activity_row(chf, novn):
    inputs = [
        cash(TransactionType.DEPOSIT, date(2024, 1, 2), "100"),
        buy(novn, date(2024, 1, 3), "2", "10"),
        sell(novn, date(2024, 1, 4), "1", "12", fee="1"),
    ]
    rows = transactions_bulk_create(portfolio=chf, inputs=inputs)
    assert len(rows) == 3
    assert holding_list(portfolio=chf).get().quantity == 1
    assert_matches_full_recompute(chf)
    assert (
        ActivityLog.objects.filter(user=chf.user, action=ActivityAction.TRANSACTIONS_IMPORTED)
        .get()
        .details["count"]
        == 3
    )


def test_portfolio_factory_and_a_fresh_portfolio_have_empty_totals():
    portfolio = PortfolioFactory()
    totals = LedgerTotals.objects.get(portfolio=portfolio)
    assert (totals.as_of, totals.cash) == (None, 0)
