"""Paper trading page forms: they parse input for bots.services.paper and show its refusals."""

import uuid
from decimal import Decimal
from typing import Any

from django import forms

from accounts.forms import PlainDecimalField, currency_choices
from bots.models import OrderSide, OrderType
from trading_lab.decimals import MONEY, PRICE, QUANTITY


def _decimal(spec: dict, **kwargs: Any) -> PlainDecimalField:
    return PlainDecimalField(
        max_digits=spec["max_digits"],
        decimal_places=spec["decimal_places"],
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
        **kwargs,
    )


class OrderTicketForm(forms.Form):
    """A manual order. The hidden `idempotency_key` is new on every fresh ticket, so posting
    the same ticket twice (a double click, a reload) places one order."""

    symbol = forms.CharField(max_length=32)
    exchange = forms.CharField(
        max_length=32, required=False, help_text="Only needed when the symbol trades on several."
    )
    side = forms.ChoiceField(choices=OrderSide.choices, initial=OrderSide.BUY)
    type = forms.ChoiceField(choices=OrderType.choices, initial=OrderType.MARKET, label="Type")
    quantity = _decimal(QUANTITY)
    limit_price = _decimal(PRICE, required=False, help_text="Limit orders only.")
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)

    def clean_quantity(self) -> Decimal:
        quantity = self.cleaned_data["quantity"]
        if quantity <= 0:
            raise forms.ValidationError("Must be greater than zero.")
        return quantity

    def clean_limit_price(self) -> Decimal | None:
        price = self.cleaned_data.get("limit_price")
        if price is not None and price <= 0:
            raise forms.ValidationError("Must be greater than zero.")
        return price

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, price = data.get("type"), data.get("limit_price")
        if kind == OrderType.LIMIT and price is None and "limit_price" not in self.errors:
            self.add_error("limit_price", "A limit order needs a limit price.")
        if kind == OrderType.MARKET and price is not None:
            self.add_error("limit_price", "A market order takes no limit price; leave it empty.")
        return data


class PaperAccountForm(forms.Form):
    name = forms.CharField(max_length=100)
    quote_currency = forms.ChoiceField(choices=currency_choices, initial="USD")
    starting_balance = _decimal(MONEY, initial=Decimal(10000))

    def clean_starting_balance(self) -> Decimal:
        amount = self.cleaned_data["starting_balance"]
        if amount <= 0:
            raise forms.ValidationError("Must be greater than zero.")
        return amount
