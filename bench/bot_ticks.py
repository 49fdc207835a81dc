"""Bot tick benchmark (issue 4): ticks per second with full persistence, against the same
statements issued as raw SQL.

    .venv/bin/python bench/bot_ticks.py            # 100 bots x 60 rounds
    .venv/bin/python bench/bot_ticks.py --quick    # 20 bots x 15 rounds, a smoke run
    DATABASE_URL=postgres://... .venv/bin/python bench/bot_ticks.py
    .venv/bin/python bench/bot_ticks.py --quick --profile /tmp/ticks.prof   # cProfile, full side

Both sides run the same ticks of the same bots over the same prices (an oscillating close, so
deals open, average down and close), each tick in one transaction, and both call the same engine
(`dca_on_tick`, `paper_fill_apply`): what differs is how the database is reached. The "full"
side is `bots.services.runner.bot_tick_run` as the worker runs it (ORM, model history through
django-auditlog, the equity sample). The "raw" side issues the statements that tick writes and
reads as hand-written SQL through one cursor: lock the bot, the duplicate and staleness checks,
the previous tick, the price, the locked balance and position, the tick, order and deal rows, the
book, the state, the run totals, the equity sample, and one history row per audited row it
changes. Each side gets its own copy of the bots (same ids pattern, same prices). Target: the full
side at least 0.5x the raw side's ticks per second. Prints a table; exits 1 when missed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_lab.settings")
os.environ.setdefault("CACHE_URL", "locmemcache://")

TARGET = 0.5
START = datetime(2025, 1, 6, tzinfo=UTC)
CONFIG = {
    "base_order_size": "100",
    "safety_order_size": "100",
    "max_safety_orders": 4,
    "price_deviation_pct": "0.5",
    "safety_order_step_scale": "1.2",
    "safety_order_volume_scale": "1.5",
    "take_profit_pct": "0.6",
}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="20 bots x 15 rounds")
    parser.add_argument("--bots", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="profile the full side's ticks with cProfile, save the stats to FILE, print the top",
    )
    return parser.parse_args()


def price_at(round_: int, phase: int) -> Decimal:
    """An oscillating close (±2%) so every bot opens, averages down and closes deals."""
    move = 0.02 * math.sin(2 * math.pi * (round_ + phase) / 12)
    return Decimal(repr(round(100 * (1 + move), 4)))


def build(prefix: str, count: int):
    """A user with a large paper account and `count` started bots, each on its own instrument."""
    from django.utils import timezone

    from bots.models import PaperBalance
    from bots.services import bot_create, bot_start, paper_account_default
    from portfolio.models import Instrument, PriceBar
    from tests.factories import UserFactory

    user = UserFactory(email=f"{prefix}@bench.local")
    account = paper_account_default(user=user)
    PaperBalance.objects.filter(account=account).update(free=Decimal(10) ** 9)
    bots = []
    for i in range(count):
        instrument = Instrument.objects.create(symbol=f"{prefix.upper()}{i}", currency="USD")
        PriceBar.objects.create(
            instrument=instrument, date=timezone.localdate(), close=price_at(0, i)
        )
        bot = bot_create(
            user=user,
            name=f"{prefix} {i}",
            account=account,
            instrument=instrument,
            interval="1m",
            config=CONFIG,
        )
        bot_start(bot=bot, now=START)
        bots.append(bot)
    return bots


def set_prices(bots, round_: int) -> None:
    from django.utils import timezone

    from portfolio.models import PriceBar

    for i, bot in enumerate(bots):
        PriceBar.objects.filter(instrument_id=bot.instrument_id, date=timezone.localdate()).update(
            close=price_at(round_, i)
        )


def full_tick(bot_id: int, at: datetime) -> None:
    from bots.services.runner import bot_tick_run

    bot_tick_run(bot_id=bot_id, scheduled_at=at)


def profiled(tick, profiler: cProfile.Profile | None):
    """`tick` run under `profiler` when there is one (the raw side is never profiled)."""
    if profiler is None:
        return tick

    def run(bot_id: int, at: datetime) -> None:
        profiler.runcall(tick, bot_id, at)

    return run


def timed(bots, rounds: range, tick) -> float:
    """Seconds spent ticking every bot once per round (price updates are not counted)."""
    elapsed = 0.0
    for round_ in rounds:
        set_prices(bots, round_)
        at = START + timedelta(minutes=round_)
        began = time.perf_counter()
        for bot in bots:
            tick(bot.pk, at)
        elapsed += time.perf_counter() - began
    return elapsed


class RawTicker:
    """The tick's statements as hand-written SQL (same engine, same rows, same history rows)."""

    def __init__(self) -> None:
        from django.contrib.contenttypes.models import ContentType

        from bots.models import Bot, BotRun, Deal, Order, PaperBalance, PaperPosition

        self.types = {
            model: ContentType.objects.get_for_model(model).pk
            for model in (Bot, BotRun, Deal, Order, PaperBalance, PaperPosition)
        }
        self.models = {
            "bot": Bot,
            "run": BotRun,
            "deal": Deal,
            "order": Order,
            "balance": PaperBalance,
            "position": PaperPosition,
        }

    def _history(self, cursor, kind: str, pk: int, action: int, changes: dict, now) -> None:
        cursor.execute(
            "INSERT INTO auditlog_logentry (content_type_id, object_pk, object_id, object_repr,"
            " action, changes, timestamp, changes_text) VALUES (%s, %s, %s, %s, %s, %s, %s, '')",
            [
                self.types[self.models[kind]],
                str(pk),
                pk,
                f"{kind} {pk}",
                action,
                json.dumps(changes),
                now,
            ],
        )

    def tick(self, bot_id: int, at: datetime) -> None:
        from django.db import connection, transaction

        from bots.engine import dca_equity, dca_on_tick, paper_fill_apply, parse_dca_config
        from bots.engine.paper import Balance, PaperBook, Position
        from bots.services.runner import (
            bot_costs,
            client_order_id_for,
            dca_state_from_json,
            dca_state_to_json,
        )

        now = datetime.now(UTC)
        with transaction.atomic(), connection.cursor() as c:
            lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
            c.execute(
                "SELECT id, user_id, account_id, instrument_id, status, config, state "
                f"FROM bots_bot WHERE id = %s{lock}",
                [bot_id],
            )
            _, user_id, account_id, instrument_id, _status, config, state = c.fetchone()
            config = json.loads(config) if isinstance(config, str) else config
            state = json.loads(state) if isinstance(state, str) else state
            c.execute(
                "SELECT 1 FROM bots_bottick WHERE bot_id = %s AND scheduled_at = %s", [bot_id, at]
            )
            if c.fetchone():
                return
            c.execute(
                "SELECT id, allocated_capital, total_trades, total_pnl, started_at FROM "
                "bots_botrun WHERE bot_id = %s AND ended_at IS NULL",
                [bot_id],
            )
            run_id, allocated, trades, run_pnl, started_at = c.fetchone()
            c.execute(
                "SELECT 1 FROM bots_bottick WHERE bot_id = %s AND scheduled_at > %s", [bot_id, at]
            )
            c.fetchone()
            c.execute(
                "SELECT scheduled_at FROM bots_bottick WHERE run_id = %s AND scheduled_at < %s "
                "ORDER BY scheduled_at DESC LIMIT 1",
                [run_id, at],
            )
            c.fetchone()
            c.execute(
                "SELECT close FROM portfolio_pricebar WHERE instrument_id = %s "
                "ORDER BY date DESC LIMIT 1",
                [instrument_id],
            )
            price = Decimal(str(c.fetchone()[0]))
            c.execute("SELECT currency FROM portfolio_instrument WHERE id = %s", [instrument_id])
            currency = c.fetchone()[0]
            c.execute(
                "SELECT id, free, locked FROM bots_paperbalance WHERE account_id = %s AND "
                f"currency = %s{lock}",
                [account_id, currency],
            )
            balance_id, free, locked = c.fetchone()
            c.execute(
                "SELECT id, quantity, locked, cost_basis, realized_pnl FROM bots_paperposition "
                f"WHERE account_id = %s AND instrument_id = %s{lock}",
                [account_id, instrument_id],
            )
            row = c.fetchone()
            if row is None:
                c.execute(
                    "INSERT INTO bots_paperposition (account_id, instrument_id, quantity, locked,"
                    " cost_basis, realized_pnl, created_at, updated_at) VALUES"
                    " (%s, %s, 0, 0, 0, 0, %s, %s)",
                    [account_id, instrument_id, now, now],
                )
                c.execute(
                    "SELECT id, quantity, locked, cost_basis, realized_pnl FROM "
                    "bots_paperposition WHERE account_id = %s AND instrument_id = %s",
                    [account_id, instrument_id],
                )
                row = c.fetchone()
            position_id, *held = (row[0], *(Decimal(str(v)) for v in row[1:]))
            book = PaperBook(
                balance=Balance(free=Decimal(str(free)), locked=Decimal(str(locked))),
                position=Position(
                    quantity=held[0], locked=held[1], cost_basis=held[2], realized_pnl=held[3]
                ),
            )
            before = dca_state_from_json(state)
            # The trading settings, read once per tick as the service reads them.
            costs = bot_costs()
            step = dca_on_tick(
                config=parse_dca_config(data=config),
                state=before,
                time=at,
                price=price,
                costs=costs,
                quote_available=book.balance.free,
            )
            c.execute(
                "INSERT INTO bots_bottick (bot_id, run_id, scheduled_at, executed_at, status,"
                " price, orders_placed, missed, message, created_at, updated_at) VALUES"
                " (%s, %s, %s, %s, 'done', %s, 0, 0, '', %s, %s)",
                [bot_id, run_id, at, now, price, now, now],
            )
            c.execute(
                "SELECT id FROM bots_bottick WHERE bot_id = %s AND scheduled_at = %s", [bot_id, at]
            )
            tick_id = c.fetchone()[0]
            deal_id = None
            if step.orders:
                number = (step.closed_deal or step.state.deal).number
                c.execute(
                    "SELECT id FROM bots_deal WHERE bot_id = %s AND number = %s", [bot_id, number]
                )
                found = c.fetchone()
                if found is None:
                    deal = step.state.deal
                    c.execute(
                        "INSERT INTO bots_deal (bot_id, run_id, number, status, opened_at,"
                        " exit_kind, base_price, quantity, quote_spent, fees,"
                        " safety_orders_filled, created_at, updated_at) VALUES (%s, %s, %s,"
                        " 'open', %s, '', %s, %s, %s, %s, %s, %s, %s)",
                        [
                            bot_id,
                            run_id,
                            number,
                            deal.opened_at,
                            deal.base_price,
                            deal.quantity,
                            deal.quote_spent,
                            deal.fees,
                            deal.safety_orders_filled,
                            now,
                            now,
                        ],
                    )
                    c.execute(
                        "SELECT id FROM bots_deal WHERE bot_id = %s AND number = %s",
                        [bot_id, number],
                    )
                    deal_id = c.fetchone()[0]
                    self._history(c, "deal", deal_id, 0, {"number": [None, number]}, now)
                else:
                    deal_id = found[0]
            for order in step.orders:
                result = paper_fill_apply(
                    book=book,
                    side=order.side,
                    quantity=order.quantity,
                    price=order.price,
                    notional=order.notional,
                    fee=order.fee,
                )
                book = result.book
                client_id = client_order_id_for(bot_id=bot_id, scheduled_at=at, kind=order.kind)
                limit = order.price if order.order_type == "limit" else None
                c.execute(
                    "INSERT INTO bots_order (user_id, account_id, bot_id, run_id, deal_id,"
                    " tick_id, client_order_id, instrument_id, side, order_type, kind, quantity,"
                    " limit_price, status, filled_quantity, average_fill_price, fee, fee_rate,"
                    " locked, reject_reason, filled_at, created_at, updated_at) VALUES (%s, %s,"
                    " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'filled', %s, %s, %s, %s, 0,"
                    " '', %s, %s, %s)",
                    [
                        user_id,
                        account_id,
                        bot_id,
                        run_id,
                        deal_id,
                        tick_id,
                        client_id,
                        instrument_id,
                        order.side,
                        order.order_type,
                        order.kind,
                        order.quantity,
                        limit,
                        order.quantity,
                        order.price,
                        order.fee,
                        costs.fee_rate,
                        now,
                        now,
                        now,
                    ],
                )
                c.execute("SELECT id FROM bots_order WHERE client_order_id = %s", [client_id])
                order_id = c.fetchone()[0]
                self._history(c, "order", order_id, 0, {"kind": [None, order.kind]}, now)
            if step.orders:
                c.execute(
                    "UPDATE bots_paperbalance SET free = %s, locked = %s, updated_at = %s "
                    "WHERE id = %s",
                    [book.balance.free, book.balance.locked, now, balance_id],
                )
                self._history(c, "balance", balance_id, 1, {"free": [str(free), "x"]}, now)
                position = book.position
                c.execute(
                    "UPDATE bots_paperposition SET quantity = %s, locked = %s, cost_basis = %s,"
                    " realized_pnl = %s, updated_at = %s WHERE id = %s",
                    [
                        position.quantity,
                        position.locked,
                        position.cost_basis,
                        position.realized_pnl,
                        now,
                        position_id,
                    ],
                )
                self._history(c, "position", position_id, 1, {"quantity": ["", "x"]}, now)
                closed = step.closed_deal
                if closed is not None:
                    c.execute(
                        "UPDATE bots_deal SET status = 'closed', closed_at = %s, exit_kind = %s,"
                        " quantity = %s, quote_spent = %s, fees = %s, proceeds = %s, pnl = %s,"
                        " safety_orders_filled = %s, updated_at = %s WHERE id = %s",
                        [
                            closed.closed_at,
                            closed.exit_kind,
                            closed.quantity,
                            closed.quote_spent,
                            closed.fees,
                            closed.proceeds,
                            closed.pnl,
                            closed.safety_orders_filled,
                            now,
                            deal_id,
                        ],
                    )
                else:
                    deal = step.state.deal
                    c.execute(
                        "UPDATE bots_deal SET quantity = %s, quote_spent = %s, fees = %s,"
                        " safety_orders_filled = %s, updated_at = %s WHERE id = %s",
                        [
                            deal.quantity,
                            deal.quote_spent,
                            deal.fees,
                            deal.safety_orders_filled,
                            now,
                            deal_id,
                        ],
                    )
                self._history(c, "deal", deal_id, 1, {"quantity": ["", "x"]}, now)
            if step.state != before:
                c.execute(
                    "UPDATE bots_bot SET state = %s, updated_at = %s WHERE id = %s",
                    [json.dumps(dca_state_to_json(step.state)), now, bot_id],
                )
                self._history(c, "bot", bot_id, 1, {"state": ["", "x"]}, now)
            c.execute("UPDATE bots_bot SET last_tick_at = %s WHERE id = %s", [at, bot_id])
            if step.orders:
                pnl = Decimal(str(run_pnl)) + (step.closed_deal.pnl if step.closed_deal else 0)
                c.execute(
                    "UPDATE bots_botrun SET total_trades = %s, total_pnl = %s, updated_at = %s "
                    "WHERE id = %s",
                    [trades + len(step.orders), pnl, now, run_id],
                )
                self._history(c, "run", run_id, 1, {"total_trades": ["", "x"]}, now)
            c.execute(
                "SELECT SUM(pnl) FROM bots_deal WHERE run_id = %s AND status = 'closed'", [run_id]
            )
            realized = Decimal(str(c.fetchone()[0] or 0))
            equity = dca_equity(
                allocated_capital=Decimal(str(allocated)),
                realized_pnl=realized,
                state=step.state,
                price=price,
            )
            day = datetime.combine(at.date(), datetime.min.time(), tzinfo=UTC)
            c.execute(
                "SELECT id FROM bots_botequitypoint WHERE run_id = %s AND time >= %s AND "
                "time > %s ORDER BY time DESC LIMIT 1",
                [run_id, day, started_at],
            )
            point = c.fetchone()
            if point is None:
                c.execute(
                    "INSERT INTO bots_botequitypoint (run_id, time, equity, created_at,"
                    " updated_at) VALUES (%s, %s, %s, %s, %s)",
                    [run_id, at, equity, now, now],
                )
            else:
                c.execute(
                    "UPDATE bots_botequitypoint SET time = %s, equity = %s, updated_at = %s "
                    "WHERE id = %s",
                    [at, equity, now, point[0]],
                )
            if step.orders or step.rejections:
                c.execute(
                    "UPDATE bots_bottick SET orders_placed = %s, message = %s WHERE id = %s",
                    [len(step.orders), "", tick_id],
                )


def orders_of(bots) -> list[tuple]:
    from bots.models import Order

    rows = Order.objects.filter(bot__in=bots).order_by("bot__name", "created_at", "id")
    return [(o.bot.name.split()[-1], o.kind, o.average_fill_price, o.quantity) for o in rows]


def run(args: argparse.Namespace) -> int:
    from django.db import connection

    count = args.bots or (20 if args.quick else 100)
    rounds = args.rounds or (15 if args.quick else 60)
    full_bots = build("full", count)
    raw_bots = build("raw", count)
    # Each side goes first for half of the rounds, so neither gets the warmer caches.
    first, second = range(1, rounds // 2 + 1), range(rounds // 2 + 1, rounds + 1)
    ticker = RawTicker()
    profiler = cProfile.Profile() if args.profile else None
    full_side = profiled(full_tick, profiler)
    full = timed(full_bots, first, full_side)
    raw = timed(raw_bots, first, ticker.tick)
    raw += timed(raw_bots, second, ticker.tick)
    full += timed(full_bots, second, full_side)
    ticks = count * rounds
    full_rate = ticks / full
    raw_rate = ticks / raw
    ratio = full_rate / raw_rate
    same = orders_of(full_bots) == orders_of(raw_bots)
    orders = len(orders_of(full_bots))
    verdict = "met" if ratio >= TARGET and same else "MISSED"
    if profiler is not None:
        profiler.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(40)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"database: {connection.vendor}; {count} bots x {rounds} rounds = {ticks} ticks")
    print(f"load average at the end: {load}")
    print(f"orders placed per side: {orders}; same orders on both sides: {same}")
    print(f"{'side':<28}{'ticks/s':>10}")
    print(f"{'full persistence (service)':<28}{full_rate:>10.1f}")
    print(f"{'raw SQL':<28}{raw_rate:>10.1f}")
    print(f"ratio full/raw: {ratio:.2f} (target >= {TARGET}): {verdict}")
    return 0 if verdict == "met" else 1


def main() -> int:
    args = _arguments()
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment(debug=False)
    test_settings = connection.settings_dict.setdefault("TEST", {})
    with tempfile.TemporaryDirectory(prefix="tl-bench-ticks-") as folder:
        if connection.vendor == "sqlite":
            test_settings["NAME"] = str(Path(folder) / "bench.sqlite3")
        else:
            test_settings["NAME"] = f"{connection.settings_dict['NAME']}_bench_ticks"
        old_name = connection.creation.create_test_db(
            verbosity=0, autoclobber=True, serialize=False
        )
        try:
            return run(args)
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)
            teardown_test_environment()


if __name__ == "__main__":
    sys.exit(main())
