"""Paper trading through the database (SPEC §4 "Paper engine"): fills, locks, rejections, resets."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import ActivityAction, ActivityLog
from bots.models import Bot, BotStatus, Order, OrderStatus, PaperAccount, PaperPosition
from bots.selectors import instrument_last_price, paper_position_list, position_unrealized_pnl
from bots.services import (
    OrderInput,
    limit_orders_match,
    order_cancel,
    order_place,
    paper_account_create,
    paper_account_reset,
)
from portfolio.models import PriceBar
from tests.bots.paper_helpers import (
    DAY,
    balance,
    book_rows,
    funded_account,
    position,
    price_arrives,
    priced_instrument,
)
from tests.factories import InstrumentFactory
from trading_lab.exceptions import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def costs(settings):
    settings.BOTS_FEE_RATE = "0.001"
    settings.BOTS_SLIPPAGE_BPS = "10"


def market(instrument, side: str, quantity: str) -> OrderInput:
    return OrderInput(
        instrument=instrument, side=side, order_type="market", quantity=Decimal(quantity)
    )


def limit(instrument, side: str, quantity: str, price: str) -> OrderInput:
    return OrderInput(
        instrument=instrument,
        side=side,
        order_type="limit",
        quantity=Decimal(quantity),
        limit_price=Decimal(price),
    )


def test_last_price_is_the_latest_close_and_none_without_bars():
    stock = priced_instrument(close="100")
    price_arrives(stock, "101.5", DAY + timedelta(days=1))
    assert instrument_last_price(instrument=stock) == (Decimal("101.5"), DAY + timedelta(days=1))
    assert instrument_last_price(instrument=InstrumentFactory()) is None


def test_market_buy_fills_at_last_close_plus_slippage_and_pays_the_fee(user):
    account, stock = funded_account(user), priced_instrument(close="100")
    order = order_place(user=user, account=account, data=market(stock, "buy", "10"))
    assert order.status == OrderStatus.FILLED
    assert order.average_fill_price == Decimal("100.1")  # 10 bps against the buyer
    assert order.filled_quantity == Decimal(10)
    assert order.fee == Decimal("1.001")
    assert order.filled_at is not None
    assert balance(account).free == Decimal("8997.999")
    held = position(account, stock)
    assert (held.quantity, held.cost_basis) == (Decimal(10), Decimal("1001"))


def test_market_sell_fills_below_last_close_and_realizes_pnl_at_average_cost(user):
    account, stock = funded_account(user), priced_instrument(close="100")
    order_place(user=user, account=account, data=market(stock, "buy", "10"))
    sell = order_place(user=user, account=account, data=market(stock, "sell", "4"))
    assert sell.average_fill_price == Decimal("99.9")
    held = position(account, stock)
    assert held.quantity == Decimal(6)
    assert held.realized_pnl == Decimal("-0.8")  # 399.6 proceeds - 400.4 cost share
    assert balance(account).free == Decimal("8997.999") + Decimal("399.6") - Decimal("0.3996")


def test_unrealized_pnl_values_the_position_at_the_last_close(user):
    account, stock = funded_account(user), priced_instrument(close="100")
    order_place(user=user, account=account, data=market(stock, "buy", "10"))
    price_arrives(stock, "110", DAY + timedelta(days=1))
    row = paper_position_list(user=user, account=account).get()
    assert row.last_price == Decimal(110)
    assert position_unrealized_pnl(row) == Decimal(1100) - Decimal(1001)


@pytest.mark.parametrize(
    ("side", "quantity", "reason"),
    [("buy", "1000", "Insufficient funds"), ("sell", "1", "Not enough to sell")],
)
def test_a_rejected_order_is_stored_with_its_reason_and_changes_no_balance_or_position(
    user, side, quantity, reason
):
    account, stock = funded_account(user), priced_instrument(close="100")
    before = book_rows(account)
    order = order_place(user=user, account=account, data=market(stock, side, quantity))
    assert order.status == OrderStatus.REJECTED
    assert reason in order.reject_reason
    after = book_rows(account)
    assert after["balances"] == before["balances"]
    assert after["positions"] == before["positions"] == []
    assert [row["status"] for row in after["orders"]] == [OrderStatus.REJECTED]


def test_a_market_order_without_any_price_is_rejected(user):
    account, stock = funded_account(user), InstrumentFactory()
    order = order_place(user=user, account=account, data=market(stock, "buy", "1"))
    assert order.status == OrderStatus.REJECTED
    assert "No price" in order.reject_reason
    assert balance(account).free == Decimal(10000)


def test_a_rejected_limit_order_locks_nothing(user):
    account, stock = funded_account(user, amount="100"), priced_instrument(close="100")
    order = order_place(user=user, account=account, data=limit(stock, "buy", "5", "90"))
    assert order.status == OrderStatus.REJECTED
    assert (balance(account).free, balance(account).locked) == (Decimal(100), Decimal(0))


def test_a_limit_buy_locks_notional_plus_fee_and_fills_when_a_new_close_crosses(user):
    account, stock = funded_account(user), priced_instrument(close="100")
    order = order_place(user=user, account=account, data=limit(stock, "buy", "10", "90"))
    assert order.status == OrderStatus.OPEN
    assert order.locked == Decimal("900.9")
    assert (balance(account).free, balance(account).locked) == (
        Decimal("9099.1"),
        Decimal("900.9"),
    )

    price_arrives(stock, "95", DAY + timedelta(days=1))  # not crossed
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN

    price_arrives(stock, "89", DAY + timedelta(days=2))
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED
    assert order.average_fill_price == Decimal(90)  # at the limit, not the new close
    assert order.fee == Decimal("0.9")
    assert (balance(account).free, balance(account).locked) == (Decimal("9099.1"), Decimal(0))
    held = position(account, stock)
    assert (held.quantity, held.cost_basis) == (Decimal(10), Decimal(900))


def test_a_limit_sell_locks_the_quantity_and_fills_at_or_above_its_limit(user):
    account, stock = funded_account(user), priced_instrument(close="100")
    order_place(user=user, account=account, data=market(stock, "buy", "10"))
    sell = order_place(user=user, account=account, data=limit(stock, "sell", "10", "120"))
    assert sell.status == OrderStatus.OPEN
    assert position(account, stock).locked == Decimal(10)
    # The locked quantity cannot be sold twice.
    again = order_place(user=user, account=account, data=market(stock, "sell", "1"))
    assert again.status == OrderStatus.REJECTED

    price_arrives(stock, "120", DAY + timedelta(days=1))
    sell.refresh_from_db()
    assert sell.status == OrderStatus.FILLED
    held = position(account, stock)
    assert (held.quantity, held.locked) == (Decimal(0), Decimal(0))
    assert held.realized_pnl == Decimal(1200) - Decimal(1001)


def test_a_limit_order_the_last_close_already_crosses_fills_at_once_at_its_limit(user):
    account, stock = funded_account(user), priced_instrument(close="100")
    order = order_place(user=user, account=account, data=limit(stock, "buy", "1", "105"))
    assert order.status == OrderStatus.FILLED
    assert order.average_fill_price == Decimal(105)
    assert balance(account).locked == Decimal(0)
    assert balance(account).free == Decimal(10000) - Decimal("105.105")


def test_cancel_releases_the_locked_funds_and_only_open_orders_cancel(user):
    account, stock = funded_account(user), priced_instrument(close="100")
    order = order_place(user=user, account=account, data=limit(stock, "buy", "10", "90"))
    cancelled = order_cancel(order=order)
    assert cancelled.status == OrderStatus.CANCELLED
    assert cancelled.cancelled_at is not None
    assert (balance(account).free, balance(account).locked) == (Decimal(10000), Decimal(0))
    with pytest.raises(ApplicationError, match="Only open orders"):
        order_cancel(order=cancelled)
    # A cancelled order no longer fills when the price crosses.
    price_arrives(stock, "80", DAY + timedelta(days=1))
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert balance(account).free == Decimal(10000)


def test_cancelling_a_limit_sell_gives_back_the_locked_quantity(user):
    account, stock = funded_account(user), priced_instrument(close="100")
    order_place(user=user, account=account, data=market(stock, "buy", "3"))
    sell = order_place(user=user, account=account, data=limit(stock, "sell", "2", "150"))
    order_cancel(order=sell)
    held = position(account, stock)
    assert (held.quantity, held.locked) == (Decimal(3), Decimal(0))


def test_a_fill_writes_order_balance_and_position_in_one_transaction(user, monkeypatch):
    account, stock = funded_account(user), priced_instrument(close="100")
    before = book_rows(account)
    activity_before = ActivityLog.objects.filter(action=ActivityAction.ORDER_PLACED).count()

    def failing_book_save(**kwargs):
        raise RuntimeError("the book write failed after the order row was written")

    monkeypatch.setattr("bots.services.paper.book_save", failing_book_save)
    with pytest.raises(RuntimeError):
        order_place(user=user, account=account, data=market(stock, "buy", "1"))
    assert book_rows(account) == before
    assert not Order.objects.exists()
    assert ActivityLog.objects.filter(action=ActivityAction.ORDER_PLACED).count() == (
        activity_before
    )


def test_limit_matching_failure_keeps_the_order_open_and_the_funds_locked(user, monkeypatch):
    account, stock = funded_account(user), priced_instrument(close="100")
    order = order_place(user=user, account=account, data=limit(stock, "buy", "1", "90"))
    before = book_rows(account)
    price_arrives(stock, "100", DAY + timedelta(days=1))

    def failing_book_save(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("bots.services.paper.book_save", failing_book_save)
    PriceBar.objects.create(instrument=stock, date=DAY + timedelta(days=2), close=Decimal(80))
    with pytest.raises(RuntimeError):
        limit_orders_match(instrument_ids=[stock.pk])
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN
    assert book_rows(account) == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"quantity": Decimal(0)}, "quantity"),
        ({"quantity": Decimal(-1)}, "quantity"),
        ({"order_type": "limit"}, "limit_price"),
        ({"limit_price": Decimal(5)}, "limit_price"),
        ({"side": "hold"}, "side"),
        ({"order_type": "stop"}, "type"),
        ({"quantity": Decimal("0.0000000000001")}, "quantity"),
    ],
)
def test_bad_order_input_is_refused_naming_the_field_and_stores_nothing(user, data, field):
    account, stock = funded_account(user), priced_instrument(close="100")
    values = {"instrument": stock, "side": "buy", "order_type": "market", "quantity": Decimal(1)}
    with pytest.raises(ApplicationError) as caught:
        order_place(user=user, account=account, data=OrderInput(**{**values, **data}))
    assert field in caught.value.extra
    assert not Order.objects.exists()


def test_another_users_account_or_private_instrument_is_refused(user, other_user):
    mine, theirs = funded_account(user), funded_account(other_user)
    stock = priced_instrument(close="100")
    with pytest.raises(ApplicationError) as caught:
        order_place(user=user, account=theirs, data=market(stock, "buy", "1"))
    assert "account" in caught.value.extra
    private = InstrumentFactory(owner=other_user)
    with pytest.raises(ApplicationError) as caught:
        order_place(user=user, account=mine, data=market(private, "buy", "1"))
    assert "symbol" in caught.value.extra
    assert not Order.objects.exists()


def test_a_client_order_id_is_unique_across_all_orders(user, other_user):
    stock = priced_instrument(close="100")
    data = OrderInput(
        instrument=stock,
        side="buy",
        order_type="market",
        quantity=Decimal(1),
        client_order_id="mine-1",
    )
    first = order_place(user=user, account=funded_account(user), data=data)
    assert first.client_order_id == "mine-1"
    with pytest.raises(ApplicationError) as caught:
        order_place(user=other_user, account=funded_account(other_user), data=data)
    assert "client_order_id" in caught.value.extra
    generated = order_place(user=user, account=first.account, data=market(stock, "buy", "1"))
    assert generated.client_order_id.startswith("tl-")


def test_placing_and_cancelling_are_in_the_activity_log(user):
    account, stock = funded_account(user), priced_instrument(close="100")
    order = order_place(user=user, account=account, data=limit(stock, "buy", "1", "90"))
    order_cancel(order=order)
    actions = list(
        ActivityLog.objects.filter(
            action__in=[ActivityAction.ORDER_PLACED, ActivityAction.ORDER_CANCELLED]
        ).values_list("action", flat=True)
    )
    assert sorted(actions) == sorted([ActivityAction.ORDER_PLACED, ActivityAction.ORDER_CANCELLED])


def test_the_first_account_is_the_default_and_names_are_unique_per_user(user, other_user):
    first = funded_account(user, name="Main")
    second = funded_account(user, name="Second", amount="500")
    assert first.is_default
    assert not second.is_default
    assert balance(second).free == Decimal(500)
    with pytest.raises(ApplicationError) as caught:
        funded_account(user, name="main")
    assert "name" in caught.value.extra
    assert funded_account(other_user, name="Main").is_default
    assert ActivityLog.objects.filter(action=ActivityAction.PAPER_ACCOUNT_CREATED).count() == 3


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"starting_balance": Decimal(0)}, "starting_balance"),
        ({"quote_currency": "dollars"}, "quote_currency"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_account_input_is_refused(user, values, field):
    data = {"name": "X", "quote_currency": "USD", "starting_balance": Decimal(10)} | values
    with pytest.raises(ApplicationError) as caught:
        paper_account_create(user=user, **data)
    assert field in caught.value.extra
    assert not PaperAccount.objects.exists()


def test_reset_cancels_open_orders_clears_positions_and_restores_the_balance(user):
    account, stock = funded_account(user), priced_instrument(close="100")
    order_place(user=user, account=account, data=market(stock, "buy", "10"))
    resting = order_place(user=user, account=account, data=limit(stock, "buy", "1", "50"))
    cancelled = paper_account_reset(account=account)
    assert cancelled == 1
    assert Order.objects.get(pk=resting.pk).status == OrderStatus.CANCELLED
    assert not PaperPosition.objects.filter(account=account).exists()
    assert (balance(account).free, balance(account).locked) == (Decimal(10000), Decimal(0))
    assert ActivityLog.objects.filter(action=ActivityAction.PAPER_ACCOUNT_RESET).count() == 1
    # The filled order stays in the log.
    assert Order.objects.filter(account=account, status=OrderStatus.FILLED).count() == 1


@pytest.mark.parametrize("status", [BotStatus.RUNNING, BotStatus.PAUSED])
def test_reset_is_refused_while_a_bot_trades_on_the_account(user, status):
    account, stock = funded_account(user), priced_instrument(close="100")
    order_place(user=user, account=account, data=market(stock, "buy", "1"))
    Bot.objects.create(
        user=user,
        name="Trader",
        account=account,
        instrument=stock,
        status=status,
        next_run_at=timezone.now(),
    )
    before = book_rows(account)
    with pytest.raises(ApplicationError, match="Trader"):
        paper_account_reset(account=account)
    assert book_rows(account) == before


def test_reset_after_a_stopped_bot_is_allowed(user):
    account, stock = funded_account(user), priced_instrument(close="100")
    Bot.objects.create(user=user, name="Idle", account=account, instrument=stock)
    assert paper_account_reset(account=account) == 0


def test_limit_matching_ignores_instruments_without_open_orders():
    assert limit_orders_match(instrument_ids=[]) == 0
    stock = priced_instrument(close="100")
    assert limit_orders_match(instrument_ids=[stock.pk]) == 0
