"""Backtest page forms: they parse input for `bots.services` and show its refusals by field."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from accounts.forms import PlainDecimalField
from bots.app_settings import app_settings
from bots.models import BotInterval
from trading_lab.decimals import MONEY, PERCENT, RATE

# The DCA settings, in the order the form shows them (SPEC §6 field names).
CONFIG_FIELDS = (
    "base_order_size",
    "safety_order_size",
    "max_safety_orders",
    "price_deviation_pct",
    "safety_order_step_scale",
    "safety_order_volume_scale",
    "take_profit_pct",
    "stop_loss_pct",
    "cooldown_seconds",
)
REQUEST_FIELDS = ("symbol", "exchange", "interval", "start", "end")
COST_FIELDS = ("initial_balance", "fee_rate", "slippage_bps")
DEFAULT_CONFIG: dict[str, Any] = {
    "base_order_size": Decimal(100),
    "safety_order_size": Decimal(200),
    "max_safety_orders": 3,
    "price_deviation_pct": Decimal(2),
    "safety_order_step_scale": Decimal("1.5"),
    "safety_order_volume_scale": Decimal(2),
    "take_profit_pct": Decimal(3),
    "cooldown_seconds": 0,
}


def _decimal(spec: dict, **kwargs: Any) -> PlainDecimalField:
    return PlainDecimalField(
        max_digits=spec["max_digits"],
        decimal_places=spec["decimal_places"],
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
        **kwargs,
    )


class BacktestForm(forms.Form):
    """What to test (instrument, period, costs) and the DCA config, one field per setting."""

    name = forms.CharField(max_length=100, required=False, help_text="Optional, to find it later.")
    symbol = forms.CharField(max_length=32, help_text="A listed instrument or one of your own.")
    exchange = forms.CharField(max_length=32, required=False)
    interval = forms.ChoiceField(
        choices=BotInterval.choices,
        initial=BotInterval.D1,
        help_text="Stored prices are daily bars, so backtests run on 1 day.",
    )
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    initial_balance = _decimal(MONEY, label="Initial balance")
    fee_rate = _decimal(RATE, label="Fee rate", help_text="A fraction of each fill: 0.001 is 0.1%.")
    slippage_bps = _decimal(
        PERCENT, label="Slippage (bps)", help_text="Against you on market orders."
    )
    base_order_size = _decimal(MONEY, label="Base order size")
    safety_order_size = _decimal(MONEY, label="Safety order size")
    max_safety_orders = forms.IntegerField(min_value=0, label="Max safety orders")
    price_deviation_pct = _decimal(PERCENT, label="Price deviation (%)")
    safety_order_step_scale = _decimal(PERCENT, label="Safety order step scale")
    safety_order_volume_scale = _decimal(PERCENT, label="Safety order volume scale")
    take_profit_pct = _decimal(PERCENT, label="Take profit (%)")
    stop_loss_pct = _decimal(
        PERCENT, label="Stop loss (%)", required=False, help_text="Empty: no stop loss."
    )
    cooldown_seconds = forms.IntegerField(
        min_value=0, label="Cooldown (seconds)", help_text="Wait after a deal closes."
    )

    @classmethod
    def initial_values(cls) -> dict[str, Any]:
        today = timezone.localdate()
        return {
            "start": today - timedelta(days=365),
            "end": today,
            "initial_balance": app_settings.default_paper_balance,
            "fee_rate": app_settings.fee_rate,
            "slippage_bps": app_settings.slippage_bps,
            **DEFAULT_CONFIG,
        }

    def config(self) -> dict[str, Any]:
        """The DCA settings as the service reads them (Decimals as strings)."""
        values = {name: self.cleaned_data.get(name) for name in CONFIG_FIELDS}
        return {
            name: str(value) if isinstance(value, Decimal) else value
            for name, value in values.items()
        }

    def service_errors(self, errors: dict[str, Any]) -> dict[str, Any]:
        """The service names DCA settings `config.<field>`; here they are fields of their own."""
        return {key.removeprefix("config."): value for key, value in errors.items()}

    @property
    def request_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in REQUEST_FIELDS]

    @property
    def cost_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in COST_FIELDS]

    @property
    def config_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in CONFIG_FIELDS]


class SignalValidationFilterForm(forms.Form):
    model_type = forms.CharField(max_length=100, required=False, label="Model type")
    signal_type = forms.CharField(max_length=100, required=False, label="Signal type")
