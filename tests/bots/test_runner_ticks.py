"""The runner's ticks through the database: the SPEC worked check, exactly once, missed slots,
failures, and a backtest over the same prices placing the same orders."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError
from django_tasks_db.models import DBTaskResult

from bots.engine import backtest_run, parse_dca_config
from bots.models import (
    BotEquityPoint,
    BotStatus,
    BotTick,
    Deal,
    DealExit,
    DealStatus,
    Order,
    OrderStatus,
    PaperBalance,
    PaperPosition,
    RunStatus,
    TickStatus,
)
from bots.services import bot_start, bot_stop, bot_tick_run, bot_ticks_enqueue_due
from bots.services.runner import (
    client_order_id_for,
    dca_state_from_json,
    dca_state_to_json,
)
from tests.bots import runner_builders as rb

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_costs(settings):
    """The SPEC worked check has no fees and no slippage."""
    settings.BOTS_FEE_RATE = "0"
    settings.BOTS_SLIPPAGE_BPS = "0"


def _walk(bot, prices, *, start=rb.T0):
    """Tick `bot` once a minute from `start`, with the instrument's last close set to each price."""
    for i, price in enumerate(prices, start=1):
        rb.set_price(bot.instrument, price)
        bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(i, start))


def _queued_ticks():
    return sorted(
        (row.args_kwargs["kwargs"]["bot_id"], row.args_kwargs["kwargs"]["scheduled_at"])
        for row in DBTaskResult.objects.filter(task_path="bots.tasks.bot_tick")
    )


def test_ticks_through_the_database_follow_the_spec_worked_check_order_by_order(user):
    instrument = rb.instrument()
    bot = rb.bot(user, instrument=instrument)
    run = bot_start(bot=bot, now=rb.T0)

    _walk(bot, rb.SPEC_PATH)

    orders = list(Order.objects.filter(bot=bot).order_by("created_at", "id"))
    assert [(o.kind, o.side, o.average_fill_price, o.status) for o in orders] == [
        ("base", "buy", Decimal("100"), OrderStatus.FILLED),
        ("safety_1", "buy", Decimal("99"), OrderStatus.FILLED),
        ("safety_2", "buy", Decimal("97.5"), OrderStatus.FILLED),
        ("safety_3", "buy", Decimal("95.25"), OrderStatus.FILLED),
        ("take_profit", "sell", Decimal("98.08838"), OrderStatus.FILLED),
    ]
    assert orders[-1].quantity.quantize(Decimal("1e-8")) == Decimal("15.52171625")
    deal = Deal.objects.get(bot=bot)
    assert (deal.status, deal.exit_kind, deal.safety_orders_filled) == (
        DealStatus.CLOSED,
        DealExit.TAKE_PROFIT,
        3,
    )
    assert deal.quote_spent == Decimal(1500)
    assert deal.pnl.quantize(Decimal("0.01")) == Decimal("22.50")
    balance = PaperBalance.objects.get(account=bot.account, currency="USD")
    assert balance.free == Decimal(10_000) + deal.pnl
    position = PaperPosition.objects.get(account=bot.account, instrument=instrument)
    assert position.quantity == 0
    run.refresh_from_db()
    assert (run.total_trades, run.total_pnl) == (5, deal.pnl)
    assert rb.book_expected(bot.account, instrument) == {"cash": balance.free, "quantity": 0}
    assert rb.orders_agree_with_deals(bot.account) == []
    ticks = BotTick.objects.filter(bot=bot).order_by("scheduled_at")
    assert [t.orders_placed for t in ticks] == [1, 1, 1, 1, 1]
    assert {t.status for t in ticks} == {TickStatus.DONE}


def test_the_same_tick_run_twice_places_its_orders_once(user):
    bot = rb.bot(user, instrument=rb.instrument())
    bot_start(bot=bot, now=rb.T0)

    first = bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(1))
    again = bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(1))

    assert first.tick is not None
    assert not first.duplicate
    assert again.duplicate
    assert again.tick is None
    assert Order.objects.filter(bot=bot).count() == 1
    assert BotTick.objects.filter(bot=bot).count() == 1
    assert Order.objects.get(bot=bot).client_order_id == client_order_id_for(
        bot_id=bot.pk, scheduled_at=rb.minutes(1), kind="base"
    )


def test_the_scheduler_enqueues_a_due_bot_once_and_moves_it_to_the_next_slot(user):
    bot = rb.bot(user, instrument=rb.instrument())
    bot_start(bot=bot, now=rb.T0)

    first = bot_ticks_enqueue_due(now=rb.T0 + timedelta(seconds=5))
    second = bot_ticks_enqueue_due(now=rb.T0 + timedelta(seconds=6))

    assert first == [(bot.pk, rb.T0)]
    assert second == []
    bot.refresh_from_db()
    assert bot.next_run_at == rb.minutes(1)
    assert _queued_ticks() == [(bot.pk, rb.T0.isoformat())]


def test_missed_slots_are_not_replayed_and_the_next_tick_shows_the_gap(user):
    bot = rb.bot(user, instrument=rb.instrument())
    bot_start(bot=bot, now=rb.T0)
    bot_ticks_enqueue_due(now=rb.T0)
    bot_ticks_enqueue_due(now=rb.minutes(1))
    # Nothing ran for five minutes (scheduler and worker down): one late pass enqueues one tick.
    late = bot_ticks_enqueue_due(now=rb.minutes(6) + timedelta(seconds=30))
    assert late == [(bot.pk, rb.minutes(2))]
    after = bot_ticks_enqueue_due(now=rb.minutes(7))
    assert after == [(bot.pk, rb.minutes(7))]

    for bot_id, scheduled_at in _queued_ticks():
        bot_tick_run(bot_id=bot_id, scheduled_at=scheduled_at_of(scheduled_at))

    ticks = list(BotTick.objects.filter(bot=bot).order_by("scheduled_at"))
    assert [(t.scheduled_at, t.missed) for t in ticks] == [
        (rb.T0, 0),
        (rb.minutes(1), 0),
        (rb.minutes(2), 0),
        (rb.minutes(7), 4),
    ]


def scheduled_at_of(text):
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_a_tick_delivered_after_a_later_one_ran_is_skipped_as_stale(user):
    bot = rb.bot(user, instrument=rb.instrument())
    bot_start(bot=bot, now=rb.T0)
    bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(2))

    stale = bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(1))

    assert stale.tick.status == TickStatus.SKIPPED
    assert "stale" in stale.tick.message
    assert Order.objects.filter(bot=bot).count() == 1


def test_a_tick_of_a_paused_or_stopped_bot_is_recorded_as_skipped(user):
    bot = rb.bot(user, instrument=rb.instrument())

    outcome = bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(1))

    assert outcome.tick.status == TickStatus.SKIPPED
    assert Order.objects.count() == 0


def test_a_tick_without_a_price_is_skipped_with_the_reason(user):
    bot = rb.bot(user, instrument=rb.instrument(price=None))
    bot_start(bot=bot, now=rb.T0)

    outcome = bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(1))

    assert outcome.tick.status == TickStatus.SKIPPED
    assert "No price" in outcome.tick.message


def test_an_unexpected_failure_marks_bot_and_run_error_and_stops_scheduling(user, monkeypatch):
    bot = rb.bot(user, instrument=rb.instrument())
    run = bot_start(bot=bot, now=rb.T0)

    def explode(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("bots.services.runner.equity_sample", explode)
    outcome = bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(1))

    assert outcome.tick.status == TickStatus.FAILED
    assert "disk on fire" in outcome.tick.message
    # The tick rolled back whole: no order, no balance change.
    assert Order.objects.count() == 0
    assert PaperBalance.objects.get(account=bot.account, currency="USD").free == Decimal(10_000)
    bot.refresh_from_db()
    run.refresh_from_db()
    assert (bot.status, bot.next_run_at) == (BotStatus.ERROR, None)
    assert "disk on fire" in bot.error
    assert (run.status, run.error) == (RunStatus.ERROR, bot.error)
    assert bot_ticks_enqueue_due(now=rb.minutes(10)) == []
    # A retry of the failed tick does nothing either.
    monkeypatch.undo()
    assert bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(1)).duplicate


def test_a_database_failure_loses_the_slot_but_keeps_the_bot_running(user, monkeypatch):
    bot = rb.bot(user, instrument=rb.instrument())
    bot_start(bot=bot, now=rb.T0)

    def lost(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("bots.services.runner.equity_sample", lost)
    with pytest.raises(OperationalError):
        bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(1))

    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING
    assert not BotTick.objects.filter(bot=bot).exists()
    assert Order.objects.count() == 0


def test_a_refused_safety_order_is_a_rejected_order_and_changes_nothing(user):
    instrument = rb.instrument()
    bot = rb.bot(user, instrument=instrument)
    bot_start(bot=bot, now=rb.T0)
    # Someone spends the account down after the start: only the base order can be paid.
    rb.account(user, free=Decimal(150))

    _walk(bot, [Decimal(100), Decimal(99)])

    rejected = Order.objects.get(bot=bot, status=OrderStatus.REJECTED)
    assert rejected.kind == "safety_1"
    assert "Insufficient funds" in rejected.reject_reason
    assert PaperBalance.objects.get(account=bot.account, currency="USD").free == Decimal(50)
    assert dca_state_from_json(bot.__class__.objects.get(pk=bot.pk).state).deal.quantity == 1


def test_stop_closes_the_open_deal_at_market_and_the_run_with_its_metrics(user):
    instrument = rb.instrument()
    bot = rb.bot(user, instrument=instrument)
    run = bot_start(bot=bot, now=rb.T0)
    _walk(bot, [Decimal(100), Decimal(99)])
    rb.set_price(instrument, Decimal(101))

    bot_stop(bot=bot, now=rb.minutes(3))

    deal = Deal.objects.get(bot=bot)
    assert (deal.status, deal.exit_kind) == (DealStatus.CLOSED, DealExit.BOT_STOPPED)
    close = Order.objects.get(bot=bot, kind="bot_stopped")
    assert (close.side, close.order_type, close.average_fill_price) == (
        "sell",
        "market",
        Decimal(101),
    )
    run.refresh_from_db()
    assert run.status == RunStatus.STOPPED
    assert run.ended_at == rb.minutes(3)
    assert run.total_trades == 3
    assert run.total_pnl == deal.pnl
    assert run.max_drawdown is not None
    points = list(BotEquityPoint.objects.filter(run=run).order_by("time"))
    assert points[0].equity == run.allocated_capital
    assert points[-1].time == rb.minutes(3)
    assert points[-1].equity == run.allocated_capital + deal.pnl
    assert PaperPosition.objects.get(account=bot.account, instrument=instrument).quantity == 0
    bot.refresh_from_db()
    assert (bot.status, bot.next_run_at) == (BotStatus.STOPPED, None)
    assert dca_state_from_json(bot.state).deal is None


def test_the_state_survives_its_json_round_trip(user):
    bot = rb.bot(user, instrument=rb.instrument())
    bot_start(bot=bot, now=rb.T0)
    _walk(bot, [Decimal(100), Decimal(99)])
    bot.refresh_from_db()

    state = dca_state_from_json(bot.state)

    assert dca_state_to_json(state) == bot.state
    assert state.deal.safety_orders_filled == 1


@pytest.mark.parametrize("fee_rate", ["0", "0.001"])
def test_a_backtest_and_live_ticks_on_the_same_prices_place_the_same_orders(
    user, settings, fee_rate
):
    settings.BOTS_FEE_RATE = fee_rate
    settings.BOTS_SLIPPAGE_BPS = "5"
    prices = [
        Decimal(p)
        for p in [
            "100",
            "99.4",
            "98.9",
            "97.2",
            "96",
            "95.1",
            "97",
            "98.5",
            "99",
            "100.5",
            "101",
            "99",
            "98",
        ]
    ]
    instrument = rb.instrument()
    bot = rb.bot(user, instrument=instrument)
    bot_start(bot=bot, now=rb.T0)
    free = PaperBalance.objects.get(account=bot.account, currency="USD").free

    _walk(bot, prices)

    bars = [(rb.minutes(i), p, p, p, p) for i, p in enumerate(prices, start=1)]
    result = backtest_run(
        config=parse_dca_config(data=bot.config),
        bars=bars,
        initial_balance=free,
        fee_rate=Decimal(fee_rate),
        slippage_bps=Decimal(5),
    )
    live = [
        (o.kind, o.side, o.average_fill_price, o.quantity, o.fee, o.tick.scheduled_at)
        for o in Order.objects.filter(bot=bot).select_related("tick").order_by("created_at", "id")
    ]
    tested = [(o.kind, o.side, o.price, o.quantity, o.fee, o.time) for o in result.orders]
    assert len(tested) >= 6
    assert live == tested
    balance = PaperBalance.objects.get(account=bot.account, currency="USD").free
    position = PaperPosition.objects.get(account=bot.account, instrument=instrument)
    assert balance + position.quantity * prices[-1] == pytest.approx(
        result.metrics.final_equity, abs=Decimal("0.00000001")
    )
