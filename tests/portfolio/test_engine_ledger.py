"""The ledger fold of SPEC §4: cost basis, realized P&L, fees, cash, implicit deposits, splits."""

from decimal import Decimal

import pytest

from portfolio.engine import (
    EngineValidationError,
    LedgerOrderError,
    OversellError,
    Split,
    TransactionRecord,
    ledger_advance,
    ledger_fold,
    ledger_fold_all,
    ledger_new,
    ledger_state_from_summary,
    ledger_summary,
)
from tests.portfolio.builders import d, day, split, tx

NOVN_WORKED_CHECK = [
    tx(1, "2022-03-07", "BUY", "NOVN", 2, "75.80", fee="2.95"),
    tx(2, "2022-04-08", "SELL", "NOVN", 1, "85.73", fee="1.30"),
]


def summarise(transactions, *, base="CHF", splits=(), through=None):
    state = ledger_fold_all(
        transactions=transactions, splits=splits, base_currency=base, through=through
    )
    return ledger_summary(state=state)


def only_holding(summary):
    (holding,) = summary.holdings
    return holding


def test_spec_worked_check_ledger_figures():
    summary = summarise(NOVN_WORKED_CHECK, through=day("2022-04-11"))
    holding = only_holding(summary)

    assert summary.as_of == day("2022-04-11")
    assert holding.quantity == d(1)
    assert holding.cost_basis == d("75.80")
    assert holding.average_cost == d("75.80")
    assert holding.realized_pnl == d("9.93")
    assert holding.fees == d("4.25")
    assert summary.fees == d("4.25")
    # No deposit in the ledger: the buy's cost and fee is the implicit deposit of its day.
    assert summary.implicit_deposits == d("154.55")
    assert dict(summary.flows) == {day("2022-03-07"): d("154.55")}
    assert summary.cash == d("84.43")


@pytest.mark.parametrize(
    ("transactions", "quantity", "cost_basis", "average_cost", "realized"),
    [
        pytest.param(
            [tx(1, "2022-01-03", "BUY", "X", 10, 10), tx(2, "2022-01-04", "BUY", "X", 10, 20)],
            "20",
            "300",
            "15",
            "0",
            id="two-buys-average",
        ),
        pytest.param(
            [
                tx(1, "2022-01-03", "BUY", "X", 10, 10),
                tx(2, "2022-01-04", "BUY", "X", 10, 20),
                tx(3, "2022-01-05", "SELL", "X", 5, 18, fee=3),
            ],
            "15",
            "225",
            "15",
            "15",
            id="sell-removes-average-cost-fee-excluded",
        ),
        pytest.param(
            [
                tx(1, "2022-01-03", "BUY", "X", 4, 50),
                tx(2, "2022-01-04", "SELL", "X", 4, 40, fee=1),
            ],
            "0",
            "0",
            "0",
            "-40",
            id="sell-everything-at-a-loss",
        ),
        pytest.param(
            [
                tx(1, "2022-01-03", "BUY", "X", 3, 10),
                tx(2, "2022-01-04", "BUY", "X", 3, 11),
                tx(3, "2022-01-05", "BUY", "X", 3, 13),
                tx(4, "2022-01-06", "SELL", "X", 9, 12),
            ],
            "0",
            "0",
            "0",
            "6",
            id="full-sell-of-thirds-leaves-no-residue",
        ),
        pytest.param(
            [
                tx(1, "2022-01-03", "BUY", "X", 2, 10),
                tx(2, "2022-01-03", "SELL", "X", 1, 12),
                tx(3, "2022-01-03", "BUY", "X", 1, 16),
            ],
            "2",
            "26",
            "13",
            "2",
            id="same-day-entries-keep-their-order",
        ),
    ],
)
def test_cost_basis_is_average_cost_and_realized_excludes_fees(
    transactions, quantity, cost_basis, average_cost, realized
):
    holding = only_holding(summarise(transactions))

    assert holding.quantity == d(quantity)
    assert holding.cost_basis == d(cost_basis)
    assert holding.average_cost == d(average_cost)
    assert holding.realized_pnl == d(realized)


BASE = [
    tx(1, "2022-01-03", "DEPOSIT", price=1000),
    tx(2, "2022-01-03", "BUY", "X", 10, 20, fee=1),
]


@pytest.mark.parametrize(
    ("extra", "cash", "fees", "dividends", "interest"),
    [
        pytest.param(None, "799", "1", "0", "0", id="buy-with-fee"),
        pytest.param(
            tx(3, "2022-01-04", "SELL", "X", 4, 25, fee=2), "897", "3", "0", "0", id="sell"
        ),
        pytest.param(
            tx(3, "2022-01-04", "DIVIDEND", "X", 10, "0.5", fee="0.25"),
            "803.75",
            "1.25",
            "5",
            "0",
            id="dividend",
        ),
        pytest.param(tx(3, "2022-01-04", "INTEREST", price=3), "802", "1", "0", "3", id="interest"),
        pytest.param(tx(3, "2022-01-04", "FEE", price=7), "792", "8", "0", "0", id="fee"),
        pytest.param(
            tx(3, "2022-01-04", "DEPOSIT", price=50, fee=1), "848", "2", "0", "0", id="deposit"
        ),
        pytest.param(
            tx(3, "2022-01-04", "WITHDRAWAL", quantity=2, price=50),
            "699",
            "1",
            "0",
            "0",
            id="withdrawal-q-times-p",
        ),
    ],
)
def test_cash_follows_the_spec_cash_rule(extra, cash, fees, dividends, interest):
    summary = summarise([*BASE, *([extra] if extra else [])])

    assert summary.cash == d(cash)
    assert summary.fees == d(fees)
    assert summary.dividends == d(dividends)
    assert summary.interest == d(interest)
    assert summary.implicit_deposits == 0


def test_fee_transaction_naming_an_instrument_counts_in_its_position_fees():
    summary = summarise([*BASE, tx(3, "2022-01-04", "FEE", "X", price="2.50")])

    assert only_holding(summary).fees == d("3.50")
    assert summary.fees == d("3.50")


@pytest.mark.parametrize(
    ("transactions", "flows", "implicit", "cash"),
    [
        pytest.param(
            [tx(1, "2022-01-03", "BUY", "X", 10, 10)],
            {"2022-01-03": "100"},
            "100",
            "0",
            id="no-deposits-at-all",
        ),
        pytest.param(
            [tx(1, "2022-01-03", "BUY", "X", 10, 10), tx(2, "2022-01-03", "DEPOSIT", price=100)],
            {"2022-01-03": "100"},
            "0",
            "0",
            id="deposit-entered-after-the-buy-the-same-day",
        ),
        pytest.param(
            [tx(1, "2022-01-03", "DEPOSIT", price=50), tx(2, "2022-01-03", "BUY", "X", 10, 10)],
            {"2022-01-03": "100"},
            "50",
            "0",
            id="partial-shortfall",
        ),
        pytest.param(
            [tx(1, "2022-01-03", "DEPOSIT", price=100), tx(2, "2022-01-04", "BUY", "X", 15, 10)],
            {"2022-01-03": "100", "2022-01-04": "50"},
            "50",
            "0",
            id="shortfall-on-a-later-day",
        ),
        pytest.param(
            [tx(1, "2022-01-03", "DEPOSIT", price=20), tx(2, "2022-01-04", "WITHDRAWAL", price=30)],
            {"2022-01-03": "20", "2022-01-04": "-20"},
            "10",
            "0",
            id="withdrawal-beyond-cash",
        ),
        pytest.param(
            [
                tx(1, "2022-01-03", "BUY", "X", 10, 10),
                tx(2, "2022-01-04", "SELL", "X", 10, 12),
                tx(3, "2022-01-05", "BUY", "X", 5, 20),
            ],
            {"2022-01-03": "100"},
            "100",
            "20",
            id="sale-proceeds-fund-the-next-buy",
        ),
    ],
)
def test_cash_shortfall_at_day_end_is_an_implicit_deposit(transactions, flows, implicit, cash):
    summary = summarise(transactions)

    assert dict(summary.flows) == {day(k): d(v) for k, v in flows.items()}
    assert summary.implicit_deposits == d(implicit)
    assert summary.net_external_flow == sum(d(v) for v in flows.values())
    assert summary.cash == d(cash)


def test_open_day_shortfall_is_settled_in_the_summary_without_touching_the_state():
    state = ledger_fold_all(
        transactions=[tx(1, "2022-01-03", "BUY", "X", 1, 10)], base_currency="CHF"
    )

    summary = ledger_summary(state=state)

    assert summary.cash == 0
    assert summary.implicit_deposits == d(10)
    assert state.cash == d(-10)
    assert not state.day_closed


def test_multi_currency_costs_at_trade_date_fx_and_realizes_at_sale_date_fx():
    transactions = [
        tx(1, "2022-01-03", "BUY", "NESN", 10, 100, fee=5, currency="CHF", fx_rate="1.10"),
        tx(2, "2022-02-01", "BUY", "NESN", 10, 120, currency="CHF", fx_rate="1.00"),
        tx(3, "2022-03-01", "SELL", "NESN", 5, 130, currency="CHF", fx_rate="1.20"),
        tx(4, "2022-03-02", "DIVIDEND", "NESN", 15, 2, currency="CHF", fx_rate="1.10"),
    ]

    summary = summarise(transactions, base="USD")
    holding = only_holding(summary)

    assert holding.currency == "CHF"
    assert holding.quantity == d(15)
    assert (holding.cost_basis, holding.cost_basis_base) == (d(1650), d(1725))
    assert (holding.average_cost, holding.average_cost_base) == (d(110), d(115))
    # Base: 5 * 130 * 1.20 = 780 proceeds - 2300 * 5 / 20 = 575 average base cost.
    assert (holding.realized_pnl, holding.realized_pnl_base) == (d(100), d(205))
    assert (holding.fees, holding.fees_base) == (d(5), d("5.5"))
    assert (holding.dividends, holding.dividends_base) == (d(30), d(33))
    assert summary.fees == d("5.5")
    assert summary.dividends == d(33)
    assert summary.cash == d(780) + d(33)


@pytest.mark.parametrize(
    ("numerator", "denominator", "quantity", "average_cost"),
    [(2, 1, "18", "15"), (1, 3, "3", "90"), (3, 2, "13.5", "20")],
    ids=["2-for-1", "1-for-3-reverse", "3-for-2"],
)
def test_split_scales_quantity_and_keeps_cost_basis(numerator, denominator, quantity, average_cost):
    transactions = [tx(1, "2022-01-03", "BUY", "X", 9, 30, fee=1)]
    splits = [split("X", "2022-02-01", numerator, denominator)]

    before = only_holding(summarise(transactions, splits=splits, through=day("2022-01-31")))
    after = only_holding(summarise(transactions, splits=splits, through=day("2022-02-01")))

    assert before.quantity == d(9)
    assert after.quantity == d(quantity)
    assert after.cost_basis == before.cost_basis == d(270)
    assert after.average_cost == d(average_cost)
    assert after.last_trade_price == d(average_cost)
    assert after.realized_pnl == 0


def test_split_applies_to_earlier_transactions_not_to_those_of_its_own_date():
    transactions = [
        tx(1, "2022-01-03", "BUY", "X", 9, 30),
        tx(2, "2022-01-10", "SELL", "X", 3, 40),
        tx(3, "2022-02-01", "BUY", "X", 2, 16),
        tx(4, "2022-02-02", "SELL", "X", 14, 17),
    ]
    splits = [split("X", "2022-02-01", 2, 1), split("OTHER", "2022-01-05", 5, 1)]

    holding = only_holding(summarise(transactions, splits=splits))

    # 6 left * 2 = 12, plus 2 bought on the split date = 14: then all sold.
    assert holding.quantity == 0
    assert holding.cost_basis == 0
    # Realized: the pre-split sale earns 3 at 40 over 30; the last sells 14 at 17 for 212 of cost.
    assert holding.realized_pnl == d(30) + d(238) - d(212)


def test_split_matches_rewriting_earlier_transactions_by_hand():
    """SPEC: a split applies at read time to earlier transactions (quantity * r, price / r)."""
    splits = [split("X", "2022-02-01", 5, 2)]
    raw = [
        tx(1, "2022-01-03", "BUY", "X", 10, 30),
        tx(2, "2022-01-04", "SELL", "X", 4, 35, fee=1),
        tx(3, "2022-02-02", "SELL", "X", 5, 13),
    ]
    rewritten = [
        tx(1, "2022-01-03", "BUY", "X", 25, 12),
        tx(2, "2022-01-04", "SELL", "X", 10, 14, fee=1),
        tx(3, "2022-02-02", "SELL", "X", 5, 13),
    ]

    assert only_holding(summarise(raw, splits=splits)) == only_holding(summarise(rewritten))


@pytest.mark.parametrize(
    ("transactions", "splits", "refused_id", "held"),
    [
        pytest.param([tx(1, "2022-01-03", "SELL", "X", 1, 10)], [], 1, "0", id="nothing-held"),
        pytest.param(
            [tx(1, "2022-01-03", "BUY", "X", 2, 10), tx(2, "2022-01-04", "SELL", "X", 3, 10)],
            [],
            2,
            "2",
            id="more-than-held",
        ),
        pytest.param(
            [tx(1, "2022-01-03", "SELL", "X", 1, 10), tx(2, "2022-01-03", "BUY", "X", 1, 10)],
            [],
            1,
            "0",
            id="same-day-sell-entered-before-the-buy",
        ),
        pytest.param(
            [tx(1, "2022-01-03", "BUY", "X", 9, 10), tx(2, "2022-02-01", "SELL", "X", 4, 30)],
            [split("X", "2022-02-01", 1, 3)],
            2,
            "3",
            id="pre-split-quantity-after-reverse-split",
        ),
    ],
)
def test_oversell_is_refused_naming_transaction_and_date(transactions, splits, refused_id, held):
    with pytest.raises(OversellError) as caught:
        summarise(transactions, splits=splits)

    error = caught.value
    refused = next(t for t in transactions if t.id == refused_id)
    assert error.field == "quantity"
    assert error.transaction == refused_id
    assert error.held == d(held)
    assert f"Transaction {refused_id} on {refused.date.isoformat()}" in error.message
    assert error.as_field_errors() == {"quantity": [error.message]}


def test_refused_sell_leaves_no_trace_in_the_state():
    state = ledger_fold_all(
        transactions=[tx(1, "2022-01-03", "BUY", "X", 2, 10, fee=1)], base_currency="CHF"
    )
    before = state.copy()

    with pytest.raises(OversellError):
        ledger_fold(state=state, transaction=tx(2, "2022-01-03", "SELL", "X", 5, 10, fee=2))

    assert state == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": d(0)}, "quantity"),
        ({"price": d(-1)}, "price"),
        ({"price": 75.8}, "price"),
        ({"price": Decimal("NaN")}, "price"),
        ({"fee": d(-1)}, "fee"),
        ({"fx_rate": d(0)}, "fx_rate"),
        ({"instrument": None}, "instrument"),
        ({"type": "SWAP"}, "type"),
        ({"type": "buy"}, "type"),  # the values are upper case
        ({"type": 1}, "type"),
        ({"type": None}, "type"),
        ({"currency": ""}, "currency"),
        ({"date": "2022-01-03"}, "date"),
        ({"type": "DEPOSIT"}, "instrument"),
    ],
)
def test_invalid_transaction_is_refused_naming_the_field(changes, field):
    fields = {
        "id": 1,
        "date": day("2022-01-03"),
        "type": "BUY",
        "instrument": "X",
        "quantity": d(1),
        "price": d(10),
        "currency": "CHF",
    }
    with pytest.raises(EngineValidationError) as caught:
        TransactionRecord(**(fields | changes))

    assert caught.value.field == field


@pytest.mark.parametrize(
    ("numerator", "denominator", "field"), [(0, 1, "numerator"), (1, -2, "denominator")]
)
def test_invalid_split_is_refused_naming_the_field(numerator, denominator, field):
    with pytest.raises(EngineValidationError) as caught:
        Split(instrument="X", date=day("2022-01-03"), numerator=numerator, denominator=denominator)

    assert caught.value.field == field


def test_transaction_type_given_as_string_becomes_the_enum():
    assert tx(1, "2022-01-03", "BUY", "X").type.value == "BUY"


def test_transaction_in_another_currency_than_the_position_is_refused():
    transactions = [
        tx(1, "2022-01-03", "BUY", "X", 2, 10),
        tx(2, "2022-01-04", "SELL", "X", 1, 10, currency="EUR", fx_rate="1.1"),
    ]
    with pytest.raises(EngineValidationError) as caught:
        summarise(transactions)

    assert caught.value.field == "currency"


def test_base_currency_transaction_with_fx_rate_other_than_one_is_refused():
    with pytest.raises(EngineValidationError) as caught:
        summarise([tx(1, "2022-01-03", "DEPOSIT", price=10, fx_rate="1.1")])

    assert caught.value.field == "fx_rate"


def test_transactions_out_of_date_order_are_refused():
    transactions = [
        tx(1, "2022-01-04", "DEPOSIT", price=10),
        tx(2, "2022-01-03", "DEPOSIT", price=10),
    ]
    with pytest.raises(LedgerOrderError) as caught:
        summarise(transactions)

    assert caught.value.field == "date"
    assert "Transaction 2 on 2022-01-03" in caught.value.message


def test_transaction_on_a_closed_day_is_refused():
    state = ledger_new(base_currency="CHF")
    ledger_fold(state=state, transaction=tx(1, "2022-01-03", "DEPOSIT", price=10))
    ledger_advance(state=state, through=day("2022-01-03"))

    with pytest.raises(LedgerOrderError):
        ledger_fold(state=state, transaction=tx(2, "2022-01-03", "DEPOSIT", price=10))


def test_fold_all_through_a_date_refuses_later_transactions():
    with pytest.raises(LedgerOrderError):
        summarise([tx(1, "2022-01-04", "DEPOSIT", price=10)], through=day("2022-01-03"))


def test_state_rebuilt_from_a_stored_summary_continues_like_the_full_fold():
    first = [
        tx(1, "2022-01-03", "BUY", "X", 9, 30, fee=1),
        tx(2, "2022-01-04", "SELL", "X", 3, 35),
        tx(3, "2022-01-04", "WITHDRAWAL", price=500),
    ]
    rest = [tx(4, "2022-02-02", "SELL", "X", 12, 20), tx(5, "2022-02-03", "INTEREST", price=2)]
    splits = [split("X", "2022-02-01", 2, 1)]
    stored = summarise(first, splits=splits, through=day("2022-01-04"))

    state = ledger_state_from_summary(summary=stored)
    ledger_fold_all(transactions=rest, splits=splits, state=state)

    assert ledger_summary(state=state) == summarise([*first, *rest], splits=splits)
