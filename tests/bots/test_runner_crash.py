"""Crash safety of the runner on PostgreSQL (SPEC §5), with real processes and real signals.

`manage.py run_scheduler` and `manage.py db_worker` run as subprocesses against the test
database, with `tests.bots.runner_settings` (a `1m` bot ticks every second, so the test sees
dozens of ticks within its budget; the code paths are production's). Meanwhile this process
moves the instruments' last closes so deals open, add safety orders and close. The tests then
prove from the database alone: every client order id is unique, each (bot, scheduled time)
ran at most once and was enqueued at most once, every balance equals the starting balance plus
the sum of the fills, every position the sum of its fills, and each bot's state matches its
deal rows.

Transactional tests: the subprocesses must see what this process commits, and the reverse.
"""

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, connections
from django_tasks_db.models import DBTaskResult

from bots.models import (
    Bot,
    BotStatus,
    BotTick,
    Deal,
    DealStatus,
    Order,
    PaperBalance,
    PaperPosition,
    TickStatus,
)
from bots.services import bot_start
from bots.services.runner import client_order_id_for, dca_state_from_json
from tests.bots import runner_builders as rb

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BOTS = 4
PRICES = [Decimal(p) for p in ("95", "96.5", "97.5", "98.5", "99", "100", "101", "102", "103")]
CONFIG = {
    "base_order_size": "50",
    "safety_order_size": "50",
    "max_safety_orders": 3,
    "price_deviation_pct": "1",
    "safety_order_step_scale": "1",
    "safety_order_volume_scale": "1",
    "take_profit_pct": "1",
}


def _subprocess_env() -> dict[str, str]:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    url = f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "tests.bots.runner_settings",
        "PYTHONUNBUFFERED": "1",
    }


def _start(*command: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=Path(settings.BASE_DIR),
        env=_subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def scheduler() -> subprocess.Popen:
    return _start("run_scheduler", "--interval", "0.2", "--skip-checks")


def worker() -> subprocess.Popen:
    return _start(
        "db_worker", "--interval", "0.1", "--no-reload", "--no-startup-delay", "--skip-checks"
    )


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the process (and anything it started): no cleanup, no goodbye."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


class PriceMover(threading.Thread):
    """Moves each instrument's last close a few times a second until stopped."""

    def __init__(self, instruments, seed: int) -> None:
        super().__init__(daemon=True)
        self.instruments = instruments
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            while not self.stop.wait(0.25):
                for instrument in self.instruments:
                    rb.set_price(instrument, self.random.choice(PRICES))
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            connections.close_all()


@pytest.fixture
def running_bots(user, settings):
    settings.BOTS_INTERVAL_SECONDS = {"1m": 1}
    bots = []
    for _ in range(BOTS):
        instrument = rb.instrument(price=Decimal(100))
        made = rb.bot(user, instrument=instrument, interval="1m", **CONFIG)
        bot_start(bot=made)
        bots.append(made)
    return bots


def assert_the_books_add_up(bots) -> None:
    account = bots[0].account
    account.refresh_from_db()
    # Orders: unique client ids; each bot order belongs to its tick's slot.
    ids = list(Order.objects.values_list("client_order_id", flat=True))
    assert len(ids) == len(set(ids))
    for order in Order.objects.filter(tick__isnull=False).select_related("tick"):
        assert order.client_order_id == client_order_id_for(
            bot_id=order.bot_id, scheduled_at=order.tick.scheduled_at, kind=order.kind
        )
    # Each (bot, scheduled time) ran at most once, and was enqueued at most once.
    ran = Counter(BotTick.objects.values_list("bot_id", "scheduled_at"))
    assert [key for key, n in ran.items() if n > 1] == []
    enqueued = Counter(
        (row["bot_id"], row["scheduled_at"])
        for row in DBTaskResult.objects.filter(task_path="bots.tasks.bot_tick").values_list(
            "args_kwargs__kwargs", flat=True
        )
    )
    assert [key for key, n in enqueued.items() if n > 1] == []
    assert not BotTick.objects.filter(status=TickStatus.FAILED).exists()
    # Balances and positions equal the sums of the fills.
    balance = PaperBalance.objects.get(account=account, currency="USD")
    assert balance.locked == 0
    assert balance.free == rb.book_expected(account)["cash"]
    for made in bots:
        position = PaperPosition.objects.get(account=account, instrument=made.instrument)
        assert position.quantity == rb.book_expected(account, made.instrument)["quantity"]
    assert rb.orders_agree_with_deals(account) == []
    # Each bot's persisted state is its open deal row.
    for made in Bot.objects.filter(pk__in=[b.pk for b in bots]):
        assert made.status == BotStatus.RUNNING
        state = dca_state_from_json(made.state)
        open_deals = list(Deal.objects.filter(bot=made, status=DealStatus.OPEN))
        if state.deal is None:
            assert open_deals == []
        else:
            [deal] = open_deals
            assert (deal.number, deal.quantity, deal.quote_spent, deal.fees) == (
                state.deal.number,
                state.deal.quantity,
                state.deal.quote_spent,
                state.deal.fees,
            )


def test_killing_scheduler_and_worker_at_random_moments_loses_and_duplicates_nothing(
    running_bots,
):
    chaos = random.Random(4)
    mover = PriceMover([b.instrument for b in running_bots], seed=7)
    mover.start()
    processes = {"scheduler": scheduler(), "worker": worker()}
    kills = 0
    deadline = time.monotonic() + 32
    try:
        while time.monotonic() < deadline:
            # A process needs about two seconds to start: kill some before, most after.
            time.sleep(chaos.uniform(0.5, 5))
            victims = chaos.choice([["scheduler"], ["worker"], ["worker"], ["scheduler", "worker"]])
            for name in victims:
                kill(processes[name])
                kills += 1
                processes[name] = scheduler() if name == "scheduler" else worker()
        # One stop long enough to lose slots however fast the machine restarts a process
        # (a restart within a tick's second loses none): the scheduler is down for 2.5 s.
        kill(processes["scheduler"])
        kills += 1
        time.sleep(2.5)
        processes["scheduler"] = scheduler()
        # A calm end: both run for a while, then die the same way.
        time.sleep(5)
    finally:
        mover.stop.set()
        mover.join()
        for process in processes.values():
            kill(process)

    assert mover.errors == []
    assert kills >= 6
    ticks = BotTick.objects.filter(bot__in=running_bots)
    assert ticks.filter(status=TickStatus.DONE).count() >= 12, "the runner barely ran"
    assert Order.objects.count() >= 6, "the prices never made the bots trade"
    # Restarts lose slots; the tick log counts them instead of replaying them.
    assert ticks.filter(missed__gt=0).exists()
    assert_the_books_add_up(running_bots)


def test_two_schedulers_and_two_workers_at_once_run_each_tick_once(running_bots):
    mover = PriceMover([b.instrument for b in running_bots], seed=11)
    mover.start()
    processes = [scheduler(), scheduler(), worker(), worker()]
    try:
        time.sleep(12)
    finally:
        mover.stop.set()
        mover.join()
        for process in processes:
            kill(process)

    assert mover.errors == []
    done = BotTick.objects.filter(bot__in=running_bots, status=TickStatus.DONE)
    assert done.count() >= BOTS * 8
    assert Order.objects.count() >= 8
    assert_the_books_add_up(running_bots)
