"""Paper trading, DCA bots, their runs, deals and orders, backtests, signal validations (SPEC §3).

Balances and positions are the paper engine's book (`bots.engine.paper`) made durable: every fill
updates order, balance and position in one database transaction. A bot tick is keyed by
(bot, scheduled time), unique, so a tick exists at most once whatever is retried.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import validate_currency
from trading_lab.decimals import MONEY, PERCENT, PRICE, QUANTITY, RATE
from trading_lab.models import OwnedModel

ZERO = Decimal(0)


class BotType(models.TextChoices):
    DCA = "dca", "DCA"


class BotInterval(models.TextChoices):
    """How often a bot ticks; `seconds` gives the length."""

    M1 = "1m", "1 minute"
    M5 = "5m", "5 minutes"
    M15 = "15m", "15 minutes"
    H1 = "1h", "1 hour"
    H4 = "4h", "4 hours"
    D1 = "1d", "1 day"


INTERVAL_SECONDS: dict[str, int] = {
    BotInterval.M1: 60,
    BotInterval.M5: 5 * 60,
    BotInterval.M15: 15 * 60,
    BotInterval.H1: 60 * 60,
    BotInterval.H4: 4 * 60 * 60,
    BotInterval.D1: 24 * 60 * 60,
}


class BotStatus(models.TextChoices):
    STOPPED = "stopped", "Stopped"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    ERROR = "error", "Error"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"
    ERROR = "error", "Error"


class DealStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class DealExit(models.TextChoices):
    TAKE_PROFIT = "take_profit", "Take profit"
    STOP_LOSS = "stop_loss", "Stop loss"
    BOT_STOPPED = "bot_stopped", "Closed when the bot stopped"


class OrderSide(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class OrderType(models.TextChoices):
    MARKET = "market", "Market"
    LIMIT = "limit", "Limit"


class OrderStatus(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"


OPEN_ORDER_STATUSES = (OrderStatus.NEW, OrderStatus.OPEN)


class TickStatus(models.TextChoices):
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class BacktestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class PaperAccount(OwnedModel):
    """A simulated trading account: balances per currency, positions per instrument."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="paper_accounts"
    )
    name = models.CharField(max_length=100)
    quote_currency = models.CharField(max_length=3, validators=[validate_currency])
    starting_balance = models.DecimalField(**MONEY)
    is_default = models.BooleanField(
        default=False, help_text="The account a user's bots and orders use unless told otherwise."
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="bots_paperaccount_name_unique"),
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_default=True), name="bots_paperaccount_one_default"
            ),
            models.CheckConstraint(
                condition=Q(starting_balance__gt=0), name="bots_paperaccount_starting_balance_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.quote_currency})"


class PaperBalance(OwnedModel):
    """One currency of a paper account: `free` to spend, `locked` behind open orders."""

    owner_path = "account__user"

    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="balances")
    currency = models.CharField(max_length=3, validators=[validate_currency])
    free = models.DecimalField(**MONEY, default=ZERO)
    locked = models.DecimalField(**MONEY, default=ZERO)

    class Meta:
        ordering = ["account", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "currency"], name="bots_paperbalance_currency_unique"
            ),
            models.CheckConstraint(condition=Q(free__gte=0), name="bots_paperbalance_free_gte_0"),
            models.CheckConstraint(
                condition=Q(locked__gte=0), name="bots_paperbalance_locked_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.free} {self.currency} free, {self.locked} locked"

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class PaperPosition(OwnedModel):
    """One instrument of a paper account at average cost; `locked` is behind open sell orders."""

    owner_path = "account__user"

    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="positions")
    instrument = models.ForeignKey(
        "portfolio.Instrument", on_delete=models.PROTECT, related_name="paper_positions"
    )
    quantity = models.DecimalField(**QUANTITY, default=ZERO)
    locked = models.DecimalField(**QUANTITY, default=ZERO)
    cost_basis = models.DecimalField(**MONEY, default=ZERO)
    realized_pnl = models.DecimalField(**MONEY, default=ZERO)

    class Meta:
        ordering = ["account", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "instrument"], name="bots_paperposition_instrument_unique"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="bots_paperposition_quantity_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(locked__gte=0) & Q(locked__lte=F("quantity")),
                name="bots_paperposition_locked_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(cost_basis__gte=0), name="bots_paperposition_cost_basis_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.quantity} {self.instrument}"

    @property
    def average_price(self) -> Decimal:
        """Cost basis per unit (0 when flat)."""
        if not self.quantity:
            return ZERO
        return (self.cost_basis / self.quantity).quantize(Decimal(10) ** -PRICE["decimal_places"])


class Bot(OwnedModel):
    """A strategy trading one instrument on a paper account, ticking at its interval."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bots"
    )
    name = models.CharField(max_length=100)
    bot_type = models.CharField(max_length=16, choices=BotType.choices, default=BotType.DCA)
    account = models.ForeignKey(PaperAccount, on_delete=models.PROTECT, related_name="bots")
    instrument = models.ForeignKey(
        "portfolio.Instrument", on_delete=models.PROTECT, related_name="bots"
    )
    interval = models.CharField(max_length=4, choices=BotInterval.choices, default=BotInterval.H1)
    config = models.JSONField(default=dict, help_text="Validated per bot type (SPEC §6).")
    status = models.CharField(max_length=16, choices=BotStatus.choices, default=BotStatus.STOPPED)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_tick_at = models.DateTimeField(null=True, blank=True)
    required_capital = models.DecimalField(**MONEY, default=ZERO)
    max_position_size = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="At most this much quote currency in one deal."
    )
    risk_per_trade = models.DecimalField(
        **PERCENT, null=True, blank=True, help_text="Percent of the account risked per deal."
    )
    state = models.JSONField(
        default=dict, blank=True, help_text="The strategy's state between ticks (engine format)."
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["status", "next_run_at"], name="bots_bot_due")]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="bots_bot_name_unique"),
            models.CheckConstraint(
                condition=Q(bot_type__in=BotType.values), name="bots_bot_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(interval__in=BotInterval.values), name="bots_bot_interval_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=BotStatus.values), name="bots_bot_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(required_capital__gte=0), name="bots_bot_required_capital_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(max_position_size__isnull=True) | Q(max_position_size__gt=0),
                name="bots_bot_max_position_size_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(risk_per_trade__isnull=True)
                | (Q(risk_per_trade__gt=0) & Q(risk_per_trade__lte=100)),
                name="bots_bot_risk_per_trade_range",
            ),
            models.CheckConstraint(
                condition=~Q(status=BotStatus.RUNNING) | Q(next_run_at__isnull=False),
                name="bots_bot_running_has_next_run",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BotRun(OwnedModel):
    """One start-to-stop span of a bot, with its metrics once it ends."""

    owner_path = "bot__user"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    allocated_capital = models.DecimalField(**MONEY, default=ZERO)
    total_trades = models.PositiveIntegerField(default=0)
    total_pnl = models.DecimalField(**MONEY, default=ZERO)
    max_drawdown = models.DecimalField(**RATE, null=True, blank=True)
    sharpe_ratio = models.DecimalField(**RATE, null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # At most one open run per bot.
            models.UniqueConstraint(
                fields=["bot"], condition=Q(ended_at__isnull=True), name="bots_botrun_one_open"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="bots_botrun_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="bots_botrun_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bot} run from {self.started_at:%Y-%m-%d %H:%M}"


class BotEquityPoint(OwnedModel):
    """A run's equity (allocated capital + realized + unrealized P&L), daily and at stop."""

    owner_path = "run__bot__user"

    run = models.ForeignKey(BotRun, on_delete=models.CASCADE, related_name="equity_points")
    time = models.DateTimeField()
    equity = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["run", "time"]
        constraints = [
            models.UniqueConstraint(fields=["run", "time"], name="bots_botequitypoint_time_unique")
        ]

    def __str__(self) -> str:
        return f"{self.run}: {self.equity} at {self.time:%Y-%m-%d %H:%M}"


class BotTick(OwnedModel):
    """One scheduled tick of a bot: unique per (bot, scheduled time), so it runs at most once.

    `missed` counts the ticks skipped since the previous one (a restart or a stopped worker):
    they are not replayed, and the tick log shows the gap.
    """

    owner_path = "bot__user"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="ticks")
    run = models.ForeignKey(
        BotRun, on_delete=models.CASCADE, null=True, blank=True, related_name="ticks"
    )
    scheduled_at = models.DateTimeField()
    executed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=TickStatus.choices, default=TickStatus.DONE)
    price = models.DecimalField(**PRICE, null=True, blank=True)
    orders_placed = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "scheduled_at"], name="bots_bottick_bot_scheduled_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=TickStatus.values), name="bots_bottick_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bot} tick {self.scheduled_at:%Y-%m-%d %H:%M}"


class Deal(OwnedModel):
    """One DCA cycle: a base order, safety orders, and an exit."""

    owner_path = "bot__user"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="deals")
    run = models.ForeignKey(
        BotRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="deals"
    )
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=DealStatus.choices, default=DealStatus.OPEN)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    exit_kind = models.CharField(max_length=16, choices=DealExit.choices, blank=True)
    base_price = models.DecimalField(**PRICE)
    quantity = models.DecimalField(**QUANTITY, default=ZERO)
    quote_spent = models.DecimalField(**MONEY, default=ZERO)
    fees = models.DecimalField(**MONEY, default=ZERO)
    safety_orders_filled = models.PositiveIntegerField(default=0)
    proceeds = models.DecimalField(**MONEY, null=True, blank=True)
    pnl = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "number"], name="bots_deal_number_unique"),
            models.UniqueConstraint(
                fields=["bot"], condition=Q(status="open"), name="bots_deal_one_open"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DealStatus.values), name="bots_deal_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="open") | (Q(closed_at__isnull=False) & ~Q(exit_kind="")),
                name="bots_deal_closed_has_exit",
            ),
            models.CheckConstraint(condition=Q(base_price__gt=0), name="bots_deal_base_price_gt_0"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="bots_deal_quantity_gte_0"),
            models.CheckConstraint(condition=Q(fees__gte=0), name="bots_deal_fees_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.bot} deal #{self.number}"


class Order(OwnedModel):
    """A paper order, manual (no bot) or placed by a bot tick; `client_order_id` is unique."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="paper_orders"
    )
    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="orders")
    bot = models.ForeignKey(
        Bot, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    run = models.ForeignKey(
        BotRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    deal = models.ForeignKey(
        Deal, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    tick = models.ForeignKey(
        BotTick, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    client_order_id = models.CharField(max_length=64, unique=True)
    instrument = models.ForeignKey(
        "portfolio.Instrument", on_delete=models.PROTECT, related_name="paper_orders"
    )
    side = models.CharField(max_length=4, choices=OrderSide.choices)
    order_type = models.CharField(max_length=8, choices=OrderType.choices)
    kind = models.CharField(
        max_length=16,
        blank=True,
        help_text="For bot orders: base, safety_N, take_profit, stop_loss.",
    )
    quantity = models.DecimalField(**QUANTITY)
    limit_price = models.DecimalField(**PRICE, null=True, blank=True)
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.NEW)
    filled_quantity = models.DecimalField(**QUANTITY, default=ZERO)
    average_fill_price = models.DecimalField(**PRICE, null=True, blank=True)
    fee = models.DecimalField(**MONEY, default=ZERO)
    fee_rate = models.DecimalField(**RATE, default=ZERO)
    locked = models.DecimalField(
        **QUANTITY,
        default=ZERO,
        help_text="What an open limit order locks: quote for buys, base for sells.",
    )
    reject_reason = models.TextField(blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "status"], name="bots_order_account_status"),
            models.Index(fields=["instrument", "status"], name="bots_order_instrument_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(side__in=OrderSide.values), name="bots_order_side_valid"
            ),
            models.CheckConstraint(
                condition=Q(order_type__in=OrderType.values), name="bots_order_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="bots_order_status_valid"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="bots_order_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(filled_quantity__gte=0) & Q(filled_quantity__lte=F("quantity")),
                name="bots_order_filled_within_quantity",
            ),
            models.CheckConstraint(
                condition=(Q(order_type="limit") & Q(limit_price__gt=0))
                | (Q(order_type="market") & Q(limit_price__isnull=True)),
                name="bots_order_limit_price_matches_type",
            ),
            models.CheckConstraint(condition=Q(fee__gte=0), name="bots_order_fee_gte_0"),
            models.CheckConstraint(condition=Q(locked__gte=0), name="bots_order_locked_gte_0"),
            models.CheckConstraint(
                condition=~Q(status="filled")
                | (Q(filled_quantity=F("quantity")) & Q(average_fill_price__gt=0)),
                name="bots_order_filled_is_complete",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reject_reason=""),
                name="bots_order_rejected_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.instrument} ({self.status})"


class IdempotencyRecord(OwnedModel):
    """The first answer to a request made with an `Idempotency-Key` (SPEC §5).

    The same key returns the stored answer and creates nothing; the same key with another body
    (a different `request_hash`) answers 409.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_records"
    )
    scope = models.CharField(max_length=100, help_text="The operation, e.g. 'orders.create'.")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "scope", "key"], name="bots_idempotency_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


class Backtest(OwnedModel):
    """A bot configuration run over stored price bars; results land here when the job ends."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests"
    )
    name = models.CharField(max_length=100, blank=True)
    bot_type = models.CharField(max_length=16, choices=BotType.choices, default=BotType.DCA)
    instrument = models.ForeignKey(
        "portfolio.Instrument", on_delete=models.PROTECT, related_name="backtests"
    )
    interval = models.CharField(max_length=4, choices=BotInterval.choices, default=BotInterval.D1)
    start = models.DateField()
    end = models.DateField()
    initial_balance = models.DecimalField(**MONEY)
    fee_rate = models.DecimalField(**RATE, default=ZERO, help_text="A fraction: 0.001 is 0.1%.")
    slippage_bps = models.DecimalField(**PERCENT, default=ZERO)
    config = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=BacktestStatus.choices, default=BacktestStatus.QUEUED
    )
    job = models.ForeignKey(
        "audit.BackgroundJob",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="backtests",
    )
    bars = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    equity_curve = models.JSONField(default=list, blank=True)
    orders = models.JSONField(default=list, blank=True)
    deals = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BacktestStatus.values), name="bots_backtest_status_valid"
            ),
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="bots_backtest_period"),
            models.CheckConstraint(
                condition=Q(initial_balance__gt=0), name="bots_backtest_initial_balance_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(fee_rate__gte=0) & Q(fee_rate__lt=1),
                name="bots_backtest_fee_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(slippage_bps__gte=0), name="bots_backtest_slippage_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"Backtest {self.pk} of {self.instrument}"


class SignalValidation(OwnedModel):
    """A signal model's validation record posted by a client program (SPEC §3)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signal_validations"
    )
    model_type = models.CharField(max_length=100)
    signal_type = models.CharField(max_length=100)
    accuracy = models.DecimalField(**RATE)
    precision = models.DecimalField(**RATE)
    recall = models.DecimalField(**RATE)
    f1 = models.DecimalField(**RATE)
    sample_size = models.PositiveIntegerField()
    parameters = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(accuracy__gte=0) & Q(accuracy__lte=1),
                name="bots_signalvalidation_accuracy_range",
            ),
            models.CheckConstraint(
                condition=Q(precision__gte=0) & Q(precision__lte=1),
                name="bots_signalvalidation_precision_range",
            ),
            models.CheckConstraint(
                condition=Q(recall__gte=0) & Q(recall__lte=1),
                name="bots_signalvalidation_recall_range",
            ),
            models.CheckConstraint(
                condition=Q(f1__gte=0) & Q(f1__lte=1), name="bots_signalvalidation_f1_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_type} / {self.signal_type} (n={self.sample_size})"
