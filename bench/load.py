"""Load benchmark (issue 7): the app served by gunicorn on PostgreSQL, driven by wrk.

    .venv/bin/python bench/load.py             # 60 s of the mix, 3 rounds of list vs bare
    .venv/bin/python bench/load.py --quick     # a smoke run (about a minute in all)

It builds a throwaway database `trading_lab_bench_load` on the PostgreSQL server that
DATABASE_URL names (default: postgres@127.0.0.1:5432), migrates it, collects the static files,
seeds a few traders through the services (portfolios of a few hundred transactions, price bars,
paper accounts, API tokens, signed-in sessions), raises the API throttles through the system
configuration and the environment, and serves the app with gunicorn (gunicorn.conf.py) in
production mode (DEBUG off, Redis cache when one answers). wrk, a second process, then drives:

- the mix: dashboard and portfolio pages (session cookie), API lists, transaction writes and
  order placement (Bearer tokens), each request from one of many client addresses behind one
  trusted proxy; throughput, p50/p95/p99 latency, and errors (any answer but 200/201, and
  socket errors), which must be none;
- a paginated API list (`GET /api/v1/transactions?portfolio=ID`, a page of 50) against a bare
  Django JSON view on the same server (bench/load_settings.py), alternately: the ratio of their
  throughputs must be at least 0.3;
- the ladder: the same empty answer through one more layer at a time (a database round trip,
  DRF, token authentication, the API's throttles), then the API profile and the list, each
  rung's throughput against the bare view's (no target: it shows what each layer costs).

Exit status 1 when there were errors or the ratio is under its target. bench/README.md explains
it; docs/performance.md ("Load") has the numbers.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "trading_lab_bench_load"
REDIS_URL = "redis://127.0.0.1:6379/5"
RATIO_TARGET = 0.3
OK_STATUSES = frozenset({200, 201})
# Raised through the supported mechanisms: the environment for DRF's global user rate, the
# system configuration (audit/config.py) for the per-category rates. 10,000,000 is their maximum.
THROTTLE_MAX = 10_000_000
THROTTLE_KEYS = [
    f"throttle.{category}.per_{per}_hour"
    for category in ("reads", "writes", "imports", "orders")
    for per in ("user", "address")
]


# The ladder: from the bare view up to the API list, each rung one more layer of what an API
# request goes through (bench/load_urls.py), with the same headers (a Bearer token, a client
# address). None is the API transaction list itself.
LADDER: list[tuple[str, str | None]] = [
    ("bare JSON view", "/bench/bare"),
    ("bare + one query", "/bench/bare-query"),
    ("DRF view", "/bench/drf"),
    ("DRF + token authentication", "/bench/drf-token"),
    ("DRF + the API's authentication and throttles", "/bench/drf-api"),
    ("API profile", "/api/v1/profile"),
    ("API transaction list", None),
]


@dataclass(frozen=True)
class Sizes:
    users: int
    transactions: int  # per portfolio
    instruments: int
    years: int
    duration: int  # seconds of the measured mix
    warmup: int
    ratio_duration: int  # seconds of each list or bare run
    rounds: int
    ladder_duration: int  # seconds of each rung of the ladder, per round
    in_process: int  # requests of each kind measured in process


FULL = Sizes(
    users=4,
    transactions=400,
    instruments=20,
    years=2,
    duration=60,
    warmup=10,
    ratio_duration=20,
    rounds=3,
    ladder_duration=10,
    in_process=500,
)
QUICK = Sizes(
    users=2,
    transactions=150,
    instruments=8,
    years=1,
    duration=10,
    warmup=3,
    ratio_duration=5,
    rounds=1,
    ladder_duration=3,
    in_process=100,
)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short runs, small data: a smoke run")
    parser.add_argument("--duration", type=int, help="seconds of the measured mix")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections (10)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py's)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def _step(message: str) -> None:
    print(f"  {message}", flush=True)


# --- environment and database ------------------------------------------------------------------


def _database_url() -> str:
    """trading_lab_bench_load on DATABASE_URL's PostgreSQL server, or on the local one."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(configured)
        return urlunsplit(parts._replace(path=f"/{DB_NAME}", query=""))
    return f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"


def _recreate_database(url: str, *, drop_only: bool = False) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            connection.execute(f'CREATE DATABASE "{DB_NAME}"')


def _cache_url() -> str:
    """Redis, as production runs, under a key prefix of this run (old throttle counts stay out);
    the database cache when no Redis answers."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return "dbcache://django_cache"
    return f"{REDIS_URL}?key_prefix=bench-load-{secrets.token_hex(4)}"


def _server_environment(database_url: str, cache_url: str, workers: int | None) -> dict:
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.load_settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        CACHE_URL=cache_url,
        # As behind one TLS proxy: wrk sends X-Forwarded-For, the app trusts its last entry.
        TRUSTED_PROXY_COUNT="1",
        SECURE_SSL_REDIRECT="false",
        EMAIL_URL="smtp://127.0.0.1:2525",
        API_THROTTLE_USER=f"{THROTTLE_MAX * 100}/hour",
        API_THROTTLE_ANON=f"{THROTTLE_MAX * 100}/hour",
        PYTHONPATH=str(ROOT),
    )
    for name in ("GUNICORN_BIND", "PORT", "GUNICORN_THREADS"):
        env.pop(name, None)
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    return env


def _manage(env: dict, *args: str) -> None:
    subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True
    )


# --- data --------------------------------------------------------------------------------------


@dataclass
class Trader:
    email: str
    token: str
    session: str
    portfolio_ids: list[int]
    account_id: int
    symbols: list[tuple[str, str]]  # (symbol, exchange) they trade


@dataclass
class Seeded:
    traders: list[Trader] = field(default_factory=list)
    transactions: int = 0


def _weekdays(start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def seed(sizes: Sizes) -> Seeded:
    """Traders with two portfolios each (a few hundred transactions), prices, paper accounts."""
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from accounts.services import token_create
    from audit.services.config import config_update
    from bots.services.paper import paper_account_create
    from portfolio.models import Instrument, PriceBar
    from portfolio.services import portfolio_create, transactions_bulk_create

    config_update(changes=dict.fromkeys(THROTTLE_KEYS, THROTTLE_MAX))

    rng = random.Random("bench-load")
    today = timezone.localdate()
    days = _weekdays(today - timedelta(days=365 * sizes.years), today)
    instruments = Instrument.objects.bulk_create(
        Instrument(
            symbol=f"LD{index:02d}",
            exchange="BENCH",
            name=f"Load instrument {index} (synthetic)",
            currency="USD",
            is_synthetic=True,
        )
        for index in range(sizes.instruments)
    )
    closes: dict[tuple[int, date], Decimal] = {}
    bars = []
    for index, instrument in enumerate(instruments):
        level = rng.uniform(20, 200)
        for day in days:
            level = max(level * (1 + rng.gauss(0.0002, 0.015)), 1.0)
            close = Decimal(f"{level:.4f}")
            closes[index, day] = close
            bars.append(PriceBar(instrument=instrument, date=day, close=close, volume=10_000))
    PriceBar.objects.bulk_create(bars, batch_size=5000)

    seeded = Seeded()
    for number in range(sizes.users):
        email = f"trader{number}@bench.example"
        user = User.objects.create_user(email, secrets.token_urlsafe(16))
        portfolio_ids = []
        for name in ("Long term", "Trading"):
            portfolio = portfolio_create(user=user, name=name, base_currency="USD")
            inputs = _ledger(rng, instruments, closes, days, sizes.transactions)
            transactions_bulk_create(portfolio=portfolio, inputs=inputs)
            portfolio_ids.append(portfolio.pk)
            seeded.transactions += len(inputs)
        account = paper_account_create(
            user=user, name="Paper", quote_currency="USD", starting_balance=Decimal(10_000_000)
        )
        _, token = token_create(user=user, name="load")
        # A signed-in browser's session (the preflight checks that pages answer 200 with it).
        client = Client()
        client.force_login(user)
        session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
        traded = [(i.symbol, i.exchange) for i in rng.sample(instruments, 3)]
        seeded.traders.append(Trader(email, token, session_key, portfolio_ids, account.pk, traded))
    return seeded


def _ledger(rng, instruments, closes, days, count) -> list:
    """`count` transactions over the days: a deposit, then buys, sells of what is held,
    dividends and fees, never an oversell."""
    from portfolio.services import TransactionInput

    held = [0] * len(instruments)
    rows = [TransactionInput(type="DEPOSIT", date=days[0], quantity=None, price=Decimal(100_000))]
    for number in range(1, count):
        day = days[number * len(days) // count]
        index = rng.randrange(len(instruments))
        close = closes[index, day]
        roll = rng.random()
        if roll < 0.05:
            rows.append(TransactionInput(type="FEE", date=day, quantity=None, price=Decimal(5)))
            continue
        if roll < 0.12 and held[index]:
            kind, quantity = "DIVIDEND", Decimal(held[index])
            price = (close * Decimal("0.005")).quantize(Decimal("0.0001"))
        elif roll < 0.40 and held[index]:
            amount = rng.randint(1, held[index])
            kind, quantity, price = "SELL", Decimal(amount), close
            held[index] -= amount
        else:
            amount = rng.randint(1, 40)
            kind, quantity, price = "BUY", Decimal(amount), close
            held[index] += amount
        rows.append(
            TransactionInput(
                type=kind,
                date=day,
                quantity=quantity,
                price=price,
                fee=Decimal(rng.randrange(0, 500)) / 100,
                instrument=instruments[index],
            )
        )
    return rows


# --- requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    kind: str
    method: str
    path: str
    headers: dict[str, str]
    body: str = ""


# The mix, by weight: what a trader's browser and their client programs do in a busy hour.
MIX = {
    "dashboard page": 12,
    "portfolio page": 10,
    "transactions page": 8,
    "API portfolio list": 10,
    "API transaction list": 20,
    "API holdings": 10,
    "API order list": 10,
    "API transaction write": 10,
    "API order placement": 10,
}


def requests_for(trader: Trader, today: date) -> dict[str, list[Request]]:
    """Every request of the mix, for one trader."""
    page = {"Cookie": f"sessionid={trader.session}", "Accept": "text/html"}
    api = {"Authorization": f"Bearer {trader.token}", "Accept": "application/json"}
    write = {**api, "Content-Type": "application/json"}
    portfolios = trader.portfolio_ids
    symbol, exchange = trader.symbols[0]
    return {
        "dashboard page": [Request("dashboard page", "GET", "/", page)],
        "portfolio page": [
            Request("portfolio page", "GET", f"/portfolios/{pk}/", page) for pk in portfolios
        ],
        "transactions page": [
            Request("transactions page", "GET", f"/portfolios/{pk}/transactions/", page)
            for pk in portfolios
        ],
        "API portfolio list": [Request("API portfolio list", "GET", "/api/v1/portfolios", api)],
        "API transaction list": [
            Request("API transaction list", "GET", f"/api/v1/transactions?portfolio={pk}", api)
            for pk in portfolios
        ],
        "API holdings": [
            Request("API holdings", "GET", f"/api/v1/portfolios/{pk}/holdings", api)
            for pk in portfolios
        ],
        "API order list": [
            Request("API order list", "GET", f"/api/v1/orders?account={trader.account_id}", api)
        ],
        "API transaction write": [
            Request(
                "API transaction write",
                "POST",
                "/api/v1/transactions",
                write,
                json.dumps(
                    {
                        "portfolio": pk,
                        "type": "BUY",
                        "symbol": symbol,
                        "exchange": exchange,
                        "quantity": "1",
                        "price": "100.00",
                        "fee": "1.00",
                        "date": today.isoformat(),
                    }
                ),
            )
            for pk in portfolios
        ],
        "API order placement": [
            Request(
                "API order placement",
                "POST",
                "/api/v1/orders",
                write,
                json.dumps(
                    {
                        "account": trader.account_id,
                        "symbol": sym,
                        "exchange": exch,
                        "side": "buy",
                        "type": "market",
                        "quantity": "0.5",
                    }
                ),
            )
            for sym, exch in trader.symbols
        ],
    }


def _lua_string(value: str) -> str:
    return (
        '"'
        + "".join(
            f"\\{ord(ch):03d}" if ch in '"\\' or not 32 <= ord(ch) < 127 else ch for ch in value
        )
        + '"'
    )


def _lua_spec(request: Request, weight: int) -> str:
    headers = ", ".join(
        f"[{_lua_string(name)}] = {_lua_string(value)}" for name, value in request.headers.items()
    )
    body = _lua_string(request.body) if request.body else "nil"
    method, path = _lua_string(request.method), _lua_string(request.path)
    return f"{{{method}, {path}, {{{headers}}}, {body}, {weight}}}"


LUA_RUNTIME = r"""
-- Each request comes from one of many client addresses behind one trusted proxy, as production
-- traffic does; answers other than 200/201 are counted as errors by status.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    statuses = {}
    math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
    -- wrk.format needs the Host header, which wrk sets just before init.
    pool = {}
    for _, spec in ipairs(specs) do
        local formatted = wrk.format(spec[1], spec[2], spec[3], spec[4])
        for _ = 1, spec[5] do
            table.insert(pool, formatted)
        end
    end
end

function request()
    local address = "198.51.100." .. math.random(1, 250)
    local chosen = pool[math.random(#pool)]
    local out = chosen:gsub("\r\n\r\n", "\r\nX-Forwarded-For: " .. address .. "\r\n\r\n", 1)
    return out
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local counts = {}
    for _, thread in ipairs(threads) do
        for status, count in pairs(thread:get("statuses")) do
            counts[status] = (counts[status] or 0) + count
        end
    end
    local parts = {}
    for status, count in pairs(counts) do
        table.insert(parts, string.format('"%d": %d', status, count))
    end
    io.write(string.format(
        'WRK_RESULT {"requests": %d, "duration_us": %d, "p50": %d, "p95": %d, "p99": %d, ' ..
        '"max": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, "statuses": {%s}}\n',
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
        latency:percentile(99), latency.max, summary.errors.connect, summary.errors.read,
        summary.errors.write, summary.errors.timeout, table.concat(parts, ", ")))
end
"""


def lua_script(weighted: list[tuple[Request, int]]) -> str:
    """A wrk script whose requests are drawn by weight from `weighted`."""
    specs = ",\n    ".join(_lua_spec(request, weight) for request, weight in weighted)
    return f"specs = {{\n    {specs}\n}}\n{LUA_RUNTIME}"


def list_headers_script(traders: list[Trader], today: date, kind: str, path: str) -> str:
    """A wrk script of `GET path` with the headers of each of the API list's requests (each
    trader's token), so that it differs from the list in its path only."""
    return lua_script(
        [
            (Request(kind, "GET", path, request.headers), 1)
            for trader in traders
            for request in requests_for(trader, today)["API transaction list"]
        ]
    )


def mix_weighted(traders: list[Trader], today: date) -> list[tuple[Request, int]]:
    """Every trader's requests; a kind's weight is shared among its variants and traders."""
    weighted = []
    for trader in traders:
        for kind, variants in requests_for(trader, today).items():
            for request in variants:
                # Integer weights: scale so the smallest share is still at least one.
                weighted.append((request, MIX[kind] * 6 // len(variants)))
    return weighted


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    statuses: dict[int, int]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    @property
    def errors(self) -> int:
        """Answers other than 200/201, socket errors and timeouts; a run that got no answer
        at all counts as one error (the server stalled)."""
        bad = sum(count for status, count in self.statuses.items() if status not in OK_STATUSES)
        return bad + self.socket_errors + (self.requests == 0)


def wrk(base: str, script: Path, *, seconds: int, connections: int, threads: int) -> WrkResult:
    """Run wrk against `base` with `script` and parse what its done() printed."""
    completed = subprocess.run(  # noqa: S603 (wrk from PATH, our arguments)
        [
            shutil.which("wrk") or "wrk",
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={seconds}s",
            # Shorter than a run: a request the server never answers counts as an error.
            "--timeout=10s",
            f"--script={script}",
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"^WRK_RESULT (\{.*\})$", completed.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(match.group(1))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50"] / 1000,
        p95_ms=data["p95"] / 1000,
        p99_ms=data["p99"] / 1000,
        max_ms=data["max"] / 1000,
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        statuses={int(status): count for status, count in data["statuses"].items()},
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect (to the sign-in page, say) is an answer to report, not to follow."""

    def redirect_request(self, *args, **kwargs) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def preflight(base: str, requests: list[Request]) -> list[str]:
    """Each request once, outside wrk: what does not answer 200/201 is named before the run."""
    problems = []
    for request in requests:
        headers = {**request.headers, "X-Forwarded-For": "198.51.100.1"}
        outgoing = urllib.request.Request(  # noqa: S310 (our own server on 127.0.0.1)
            base + request.path,
            data=request.body.encode() or None,
            method=request.method,
            headers=headers,
        )
        try:
            with _OPENER.open(outgoing, timeout=60) as answer:
                status = answer.status
                text = ""
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read()[:300].decode(errors="replace")
        if status not in OK_STATUSES:
            problems.append(f"{request.kind} {request.method} {request.path}: {status} {text}")
    return problems


# --- the run -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(base: str, server: subprocess.Popen, log: Path) -> None:
    for _ in range(120):
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base + "/bench/bare", timeout=2):  # noqa: S310
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer within a minute")


@dataclass
class Cost:
    kind: str
    app_ms: float  # CPU of this process per request
    database_ms: float | None  # CPU of its PostgreSQL backend per request (local server only)


def in_process_costs(trader: Trader, *, requests: int) -> list[Cost]:
    """CPU per request of the bare view, a small API read and the API list, through Django's
    test client in this process (no network, no other process): what the app itself spends on
    each, and what its PostgreSQL backend spends, read from /proc when the server is local."""
    from django.db import connection
    from django.test import Client

    client = Client(
        HTTP_HOST="127.0.0.1",
        HTTP_AUTHORIZATION=f"Bearer {trader.token}",
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    paths = {
        "bare JSON view": "/bench/bare",
        "API profile": "/api/v1/profile",
        "API transaction list": f"/api/v1/transactions?portfolio={trader.portfolio_ids[0]}",
    }
    client.get(paths["API profile"])
    gc.collect()  # the seeding's garbage is not a request's cost
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = Path(f"/proc/{cursor.fetchone()[0]}/stat")

    def database_cpu() -> float | None:
        try:
            fields = backend.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None  # the server runs elsewhere
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    costs = []
    for kind, path in paths.items():
        for _ in range(requests // 10):
            status = client.get(path).status_code
            if status != 200:
                raise RuntimeError(f"{path} answered {status} in process")
        database_before, before = database_cpu(), time.process_time()
        for _ in range(requests):
            client.get(path)
        app = (time.process_time() - before) / requests * 1000
        database_after = database_cpu()
        database = (
            None
            if database_before is None or database_after is None
            else (database_after - database_before) / requests * 1000
        )
        costs.append(Cost(kind, app, database))
    return costs


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> int:
    args = _arguments()
    sizes = QUICK if args.quick else FULL
    duration = args.duration or sizes.duration
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (make bench does it).", file=sys.stderr)
        return 2

    database_url = _database_url()
    cache_url = _cache_url()
    env = _server_environment(database_url, cache_url, args.workers)
    print(f"Load benchmark: database {DB_NAME}, cache {cache_url.split(':', 1)[0]}", flush=True)
    load_before = _load()
    import psycopg

    try:
        _recreate_database(database_url)
    except psycopg.OperationalError as exc:
        print(f"The load benchmark needs PostgreSQL ({database_url}): {exc}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    server = None
    try:
        _step("migrating and collecting static files")
        _manage(env, "migrate", "--noinput", "-v", "0")
        _manage(env, "createcachetable")
        _manage(env, "collectstatic", "--noinput", "-v", "0")

        _step("seeding traders, prices, ledgers, paper accounts")
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.db import connections
        from django.utils import timezone

        seeded = seed(sizes)
        today = timezone.localdate()
        _step("CPU per request in process: bare, API profile, API list")
        costs = in_process_costs(seeded.traders[0], requests=sizes.in_process)
        with connections["default"].cursor() as cursor:
            cursor.execute("SHOW server_version")
            server_version = cursor.fetchone()[0]
        connections.close_all()

        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        log = work / "gunicorn.log"
        server_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
        with log.open("w") as log_file:
            server = subprocess.Popen(  # noqa: S603 (our gunicorn, our config)
                [
                    str(Path(sys.executable).parent / "gunicorn"),
                    "trading_lab.wsgi",
                    "--config",
                    str(ROOT / "gunicorn.conf.py"),
                ],
                env=server_env,
                cwd=ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        _wait_until_up(base, server, log)
        workers = len(_children(server.pid))
        _step(f"gunicorn up on {base} with {workers} workers")

        weighted = mix_weighted(seeded.traders, today)
        first_list = requests_for(seeded.traders[0], today)["API transaction list"][0]
        rungs = [Request(rung, "GET", path, first_list.headers) for rung, path in LADDER if path]
        problems = preflight(base, [request for request, _ in weighted] + rungs)
        if problems:
            print("Requests that do not answer 200/201:", *problems, sep="\n  ")
            return 1

        mix_script = work / "mix.lua"
        mix_script.write_text(lua_script(weighted))
        list_script = work / "list.lua"
        list_script.write_text(
            lua_script(
                [
                    (request, 1)
                    for trader in seeded.traders
                    for request in requests_for(trader, today)["API transaction list"]
                ]
            )
        )
        bare_script = work / "bare.lua"
        bare_script.write_text(list_headers_script(seeded.traders, today, "bare", "/bench/bare"))

        ladder_scripts = {}
        for number, (rung, path) in enumerate(LADDER):
            if path is None:
                ladder_scripts[rung] = list_script
                continue
            ladder_scripts[rung] = work / f"ladder-{number}.lua"
            ladder_scripts[rung].write_text(list_headers_script(seeded.traders, today, rung, path))

        run = {"connections": args.connections, "threads": args.threads}
        _step(f"warm-up: {sizes.warmup} s of the mix")
        wrk(base, mix_script, seconds=sizes.warmup, **run)
        _step(f"mix: {duration} s, {args.connections} connections")
        mix = wrk(base, mix_script, seconds=duration, **run)
        lists, bares = [], []
        for number in range(sizes.rounds):
            _step(f"list vs bare, round {number + 1} of {sizes.rounds}")
            bares.append(wrk(base, bare_script, seconds=sizes.ratio_duration, **run))
            lists.append(wrk(base, list_script, seconds=sizes.ratio_duration, **run))
        ladder = {rung: [] for rung, _ in LADDER}
        for number in range(sizes.rounds):
            _step(f"the ladder, round {number + 1} of {sizes.rounds}")
            # Every other round top down, so that a drift in the machine's speed during a
            # round does not always favour the same rungs.
            rungs = list(ladder) if number % 2 == 0 else list(reversed(ladder))
            for rung in rungs:
                script = ladder_scripts[rung]
                ladder[rung].append(wrk(base, script, seconds=sizes.ladder_duration, **run))
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        _print_server_errors(work / "gunicorn.log")
        if not args.keep:
            _recreate_database(database_url, drop_only=True)
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"Kept: database {DB_NAME}, server log and wrk scripts in {work}")

    list_rps = statistics.median(r.throughput for r in lists)
    bare_rps = statistics.median(r.throughput for r in bares)
    ratio = list_rps / bare_rps if bare_rps else 0.0
    errors = mix.errors + sum(r.errors for r in lists + bares)
    errors += sum(r.errors for results in ladder.values() for r in results)
    _report(
        sizes=sizes,
        seeded=seeded,
        server_version=server_version,
        workers=workers,
        args=args,
        mix=mix,
        lists=lists,
        bares=bares,
        ratio=ratio,
        load_before=load_before,
        costs=costs,
        ladder=ladder,
    )
    missed = []
    if errors:
        missed.append(f"{errors} errors")
    if ratio < RATIO_TARGET:
        missed.append(f"list/bare ratio {ratio:.2f} < {RATIO_TARGET}")
    if missed:
        print("MISSED: " + "; ".join(missed))
        return 1
    print("All targets met.")
    return 0


def _print_server_errors(log: Path, limit: int = 40) -> None:
    """The app's error lines (JSON lines of level ERROR, with tracebacks), if it wrote any."""
    if not log.exists():
        return
    # The app's JSON lines of level ERROR, and gunicorn's own ("WORKER TIMEOUT", crashes).
    lines = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if '"level": "ERROR"' in line or "[CRITICAL]" in line or "[ERROR]" in line
    ]
    if lines:
        print(f"The server logged {len(lines)} errors; the first ones:")
        for line in lines[:limit]:
            print("  " + line[:2000])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _report(
    *,
    sizes,
    seeded,
    server_version,
    workers,
    args,
    mix,
    lists,
    bares,
    ratio,
    load_before,
    costs,
    ladder,
) -> None:
    print()
    print(
        f"PostgreSQL {server_version}; Python {platform.python_version()}; {os.cpu_count()} CPUs; "
        f"gunicorn {workers} sync workers; wrk {args.threads} threads, "
        f"{args.connections} connections; load average {load_before} before, {_load()} after"
    )
    print(
        f"Data: {len(seeded.traders)} traders, {seeded.transactions} transactions in "
        f"{2 * len(seeded.traders)} portfolios, {sizes.instruments} instruments x "
        f"{sizes.years} years of daily bars"
    )
    print()
    print("| run | requests | throughput | p50 | p95 | p99 | max | errors |")
    print("|---|---|---|---|---|---|---|---|")
    rows = [("mix", mix)]
    rows += [(f"bare JSON view, round {n + 1}", r) for n, r in enumerate(bares)]
    rows += [(f"API transaction list, round {n + 1}", r) for n, r in enumerate(lists)]
    for name, result in rows:
        print(
            f"| {name} | {result.requests} | {result.throughput:.1f}/s | "
            f"{result.p50_ms:.1f} ms | {result.p95_ms:.1f} ms | {result.p99_ms:.1f} ms | "
            f"{result.max_ms:.0f} ms | {result.errors} |"
        )
    print()
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(mix.statuses.items()))
    print(f"Mix answers by status: {statuses}; socket errors: {mix.socket_errors}")
    print(
        f"API transaction list / bare JSON view throughput (medians): {ratio:.2f} "
        f"(target >= {RATIO_TARGET})"
    )
    print()
    print(
        f"The ladder ({sizes.rounds} x {sizes.ladder_duration} s of each rung; throughput the "
        "median of the rounds, latency of the median round):"
    )
    print()
    print("| rung | path | throughput | / bare | p50 | p99 | errors |")
    print("|---|---|---|---|---|---|---|")
    paths = dict(LADDER)
    medians = {
        rung: statistics.median(r.throughput for r in results) for rung, results in ladder.items()
    }
    bottom = medians[LADDER[0][0]]
    for rung, results in ladder.items():
        middle = sorted(results, key=lambda r: r.throughput)[len(results) // 2]
        path = paths[rung] or "/api/v1/transactions?portfolio=ID"
        print(
            f"| {rung} | `{path}` | {medians[rung]:.1f}/s | "
            f"{medians[rung] / bottom if bottom else 0:.2f} | {middle.p50_ms:.1f} ms | "
            f"{middle.p99_ms:.1f} ms | {sum(r.errors for r in results)} |"
        )
    print()
    print(f"CPU per request in process ({sizes.in_process} requests each, Django's test client):")
    print()
    print("| request | app | its PostgreSQL backend | total | total / bare |")
    print("|---|---|---|---|---|")
    bare = costs[0].app_ms + (costs[0].database_ms or 0)
    for cost in costs:
        database = cost.database_ms or 0
        shown = "n/a" if cost.database_ms is None else f"{database:.2f} ms"
        total = cost.app_ms + database
        print(
            f"| {cost.kind} | {cost.app_ms:.2f} ms | {shown} | {total:.2f} ms | "
            f"{total / bare:.1f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
