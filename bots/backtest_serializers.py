"""API shapes of backtests and signal validations (SPEC §6 field names).

Input serializers check shape only; `bots.services` holds the rules (config, period, capital,
stored bars) and answers with field errors (`config.<field>` for the DCA settings).
"""

from typing import Any

from rest_framework import serializers

from bots.app_settings import app_settings
from bots.models import Backtest, BotInterval, SignalValidation
from trading_lab.decimals import MONEY, PERCENT, RATE


class BacktestCreateSerializer(serializers.Serializer):
    """A backtest request: symbol, exchange, interval, start, end, initial_balance, fee_rate,
    slippage_bps, config (SPEC §6), plus an optional name."""

    symbol = serializers.CharField(max_length=32, help_text="A shared or your own instrument.")
    exchange = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    interval = serializers.ChoiceField(
        choices=BotInterval.choices,
        default=BotInterval.D1,
        help_text="Stored prices are daily bars: 1d is the interval they support.",
    )
    start = serializers.DateField()
    end = serializers.DateField()
    initial_balance = serializers.DecimalField(
        **MONEY, required=False, help_text="Quote currency; default the paper account default."
    )
    fee_rate = serializers.DecimalField(
        **RATE, required=False, help_text='A fraction of each fill: "0.001" is 0.1%.'
    )
    slippage_bps = serializers.DecimalField(
        **PERCENT, required=False, help_text="Basis points against the trader on market orders."
    )
    config = serializers.JSONField(help_text="The DCA config (SPEC §6 field names).")
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("initial_balance", app_settings.default_paper_balance)
        attrs.setdefault("fee_rate", app_settings.fee_rate)
        attrs.setdefault("slippage_bps", app_settings.slippage_bps)
        return attrs


class BacktestSerializer(serializers.ModelSerializer):
    """A backtest with its summary; the detail adds the equity curve, orders and deals."""

    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    exchange = serializers.CharField(source="instrument.exchange", read_only=True)
    currency = serializers.CharField(source="instrument.currency", read_only=True)
    job = serializers.PrimaryKeyRelatedField(read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Backtest
        fields = [
            "id",
            "name",
            "bot_type",
            "symbol",
            "exchange",
            "currency",
            "interval",
            "start",
            "end",
            "initial_balance",
            "fee_rate",
            "slippage_bps",
            "config",
            "status",
            "progress",
            "job",
            "bars",
            "metrics",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_progress(self, backtest: Backtest) -> int:
        """The job's progress percent (100 once succeeded)."""
        job = backtest.job
        return job.progress if job is not None else 0


class BacktestDetailSerializer(BacktestSerializer):
    """`orders: [{side, kind, price, quantity, fee, time, deal}]`, deals and the equity curve."""

    class Meta(BacktestSerializer.Meta):
        fields = [*BacktestSerializer.Meta.fields, "equity_curve", "orders", "deals"]
        read_only_fields = fields


class BacktestExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=("csv", "json", "xlsx"), default="csv")


class SignalValidationSerializer(serializers.ModelSerializer):
    """One validation run of a signal model; scores are fractions 0..1."""

    accuracy = serializers.DecimalField(**RATE, min_value=0, max_value=1)
    precision = serializers.DecimalField(**RATE, min_value=0, max_value=1)
    recall = serializers.DecimalField(**RATE, min_value=0, max_value=1)
    f1 = serializers.DecimalField(**RATE, min_value=0, max_value=1)
    sample_size = serializers.IntegerField(min_value=1)
    parameters = serializers.JSONField(required=False, default=dict)

    class Meta:
        model = SignalValidation
        fields = [
            "id",
            "model_type",
            "signal_type",
            "accuracy",
            "precision",
            "recall",
            "f1",
            "sample_size",
            "parameters",
            "notes",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def validate_parameters(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class SignalValidationFilterSerializer(serializers.Serializer):
    model_type = serializers.CharField(max_length=100, required=False)
    signal_type = serializers.CharField(max_length=100, required=False)
