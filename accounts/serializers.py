"""API shapes of the accounts area: profile, preferences, personal API tokens, broker keys."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from accounts.models import (
    Broker,
    BrokerCredential,
    PersonalApiToken,
    Preferences,
    Profile,
    TradingMode,
    validate_auxiliary_modes,
)

PROFILE_FIELDS = [
    "display_name",
    "country",
    "base_currency",
    "timezone",
    "risk_tolerance",
    "investment_horizon",
    "trading_style",
    "initial_capital",
]


class ProfileSerializer(serializers.ModelSerializer):
    """The trader's profile. PUT needs every field; PATCH any subset."""

    class Meta:
        model = Profile
        fields = [*PROFILE_FIELDS, "updated_at"]
        read_only_fields = ["updated_at"]
        # Model defaults would make every field optional; a PUT replaces the whole profile.
        extra_kwargs = {name: {"required": True} for name in PROFILE_FIELDS}


class TradingModesSerializer(serializers.Serializer):
    """Each trading mode, on or off. A PUT names every mode, a PATCH only those it changes."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # Not `required`: the schema of a PATCH would otherwise demand every mode. A PUT's
        # completeness is checked in to_internal_value.
        return {
            mode: serializers.BooleanField(required=False, help_text=f"{label} trading on or off.")
            for mode, label in TradingMode.choices
        }

    def to_internal_value(self, data: Any) -> dict[str, bool]:
        if isinstance(data, Mapping):
            errors = {name: ["Unknown trading mode."] for name in set(data) - set(self.fields)}
            if not getattr(self.root, "partial", False):
                for name in set(self.fields) - set(data):
                    errors[name] = ["This field is required."]
            if errors:
                raise serializers.ValidationError(dict(sorted(errors.items())))
        return super().to_internal_value(data)


PREFERENCES_FIELDS = [
    "theme",
    "notify_alert_triggered",
    "notify_bot_order_filled",
    "notify_weekly_summary",
    "disclosure_accepted_at",
    "universe",
    "market_region",
    "risk_profile",
    "trading_modes",
    "primary_mode",
    "auxiliary_modes",
]


class PreferencesSerializer(serializers.ModelSerializer):
    """How the app behaves for the trader. PUT needs every field; PATCH any subset.

    In a PATCH, `trading_modes` may name only the modes to change; the others keep their value.
    """

    trading_modes = TradingModesSerializer()
    auxiliary_modes = serializers.ListField(
        child=serializers.ChoiceField(choices=TradingMode.choices),
        validators=[validate_auxiliary_modes],
        help_text="Modes used beside the primary one; no repeats, not the primary mode.",
    )

    class Meta:
        model = Preferences
        fields = [*PREFERENCES_FIELDS, "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {name: {"required": True} for name in PREFERENCES_FIELDS}

    def validate_trading_modes(self, value: dict[str, bool]) -> dict[str, bool]:
        if self.partial and self.instance is not None:
            return {**self.instance.trading_modes, **value}
        return value


class TokenSerializer(serializers.ModelSerializer):
    """A personal API token as listed: never its secret, which is shown only once."""

    is_active = serializers.BooleanField(
        read_only=True, help_text="Neither revoked nor expired: it authenticates requests."
    )

    class Meta:
        model = PersonalApiToken
        fields = [
            "id",
            "name",
            "token_prefix",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "is_active",
        ]
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    """What a new personal API token needs: a name, and optionally when it expires."""

    name = serializers.CharField(max_length=100, help_text="Unique among your tokens.")
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When it stops working; never when empty."
    )


class TokenCreatedSerializer(TokenSerializer):
    """A token just created, with its secret: the one answer that ever carries it."""

    token = serializers.CharField(
        read_only=True,
        help_text="The secret to send as `Authorization: Bearer <token>`. Shown only in this "
        "answer: store it now, it cannot be read again.",
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


# ---------------------------------------------------------------------------------------------
# Broker credentials: secrets are write-only; answers carry their masked form only.

SECRET_MAX_LENGTH = 2000


def _secret_field(what: str, *, required: bool = False) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=required,
        allow_blank=True,
        max_length=SECRET_MAX_LENGTH,
        trim_whitespace=True,
        style={"input_type": "password"},
        help_text=f"The {what}, stored encrypted and never shown again (only its last 4 "
        "characters, masked).",
    )


class BrokerCredentialSerializer(serializers.ModelSerializer):
    """A broker credential as shown: its secrets masked (bullets and the last 4 characters)."""

    api_key_masked = serializers.CharField(read_only=True, help_text="The API key, masked.")
    api_secret_masked = serializers.CharField(read_only=True, help_text="The API secret, masked.")
    passphrase_masked = serializers.CharField(read_only=True, help_text="The passphrase, masked.")

    class Meta:
        model = BrokerCredential
        fields = [
            "id",
            "broker",
            "label",
            "api_key_masked",
            "api_secret_masked",
            "passphrase_masked",
            "status",
            "last_connected_at",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class BrokerCredentialCreateSerializer(serializers.Serializer):
    """A new credential. Which secrets a broker needs: paper none; Coinbase may add a passphrase;
    every other broker an API key and secret. Adding a key needs a recent re-authentication."""

    broker = serializers.ChoiceField(choices=Broker.choices)
    label = serializers.CharField(
        max_length=100, help_text="Unique among your credentials of this broker."
    )
    api_key = _secret_field("API key")
    api_secret = _secret_field("API secret")
    passphrase = _secret_field("passphrase")


class BrokerCredentialUpdateSerializer(serializers.Serializer):
    """A new label and/or new secrets; the broker cannot change. A secret left out is kept,
    an empty one is cleared. Replacing a secret needs a recent re-authentication and ends the
    current session."""

    label = serializers.CharField(max_length=100, required=True)
    api_key = _secret_field("API key")
    api_secret = _secret_field("API secret")
    passphrase = _secret_field("passphrase")


class BrokerConnectSerializer(BrokerCredentialSerializer):
    """The credential after a connect; `login_url` is set when the broker wants the trader to
    sign in on its own site first (the connect finishes on its callback)."""

    login_url = serializers.CharField(read_only=True, allow_blank=True)

    class Meta(BrokerCredentialSerializer.Meta):
        fields = [*BrokerCredentialSerializer.Meta.fields, "login_url"]
        read_only_fields = fields
