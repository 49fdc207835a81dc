"""API shapes of bots, their runs, deals and ticks, and the config preview (SPEC §6 bots row).

A bot names its instrument by `symbol` and `exchange` (a shared instrument or one of the caller's
private ones) and its paper account by id (the caller's default account when left out). The DCA
`config` is checked by the engine in the service; errors come back as `config.<field>`.
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bots.models import (
    Bot,
    BotInterval,
    BotRun,
    BotTick,
    BotType,
    Deal,
    DealExit,
    PaperAccount,
)
from portfolio.models import Instrument
from trading_lab.api.fields import OwnedPrimaryKeyRelatedField
from trading_lab.decimals import MONEY, PERCENT, PRICE

CONFIG_HELP = (
    "DCA settings: base_order_size, safety_order_size, max_safety_orders, price_deviation_pct, "
    "safety_order_step_scale, safety_order_volume_scale, take_profit_pct, stop_loss_pct, "
    'cooldown_seconds; percentages as percent numbers ("1.5" is 1.5%).'
)


@extend_schema_field(OpenApiTypes.INT)
class VisibleInstrumentField(serializers.PrimaryKeyRelatedField):
    """An instrument id among those the caller may use: shared ones and their own private ones."""

    def get_queryset(self):
        request = self.context.get("request")
        return Instrument.objects.visible_to(getattr(request, "user", None))


@extend_schema_field(OpenApiTypes.OBJECT)
class ConfigField(serializers.JSONField):
    """The DCA config object (validated by the engine in the service)."""


class BotSerializer(serializers.ModelSerializer):
    """A bot as stored, with its instrument named by symbol and exchange."""

    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    exchange = serializers.CharField(source="instrument.exchange", read_only=True)
    config = ConfigField(read_only=True, help_text=CONFIG_HELP)

    class Meta:
        model = Bot
        fields = [
            "id",
            "name",
            "bot_type",
            "account",
            "symbol",
            "exchange",
            "interval",
            "config",
            "status",
            "next_run_at",
            "required_capital",
            "last_tick_at",
            "max_position_size",
            "risk_per_trade",
            "error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class BotInputSerializer(serializers.Serializer):
    """A new bot, or the fields of one to change (PATCH sends only those)."""

    name = serializers.CharField(max_length=100)
    bot_type = serializers.ChoiceField(choices=BotType.choices, default=BotType.DCA)
    account = OwnedPrimaryKeyRelatedField(
        queryset=PaperAccount.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="One of your paper accounts; your default account when left out.",
    )
    symbol = serializers.CharField(max_length=32)
    exchange = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    interval = serializers.ChoiceField(choices=BotInterval.choices, default=BotInterval.H1)
    config = ConfigField(help_text=CONFIG_HELP)
    max_position_size = serializers.DecimalField(
        **MONEY, required=False, allow_null=True, default=None
    )
    risk_per_trade = serializers.DecimalField(
        **PERCENT, required=False, allow_null=True, default=None
    )


class BotPreviewInputSerializer(serializers.Serializer):
    """A config to preview, optionally with the account and instrument it would use."""

    config = ConfigField(help_text=CONFIG_HELP)
    account = OwnedPrimaryKeyRelatedField(
        queryset=PaperAccount.objects.all(), required=False, allow_null=True, default=None
    )
    instrument = VisibleInstrumentField(
        required=False,
        allow_null=True,
        default=None,
        help_text="An instrument id (the bot form sends it); or name it by symbol and exchange.",
    )
    symbol = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    exchange = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    base_price = serializers.DecimalField(
        **PRICE,
        required=False,
        allow_null=True,
        default=None,
        help_text="The base order's fill price to draw the ladder at; default: the last close.",
    )


class LadderLevelSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    kind = serializers.CharField()
    deviation_pct = serializers.DecimalField(max_digits=12, decimal_places=4)
    trigger_price = serializers.DecimalField(**PRICE)
    size = serializers.DecimalField(**MONEY)
    total_size = serializers.DecimalField(**MONEY)


class BotPreviewSerializer(serializers.Serializer):
    """The ladder at `base_price`, the capital a full deal needs, and whether the account has it."""

    config = serializers.SerializerMethodField()
    base_price = serializers.DecimalField(**PRICE)
    price_date = serializers.DateField(allow_null=True)
    levels = LadderLevelSerializer(many=True)
    required_capital = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    free_balance = serializers.DecimalField(**MONEY, allow_null=True)
    fits = serializers.BooleanField(allow_null=True)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_config(self, preview: Any) -> dict[str, Any]:
        return preview.config.as_json()


class BotRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = BotRun
        fields = [
            "id",
            "bot",
            "status",
            "started_at",
            "ended_at",
            "allocated_capital",
            "total_trades",
            "total_pnl",
            "max_drawdown",
            "sharpe_ratio",
            "error",
        ]
        read_only_fields = fields


class DealSerializer(serializers.ModelSerializer):
    # Read-only model fields lose `allow_blank`: without it the schema would deny an open
    # deal's empty exit kind.
    exit_kind = serializers.ChoiceField(
        choices=DealExit.choices, allow_blank=True, read_only=True, help_text="Empty while open."
    )

    class Meta:
        model = Deal
        fields = [
            "id",
            "bot",
            "run",
            "number",
            "status",
            "opened_at",
            "closed_at",
            "exit_kind",
            "base_price",
            "quantity",
            "quote_spent",
            "fees",
            "safety_orders_filled",
            "proceeds",
            "pnl",
        ]
        read_only_fields = fields


class BotTickSerializer(serializers.ModelSerializer):
    class Meta:
        model = BotTick
        fields = [
            "id",
            "run",
            "scheduled_at",
            "executed_at",
            "status",
            "price",
            "orders_placed",
            "missed",
            "message",
        ]
        read_only_fields = fields
