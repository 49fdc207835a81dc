"""Bot ticks through the real task queue and `db_worker`: a tick enqueued twice (a duplicate
delivery, a retry) runs once. Transactional: the worker commits like in production."""

from decimal import Decimal

import pytest
from django_tasks_db.models import DBTaskResult

from audit.services.scheduler import scheduler_pass
from bots.models import BotTick, Order, PaperBalance, TickStatus
from bots.services import bot_start
from bots.tasks import bot_tick
from tests.audit.test_worker import run_worker
from tests.bots import runner_builders as rb

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_scheduler_pass_enqueues_the_tick_and_the_worker_runs_a_duplicate_once(user):
    bot = rb.bot(user, instrument=rb.instrument(price=Decimal(100)))
    run = bot_start(bot=bot)

    scheduler_pass(instance="test:1")
    [queued] = DBTaskResult.objects.filter(task_path="bots.tasks.bot_tick")
    bot_tick.enqueue(**queued.args_kwargs["kwargs"])
    run_worker()

    [tick] = BotTick.objects.filter(bot=bot)
    assert (tick.status, tick.scheduled_at, tick.run) == (TickStatus.DONE, run.started_at, run)
    assert Order.objects.filter(bot=bot).count() == 1
    results = DBTaskResult.objects.filter(task_path="bots.tasks.bot_tick")
    assert sorted(r.return_value for r in results) == ["done", "duplicate"]
    balance = PaperBalance.objects.get(account=bot.account, currency="USD")
    assert balance.free == rb.book_expected(bot.account)["cash"]
