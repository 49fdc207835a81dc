"""API shapes of paper trading (SPEC §6): accounts, balances, positions, orders.

Decimals go out as strings at the stored precision. Input serializers check shape only; the
rules (funds, fills, locks) are `bots.services.paper`'s.
"""

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import validate_currency
from bots.models import (
    Bot,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    PaperAccount,
    PaperBalance,
    PaperPosition,
)
from bots.selectors import position_market_value, position_unrealized_pnl
from trading_lab.api.fields import OwnedPrimaryKeyRelatedField
from trading_lab.decimals import MONEY, PRICE, QUANTITY


def _positive(value: Decimal) -> None:
    if value <= 0:
        raise serializers.ValidationError("Must be greater than zero.")


class PaperAccountSerializer(serializers.ModelSerializer):
    """A paper account; `is_default` marks the one orders use when none is named."""

    class Meta:
        model = PaperAccount
        fields = ["id", "name", "quote_currency", "starting_balance", "is_default", "created_at"]
        read_only_fields = fields


class PaperAccountInputSerializer(serializers.Serializer):
    """A new paper account; `starting_balance` defaults to the configured 10,000."""

    name = serializers.CharField(max_length=100)
    quote_currency = serializers.CharField(max_length=3, validators=[validate_currency])
    starting_balance = serializers.DecimalField(**MONEY, required=False, validators=[_positive])

    def validate_quote_currency(self, value: str) -> str:
        return value.upper()


class PaperResetSerializer(serializers.Serializer):
    """What a reset did."""

    account = PaperAccountSerializer()
    orders_cancelled = serializers.IntegerField()


class PaperBalanceSerializer(serializers.ModelSerializer):
    """Free to spend, locked behind open orders, and their total."""

    total = serializers.DecimalField(**MONEY, read_only=True)

    class Meta:
        model = PaperBalance
        fields = ["id", "account", "currency", "free", "locked", "total"]
        read_only_fields = fields


class PaperPositionSerializer(serializers.ModelSerializer):
    """A position at average cost, valued at the instrument's last close."""

    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    exchange = serializers.CharField(source="instrument.exchange", read_only=True)
    currency = serializers.CharField(source="instrument.currency", read_only=True)
    average_price = serializers.DecimalField(**PRICE, read_only=True)
    last_price = serializers.DecimalField(**PRICE, read_only=True, allow_null=True)
    last_price_date = serializers.DateField(read_only=True, allow_null=True)
    market_value = serializers.SerializerMethodField()
    unrealized_pnl = serializers.SerializerMethodField()

    class Meta:
        model = PaperPosition
        fields = [
            "id",
            "account",
            "symbol",
            "exchange",
            "currency",
            "quantity",
            "locked",
            "average_price",
            "cost_basis",
            "last_price",
            "last_price_date",
            "market_value",
            "unrealized_pnl",
            "realized_pnl",
        ]
        read_only_fields = fields

    def _money(self, value: Decimal | None) -> str | None:
        return None if value is None else serializers.DecimalField(**MONEY).to_representation(value)

    @extend_schema_field(serializers.DecimalField(**MONEY, allow_null=True))
    def get_market_value(self, position: PaperPosition) -> str | None:
        return self._money(position_market_value(position))

    @extend_schema_field(serializers.DecimalField(**MONEY, allow_null=True))
    def get_unrealized_pnl(self, position: PaperPosition) -> str | None:
        return self._money(position_unrealized_pnl(position))


class OrderSerializer(serializers.ModelSerializer):
    """An order as stored; `symbol` and `exchange` name its instrument."""

    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    exchange = serializers.CharField(source="instrument.exchange", read_only=True)
    type = serializers.ChoiceField(source="order_type", choices=OrderType.choices, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "account",
            "bot",
            "run",
            "deal",
            "client_order_id",
            "symbol",
            "exchange",
            "side",
            "type",
            "kind",
            "quantity",
            "limit_price",
            "status",
            "filled_quantity",
            "average_fill_price",
            "fee",
            "fee_rate",
            "locked",
            "reject_reason",
            "created_at",
            "updated_at",
            "filled_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class OrderInputSerializer(serializers.Serializer):
    """A manual order. `account` defaults to your default paper account; `limit_price` is for
    limit orders only; `client_order_id` (unique) is generated when not given."""

    account = OwnedPrimaryKeyRelatedField(
        queryset=PaperAccount.objects.all(), required=False, allow_null=True
    )
    symbol = serializers.CharField(max_length=32)
    exchange = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    side = serializers.ChoiceField(choices=OrderSide.choices)
    type = serializers.ChoiceField(choices=OrderType.choices)
    quantity = serializers.DecimalField(**QUANTITY, validators=[_positive])
    limit_price = serializers.DecimalField(
        **PRICE, required=False, allow_null=True, validators=[_positive]
    )
    client_order_id = serializers.CharField(max_length=64, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        limit_price = attrs.get("limit_price")
        if attrs["type"] == OrderType.LIMIT and limit_price is None:
            raise serializers.ValidationError(
                {"limit_price": ["A limit order needs a limit price."]}
            )
        if attrs["type"] == OrderType.MARKET and limit_price is not None:
            raise serializers.ValidationError(
                {"limit_price": ["A market order takes no limit price."]}
            )
        return attrs


class OrderFilterSerializer(serializers.Serializer):
    """Order list filters: account, status, symbol, bot."""

    account = OwnedPrimaryKeyRelatedField(queryset=PaperAccount.objects.all(), required=False)
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    symbol = serializers.CharField(required=False)
    bot = OwnedPrimaryKeyRelatedField(queryset=Bot.objects.all(), required=False)


class AccountFilterSerializer(serializers.Serializer):
    """Balance and position list filter: one of your accounts."""

    account = OwnedPrimaryKeyRelatedField(queryset=PaperAccount.objects.all(), required=False)
