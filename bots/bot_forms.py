"""The bot form: it parses input for bots.services.bots and shows the service's refusals by field.

The DCA config is one form field per setting; the service's `config.<field>` errors land next to
the matching input. Accounts and instruments are limited to what the user may use.
"""

from decimal import Decimal
from typing import Any

from django import forms

from accounts.forms import PlainDecimalField, add_service_errors
from accounts.models import User
from bots.models import BotInterval, PaperAccount
from portfolio.models import Instrument
from trading_lab.decimals import MONEY, PERCENT
from trading_lab.exceptions import ApplicationError

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


def _number(spec: dict, **kwargs: Any) -> PlainDecimalField:
    return PlainDecimalField(
        max_digits=spec["max_digits"],
        decimal_places=spec["decimal_places"],
        widget=forms.NumberInput(
            attrs={"step": "any", "min": "0", "inputmode": "decimal", "data-bot-config": "1"}
        ),
        **kwargs,
    )


def _whole(**kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(
        min_value=0,
        widget=forms.NumberInput(attrs={"step": "1", "min": "0", "data-bot-config": "1"}),
        **kwargs,
    )


class InstrumentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Instrument) -> str:
        symbol = f"{obj.symbol}.{obj.exchange}" if obj.exchange else obj.symbol
        return (
            f"{symbol} · {obj.name} ({obj.currency})" if obj.name else f"{symbol} ({obj.currency})"
        )


class BotForm(forms.Form):
    name = forms.CharField(max_length=100)
    account = forms.ModelChoiceField(
        queryset=PaperAccount.objects.none(), empty_label=None, label="Paper account"
    )
    instrument = InstrumentChoiceField(queryset=Instrument.objects.none())
    interval = forms.ChoiceField(
        choices=BotInterval.choices, initial=BotInterval.H1, help_text="How often the bot ticks."
    )
    base_order_size = _number(MONEY, help_text="Quote currency spent by the base order.")
    safety_order_size = _number(MONEY, help_text="Size of the first safety order.")
    max_safety_orders = _whole(initial=3, label="Safety orders")
    price_deviation_pct = _number(
        PERCENT, label="Price deviation %", help_text="Drop below the base price for SO1."
    )
    safety_order_step_scale = _number(PERCENT, initial=Decimal(1), label="Step scale")
    safety_order_volume_scale = _number(PERCENT, initial=Decimal(1), label="Volume scale")
    take_profit_pct = _number(PERCENT, label="Take profit %")
    stop_loss_pct = _number(
        PERCENT, required=False, label="Stop loss %", help_text="Empty: no stop loss."
    )
    cooldown_seconds = _whole(
        required=False, initial=0, label="Cooldown (s)", help_text="Wait after a close."
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = PaperAccount.objects.for_user(user)
        self.fields["instrument"].queryset = Instrument.objects.visible_to(user).order_by(
            "symbol", "exchange"
        )

    def config(self) -> dict[str, Any]:
        """The DCA config from the cleaned fields (empty optional ones left out)."""
        data = self.cleaned_data
        return {name: str(data[name]) for name in CONFIG_FIELDS if data.get(name) not in (None, "")}

    def add_service_errors(self, error: ApplicationError) -> None:
        """Put `config.<field>` errors on the matching input; the rest where they belong."""
        extra = {key.removeprefix("config."): value for key, value in (error.extra or {}).items()}
        add_service_errors(self, ApplicationError(error.message, extra))
