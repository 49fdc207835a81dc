"""Page forms: they parse input for accounts.services and show its refusals next to the fields.

None of them holds an encrypted field (see trading_lab/encryption.py for why that matters).
"""

import zoneinfo
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

import pycountry
from allauth.account import forms as allauth_forms
from allauth.core import context as allauth_context
from allauth.mfa.totp import forms as totp_forms
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from accounts.models import (
    Broker,
    MarketRegion,
    Preferences,
    Profile,
    RiskTolerance,
    Theme,
    TradingMode,
    Universe,
)
from audit.models import ActivityAction, ActivityStatus
from audit.services import activity_record
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


# allauth's forms with the failed attempt recorded (SPEC §3 audit: password and MFA changes,
# success or failure). Successes come from allauth's signals (audit/signals.py); a wrong code
# or current password has no signal, so the form that refuses it writes the failure row.
# allauth's middleware keeps the current request in `allauth.core.context`, for the address.


class ChangePasswordForm(allauth_forms.ChangePasswordForm):
    def clean_oldpassword(self) -> str:
        try:
            return super().clean_oldpassword()
        except ValidationError as exc:
            activity_record(
                user=self.user,
                action=ActivityAction.PASSWORD_CHANGE,
                status=ActivityStatus.FAILURE,
                description=f"Password change failed: {' '.join(exc.messages)}",
                request=allauth_context.request,
            )
            raise


class ActivateTOTPForm(totp_forms.ActivateTOTPForm):
    def clean_code(self) -> str:
        try:
            return super().clean_code()
        except ValidationError as exc:
            activity_record(
                user=self.user,
                action=ActivityAction.MFA_CHANGE,
                status=ActivityStatus.FAILURE,
                description=f"Two-factor activation failed: {' '.join(exc.messages)}",
                details={"authenticator": "totp"},
                request=allauth_context.request,
            )
            raise


# Broker credentials: the secrets are plain password inputs that never render a value back,
# so a page never holds a stored or just-typed key.


def _secret_input(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=2000,
        strip=True,
        help_text=help_text,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
        ),
    )


class BrokerCredentialForm(forms.Form):
    """A new broker credential; which secrets each broker needs is the service's rule."""

    SECRET_FIELDS = ("api_key", "api_secret", "passphrase")

    broker = forms.ChoiceField(choices=Broker.choices)
    label = forms.CharField(
        max_length=100,
        help_text="To tell your accounts at one broker apart, e.g. “main” or “family”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    api_key = _secret_input("API key", "Not needed for paper trading.")
    api_secret = _secret_input("API secret")
    passphrase = _secret_input("Passphrase", "Coinbase Exchange keys only.")

    def carries_secret(self) -> bool:
        return any(self.cleaned_data.get(name) for name in self.SECRET_FIELDS)


class BrokerCredentialEditForm(forms.Form):
    """Rename a credential or replace its secrets; an empty secret field keeps the stored one."""

    SECRET_FIELDS = BrokerCredentialForm.SECRET_FIELDS

    label = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    api_key = _secret_input("New API key", "Leave empty to keep the current one.")
    api_secret = _secret_input("New API secret", "Leave empty to keep the current one.")
    passphrase = _secret_input("New passphrase", "Leave empty to keep the current one.")

    def carries_secret(self) -> bool:
        return any(self.cleaned_data.get(name) for name in self.SECRET_FIELDS)

    def service_data(self) -> dict:
        """The label, and only the secrets typed in (the rest are kept)."""
        data = {"label": self.cleaned_data["label"]}
        data.update(
            {
                name: self.cleaned_data[name]
                for name in self.SECRET_FIELDS
                if self.cleaned_data[name]
            }
        )
        return data
