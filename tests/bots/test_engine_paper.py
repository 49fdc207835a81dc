"""Paper fill rules (SPEC §4 "Paper engine"): slippage, limit orders, locks, rejections, P&L."""

import pytest

from bots.engine import (
    Balance,
    EngineValidationError,
    ExecutionCosts,
    PaperBook,
    Position,
    paper_fill_apply,
    paper_limit_order,
    paper_limit_order_match,
    paper_market_order,
    paper_order_cancel,
)
from tests.bots.builders import d

FEE = d("0.001")


def cash_book(free: str = "10000") -> PaperBook:
    return PaperBook(balance=Balance(free=d(free)))


def holding_book(quantity: str = "2", cost_basis: str = "200", free: str = "0") -> PaperBook:
    return PaperBook(
        balance=Balance(free=d(free)),
        position=Position(quantity=d(quantity), cost_basis=d(cost_basis)),
    )


@pytest.mark.parametrize(
    ("side", "price", "bps", "expected"),
    [
        ("buy", "100", "0", "100"),
        ("buy", "100", "10", "100.1"),
        ("buy", "250.50", "25", "251.12625"),
        ("sell", "100", "10", "99.9"),
        ("sell", "0.0123456789", "50", "0.0122839505"),
    ],
)
def test_market_order_fills_at_the_price_moved_against_the_trader(side, price, bps, expected):
    book = cash_book() if side == "buy" else holding_book()
    result = paper_market_order(
        book=book,
        side=side,
        quantity=d(1),
        price=d(price),
        costs=ExecutionCosts(slippage_bps=d(bps)),
    )
    assert result.status == "filled"
    assert result.fill.price == d(expected)


def test_market_buy_charges_notional_plus_fee_and_builds_the_position():
    result = paper_market_order(
        book=cash_book("1000"),
        side="buy",
        quantity=d(3),
        price=d(100),
        costs=ExecutionCosts(fee_rate=FEE, slippage_bps=d(10)),
    )
    fill = result.fill
    assert (fill.price, fill.notional, fill.fee) == (d("100.1"), d("300.3"), d("0.3003"))
    assert result.book.balance == Balance(free=d("1000") - d("300.3") - d("0.3003"))
    assert result.book.position == Position(quantity=d(3), cost_basis=d("300.3"))
    assert result.book.position.average_price == d("100.1")


def test_market_sell_credits_notional_less_fee_and_realizes_against_average_cost():
    book = PaperBook(
        balance=Balance(free=d(0)),
        position=Position(quantity=d(4), cost_basis=d(420)),
    )
    result = paper_market_order(
        book=book, side="sell", quantity=d(1), price=d(120), costs=ExecutionCosts(fee_rate=FEE)
    )
    assert result.fill.realized_pnl == d(15)
    assert result.book.balance.free == d(120) - d("0.12")
    assert result.book.position == Position(quantity=d(3), cost_basis=d(315), realized_pnl=d(15))
    assert result.book.position.average_price == d(105)


def test_selling_everything_clears_the_cost_basis_exactly():
    book = PaperBook(position=Position(quantity=d(3), cost_basis=d(100)))
    result = paper_market_order(
        book=book, side="sell", quantity=d(3), price=d(40), costs=ExecutionCosts()
    )
    assert result.book.position == Position(quantity=d(0), cost_basis=d(0), realized_pnl=d(20))
    assert result.book.position.average_price == 0


@pytest.mark.parametrize(
    ("book", "side", "quantity", "fragment"),
    [
        (cash_book("100"), "buy", "1", "Insufficient funds"),
        (cash_book("100.0999"), "buy", "1", "Insufficient funds"),
        (holding_book("2"), "sell", "2.5", "Not enough to sell"),
    ],
)
def test_an_order_the_book_cannot_pay_is_rejected_and_changes_nothing(
    book, side, quantity, fragment
):
    result = paper_market_order(
        book=book,
        side=side,
        quantity=d(quantity),
        price=d(100),
        costs=ExecutionCosts(fee_rate=FEE),
    )
    assert result.status == "rejected"
    assert result.book is book
    assert result.fill is None
    assert fragment in result.reject_reason


def test_an_order_exactly_covered_by_the_balance_fills_to_zero():
    result = paper_market_order(
        book=cash_book("100.1"),
        side="buy",
        quantity=d(1),
        price=d(100),
        costs=ExecutionCosts(fee_rate=FEE),
    )
    assert result.status == "filled"
    assert result.book.balance.free == 0


def test_limit_buy_locks_notional_and_fee_then_fills_at_its_price_when_crossed():
    book = cash_book("1000")
    placed = paper_limit_order(
        book=book, side="buy", quantity=d(2), limit_price=d(95), fee_rate=FEE
    )
    assert placed.status == "open"
    assert placed.order.locked == d("190.19")
    assert placed.book.balance == Balance(free=d("809.81"), locked=d("190.19"))

    untouched = paper_limit_order_match(book=placed.book, order=placed.order, price=d("95.01"))
    assert untouched.status == "open"
    assert untouched.book is placed.book

    filled = paper_limit_order_match(book=placed.book, order=placed.order, price=d(90))
    assert filled.status == "filled"
    assert (filled.fill.price, filled.fill.notional, filled.fill.fee) == (d(95), d(190), d("0.19"))
    assert filled.book.balance == Balance(free=d("809.81"), locked=d(0))
    assert filled.book.position == Position(quantity=d(2), cost_basis=d(190))


def test_limit_order_fills_when_the_price_only_touches_it():
    placed = paper_limit_order(
        book=holding_book("2", "200"), side="sell", quantity=d(2), limit_price=d(110), fee_rate=FEE
    )
    filled = paper_limit_order_match(book=placed.book, order=placed.order, price=d(110))
    assert filled.status == "filled"
    assert filled.fill.price == d(110)


def test_limit_sell_locks_the_quantity_and_fills_at_its_price():
    placed = paper_limit_order(
        book=holding_book("2", "200"),
        side="sell",
        quantity=d("1.5"),
        limit_price=d(110),
        fee_rate=FEE,
    )
    assert placed.book.position.locked == d("1.5")
    assert placed.book.position.free == d("0.5")
    blocked = paper_market_order(
        book=placed.book, side="sell", quantity=d(1), price=d(100), costs=ExecutionCosts()
    )
    assert blocked.status == "rejected"
    assert paper_limit_order_match(book=placed.book, order=placed.order, price=d(109)).status == (
        "open"
    )
    filled = paper_limit_order_match(book=placed.book, order=placed.order, price=d(125))
    assert filled.fill.price == d(110)
    assert filled.fill.realized_pnl == d(15)
    assert filled.book.position == Position(
        quantity=d("0.5"), locked=d(0), cost_basis=d(50), realized_pnl=d(15)
    )
    assert filled.book.balance.free == d(165) - d("0.165")


@pytest.mark.parametrize(("side", "book"), [("buy", cash_book("500")), ("sell", holding_book())])
def test_cancel_releases_exactly_what_the_limit_order_locked(side, book):
    placed = paper_limit_order(book=book, side=side, quantity=d(2), limit_price=d(99), fee_rate=FEE)
    cancelled = paper_order_cancel(book=placed.book, order=placed.order)
    assert cancelled.status == "cancelled"
    assert cancelled.book == book


@pytest.mark.parametrize(
    ("book", "side", "quantity"),
    [(cash_book("190.18"), "buy", "2"), (holding_book("1"), "sell", "2")],
)
def test_a_limit_order_the_book_cannot_cover_is_rejected_without_locking(book, side, quantity):
    result = paper_limit_order(
        book=book, side=side, quantity=d(quantity), limit_price=d(95), fee_rate=FEE
    )
    assert result.status == "rejected"
    assert result.book is book
    assert result.order is None


def test_a_priced_fill_applies_as_given_and_is_refused_when_unpayable():
    book = cash_book("100.1")
    applied = paper_fill_apply(
        book=book, side="buy", quantity=d("0.5"), price=d(200), notional=d(100), fee=d("0.1")
    )
    assert applied.book.balance.free == 0
    assert applied.book.position.cost_basis == d(100)
    refused = paper_fill_apply(
        book=book, side="buy", quantity=d("0.5"), price=d(200), notional=d(100), fee=d("0.2")
    )
    assert refused.status == "rejected"
    assert refused.book is book


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"side": "hold"}, "side"),
        ({"quantity": d(0)}, "quantity"),
        ({"quantity": d("0.0000000000001")}, "quantity"),
        ({"quantity": 1}, "quantity"),
        ({"price": d(-1)}, "price"),
        ({"price": 100.0}, "price"),
    ],
)
def test_market_order_refuses_malformed_input_naming_the_field(kwargs, field):
    args = {"book": cash_book(), "side": "buy", "quantity": d(1), "price": d(100)}
    args.update(kwargs)
    with pytest.raises(EngineValidationError) as caught:
        paper_market_order(costs=ExecutionCosts(), **args)
    assert field in caught.value.errors


def test_limit_order_names_limit_price_and_fee_rate_errors():
    with pytest.raises(EngineValidationError) as caught:
        paper_limit_order(
            book=cash_book(), side="buy", quantity=d(1), limit_price=d(0), fee_rate=d(2)
        )
    assert "limit_price" in caught.value.errors
    with pytest.raises(EngineValidationError) as caught:
        paper_limit_order(
            book=cash_book(), side="buy", quantity=d(1), limit_price=d(1), fee_rate=d(2)
        )
    assert caught.value.field == "fee_rate"
