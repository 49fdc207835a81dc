"""Portfolio benchmarks (issue 3): each result is a ratio against a baseline measured in this run.

    DEBUG=true .venv/bin/python bench/portfolio.py            # full sizes (minutes)
    DEBUG=true .venv/bin/python bench/portfolio.py --quick    # small sizes, a smoke run
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trading_lab DEBUG=true \
        .venv/bin/python bench/portfolio.py                   # PostgreSQL, the production target

The script never touches the developer's database: like the test runner it creates a throwaway
one (`<NAME>_bench` on PostgreSQL, a file in a temporary folder on SQLite), migrates it, builds
the data and drops it at the end. Market data is bulk-inserted (it is not what is measured); the
ledgers are written by the real services, and every measured operation goes through our code:
the API endpoints through Django's test client, the services directly. Each side is measured
several times, interleaved with its baseline, after a warm-up; the median is reported.
bench/README.md explains each benchmark; docs/performance.md has the numbers.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_lab.settings")
# The API throttles and caches: a process-local cache and a generous rate keep the database
# cache table and the hourly limit out of the numbers (both cost the same on either side).
os.environ.setdefault("CACHE_URL", "locmemcache://")
os.environ.setdefault("API_THROTTLE_USER", "1000000/hour")


@dataclass(frozen=True)
class Sizes:
    instruments: int
    years: int
    big: int
    small: int
    imported: int
    repeat: int
    write_repeat: int
    import_repeat: int


FULL = Sizes(
    instruments=50,
    years=5,
    big=100_000,
    small=1_000,
    imported=100_000,
    repeat=15,
    write_repeat=7,
    import_repeat=3,
)
QUICK = Sizes(
    instruments=10,
    years=1,
    big=5_000,
    small=500,
    imported=5_000,
    repeat=5,
    write_repeat=3,
    import_repeat=2,
)
EUR_SHARE = 5  # one instrument in five is quoted in EUR (the portfolios are in USD)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument(
        "--only",
        default="abcde",
        help="letters of the benchmarks to run (default: abcde)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="profile the measuring phase with cProfile, save the stats to FILE, print the top",
    )
    return parser.parse_args()


# --- timing ------------------------------------------------------------------------------------


def _median_pair(
    measured: Callable[[], object],
    baseline: Callable[[], object],
    *,
    repeat: int,
    warmup: int = 1,
) -> tuple[float, float]:
    """Median seconds of each side, the two run alternately so drift hits both alike."""
    for _ in range(warmup):
        measured()
        baseline()
    ours, theirs = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        measured()
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        baseline()
        theirs.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(theirs)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"


def _step(message: str, started: float | None = None) -> float:
    now = time.perf_counter()
    suffix = f" ({now - started:.1f} s)" if started is not None else ""
    print(f"  {message}{suffix}", flush=True)
    return now


# --- market data and ledger plans --------------------------------------------------------------


@dataclass
class Market:
    instruments: list  # Instrument rows, in order
    days: list[date]  # weekdays with prices
    closes: dict[tuple[int, date], Decimal]  # (instrument index, day) -> close
    eurusd: dict[date, Decimal]


def _weekdays(start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def market_build(sizes: Sizes, today: date) -> Market:
    """Shared instruments with a random-walk close every weekday, and EUR/USD rates."""
    from portfolio.models import FxRate, Instrument, PriceBar

    rng = random.Random("bench-market")
    days = _weekdays(today - timedelta(days=365 * sizes.years), today)
    instruments = Instrument.objects.bulk_create(
        Instrument(
            symbol=f"BX{index:02d}",
            exchange="BENCH",
            name=f"Benchmark instrument {index} (synthetic)",
            currency="EUR" if index % EUR_SHARE == EUR_SHARE - 1 else "USD",
            is_synthetic=True,
        )
        for index in range(sizes.instruments)
    )
    closes: dict[tuple[int, date], Decimal] = {}
    bars = []
    for index, instrument in enumerate(instruments):
        level = rng.uniform(20, 200)
        for day in days:
            level *= 1 + rng.gauss(0.0002, 0.015)
            level = max(level, 1.0)
            close = Decimal(f"{level:.4f}")
            closes[index, day] = close
            bars.append(
                PriceBar(
                    instrument=instrument,
                    date=day,
                    close=close,
                    volume=Decimal(rng.randrange(1_000, 1_000_000)),
                )
            )
    PriceBar.objects.bulk_create(bars, batch_size=5000)
    eurusd, rate = {}, 1.10
    for day in days:
        rate *= 1 + rng.gauss(0, 0.004)
        eurusd[day] = Decimal(f"{rate:.6f}")
    FxRate.objects.bulk_create(
        (FxRate(base="EUR", quote="USD", date=day, rate=value) for day, value in eurusd.items()),
        batch_size=5000,
    )
    return Market(instruments=instruments, days=days, closes=closes, eurusd=eurusd)


@dataclass(frozen=True)
class PlannedRow:
    type: str
    date: date
    instrument: int | None  # index into Market.instruments
    quantity: Decimal | None
    price: Decimal
    fee: Decimal
    external_id: str


def ledger_plan(market: Market, count: int, *, seed: str, prefix: str) -> list[PlannedRow]:
    """`count` transactions spread evenly over the market's days, every type, never an oversell.

    Cash is not managed: a buy beyond the cash is an implicit deposit (SPEC §4), as it is for a
    trader who records trades but not transfers.
    """
    rng = random.Random(seed)
    held = [0] * len(market.instruments)
    rows: list[PlannedRow] = []
    days = market.days
    for number in range(count):
        day = days[number * len(days) // count]
        roll = rng.random()
        index = rng.randrange(len(market.instruments))
        close = market.closes[index, day]
        fee = Decimal(rng.randrange(0, 500)) / 100
        if number == 0 or roll < 0.02:
            kind, index, quantity, price = (
                "DEPOSIT",
                None,
                None,
                Decimal(rng.randrange(1, 50) * 1000),
            )
            fee = Decimal(0)
        elif roll < 0.03:
            kind, index, quantity, price = (
                "WITHDRAWAL",
                None,
                None,
                Decimal(rng.randrange(1, 20) * 100),
            )
            fee = Decimal(0)
        elif roll < 0.05:
            kind, index, quantity, price = "FEE", None, None, Decimal("4.99")
            fee = Decimal(0)
        elif roll < 0.06:
            kind, index, quantity, price = (
                "INTEREST",
                None,
                None,
                Decimal(rng.randrange(1, 9000)) / 100,
            )
            fee = Decimal(0)
        elif roll < 0.12 and held[index] > 0:
            kind, quantity = "DIVIDEND", Decimal(held[index])
            price, fee = (close * Decimal("0.005")).quantize(Decimal("0.0001")), Decimal(0)
        elif roll < 0.40 and held[index] > 0:
            amount = rng.randint(1, held[index])
            kind, quantity, price = "SELL", Decimal(amount), close
            held[index] -= amount
        else:
            amount = rng.randint(1, 50)
            kind, quantity, price = "BUY", Decimal(amount), close
            held[index] += amount
        rows.append(
            PlannedRow(
                type=kind,
                date=day,
                instrument=index,
                quantity=quantity,
                price=price,
                fee=fee,
                external_id=f"{prefix}{number:06d}",
            )
        )
    return rows


def service_inputs(market: Market, plan: list[PlannedRow]) -> list:
    from portfolio.services import TransactionInput

    return [
        TransactionInput(
            type=row.type,
            date=row.date,
            quantity=row.quantity,
            price=row.price,
            fee=row.fee,
            instrument=None if row.instrument is None else market.instruments[row.instrument],
            external_id=row.external_id,
        )
        for row in plan
    ]


def csv_content(market: Market, plan: list[PlannedRow]) -> bytes:
    """The plan as an import file: our own export's columns (without fx_rate: it is looked up)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "date",
            "type",
            "symbol",
            "exchange",
            "quantity",
            "price",
            "fee",
            "currency",
            "external_id",
        ]
    )
    for row in plan:
        instrument = None if row.instrument is None else market.instruments[row.instrument]
        writer.writerow(
            [
                row.date.isoformat(),
                row.type,
                instrument.symbol if instrument else "",
                instrument.exchange if instrument else "",
                "" if row.quantity is None else str(row.quantity),
                str(row.price),
                str(row.fee),
                instrument.currency if instrument else "USD",
                row.external_id,
            ]
        )
    return out.getvalue().encode()


COPY_COLUMNS = (
    "portfolio_id",
    "type",
    "instrument_id",
    "quantity",
    "price",
    "fee",
    "currency",
    "fx_rate",
    "date",
    "notes",
    "external_id",
    "created_at",
    "updated_at",
)


def raw_rows(market: Market, plan: list[PlannedRow], portfolio_id: int, now) -> list[tuple]:
    """The plan as finished table rows: what the import stores, instrument and FX resolved."""
    rows = []
    for row in plan:
        instrument = None if row.instrument is None else market.instruments[row.instrument]
        currency = instrument.currency if instrument else "USD"
        fx_rate = market.eurusd[row.date] if currency == "EUR" else Decimal(1)
        rows.append(
            (
                portfolio_id,
                row.type,
                instrument.pk if instrument else None,
                row.quantity if row.quantity is not None else Decimal(1),
                row.price,
                row.fee,
                currency,
                fx_rate,
                row.date,
                "",
                row.external_id,
                now,
                now,
            )
        )
    return rows


def copy_text(rows: list[tuple]) -> str:
    """COPY's text format (tab-separated, \\N for NULL)."""

    def cell(value) -> str:
        if value is None:
            return "\\N"
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value)

    return "".join("\t".join(cell(v) for v in row) + "\n" for row in rows)


# --- the benchmarks ----------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    measured: str
    baseline: str
    ratio: str
    target: str
    verdict: str


_CLIENTS: dict[int, object] = {}


def _client(user):
    """A test client of a client program: a personal API token, as the API's callers use."""
    from django.test import Client

    from accounts.services import token_create

    if user.pk not in _CLIENTS:
        _, raw = token_create(user=user, name="benchmark")
        _CLIENTS[user.pk] = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return _CLIENTS[user.pk]


def _get(client, url: str) -> None:
    response = client.get(url, HTTP_ACCEPT="application/json")
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}: {response.content[:300]!r}")


def bench_performance(sizes, big, small, user_big, user_small) -> Result:
    client_big, client_small = _client(user_big), _client(user_small)
    url_big = f"/api/v1/portfolios/{big.pk}/performance"
    url_small = f"/api/v1/portfolios/{small.pk}/performance"
    ours, theirs = _median_pair(
        lambda: _get(client_big, url_big),
        lambda: _get(client_small, url_small),
        repeat=sizes.repeat,
        warmup=2,
    )
    ratio = ours / theirs
    return Result(
        f"a. performance endpoint, {sizes.big:,} vs {sizes.small:,} transactions",
        _ms(ours),
        _ms(theirs),
        f"{ratio:.2f}x",
        "<= 2x",
        "met" if ratio <= 2 else "MISSED",
    )


GROUP_BY_SQL = """
SELECT instrument_id,
       SUM(CASE WHEN type = 'BUY' THEN quantity WHEN type = 'SELL' THEN -quantity ELSE 0 END)
FROM portfolio_transaction
WHERE portfolio_id = %s AND instrument_id IS NOT NULL
GROUP BY instrument_id
"""


def bench_holdings(sizes, big, user_big) -> Result:
    from django.db import connection

    client = _client(user_big)
    url = f"/api/v1/portfolios/{big.pk}/holdings"

    def group_by() -> None:
        with connection.cursor() as cursor:
            cursor.execute(GROUP_BY_SQL, [big.pk])
            cursor.fetchall()

    ours, theirs = _median_pair(lambda: _get(client, url), group_by, repeat=sizes.repeat, warmup=2)
    ratio = ours / theirs
    return Result(
        f"b. holdings endpoint vs SQL GROUP BY, {sizes.big:,} transactions",
        _ms(ours),
        _ms(theirs),
        f"{ratio:.2f}x",
        "<= 1.5x",
        "met" if ratio <= 1.5 else "MISSED",
    )


def bench_backdated(sizes, market, big) -> Result:
    from portfolio.services import TransactionInput, transaction_create

    middle = market.days[len(market.days) // 2]
    last = market.days[-1]
    instrument = market.instruments[0]

    def insert(day: date) -> Callable[[], None]:
        def run() -> None:
            transaction_create(
                portfolio=big,
                data=TransactionInput(
                    type="BUY",
                    date=day,
                    quantity=Decimal(1),
                    price=market.closes[0, day],
                    instrument=instrument,
                ),
            )

        return run

    ours, theirs = _median_pair(insert(middle), insert(last), repeat=sizes.write_repeat)
    ratio = ours / theirs
    return Result(
        f"c. backdated insert ({middle}) vs append ({last}), {sizes.big:,} transactions",
        _ms(ours),
        _ms(theirs),
        f"{ratio:.2f}x",
        "report",
        "-",
    )


def _portfolio_drop(portfolio_id: int) -> None:
    """Remove a benchmark portfolio and its rows with plain SQL (not measured, not audited)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in (
            "portfolio_transaction",
            "portfolio_portfoliosnapshot",
            "portfolio_holding",
            "portfolio_ledgertotals",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE portfolio_id = %s", [portfolio_id])
        cursor.execute("DELETE FROM portfolio_portfolio WHERE id = %s", [portfolio_id])


def _settle() -> None:
    """Start a measured write from the same server state each time (not measured): the dead
    rows of the last run vacuumed away and its WAL checkpointed, so that neither side pays for
    the run before it. Without this the baseline's COPY took from 2.0 to 3.7 s on one machine."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE portfolio_transaction, auditlog_logentry")
        cursor.execute("CHECKPOINT")


def bench_import(sizes, market, user) -> Result:
    from django.db import connection, transaction
    from django.utils import timezone

    from portfolio.services import portfolio_create
    from portfolio.services.imports import transactions_import

    plan = ledger_plan(market, sizes.imported, seed="bench-import", prefix="imp-")
    content = csv_content(market, plan)
    postgres = connection.vendor == "postgresql"
    counter = iter(range(10_000))

    def fresh():
        _settle()
        return portfolio_create(user=user, name=f"Import target {next(counter)}")

    def import_once() -> float:
        portfolio = fresh()
        start = time.perf_counter()
        report = transactions_import(
            user=user,
            portfolio=portfolio,
            content=content,
            filename="bench.csv",
            dry_run=False,
            inline=True,
        )
        elapsed = time.perf_counter() - start
        if report.created != len(plan):
            raise SystemExit(f"import created {report.created} of {len(plan)}: {report.errors[:3]}")
        _portfolio_drop(portfolio.pk)
        return elapsed

    def raw_once() -> float:
        portfolio = fresh()
        rows = raw_rows(market, plan, portfolio.pk, timezone.now())
        text = copy_text(rows) if postgres else None
        start = time.perf_counter()
        # One transaction, like the import: on SQLite a commit per row would dominate.
        with transaction.atomic(), connection.cursor() as cursor:
            if postgres:
                columns = ", ".join(COPY_COLUMNS)
                with cursor.cursor.copy(
                    f"COPY portfolio_transaction ({columns}) FROM STDIN"
                ) as copy:
                    copy.write(text)
            else:
                marks = ", ".join(["%s"] * len(COPY_COLUMNS))
                cursor.executemany(
                    f"INSERT INTO portfolio_transaction ({', '.join(COPY_COLUMNS)}) "
                    f"VALUES ({marks})",
                    rows,
                )
        elapsed = time.perf_counter() - start
        _portfolio_drop(portfolio.pk)
        return elapsed

    raw_once()  # warm-up of the baseline; the import's first run is measured like the others
    ours, theirs = [], []
    for _ in range(sizes.import_repeat):
        ours.append(import_once())
        theirs.append(raw_once())
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    ratio = ours_median / theirs_median
    baseline = "COPY" if postgres else "executemany INSERT (SQLite has no COPY)"
    return Result(
        f"d. import {sizes.imported:,} CSV rows vs raw {baseline}",
        _ms(ours_median),
        _ms(theirs_median),
        f"{ratio:.2f}x",
        "<= 4x" if postgres else "(PG only)",
        ("met" if ratio <= 4 else "MISSED") if postgres else "-",
    )


def bench_queries(big, user_big, market) -> list[Result]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(user_big)
    instrument = market.instruments[0]
    urls = {
        "transactions": f"/api/v1/transactions?portfolio={big.pk}&page_size={{}}",
        "holdings": f"/api/v1/portfolios/{big.pk}/holdings?page_size={{}}",
        "price bars": f"/api/v1/instruments/{instrument.pk}/prices?page_size={{}}",
    }
    results = []
    for name, url in urls.items():
        counts = []
        for size in (10, 100):
            _get(client, url.format(size))  # warm-up: content types, session
            with CaptureQueriesContext(connection) as captured:
                _get(client, url.format(size))
            counts.append(len(captured.captured_queries))
        results.append(
            Result(
                f"e. queries for a page of 10 vs 100 {name}",
                str(counts[0]),
                str(counts[1]),
                "equal" if counts[0] == counts[1] else "differ",
                "equal",
                "met" if counts[0] == counts[1] else "MISSED",
            )
        )
    return results


# --- main --------------------------------------------------------------------------------------


def _brief(result: Result) -> str:
    return f"{result.measured} vs {result.baseline}, {result.ratio}"


def _database() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def _print_table(results: list[Result]) -> None:
    header = Result("benchmark", "measured", "baseline", "ratio", "target", "result")
    rows = [header, *results]
    widths = [max(len(getattr(r, f)) for r in rows) for f in Result.__dataclass_fields__]
    for index, row in enumerate(rows):
        cells = [
            getattr(row, f).ljust(w)
            for f, w in zip(Result.__dataclass_fields__, widths, strict=True)
        ]
        print("| " + " | ".join(cells) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def run(args: argparse.Namespace) -> list[Result]:
    from django.utils import timezone

    from accounts.models import User
    from portfolio.services import portfolio_create, transactions_bulk_create

    sizes = QUICK if args.quick else FULL
    today = timezone.localdate()
    print(f"Building the data ({'quick' if args.quick else 'full'} sizes):", flush=True)
    started = time.perf_counter()
    market = market_build(sizes, today)
    mark = _step(
        f"{len(market.instruments)} instruments x {len(market.days)} weekdays of prices, "
        "EUR/USD rates",
        started,
    )
    user_big = User.objects.create_user(email="big@bench.invalid", password=None)
    user_small = User.objects.create_user(email="small@bench.invalid", password=None)
    big = portfolio_create(user=user_big, name="Big")
    small = portfolio_create(user=user_small, name="Small")
    for portfolio, count, seed in ((big, sizes.big, "big"), (small, sizes.small, "small")):
        if portfolio is small and "a" not in args.only:
            continue
        if portfolio is big and not set("abce") & set(args.only):
            continue
        plan = ledger_plan(market, count, seed=f"bench-{seed}", prefix=f"{seed}-")
        mark = time.perf_counter()
        transactions_bulk_create(portfolio=portfolio, inputs=service_inputs(market, plan))
        mark = _step(
            f"{count:,} transactions into “{portfolio.name}” (transactions_bulk_create)", mark
        )

    results: list[Result] = []
    print("Measuring:", flush=True)
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    if "a" in args.only:
        results.append(bench_performance(sizes, big, small, user_big, user_small))
        mark = _step(f"a. performance: {_brief(results[-1])}", mark)
    if "b" in args.only:
        results.append(bench_holdings(sizes, big, user_big))
        mark = _step(f"b. holdings: {_brief(results[-1])}", mark)
    if "e" in args.only:
        results.extend(bench_queries(big, user_big, market))
        mark = _step(f"e. query counts: {_brief(results[-1])}", mark)
    if "c" in args.only:
        results.append(bench_backdated(sizes, market, big))
        mark = _step(f"c. backdated insert: {_brief(results[-1])}", mark)
    if "d" in args.only:
        results.append(bench_import(sizes, market, user_big))
        mark = _step(f"d. import: {_brief(results[-1])}", mark)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(40)
    print()
    print(
        f"Database: {_database()}; "
        f"Python {platform.python_version()}; {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end; medians of "
        f"{sizes.repeat} (reads), {sizes.write_repeat} (writes), {sizes.import_repeat} (imports)"
    )
    _print_table(results)
    return results


def main() -> int:
    args = _arguments()
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    # Production runs with DEBUG off: no query log in the measured code.
    setup_test_environment(debug=False)
    test_settings = connection.settings_dict.setdefault("TEST", {})
    with tempfile.TemporaryDirectory(prefix="tl-bench-") as folder:
        if connection.vendor == "sqlite":
            test_settings["NAME"] = str(Path(folder) / "bench.sqlite3")
        else:
            test_settings["NAME"] = f"{connection.settings_dict['NAME']}_bench"
        old_name = connection.creation.create_test_db(
            verbosity=0, autoclobber=True, serialize=False
        )
        try:
            results = run(args)
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)
            teardown_test_environment()
    return 1 if any(r.verdict == "MISSED" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
