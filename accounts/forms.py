"""Page forms: they parse input for accounts.services and show its refusals next to the fields.

None of them holds an encrypted field (see trading_lab/encryption.py for why that matters).
"""

import zoneinfo
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

import pycountry
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from accounts.models import (
    MarketRegion,
    Preferences,
    Profile,
    RiskTolerance,
    Theme,
    TradingMode,
    Universe,
)
from audit.models import ActivityAction, ActivityStatus
from trading_lab.exceptions import ApplicationError


@cache
def _countries() -> list[tuple[str, str]]:
    countries = sorted(pycountry.countries, key=lambda country: country.name)
    return [("", "Not set")] + [(country.alpha_2, country.name) for country in countries]


@cache
def currency_choices() -> list[tuple[str, str]]:
    """ISO 4217 currencies as form choices (code · name), for every form that asks for one."""
    currencies = sorted(pycountry.currencies, key=lambda currency: currency.alpha_3)
    return [(currency.alpha_3, f"{currency.alpha_3} · {currency.name}") for currency in currencies]


@cache
def _timezones() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


def add_service_errors(form: forms.Form, error: ValidationError | ApplicationError) -> None:
    """Put a service's refusal on the form: field errors by their field, the rest on top."""
    if isinstance(error, ApplicationError):
        errors = error.extra or {NON_FIELD_ERRORS: [error.message]}
    elif hasattr(error, "error_dict"):
        errors = error.message_dict
    else:
        errors = {NON_FIELD_ERRORS: error.messages}
    for field, messages in errors.items():
        target = field if field in form.fields else None
        for message in [messages] if isinstance(messages, str) else messages:
            form.add_error(target, message)


class PlainDecimalField(forms.DecimalField):
    """Shows a stored Decimal as people write it: 1500, not 1500.00000000 or 0E-8."""

    def prepare_value(self, value: object) -> object:
        if isinstance(value, Decimal) and value.is_finite():
            return format(value.normalize(), "f")
        return value


class ProfileForm(forms.ModelForm):
    country = forms.ChoiceField(choices=_countries, required=False)
    base_currency = forms.ChoiceField(
        choices=currency_choices, help_text="Portfolio figures are reported in this currency."
    )
    timezone = forms.ChoiceField(
        choices=_timezones,
        label="Time zone",
        help_text="Times on your pages are shown in this time zone.",
    )

    class Meta:
        model = Profile
        fields = [
            "display_name",
            "country",
            "base_currency",
            "timezone",
            "risk_tolerance",
            "investment_horizon",
            "trading_style",
            "initial_capital",
        ]
        labels = {"investment_horizon": "Investment horizon"}
        field_classes = {"initial_capital": PlainDecimalField}
        help_texts = {"display_name": "How Trading Lab greets you. Leave empty to use your email."}
        widgets = {
            "display_name": forms.TextInput(attrs={"autocomplete": "nickname"}),
            "initial_capital": forms.NumberInput(attrs={"step": "any", "min": "0"}),
        }


class PreferencesForm(forms.Form):
    """Preferences as people think of them: switches and checkboxes, not JSON."""

    theme = forms.ChoiceField(choices=Theme.choices, widget=forms.RadioSelect)
    notify_alert_triggered = forms.BooleanField(required=False, label="A price alert triggers")
    notify_bot_order_filled = forms.BooleanField(required=False, label="A bot's order is filled")
    notify_weekly_summary = forms.BooleanField(required=False, label="Weekly summary")
    universe = forms.ChoiceField(choices=Universe.choices, label="Stock universe")
    market_region = forms.ChoiceField(choices=MarketRegion.choices)
    risk_profile = forms.ChoiceField(choices=RiskTolerance.choices)
    trading_modes = forms.MultipleChoiceField(
        choices=TradingMode.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The ways you trade; the primary mode must be one of them.",
    )
    primary_mode = forms.ChoiceField(choices=[("", "None"), *TradingMode.choices], required=False)
    auxiliary_modes = forms.MultipleChoiceField(
        choices=TradingMode.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Modes you use now and then, besides the primary one.",
    )
    disclosure_accepted = forms.BooleanField(
        required=False, label="I have read and accept the risk disclosure"
    )

    SIMPLE_FIELDS = (
        "theme",
        "notify_alert_triggered",
        "notify_bot_order_filled",
        "notify_weekly_summary",
        "universe",
        "market_region",
        "risk_profile",
        "primary_mode",
    )

    @classmethod
    def initial_from(cls, preferences: Preferences) -> dict:
        initial = {name: getattr(preferences, name) for name in cls.SIMPLE_FIELDS}
        modes = preferences.trading_modes if isinstance(preferences.trading_modes, dict) else {}
        initial["trading_modes"] = [mode for mode, enabled in modes.items() if enabled]
        initial["auxiliary_modes"] = list(preferences.auxiliary_modes or [])
        initial["disclosure_accepted"] = preferences.disclosure_accepted_at is not None
        return initial

    def service_data(self, preferences: Preferences) -> dict:
        """The cleaned input in the shape `preferences_update` takes."""
        data = {name: self.cleaned_data[name] for name in self.SIMPLE_FIELDS}
        enabled = set(self.cleaned_data["trading_modes"])
        data["trading_modes"] = {mode: mode in enabled for mode in TradingMode.values}
        auxiliary = set(self.cleaned_data["auxiliary_modes"])
        data["auxiliary_modes"] = [mode for mode in TradingMode.values if mode in auxiliary]
        if not self.cleaned_data["disclosure_accepted"]:
            data["disclosure_accepted_at"] = None
        else:
            # Keep the first acceptance time: re-saving the form is not a new acceptance.
            data["disclosure_accepted_at"] = preferences.disclosure_accepted_at or timezone.now()
        return data


class TokenCreateForm(forms.Form):
    EXPIRY_CHOICES = [
        ("30", "30 days"),
        ("90", "90 days"),
        ("365", "1 year"),
        ("never", "Never"),
    ]

    name = forms.CharField(
        max_length=100,
        help_text="What the token is for, e.g. the program that uses it.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, initial="90", label="Expires after")

    def expires_at(self) -> datetime | None:
        value = self.cleaned_data["expires_in"]
        if value == "never":
            return None
        return timezone.now() + timedelta(days=int(value))


class ActivityFilterForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("", "All actions"), *ActivityAction.choices], required=False
    )
    status = forms.ChoiceField(
        choices=[("", "Any status"), *ActivityStatus.choices], required=False
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date must be on or after the start date.")
        return cleaned

    def selector_kwargs(self, tz: zoneinfo.ZoneInfo) -> dict:
        """The cleaned filters as `activity_list` takes them; dates are whole days in `tz`."""
        data = self.cleaned_data
        kwargs = {"action": data.get("action") or None, "status": data.get("status") or None}
        if data.get("date_from"):
            kwargs["since"] = _day_start(data["date_from"], tz)
        if data.get("date_to") and data["date_to"] < date.max:
            kwargs["until"] = _day_start(data["date_to"] + timedelta(days=1), tz)
        return kwargs


def _day_start(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)
