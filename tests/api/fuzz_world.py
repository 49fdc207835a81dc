"""The signed-in user the API fuzzer (tests/api/test_fuzz.py) acts as, and the rows they own.

One row or more of everything the API serves, made through the services (and the builders the
other tests use), so a path id or body id the fuzzer aims at a real row runs the deep code, not
only the 404. `World.aim` points a generated case at those rows part of the time.
"""

import itertools
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.insights import insights_dismiss
from accounts.models import Broker, User
from accounts.services import token_create
from audit.models import ActivityAction
from audit.services import activity_record
from audit.services.jobs import job_create
from bots.services import bot_create, bot_start
from portfolio.models import Instrument, Notification, NotificationKind, PriceBar, TransactionType
from portfolio.services import (
    TransactionInput,
    WatchlistEntry,
    dividend_create,
    portfolio_create,
    price_alert_create,
    price_alerts_check,
    transaction_create,
    watchlist_item_add,
)
from tests.bots import backtest_owned
from tests.bots import owned as bots_owned
from tests.factories import BrokerCredentialFactory, InstrumentFactory, UserFactory

# Path parameter name → the World attribute holding real values, per path prefix.
ID_POOLS: dict[str, str] = {
    "/api/v1/alerts/": "alerts",
    "/api/v1/backtests/": "backtests",
    "/api/v1/bots/": "bots",
    "/api/v1/broker-credentials/": "credentials",
    "/api/v1/dividends/": "dividends",
    "/api/v1/instruments/": "instruments",
    "/api/v1/jobs/": "jobs",
    "/api/v1/notifications/": "notifications",
    "/api/v1/orders/": "orders",
    "/api/v1/paper-accounts/": "accounts",
    "/api/v1/portfolios/": "portfolios",
    "/api/v1/signal-validations/": "validations",
    "/api/v1/tokens/": "tokens",
    "/api/v1/transactions/": "transactions",
}
# Body fields that name one of the caller's rows, and the pool each draws from.
BODY_POOLS: dict[str, str] = {"portfolio": "portfolios", "account": "accounts"}


@dataclass(frozen=True)
class Seed:
    """The `seed.mark(what)` the bots builders take: text that says whose row it is."""

    text: str

    def mark(self, what: str) -> str:
        return f"{self.text}-{what}"


_serial = itertools.count(1)


@dataclass
class World:
    user: User
    token: str  # the raw Bearer token every request sends
    seed: Seed
    pools: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def aim(self, case) -> None:
        """Point most generated path ids and body ids at this user's rows.

        The choice is a function of the generated value, so Hypothesis shrinks and replays it.
        One generated value in four stays as it is and usually answers 404 or 400.
        """
        pool = self._pool_for(case.operation.path)
        for name, value in (case.path_parameters or {}).items():
            values = self.pools.get(pool if name == "id" else name, [])
            case.path_parameters[name] = _pick(values, value)
        if isinstance(case.body, dict):
            for name, pool_name in BODY_POOLS.items():
                if name in case.body:
                    case.body[name] = _pick(self.pools[pool_name], case.body[name])
            if "symbol" in case.body and case.operation.path != "/api/v1/watchlist":
                case.body["symbol"] = _pick(self.pools["symbols"], case.body["symbol"])

    def _pool_for(self, path: str) -> str:
        return next((pool for prefix, pool in ID_POOLS.items() if path.startswith(prefix)), "")


def _pick(values: list[Any], generated: Any) -> Any:
    if not values:
        return generated
    # A digest, not the value: generated numbers are often round (100, 5000), all alike mod 4.
    digest = zlib.crc32(repr(generated).encode())
    if digest % 4 == 0:
        return generated
    return values[digest % len(values)]


def _recent_day():
    # Recent, so the snapshots each ledger write rebuilds stay few.
    return timezone.localdate() - timedelta(days=6)


def _priced_instrument(*, owner: User | None, symbol: str) -> Instrument:
    instrument = InstrumentFactory(symbol=symbol, owner=owner)
    for offset in range(10):
        PriceBar.objects.create(
            instrument=instrument,
            date=_recent_day() - timedelta(days=offset),
            open=Decimal(100),
            high=Decimal(102),
            low=Decimal(98),
            close=Decimal(100 + offset % 3),
        )
    return instrument


def world_build(*, is_staff: bool = False) -> World:
    """A user owning one or more rows of everything the API serves, and their token."""
    user = UserFactory(is_staff=is_staff, is_superuser=is_staff)
    seed = Seed(text=f"fuzz-{next(_serial)}")
    _, raw = token_create(user=user, name="fuzzer")
    spare, _ = token_create(user=user, name="spare")

    shared = _priced_instrument(owner=None, symbol=f"FZ{next(_serial)}")
    private = _priced_instrument(owner=user, symbol=f"FZP{next(_serial)}")

    portfolio = portfolio_create(user=user, name=seed.mark("portfolio"), description="fuzz")
    deposit = transaction_create(
        portfolio=portfolio,
        data=TransactionInput(
            type=TransactionType.DEPOSIT,
            date=_recent_day() - timedelta(days=5),
            quantity=Decimal(1),
            price=Decimal(5000),
        ),
    )
    buy = transaction_create(
        portfolio=portfolio,
        data=TransactionInput(
            type=TransactionType.BUY,
            date=_recent_day() - timedelta(days=4),
            quantity=Decimal(3),
            price=Decimal("10.25"),
            fee=Decimal(1),
            instrument=shared,
        ),
    )
    dividend = dividend_create(
        portfolio=portfolio,
        instrument=shared,
        ex_date=_recent_day() - timedelta(days=2),
        amount_per_share=Decimal("0.5"),
    )

    watch = watchlist_item_add(user=user, entry=WatchlistEntry(symbol=shared.symbol))
    alert = price_alert_create(
        user=user, instrument=private, condition="above", target=Decimal(50), notes="fuzz"
    )
    fired = price_alert_create(
        user=user, instrument=shared, condition="below", target=Decimal(150), notes="fuzz"
    )
    price_alerts_check(instrument_ids=[shared.pk])
    notification = Notification.objects.create(
        user=user, kind=NotificationKind.ALERT_TRIGGERED, title=seed.mark("notification")
    )

    account = bots_owned.paper_account(user, seed)
    open_order = bots_owned.open_order(user, seed)
    filled = bots_owned.order(user, seed)
    bot = bot_create(
        user=user,
        name=seed.mark("bot"),
        account=account,
        instrument=private,
        interval="1h",
        config=bots_owned.DCA_CONFIG,
    )
    running = bot_create(
        user=user,
        name=seed.mark("running-bot"),
        account=bots_owned.paper_account(user, seed),
        instrument=private,
        interval="1h",
        config=bots_owned.DCA_CONFIG,
    )
    bot_start(bot=running)
    with_deal = bots_owned.deal(user, seed).bot

    backtest = backtest_owned.backtest(user, seed)
    validation = backtest_owned.signal_validation(user, seed)
    job = job_create(user=user, job_type="import")
    insights_dismiss(user=user, insight_ids=["fuzz-insight"])
    activity_record(user=user, action=ActivityAction.SIGN_IN, description="fuzz")
    paper = BrokerCredentialFactory(
        user=user, broker=Broker.PAPER, label="paper", api_key=None, api_secret=None
    )
    keyed = BrokerCredentialFactory(user=user, broker=Broker.KRAKEN, label="kraken")

    pools = {
        "alerts": [alert.pk, fired.pk],
        "backtests": [backtest.pk],
        "bots": [bot.pk, running.pk, with_deal.pk],
        "credentials": [paper.pk, keyed.pk],
        "dividends": [dividend.pk],
        "instruments": [shared.pk, private.pk],
        "jobs": [job.pk, backtest.job_id],
        "notifications": [notification.pk],
        "orders": [open_order.pk, filled.pk],
        "accounts": [account.pk, open_order.account_id],
        "portfolios": [portfolio.pk],
        "validations": [validation.pk],
        "tokens": [spare.pk],
        "transactions": [buy.pk, deposit.pk],
        "insight_id": ["fuzz-insight"],
        "symbol": [watch.symbol],
        "symbols": [shared.symbol, private.symbol],
    }
    return World(user=user, token=raw, seed=seed, pools=pools)
