"""Row plans: a list view that reads `values_list()` rows answers exactly what its serializer
would, and a serializer a plan cannot follow is refused when the plan is made."""

from datetime import date
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_resolver
from rest_framework import serializers

from portfolio.models import FxRate, Instrument, Transaction
from portfolio.serializers import TransactionSerializer
from portfolio.services import TransactionInput, portfolio_create, transactions_bulk_create
from trading_lab.api.rows import PlannedListMixin, RowPlan


def _planned_views() -> set[type]:
    found, stack = set(), [get_resolver()]
    while stack:
        resolver = stack.pop()
        for entry in resolver.url_patterns:
            if hasattr(entry, "url_patterns"):
                stack.append(entry)
                continue
            view = getattr(entry.callback, "view_class", None) or getattr(
                entry.callback, "cls", None
            )
            if view is not None and issubclass(view, PlannedListMixin):
                found.add(view)
    return found


@pytest.fixture
def ledger(user):
    """Rows that test every field's writing: cash rows without an instrument, a foreign
    currency with an FX rate, long decimals, empty and non-ASCII notes, external ids."""
    portfolio = portfolio_create(user=user, name="Rows", base_currency="USD")
    apple = Instrument.objects.create(symbol="AAPL", exchange="NASDAQ", currency="USD")
    sap = Instrument.objects.create(symbol="SAP", exchange="XETRA", currency="EUR")
    FxRate.objects.create(base="EUR", quote="USD", date=date(2024, 1, 2), rate=Decimal("1.09"))
    inputs = [
        TransactionInput(
            type="DEPOSIT", date=date(2024, 1, 2), quantity=None, price=Decimal(10**6)
        ),
        TransactionInput(
            type="BUY",
            date=date(2024, 1, 3),
            quantity=Decimal("3.12345678"),
            price=Decimal("187.1234"),
            fee=Decimal("1.5"),
            instrument=apple,
            notes="first: naïve ünïcode €",
            external_id="ext-1",
        ),
        TransactionInput(
            type="BUY",
            date=date(2024, 1, 4),
            quantity=Decimal("10"),
            price=Decimal("120"),
            instrument=sap,
            fx_rate=Decimal("1.0987654321"),
        ),
        TransactionInput(
            type="SELL",
            date=date(2024, 1, 5),
            quantity=Decimal("0.00000001"),
            price=Decimal("190"),
            instrument=apple,
        ),
        TransactionInput(type="FEE", date=date(2024, 1, 5), quantity=None, price=Decimal("0.01")),
    ]
    transactions_bulk_create(portfolio=portfolio, inputs=inputs)
    return portfolio


def test_the_transaction_list_answers_what_the_serializer_would(session_client, user, ledger):
    response = session_client.get("/api/v1/transactions", {"page_size": 3})
    rows = Transaction.objects.for_user(user).order_by("-date", "-id")[:3]

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["count"] == 5
    assert body["results"] == TransactionSerializer(rows, many=True).data
    # The serializer's own output, not a copy of the plan's: decimals as strings at the
    # field's places, dates in ISO format, no symbol on cash rows.
    assert {row["type"] for row in body["results"]} >= {"SELL", "FEE"}
    assert body["results"][0]["symbol"] is None or body["results"][1]["symbol"] is None


def test_every_planned_view_is_known_to_these_tests():
    # A new view with a plan needs its own comparison with its serializer here.
    from portfolio.apis import TransactionListApi

    assert _planned_views() == {TransactionListApi}


class _MethodField(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()

    class Meta:
        model = Transaction
        fields = ["id", "label"]
        read_only_fields = fields

    def get_label(self, obj) -> str:
        return str(obj)


class _Property(serializers.ModelSerializer):
    amount = serializers.DecimalField(max_digits=20, decimal_places=2, source="amount_total")

    class Meta:
        model = Transaction
        fields = ["id", "amount"]
        read_only_fields = fields


class _Writable(serializers.ModelSerializer):
    class Meta:
        model = Transaction
        fields = ["id", "notes"]


class _Relation(serializers.ModelSerializer):
    class Meta:
        model = Transaction
        fields = ["id", "portfolio"]
        read_only_fields = fields


@pytest.mark.parametrize("serializer", [_MethodField, _Property, _Writable, _Relation])
def test_a_field_that_is_not_one_column_is_refused(serializer):
    with pytest.raises(ImproperlyConfigured):
        RowPlan(serializer)
