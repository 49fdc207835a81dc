"""Reference data (instruments, prices, splits, FX), portfolios and their ledger (SPEC §3).

Holdings and snapshots are derived rows: services recompute them from the ledger in the same
transaction as every ledger change, and `manage.py verify_ledger` proves there is no drift.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import validate_currency
from trading_lab.decimals import MONEY, PRICE, QUANTITY, RATE
from trading_lab.models import OwnedModel, OwnedQuerySet, TimeStampedModel


class AssetClass(models.TextChoices):
    EQUITY = "equity", "Equity"
    ETF = "etf", "ETF"
    FUND = "fund", "Fund"
    CRYPTO = "crypto", "Crypto"
    BOND = "bond", "Bond"
    COMMODITY = "commodity", "Commodity"
    CASH = "cash", "Cash"
    OTHER = "other", "Other"


class InstrumentQuerySet(OwnedQuerySet):
    def visible_to(self, user) -> "InstrumentQuerySet":
        """Shared instruments plus the user's own private ones."""
        if user is None or not getattr(user, "is_authenticated", False):
            return self.filter(owner__isnull=True)
        return self.filter(Q(owner__isnull=True) | Q(owner=user))


class Instrument(OwnedModel):
    """Something with a price. Shared reference data (owner empty) or a user's private asset.

    `for_user()` gives a user's private instruments; `visible_to()` adds the shared ones.
    """

    owner_path = "owner"

    symbol = models.CharField(max_length=32)
    exchange = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    asset_class = models.CharField(
        max_length=16, choices=AssetClass.choices, default=AssetClass.EQUITY
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="private_instruments",
        help_text="Empty for shared reference data; set for a user's private (unlisted) asset.",
    )
    is_synthetic = models.BooleanField(
        default=False, help_text="Prices come from the synthetic random-walk demo provider."
    )

    objects = InstrumentQuerySet.as_manager()

    class Meta:
        ordering = ["symbol", "exchange"]
        constraints = [
            # NULL owners are distinct in a plain unique constraint, so shared rows get their own.
            models.UniqueConstraint(
                fields=["symbol", "exchange"],
                condition=Q(owner__isnull=True),
                name="portfolio_instrument_shared_unique",
            ),
            models.UniqueConstraint(
                fields=["symbol", "exchange", "owner"],
                condition=Q(owner__isnull=False),
                name="portfolio_instrument_private_unique",
            ),
            models.CheckConstraint(
                condition=Q(asset_class__in=AssetClass.values),
                name="portfolio_instrument_asset_class_valid",
            ),
        ]
        indexes = [models.Index(fields=["symbol"], name="portfolio_instrument_symbol")]

    def __str__(self) -> str:
        return f"{self.symbol}.{self.exchange}" if self.exchange else self.symbol


class PriceBar(TimeStampedModel):
    """One day's prices of an instrument; only the close is required."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="prices")
    date = models.DateField()
    open = models.DecimalField(**PRICE, null=True, blank=True)
    high = models.DecimalField(**PRICE, null=True, blank=True)
    low = models.DecimalField(**PRICE, null=True, blank=True)
    close = models.DecimalField(**PRICE)
    adjusted_close = models.DecimalField(**PRICE, null=True, blank=True)
    volume = models.DecimalField(**QUANTITY, default=Decimal(0))
    dividend = models.DecimalField(**PRICE, default=Decimal(0))
    split_coefficient = models.DecimalField(**RATE, default=Decimal(1))

    class Meta:
        ordering = ["instrument", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "date"], name="portfolio_pricebar_instrument_date_unique"
            ),
            models.CheckConstraint(condition=Q(close__gt=0), name="portfolio_pricebar_close_gt_0"),
            models.CheckConstraint(
                condition=Q(open__isnull=True) | Q(open__gt=0), name="portfolio_pricebar_open_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(high__isnull=True) | Q(high__gt=0), name="portfolio_pricebar_high_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(low__isnull=True) | Q(low__gt=0), name="portfolio_pricebar_low_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(adjusted_close__isnull=True) | Q(adjusted_close__gt=0),
                name="portfolio_pricebar_adjusted_close_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(low__isnull=True) | Q(low__lte=F("close")),
                name="portfolio_pricebar_low_lte_close",
            ),
            models.CheckConstraint(
                condition=Q(high__isnull=True) | Q(close__lte=F("high")),
                name="portfolio_pricebar_close_lte_high",
            ),
            models.CheckConstraint(
                condition=Q(low__isnull=True) | Q(open__isnull=True) | Q(low__lte=F("open")),
                name="portfolio_pricebar_low_lte_open",
            ),
            models.CheckConstraint(
                condition=Q(high__isnull=True) | Q(open__isnull=True) | Q(open__lte=F("high")),
                name="portfolio_pricebar_open_lte_high",
            ),
            models.CheckConstraint(
                condition=Q(volume__gte=0), name="portfolio_pricebar_volume_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(dividend__gte=0), name="portfolio_pricebar_dividend_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(split_coefficient__gt=0), name="portfolio_pricebar_split_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.date}: {self.close}"


class Split(TimeStampedModel):
    """A stock split; applied to earlier transactions when holdings are computed."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="splits")
    date = models.DateField()
    numerator = models.DecimalField(**RATE)
    denominator = models.DecimalField(**RATE)

    class Meta:
        ordering = ["instrument", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "date"], name="portfolio_split_instrument_date_unique"
            ),
            models.CheckConstraint(
                condition=Q(numerator__gt=0), name="portfolio_split_numerator_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(denominator__gt=0), name="portfolio_split_denominator_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.numerator}:{self.denominator} on {self.date}"


class FxRate(TimeStampedModel):
    """1 `base` = `rate` `quote` on `date`."""

    base = models.CharField(max_length=3, validators=[validate_currency])
    quote = models.CharField(max_length=3, validators=[validate_currency])
    date = models.DateField()
    rate = models.DecimalField(**RATE)

    class Meta:
        ordering = ["base", "quote", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["base", "quote", "date"], name="portfolio_fxrate_pair_date_unique"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="portfolio_fxrate_rate_gt_0"),
            models.CheckConstraint(
                condition=~Q(base=F("quote")), name="portfolio_fxrate_base_ne_quote"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.base}/{self.quote} {self.date}: {self.rate}"


class Portfolio(OwnedModel):
    """A named ledger of one user, valued in its base currency."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portfolios"
    )
    name = models.CharField(max_length=100)
    base_currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    description = models.TextField(blank=True)
    config = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="portfolio_user_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class TransactionType(models.TextChoices):
    BUY = "BUY", "Buy"
    SELL = "SELL", "Sell"
    DIVIDEND = "DIVIDEND", "Dividend"
    INTEREST = "INTEREST", "Interest"
    FEE = "FEE", "Fee"
    DEPOSIT = "DEPOSIT", "Deposit"
    WITHDRAWAL = "WITHDRAWAL", "Withdrawal"


INSTRUMENT_TYPES = (TransactionType.BUY, TransactionType.SELL, TransactionType.DIVIDEND)


class Transaction(OwnedModel):
    """One ledger entry. Same-day entries keep the order they were entered in (their id).

    BUY, SELL and DIVIDEND name an instrument and carry quantity x price (price per share);
    the cash types carry their amount as quantity x price (quantity 1 by default).
    """

    owner_path = "portfolio__user"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="transactions")
    type = models.CharField(max_length=10, choices=TransactionType.choices)
    instrument = models.ForeignKey(
        Instrument,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transactions",
    )
    quantity = models.DecimalField(**QUANTITY, default=Decimal(1))
    price = models.DecimalField(**PRICE)
    fee = models.DecimalField(**MONEY, default=Decimal(0))
    currency = models.CharField(max_length=3, validators=[validate_currency])
    fx_rate = models.DecimalField(**RATE, help_text="Units of the base currency per unit.")
    date = models.DateField()
    notes = models.TextField(blank=True)
    external_id = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date", "id"]
        indexes = [
            models.Index(fields=["portfolio", "date", "id"], name="portfolio_txn_ledger_order"),
            models.Index(fields=["portfolio", "instrument"], name="portfolio_txn_instrument"),
        ]
        constraints = [
            # Imports are idempotent through the external id (blank means none).
            models.UniqueConstraint(
                fields=["portfolio", "external_id"],
                condition=~Q(external_id=""),
                name="portfolio_txn_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(type__in=TransactionType.values), name="portfolio_txn_type_valid"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="portfolio_txn_quantity_gt_0"),
            models.CheckConstraint(condition=Q(price__gt=0), name="portfolio_txn_price_gt_0"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="portfolio_txn_fee_gte_0"),
            models.CheckConstraint(condition=Q(fx_rate__gt=0), name="portfolio_txn_fx_rate_gt_0"),
            models.CheckConstraint(
                condition=~Q(type__in=INSTRUMENT_TYPES) | Q(instrument__isnull=False),
                name="portfolio_txn_instrument_required",
            ),
        ]

    def __str__(self) -> str:
        subject = self.instrument or self.currency
        return f"{self.date} {self.type} {self.quantity} {subject} @ {self.price}"

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.price


class Holding(OwnedModel):
    """Derived: a position folded from the ledger (SPEC §4), in instrument and base currency."""

    owner_path = "portfolio__user"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="holdings")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="holdings")
    quantity = models.DecimalField(**QUANTITY)
    average_cost = models.DecimalField(**PRICE)
    average_cost_base = models.DecimalField(**PRICE)
    cost_basis = models.DecimalField(**MONEY)
    cost_basis_base = models.DecimalField(**MONEY)
    realized_pnl = models.DecimalField(**MONEY)
    realized_pnl_base = models.DecimalField(**MONEY)
    fees = models.DecimalField(**MONEY)
    fees_base = models.DecimalField(**MONEY)
    dividends = models.DecimalField(**MONEY)
    dividends_base = models.DecimalField(**MONEY)
    # The engine values an instrument without any close (a private asset) at its last trade.
    last_trade_price = models.DecimalField(**PRICE, null=True, blank=True)
    last_trade_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["portfolio", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "instrument"], name="portfolio_holding_unique"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="portfolio_holding_quantity_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(cost_basis__gte=0), name="portfolio_holding_cost_basis_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.portfolio}: {self.quantity} {self.instrument}"


class PortfolioSnapshot(OwnedModel):
    """Derived: a portfolio's end-of-day value, cost basis, cash and net external flow."""

    owner_path = "portfolio__user"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="snapshots")
    date = models.DateField()
    value = models.DecimalField(**MONEY)
    cost_basis = models.DecimalField(**MONEY)
    cash = models.DecimalField(**MONEY)
    net_flow = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["portfolio", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "date"], name="portfolio_snapshot_portfolio_date_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.portfolio} {self.date}: {self.value}"


class LedgerTotals(OwnedModel):
    """Derived: a portfolio's ledger-wide figures (base currency) at the end of `as_of`.

    With the holdings and the snapshots these are everything `portfolio_performance` needs, so
    reading performance never folds the ledger. `as_of` is the day the derived rows run through.
    """

    owner_path = "portfolio__user"

    portfolio = models.OneToOneField(
        Portfolio, on_delete=models.CASCADE, related_name="ledger_totals"
    )
    as_of = models.DateField(null=True, blank=True)
    cash = models.DecimalField(**MONEY, default=Decimal(0))
    fees = models.DecimalField(**MONEY, default=Decimal(0))
    dividends = models.DecimalField(**MONEY, default=Decimal(0))
    interest = models.DecimalField(**MONEY, default=Decimal(0))
    deposits = models.DecimalField(**MONEY, default=Decimal(0))
    withdrawals = models.DecimalField(**MONEY, default=Decimal(0))
    implicit_deposits = models.DecimalField(**MONEY, default=Decimal(0))
    net_external_flow = models.DecimalField(**MONEY, default=Decimal(0))

    class Meta:
        verbose_name_plural = "ledger totals"
        constraints = [
            models.CheckConstraint(
                condition=Q(cash__gte=0), name="portfolio_ledgertotals_cash_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.portfolio} totals through {self.as_of}"


class CircuitState(models.TextChoices):
    CLOSED = "closed", "Closed"
    OPEN = "open", "Open"
    HALF_OPEN = "half_open", "Half open"


class ProviderState(TimeStampedModel):
    """A market-data provider's call budget and circuit breaker, shared by every process."""

    provider = models.CharField(max_length=64, unique=True)
    window_started_at = models.DateTimeField(null=True, blank=True)
    calls_in_window = models.PositiveIntegerField(default=0)
    circuit = models.CharField(
        max_length=10, choices=CircuitState.choices, default=CircuitState.CLOSED
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["provider"]
        constraints = [
            models.CheckConstraint(
                condition=Q(circuit__in=CircuitState.values),
                name="portfolio_providerstate_circuit_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} ({self.circuit})"


class WatchlistItem(OwnedModel):
    """A symbol a user keeps an eye on; it need not be a known instrument."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlist_items"
    )
    symbol = models.CharField(max_length=32)
    exchange = models.CharField(max_length=32, blank=True)
    notes = models.TextField(blank=True)
    target_price = models.DecimalField(**PRICE, null=True, blank=True)

    class Meta:
        ordering = ["symbol", "exchange"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "symbol", "exchange"], name="portfolio_watchlist_user_symbol_unique"
            ),
            models.CheckConstraint(
                condition=Q(target_price__isnull=True) | Q(target_price__gt=0),
                name="portfolio_watchlist_target_price_gt_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol}.{self.exchange}" if self.exchange else self.symbol


class AlertCondition(models.TextChoices):
    ABOVE = "above", "Closes at or above"
    BELOW = "below", "Closes at or below"


class PriceAlert(OwnedModel):
    """Fires once when a close crosses `target`, then stays inactive until re-armed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="price_alerts"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="alerts")
    condition = models.CharField(max_length=5, choices=AlertCondition.choices)
    target = models.DecimalField(**PRICE)
    active = models.BooleanField(default=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["instrument", "active"], name="portfolio_alert_instr_active"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(target__gt=0), name="portfolio_alert_target_gt_0"),
            models.CheckConstraint(
                condition=Q(condition__in=AlertCondition.values),
                name="portfolio_alert_condition_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.condition} {self.target}"

    def is_met(self, price: Decimal) -> bool:
        if self.condition == AlertCondition.ABOVE:
            return price >= self.target
        return price <= self.target


class AlertEvent(OwnedModel):
    """One firing of a price alert: the close that met it and when it was noticed."""

    owner_path = "alert__user"

    alert = models.ForeignKey(PriceAlert, on_delete=models.CASCADE, related_name="events")
    price = models.DecimalField(**PRICE)
    price_date = models.DateField()
    triggered_at = models.DateTimeField()

    class Meta:
        ordering = ["-triggered_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gt=0), name="portfolio_alertevent_price_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alert} hit {self.price} on {self.price_date}"


class NotificationKind(models.TextChoices):
    ALERT_TRIGGERED = "alert_triggered", "Price alert triggered"


class Notification(OwnedModel):
    """An in-app message to one user; `read_at` is set when they mark it read."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="portfolio_notif_user_read")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=NotificationKind.values),
                name="portfolio_notification_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class DividendStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    REJECTED = "rejected", "Rejected"
    EDITED = "edited", "Edited"


class DividendKind(models.TextChoices):
    CASH = "cash", "Cash"
    STOCK = "stock", "Stock"
    DRIP = "drip", "Reinvested (DRIP)"


class DividendSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    IMPORT = "import", "Import"
    PROVIDER = "provider", "Provider"


class Dividend(OwnedModel):
    """A dividend of a holding; confirming it records its DIVIDEND transaction exactly once."""

    owner_path = "portfolio__user"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="dividends")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="dividends")
    ex_date = models.DateField()
    pay_date = models.DateField(null=True, blank=True)
    record_date = models.DateField(null=True, blank=True)
    declared_date = models.DateField(null=True, blank=True)
    amount_per_share = models.DecimalField(**PRICE)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    shares = models.DecimalField(**QUANTITY, help_text="Held at the ex date, from the ledger.")
    total = models.DecimalField(**MONEY)
    status = models.CharField(
        max_length=10, choices=DividendStatus.choices, default=DividendStatus.PENDING
    )
    kind = models.CharField(max_length=5, choices=DividendKind.choices, default=DividendKind.CASH)
    source = models.CharField(
        max_length=10, choices=DividendSource.choices, default=DividendSource.MANUAL
    )
    # One-to-one, so no two dividends can ever claim the same ledger entry.
    transaction = models.OneToOneField(
        Transaction,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dividend_record",
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-ex_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "instrument", "ex_date"],
                name="portfolio_dividend_instrument_ex_date_unique",
            ),
            models.CheckConstraint(
                condition=Q(amount_per_share__gt=0), name="portfolio_dividend_amount_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(shares__gte=0), name="portfolio_dividend_shares_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0), name="portfolio_dividend_total_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(pay_date__isnull=True) | Q(pay_date__gte=F("ex_date")),
                name="portfolio_dividend_pay_on_or_after_ex",
            ),
            models.CheckConstraint(
                condition=Q(status__in=DividendStatus.values),
                name="portfolio_dividend_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=DividendKind.values), name="portfolio_dividend_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=DividendSource.values),
                name="portfolio_dividend_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.amount_per_share} {self.currency} ex {self.ex_date}"
