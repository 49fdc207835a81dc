"""The demo bot: seeded running and idempotently, and the intraday quotes make it trade a whole
deal within minutes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import ScheduledJob
from audit.services.scheduler import scheduled_task_resolve
from bots.demo import DEMO_BOT_NAME, QUOTES_JOB, demo_bot_seed, demo_quotes_refresh
from bots.models import Bot, BotStatus, Deal, DealStatus
from bots.services import bot_tick_run
from portfolio.models import Instrument, PriceBar

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(db):
    instrument = Instrument.objects.create(
        symbol="ACME", exchange="DEMO", currency="USD", is_synthetic=True, name="Acme (synthetic)"
    )
    PriceBar.objects.create(
        instrument=instrument,
        date=timezone.localdate() - timedelta(days=1),
        close=Decimal(100),
    )
    return instrument


def test_the_demo_bot_is_seeded_running_once_with_its_quote_job(user, acme):
    first = demo_bot_seed(user=user, today=timezone.localdate())
    again = demo_bot_seed(user=user, today=timezone.localdate())

    assert any(DEMO_BOT_NAME in change for change in first)
    assert again == []
    bot = Bot.objects.get(user=user)
    assert (bot.name, bot.status, bot.interval) == (DEMO_BOT_NAME, BotStatus.RUNNING, "1m")
    job = ScheduledJob.objects.get(name=QUOTES_JOB)
    assert job.interval_seconds == 60
    assert scheduled_task_resolve(path=job.task, kwargs=job.kwargs)
    # The seed writes nothing time-dependent: the job moves the price from its first run.
    assert not PriceBar.objects.filter(instrument=acme, date=timezone.localdate()).exists()


def test_intraday_quotes_make_the_demo_bot_close_a_deal_within_minutes(user, acme):
    demo_bot_seed(user=user, today=timezone.localdate())
    bot = Bot.objects.get(user=user)
    start = bot.next_run_at
    prices = set()

    for minute in range(1, 31):
        moment = start + timedelta(minutes=minute)
        assert demo_quotes_refresh(now=moment) == 1
        prices.add(PriceBar.objects.get(instrument=acme, date=timezone.localdate(moment)).close)
        bot_tick_run(bot_id=bot.pk, scheduled_at=moment)

    assert len(prices) > 20
    assert Deal.objects.filter(bot=bot, status=DealStatus.CLOSED).exists()
    bar = PriceBar.objects.get(instrument=acme, date=timezone.localdate())
    assert bar.low <= bar.close <= bar.high


def test_quotes_leave_instruments_without_running_bots_alone(acme):
    assert demo_quotes_refresh() == 0
    assert not PriceBar.objects.filter(instrument=acme, date=timezone.localdate()).exists()
