"""API shapes of the watchlist, price alerts, notifications and dividends (SPEC §6).

Instruments are named by `symbol` (and `exchange`), like transactions: a shared instrument or
one of the caller's private ones. Input serializers check shape only; the rules are the
services'.
"""

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from accounts.models import validate_currency
from portfolio.models import (
    AlertCondition,
    AlertEvent,
    Dividend,
    DividendKind,
    DividendStatus,
    Notification,
    Portfolio,
    PriceAlert,
    WatchlistItem,
)
from trading_lab.api.fields import OwnedPrimaryKeyRelatedField
from trading_lab.decimals import PRICE


def _positive(value: Decimal) -> None:
    if value <= 0:
        raise serializers.ValidationError("Must be greater than zero.")


def _price(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(**PRICE, **kwargs)


class _InstrumentNamed(serializers.Serializer):
    symbol = serializers.CharField(max_length=32)
    exchange = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


# ---------------------------------------------------------------------------------------------
# Watchlist


class WatchlistItemSerializer(serializers.ModelSerializer):
    """One watched symbol; it need not be a known instrument."""

    exchange = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    target_price = _price(required=False, allow_null=True, default=None, validators=[_positive])

    class Meta:
        model = WatchlistItem
        fields = ["id", "symbol", "exchange", "notes", "target_price", "created_at"]
        read_only_fields = ["id", "created_at"]
        # The service reports a duplicate with the user in scope; the serializer has no user.
        validators: list = []


class WatchlistSerializer(serializers.Serializer):
    """The whole watchlist: what GET answers and PUT replaces."""

    items = WatchlistItemSerializer(many=True)


# ---------------------------------------------------------------------------------------------
# Price alerts and notifications


class PriceAlertSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    exchange = serializers.CharField(source="instrument.exchange", read_only=True)

    class Meta:
        model = PriceAlert
        fields = [
            "id",
            "instrument",
            "symbol",
            "exchange",
            "condition",
            "target",
            "active",
            "triggered_at",
            "notes",
            "created_at",
        ]
        read_only_fields = fields


class PriceAlertInputSerializer(_InstrumentNamed):
    """An alert to create or replace: `condition` is met by a close at or beyond `target`."""

    condition = serializers.ChoiceField(choices=AlertCondition.choices)
    target = _price(validators=[_positive])
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class AlertEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertEvent
        fields = ["id", "alert", "price", "price_date", "triggered_at"]
        read_only_fields = fields


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "link", "read_at", "created_at"]
        read_only_fields = fields


class NotificationFilterSerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False)


# ---------------------------------------------------------------------------------------------
# Dividends


class DividendSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    exchange = serializers.CharField(source="instrument.exchange", read_only=True)

    class Meta:
        model = Dividend
        fields = [
            "id",
            "portfolio",
            "instrument",
            "symbol",
            "exchange",
            "ex_date",
            "pay_date",
            "record_date",
            "declared_date",
            "amount_per_share",
            "currency",
            "shares",
            "total",
            "status",
            "kind",
            "source",
            "transaction",
            "notes",
            "created_at",
        ]
        read_only_fields = fields


class _DividendFields(serializers.Serializer):
    ex_date = serializers.DateField()
    pay_date = serializers.DateField(required=False, allow_null=True, default=None)
    record_date = serializers.DateField(required=False, allow_null=True, default=None)
    declared_date = serializers.DateField(required=False, allow_null=True, default=None)
    amount_per_share = _price(validators=[_positive])
    kind = serializers.ChoiceField(choices=DividendKind.choices, default=DividendKind.CASH)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class DividendInputSerializer(_InstrumentNamed, _DividendFields):
    """A dividend to record; its shares and total come from the portfolio's ledger."""

    portfolio = OwnedPrimaryKeyRelatedField(
        queryset=Portfolio.objects.all(), help_text="One of your portfolios, by id."
    )
    currency = serializers.CharField(
        min_length=3,
        max_length=3,
        required=False,
        allow_null=True,
        validators=[validate_currency],
        help_text="Defaults to the instrument's currency (the ledger records it in that one).",
    )


class DividendUpdateSerializer(_DividendFields):
    """The editable part of an open dividend; portfolio and instrument are fixed."""


class DividendFilterSerializer(serializers.Serializer):
    portfolio = OwnedPrimaryKeyRelatedField(
        queryset=Portfolio.objects.all(), required=False, help_text="One of your portfolios."
    )
    status = serializers.ChoiceField(choices=DividendStatus.choices, required=False)
