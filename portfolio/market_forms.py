"""Forms of the watchlist, alert and dividend pages: they parse input for portfolio.services.

Instruments are named by symbol and exchange, as traders write them; the view resolves them
among the instruments the caller can see, so no form ever takes another user's row by id.
"""

from collections.abc import Iterable
from typing import Any

from django import forms

from accounts.forms import PlainDecimalField
from portfolio.models import (
    AlertCondition,
    Dividend,
    DividendKind,
    DividendStatus,
    Portfolio,
    PriceAlert,
)
from trading_lab.decimals import PRICE


def _price(**kwargs: Any) -> PlainDecimalField:
    return PlainDecimalField(
        max_digits=PRICE["max_digits"],
        decimal_places=PRICE["decimal_places"],
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
        **kwargs,
    )


def _positive(form: forms.Form, name: str) -> None:
    value = form.cleaned_data.get(name)
    if value is not None and value <= 0:
        form.add_error(name, "Must be greater than zero.")


def _date(**kwargs: Any) -> forms.DateField:
    return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **kwargs)


class InstrumentFieldsMixin(forms.Form):
    """Symbol and optional exchange, normalised the way instruments are stored."""

    symbol = forms.CharField(max_length=32)
    exchange = forms.CharField(
        max_length=32, required=False, help_text="Only needed when the symbol is ambiguous."
    )

    def clean_symbol(self) -> str:
        return self.cleaned_data["symbol"].strip().upper()

    def clean_exchange(self) -> str:
        return (self.cleaned_data.get("exchange") or "").strip().upper()


class WatchlistAddForm(InstrumentFieldsMixin):
    target_price = _price(required=False, help_text="Optional: a price you are waiting for.")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _positive(self, "target_price")
        return cleaned


class PriceAlertForm(InstrumentFieldsMixin):
    condition = forms.ChoiceField(choices=AlertCondition.choices, initial=AlertCondition.ABOVE)
    target = _price(help_text="In the instrument's currency; checked against each new close.")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    @classmethod
    def initial_from(cls, alert: PriceAlert) -> dict[str, Any]:
        return {
            "symbol": alert.instrument.symbol,
            "exchange": alert.instrument.exchange,
            "condition": alert.condition,
            "target": alert.target,
            "notes": alert.notes,
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _positive(self, "target")
        return cleaned


class DividendForm(forms.Form):
    """The editable fields of a dividend; shares and total come from the ledger."""

    ex_date = _date(label="Ex date")
    pay_date = _date(required=False, label="Pay date", help_text="Empty: paid on the ex date.")
    record_date = _date(required=False, label="Record date")
    declared_date = _date(required=False, label="Declared date")
    amount_per_share = _price(label="Amount per share", help_text="In the instrument's currency.")
    kind = forms.ChoiceField(choices=DividendKind.choices, initial=DividendKind.CASH)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    @classmethod
    def initial_from(cls, dividend: Dividend) -> dict[str, Any]:
        return {name: getattr(dividend, name) for name in cls.base_fields}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _positive(self, "amount_per_share")
        ex_date, pay_date = cleaned.get("ex_date"), cleaned.get("pay_date")
        if ex_date and pay_date and pay_date < ex_date:
            self.add_error("pay_date", "The pay date cannot be before the ex date.")
        return cleaned


class DividendCreateForm(InstrumentFieldsMixin, DividendForm):
    field_order = ["symbol", "exchange", *DividendForm.base_fields]


class DividendFilterForm(forms.Form):
    """Status and portfolio filters of the dividend list (the caller's portfolios only)."""

    status = forms.ChoiceField(
        choices=[("", "Any status"), *DividendStatus.choices], required=False
    )
    portfolio = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, portfolios: Iterable[Portfolio], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["portfolio"].choices = [
            ("", "All portfolios"),
            *((portfolio.pk, portfolio.name) for portfolio in portfolios),
        ]
