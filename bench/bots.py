"""DCA backtest benchmark (issue 4): our engine against backtrader on the same one-minute bars.

    .venv/bin/python bench/bots.py             # a year of one-minute bars (525,600): minutes
    .venv/bin/python bench/bots.py --quick     # 50,000 bars, a smoke run
    .venv/bin/python bench/bots.py --bars N --seed S

Both sides run the SPEC §4 DCA strategy (base order at a bar's open, safety orders as resting
limit buys, the take profit as a resting limit sell, a new deal at the next bar's open) over the
same synthetic random-walk bars, with the same 0.1% fee and no slippage. The orders must be the
same (count; time, kind, side and price of each, prices within 1e-9 relative as backtrader
computes in floats) or the script fails; it then prints each side's median time and the ratio
(target: ours at least 10x faster). No database is involved: the engine is plain Python, and
what the backtest job adds (loading bars, storing results) is not what backtrader does either.
backtrader is a development-only dependency (requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import backtrader as bt  # noqa: E402

from bots.engine import BarColumns, backtest_run, parse_dca_config  # noqa: E402

YEAR_OF_MINUTES = 365 * 24 * 60
TARGET = 10.0
START = datetime(2024, 1, 1, tzinfo=UTC)
INITIAL_BALANCE = Decimal(10_000)
FEE_RATE = Decimal("0.001")
CONFIG = {
    "base_order_size": "100",
    "safety_order_size": "200",
    "max_safety_orders": 5,
    "price_deviation_pct": "1",
    "safety_order_step_scale": "1.5",
    "safety_order_volume_scale": "1.5",
    "take_profit_pct": "1",
    "stop_loss_pct": None,
    "cooldown_seconds": 0,
}
PRICE_PLACES = 10  # trading_lab.decimals.PRICE: levels are rounded to it on both sides
# backtrader computes levels in floats, we in Decimals: a price may differ in its last digits.
PRICE_TOLERANCE = 1e-9  # relative


def synthetic_bars(count: int, seed: int) -> list[tuple[datetime, str, str, str, str]]:
    """A random walk of one-minute bars (0.05% per minute), prices at 4 decimal places."""
    rng = random.Random(seed)
    price = 100.0
    bars = []
    for minute in range(count):
        open_ = price
        close = open_ * math.exp(rng.gauss(0, 0.0005))
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.0002)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.0002)))
        o, h, lo, c = (f"{v:.4f}" for v in (open_, high, low, close))
        # Rounding must not break low <= open, close <= high.
        h = max(h, o, c, key=float)
        lo = min(lo, o, c, key=float)
        bars.append((START + timedelta(minutes=minute), o, h, lo, c))
        price = float(c)
    return bars


# --- our engine -------------------------------------------------------------------------------


def ours(bars: list[tuple[datetime, str, str, str, str]]) -> tuple[float, list[tuple]]:
    columns = BarColumns(
        times=[bar[0] for bar in bars],
        opens=[Decimal(bar[1]) for bar in bars],
        highs=[Decimal(bar[2]) for bar in bars],
        lows=[Decimal(bar[3]) for bar in bars],
        closes=[Decimal(bar[4]) for bar in bars],
    )
    config = parse_dca_config(data=CONFIG)
    started = time.perf_counter()
    result = backtest_run(
        config=config,
        bars=columns,
        initial_balance=INITIAL_BALANCE,
        fee_rate=FEE_RATE,
        slippage_bps=Decimal(0),
    )
    elapsed = time.perf_counter() - started
    orders = [(order.time, order.kind, order.side, float(order.price)) for order in result.orders]
    return elapsed, orders


# --- backtrader ------------------------------------------------------------------------------


class ListFeed(bt.feed.DataBase):
    """Bars from Python lists (no pandas): time, open, high, low, close as floats."""

    params = (("rows", None), ("timeframe", bt.TimeFrame.Minutes), ("compression", 1))

    def start(self) -> None:
        super().start()
        self._index = 0

    def _load(self) -> bool:
        rows = self.p.rows
        if self._index >= len(rows):
            return False
        moment, open_, high, low, close = rows[self._index]
        self._index += 1
        self.lines.datetime[0] = bt.date2num(moment)
        self.lines.open[0] = open_
        self.lines.high[0] = high
        self.lines.low[0] = low
        self.lines.close[0] = close
        self.lines.volume[0] = 0.0
        self.lines.openinterest[0] = 0.0
        return True


class DcaStrategy(bt.Strategy):
    """The same DCA rules with backtrader's orders: a market base order at the bar's open (cheat
    on open), the safety ladder as limit buys, the take profit as a limit sell re-placed after
    each safety fill, and the rest of the ladder cancelled when the deal closes."""

    params = (("config", None), ("fills", None))

    def __init__(self) -> None:
        config = self.p.config
        self.base = float(config["base_order_size"])
        self.size = float(config["safety_order_size"])
        self.count = int(config["max_safety_orders"])
        self.deviation = float(config["price_deviation_pct"]) / 100
        self.step = float(config["safety_order_step_scale"])
        self.volume = float(config["safety_order_volume_scale"])
        self.take = float(config["take_profit_pct"]) / 100
        self.in_deal = False
        self.ladder: list[Any] = []
        self.take_profit = None
        self.quantity = 0.0
        self.spent = 0.0

    def _trigger(self, base_price: float, n: int) -> float:
        if self.step == 1:
            factor = 1 - self.deviation * n
        else:
            factor = 1 - self.deviation * (self.step**n - 1) / (self.step - 1)
        return round(base_price * factor, PRICE_PLACES)

    def prenext_open(self) -> None:
        # The first bar comes before backtrader considers the strategy started; our engine
        # opens its first deal at that bar's open, so this side does too.
        self.next_open()

    def next_open(self) -> None:
        if self.in_deal:
            return
        self.in_deal = True
        price = self.data.open[0]
        self.buy(exectype=bt.Order.Market, size=self.base / price).addinfo(kind="base")
        self.ladder = []
        for n in range(1, self.count + 1):
            trigger = self._trigger(price, n)
            size = self.size * self.volume ** (n - 1)
            order = self.buy(exectype=bt.Order.Limit, price=trigger, size=size / trigger)
            order.addinfo(kind=f"safety_{n}")
            self.ladder.append(order)
        self.quantity = self.base / price
        self.spent = self.base
        self.take_profit = self._sell_take_profit(price)

    def _sell_take_profit(self, average: float) -> Any:
        price = round(average * (1 + self.take), PRICE_PLACES)
        order = self.sell(exectype=bt.Order.Limit, price=price, size=self.quantity)
        order.addinfo(kind="take_profit")
        return order

    def notify_order(self, order: Any) -> None:
        if order.status != order.Completed:
            return
        kind = order.info.kind
        moment = bt.num2date(order.executed.dt).replace(tzinfo=UTC)
        side = "buy" if order.isbuy() else "sell"
        self.p.fills.append((moment, kind, side, order.executed.price))
        if kind.startswith("safety_"):
            self.quantity += order.executed.size
            self.spent += order.executed.size * order.executed.price
            self.cancel(self.take_profit)
            self.take_profit = self._sell_take_profit(self.spent / self.quantity)
        elif kind == "take_profit":
            for pending in self.ladder:
                if pending.alive():
                    self.cancel(pending)
            self.in_deal = False


def theirs(bars: list[tuple[datetime, str, str, str, str]]) -> tuple[float, list[tuple]]:
    rows = [
        (moment.replace(tzinfo=None), float(o), float(h), float(lo), float(c))
        for moment, o, h, lo, c in bars
    ]
    fills: list[tuple] = []
    cerebro = bt.Cerebro(cheat_on_open=True, stdstats=False)
    cerebro.broker.set_coo(True)
    cerebro.broker.set_checksubmit(False)
    cerebro.broker.setcash(float(INITIAL_BALANCE))
    cerebro.broker.setcommission(commission=float(FEE_RATE))
    cerebro.adddata(ListFeed(rows=rows))
    cerebro.addstrategy(DcaStrategy, config=CONFIG, fills=fills)
    started = time.perf_counter()
    cerebro.run()
    return time.perf_counter() - started, fills


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="50,000 bars: a smoke run")
    parser.add_argument("--bars", type=int, help="how many one-minute bars (default a year)")
    parser.add_argument("--seed", type=int, default=4, help="the random walk's seed")
    parser.add_argument("--repeat", type=int, default=3, help="runs of our engine (median)")
    return parser.parse_args()


def _matches(a: tuple, b: tuple) -> bool:
    return a[:3] == b[:3] and math.isclose(a[3], b[3], rel_tol=PRICE_TOLERANCE)


def _compare(left: list[tuple], right: list[tuple]) -> tuple[bool, str]:
    """Whether both sides placed the same orders, and a line saying how close or where not."""
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if not _matches(a, b):
            return False, f"first difference, order {index}: ours {a}, backtrader {b}"
    if len(left) != len(right):
        return False, f"ours has {len(left)} orders, backtrader {len(right)}"
    worst = max((abs(a[3] - b[3]) / a[3] for a, b in zip(left, right, strict=True)), default=0.0)
    return True, f"largest relative price difference {worst:.1e} (float against Decimal)"


def main() -> int:
    args = _arguments()
    count = args.bars or (50_000 if args.quick else YEAR_OF_MINUTES)
    print(f"Building {count:,} one-minute bars (seed {args.seed})...", flush=True)
    bars = synthetic_bars(count, args.seed)

    times = []
    for _ in range(args.repeat):
        elapsed, our_orders = ours(bars)
        times.append(elapsed)
    our_time = statistics.median(times)
    print(f"  ours: {our_time:.3f} s (median of {args.repeat}), {len(our_orders):,} orders")
    their_time, their_orders = theirs(bars)
    print(f"  backtrader {bt.__version__}: {their_time:.3f} s, {len(their_orders):,} orders")

    same, detail = _compare(our_orders, their_orders)
    deals = sum(1 for order in our_orders if order[1] == "take_profit")
    print(
        f"Orders: {'the same' if same else 'DIFFERENT'} ({len(our_orders):,} orders, "
        f"{deals:,} deals closed; compared by time, kind, side and price within "
        f"{PRICE_TOLERANCE:.0e} relative): {detail}"
    )
    ratio = their_time / our_time
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(
        f"Python {platform.python_version()}; {os.cpu_count()} CPUs. Ours is {ratio:.1f}x faster "
        f"than backtrader (target >= {TARGET:.0f}x): {verdict}."
    )
    return 0 if same and ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
