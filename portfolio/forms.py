"""Portfolio page forms: they parse input for portfolio.services and show its refusals by field."""

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.forms import PlainDecimalField, currency_choices
from accounts.models import validate_currency
from portfolio.models import INSTRUMENT_TYPES, Portfolio, Transaction, TransactionType
from trading_lab.decimals import MONEY, PRICE, QUANTITY, RATE

# The page keeps an uploaded file in the session between preview and confirm: a small cap
# keeps session rows small; bigger files go through the API, which runs them as a job.
IMPORT_PAGE_MAX_BYTES = 1024 * 1024


def _decimal(spec: dict, **kwargs: Any) -> PlainDecimalField:
    return PlainDecimalField(
        max_digits=spec["max_digits"],
        decimal_places=spec["decimal_places"],
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
        **kwargs,
    )


class PortfolioForm(forms.ModelForm):
    base_currency = forms.ChoiceField(
        choices=currency_choices, initial="USD", help_text="Figures of this portfolio are in it."
    )

    class Meta:
        model = Portfolio
        fields = ["name", "base_currency", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class TransactionForm(forms.Form):
    """One ledger entry as a trader writes it: the instrument by symbol, amounts as decimals."""

    type = forms.ChoiceField(choices=TransactionType.choices, initial=TransactionType.BUY)
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    symbol = forms.CharField(
        max_length=32,
        required=False,
        help_text="Required for buys, sells and dividends. An unknown symbol needs a currency.",
    )
    exchange = forms.CharField(max_length=32, required=False)
    quantity = _decimal(QUANTITY, initial=Decimal(1), help_text="Shares; 1 for cash entries.")
    price = _decimal(PRICE, help_text="Per share, or the cash amount.")
    fee = _decimal(MONEY, initial=Decimal(0), required=False)
    currency = forms.CharField(
        max_length=3,
        required=False,
        validators=[validate_currency],
        help_text="Empty: the instrument's currency, or the portfolio's for cash entries.",
    )
    fx_rate = _decimal(
        RATE,
        required=False,
        label="FX rate",
        help_text="Base-currency units per unit; looked up for the date when empty.",
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    @classmethod
    def initial_from(cls, transaction: Transaction) -> dict[str, Any]:
        instrument = transaction.instrument
        return {
            "type": transaction.type,
            "date": transaction.date,
            "symbol": instrument.symbol if instrument else "",
            "exchange": instrument.exchange if instrument else "",
            "quantity": transaction.quantity,
            "price": transaction.price,
            "fee": transaction.fee,
            "currency": transaction.currency,
            "fx_rate": transaction.fx_rate,
            "notes": transaction.notes,
        }

    def clean_currency(self) -> str | None:
        return (self.cleaned_data.get("currency") or "").upper() or None

    def clean_fee(self) -> Decimal:
        return self.cleaned_data.get("fee") or Decimal(0)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("type") in INSTRUMENT_TYPES and not (cleaned.get("symbol") or "").strip():
            self.add_error("symbol", "Name the instrument of a buy, sell or dividend.")
        for name in ("quantity", "price", "fx_rate"):
            value = cleaned.get(name)
            if value is not None and value <= 0:
                self.add_error(name, "Must be greater than zero.")
        return cleaned


class TransactionFilterForm(forms.Form):
    type = forms.ChoiceField(choices=[("", "Any type"), *TransactionType.choices], required=False)
    symbol = forms.CharField(max_length=32, required=False)
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end is before the start.")
        return cleaned

    def selector_kwargs(self) -> dict[str, str | date | None]:
        data = self.cleaned_data
        return {
            "type": data.get("type") or None,
            "symbol": (data.get("symbol") or "").strip() or None,
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        help_text="A CSV with a header row (date, type, symbol, quantity, price, fee, currency, "
        "notes), our JSON export, or a Ghostfolio export. Up to 1 MB here.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.json,text/csv,application/json"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_PAGE_MAX_BYTES:
            raise ValidationError(
                "The file is larger than 1 MB; import it through the API "
                "(POST /api/v1/transactions/import), which runs big files in the background."
            )
        return upload


class ImportConfirmForm(forms.Form):
    upload = forms.CharField(widget=forms.HiddenInput, max_length=64)
