"""API shapes of the portfolio area (SPEC §6): portfolios, transactions, instruments, figures.

Decimals go out as strings at the stored precision (`trading_lab.decimals`). Input serializers
check shape only (types, signs, precision); the ledger's rules live in `portfolio.services`.
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from accounts.models import validate_currency
from portfolio.models import (
    INSTRUMENT_TYPES,
    Holding,
    Instrument,
    Portfolio,
    PortfolioSnapshot,
    PriceBar,
    Transaction,
    TransactionType,
)
from trading_lab.api.fields import OwnedPrimaryKeyRelatedField
from trading_lab.decimals import MONEY, PRICE, QUANTITY, RATE

# Deposits and withdrawals move cash only; they never name an instrument.
CASH_ONLY_TYPES = frozenset({TransactionType.DEPOSIT, TransactionType.WITHDRAWAL})

# Series without a `start` cover the year before `end`: enough for a chart, bounded in size.
DEFAULT_SERIES_SPAN = timedelta(days=365)


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(**MONEY, **kwargs)


def _price(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(**PRICE, **kwargs)


def _quantity(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(**QUANTITY, **kwargs)


def _rate(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(**RATE, **kwargs)


def _positive(value: Decimal) -> None:
    if value <= 0:
        raise serializers.ValidationError("Must be greater than zero.")


# ---------------------------------------------------------------------------------------------
# Portfolios


class PortfolioSerializer(serializers.ModelSerializer):
    """A portfolio. PUT needs `name` (the rest keep their defaults); PATCH any subset."""

    config = serializers.JSONField(
        required=False,
        help_text="Free-form settings as a JSON object, e.g. target weights per symbol.",
    )

    class Meta:
        model = Portfolio
        fields = ["id", "name", "base_currency", "description", "config"]
        read_only_fields = ["id"]
        # The per-user unique name is checked by the service against the caller's portfolios.
        validators: list = []

    def validate_config(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    def validate_base_currency(self, value: str) -> str:
        return value.upper()


# ---------------------------------------------------------------------------------------------
# Transactions


class TransactionSerializer(serializers.ModelSerializer):
    """One ledger entry as stored; `symbol` and `exchange` name its instrument (null for cash)."""

    portfolio = serializers.IntegerField(source="portfolio_id", read_only=True)
    symbol = serializers.CharField(
        source="instrument.symbol", read_only=True, allow_null=True, default=None
    )
    exchange = serializers.CharField(
        source="instrument.exchange", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Transaction
        fields = [
            "id",
            "portfolio",
            "type",
            "symbol",
            "exchange",
            "quantity",
            "price",
            "fee",
            "currency",
            "fx_rate",
            "date",
            "notes",
            "external_id",
        ]
        read_only_fields = fields


class TransactionInputSerializer(serializers.Serializer):
    """A transaction to record. The ledger's rules (dates, holdings, FX) are the service's."""

    portfolio = OwnedPrimaryKeyRelatedField(
        queryset=Portfolio.objects.all(), help_text="One of your portfolios, by id."
    )
    type = serializers.ChoiceField(choices=TransactionType.choices)
    symbol = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="The instrument, required for BUY, SELL and DIVIDEND. A shared instrument "
        "is found first, then one of your private ones; an unknown symbol needs `currency` and "
        "creates a private instrument.",
    )
    exchange = serializers.CharField(
        max_length=32, required=False, allow_blank=True, allow_null=True
    )
    quantity = _quantity(
        required=False,
        validators=[_positive],
        help_text="Shares for BUY, SELL and DIVIDEND (required there); 1 by default for cash "
        "types, whose amount is quantity x price.",
    )
    price = _price(validators=[_positive], help_text="Per share, or the cash amount.")
    fee = _money(required=False, min_value=Decimal(0), default=Decimal(0))
    currency = serializers.CharField(
        min_length=3,
        max_length=3,
        required=False,
        allow_null=True,
        validators=[validate_currency],
        help_text="Defaults to the instrument's currency, or the portfolio's for cash types.",
    )
    fx_rate = _rate(
        required=False,
        allow_null=True,
        validators=[_positive],
        help_text="Base-currency units per unit of `currency`; looked up for the date if empty.",
    )
    date = serializers.DateField(help_text="The trade date; not in the future.")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    external_id = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Your own id for the entry, unique per portfolio (imports skip known ones).",
    )

    def validate_symbol(self, value: str | None) -> str:
        return (value or "").strip().upper()

    def validate_exchange(self, value: str | None) -> str:
        return (value or "").strip().upper()

    def validate_currency(self, value: str | None) -> str | None:
        return value.upper() if value else None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = {}
        kind = attrs["type"]
        needs_instrument = kind in INSTRUMENT_TYPES
        if needs_instrument and not attrs.get("symbol"):
            errors["symbol"] = [f"A {kind} needs an instrument: give its symbol."]
        if kind in CASH_ONLY_TYPES and attrs.get("symbol"):
            errors["symbol"] = [f"A {kind} moves cash only: leave the symbol empty."]
        if needs_instrument and attrs.get("quantity") is None:
            errors["quantity"] = [f"A {kind} needs a quantity."]
        if errors:
            raise serializers.ValidationError(errors)
        attrs.setdefault("quantity", Decimal(1))
        return attrs


class TransactionFilterSerializer(serializers.Serializer):
    """Query parameters of the transaction list."""

    portfolio = OwnedPrimaryKeyRelatedField(
        queryset=Portfolio.objects.all(), required=False, help_text="One of your portfolios."
    )
    symbol = serializers.CharField(max_length=32, required=False)
    type = serializers.ChoiceField(choices=TransactionType.choices, required=False)
    date_from = serializers.DateField(required=False, help_text="On or after this date.")
    date_to = serializers.DateField(required=False, help_text="On or before this date.")

    def validate_symbol(self, value: str) -> str:
        return value.strip().upper()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start is not None and end is not None and end < start:
            raise serializers.ValidationError({"date_to": ["Must not be before `date_from`."]})
        return attrs


# ---------------------------------------------------------------------------------------------
# Holdings, performance, series


class HoldingSerializer(serializers.ModelSerializer):
    """A position folded from the ledger: instrument-currency figures, and `_base` ones."""

    instrument = serializers.IntegerField(source="instrument_id", read_only=True)
    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    exchange = serializers.CharField(source="instrument.exchange", read_only=True)
    currency = serializers.CharField(source="instrument.currency", read_only=True)

    class Meta:
        model = Holding
        fields = [
            "instrument",
            "symbol",
            "exchange",
            "currency",
            "quantity",
            "average_cost",
            "cost_basis",
            "realized_pnl",
            "fees",
            "dividends",
            "average_cost_base",
            "cost_basis_base",
            "realized_pnl_base",
            "fees_base",
            "dividends_base",
        ]
        read_only_fields = fields


class PositionPerformanceSerializer(serializers.Serializer):
    """One position of the performance answer, in the portfolio's base currency."""

    symbol = serializers.CharField()
    exchange = serializers.CharField()
    quantity = _quantity()
    average_cost = _price()
    market_price = _price(allow_null=True, help_text="Null for a closed position.")
    value = _money()
    cost_basis = _money()
    unrealized_pnl = _money()
    realized_pnl = _money()
    fees = _money()
    dividends = _money()
    weight = _rate(allow_null=True, help_text="Share of the portfolio value, cash included.")


class PerformanceSerializer(serializers.Serializer):
    """A portfolio's figures on `as_of` (SPEC §4); money in `currency`, rates as fractions."""

    as_of = serializers.DateField()
    currency = serializers.CharField()
    value = _money()
    cash = _money()
    cost_basis = _money()
    realized_pnl = _money()
    unrealized_pnl = _money()
    fees = _money()
    dividends = _money()
    interest = _money()
    net_pnl = _money()
    total_return = _money()
    twr = _rate(help_text="Time-weighted return (0.05 is 5%).")
    mwr = _rate(allow_null=True, help_text="Money-weighted annual return; null when undefined.")
    max_drawdown = _rate()
    volatility = _rate(allow_null=True, help_text="Annualised; null with too few returns.")
    sharpe = _rate(allow_null=True, help_text="Annualised; null with too few returns.")
    positions = PositionPerformanceSerializer(many=True)


def not_in_future(value: date) -> None:
    """A valuation day after today would only walk empty days, slowly: year 6000 took 40 s."""
    if value > timezone.localdate():
        raise serializers.ValidationError("Must not be in the future.")


class PerformanceQuerySerializer(serializers.Serializer):
    """Query parameters of the performance answer."""

    as_of = serializers.DateField(
        required=False,
        validators=[not_in_future],
        help_text="The valuation date, not in the future; today if empty.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("as_of", timezone.localdate())
        return attrs


class SnapshotSerializer(serializers.ModelSerializer):
    """A portfolio at the end of one day, in its base currency."""

    class Meta:
        model = PortfolioSnapshot
        fields = ["date", "value", "cost_basis", "cash", "net_flow"]
        read_only_fields = fields


class DateRangeSerializer(serializers.Serializer):
    """`start` and `end` query parameters (inclusive)."""

    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start is not None and end is not None and end < start:
            raise serializers.ValidationError({"end": ["Must not be before `start`."]})
        return attrs


class SeriesQuerySerializer(DateRangeSerializer):
    """`end` defaults to today, `start` to a year before `end`."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        attrs.setdefault("end", timezone.localdate())
        attrs.setdefault("start", attrs["end"] - DEFAULT_SERIES_SPAN)
        return super().validate(attrs)


# ---------------------------------------------------------------------------------------------
# Instruments and prices


class InstrumentSerializer(serializers.ModelSerializer):
    """Something with a price: shared reference data, or one of your private instruments."""

    private = serializers.SerializerMethodField(help_text="One of your own unlisted assets.")

    class Meta:
        model = Instrument
        fields = [
            "id",
            "symbol",
            "exchange",
            "name",
            "currency",
            "asset_class",
            "private",
            "is_synthetic",
        ]
        read_only_fields = fields

    def get_private(self, instrument: Instrument) -> bool:
        return instrument.owner_id is not None


class InstrumentSearchSerializer(serializers.Serializer):
    """Query parameters of the instrument list."""

    search = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Part of a symbol or name."
    )


class PriceBarSerializer(serializers.ModelSerializer):
    """One day's prices. `synthetic` marks the demo provider's random walk."""

    synthetic = serializers.SerializerMethodField(
        help_text="True when the prices come from the synthetic demo provider, not a market."
    )

    class Meta:
        model = PriceBar
        fields = [
            "date",
            "open",
            "high",
            "low",
            "close",
            "adjusted_close",
            "volume",
            "dividend",
            "split_coefficient",
            "synthetic",
        ]
        read_only_fields = fields

    def get_synthetic(self, bar: PriceBar) -> bool:
        # The view lists one instrument's bars and passes it, so no query per row.
        return self.context["instrument"].is_synthetic
