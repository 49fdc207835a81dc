"""JSON API of a user's own model history (issue 6): what the History panels show, for clients.

`GET /api/v1/portfolios/{id}/history`, `.../transactions/{id}/history`, `.../bots/{id}/history`:
one of the caller's rows (another user's id is 404), newest first, paginated like every list.
"""

from typing import Any

from django.db import models
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from audit.user_history import ACTIONS, ACTORS, history_entries, history_items
from bots.models import Bot
from portfolio.models import Portfolio, Transaction


class HistoryChangeSerializer(serializers.Serializer):
    name = serializers.CharField(
        help_text="The field's name; a key of a settings object as `config.take_profit_pct`."
    )
    field = serializers.CharField(help_text="The field's label, as the pages show it.")
    old = serializers.CharField(help_text="The value before (`—` when empty, as on a creation).")
    new = serializers.CharField(help_text="The value after (`—` when empty).")


class HistoryItemSerializer(serializers.Serializer):
    """One change of the row (or of one of its children), as its owner sees it."""

    id = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=list(ACTIONS.values()))
    actor = serializers.ChoiceField(
        choices=ACTORS, help_text="Who made the change; nobody but the caller is named."
    )
    subject = serializers.CharField(
        help_text="The child row changed (`Transaction 2024-01-02 BUY ...`); empty for the row."
    )
    changes = HistoryChangeSerializer(many=True, help_text="Empty for a deletion.")


class ObjectHistoryApi(generics.ListAPIView):
    """The history of one of the caller's rows of `model`, newest first."""

    serializer_class = HistoryItemSerializer
    model: type[models.Model]

    def get_queryset(self):
        return self.model._default_manager.for_user(self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = get_object_or_404(self.get_queryset(), pk=kwargs["id"])
        entries = self.paginate_queryset(history_entries(user=request.user, instance=instance))
        items = history_items(user=request.user, instance=instance, entries=entries)
        return self.get_paginated_response(self.get_serializer(items, many=True).data)


@extend_schema(tags=["portfolios"])
class PortfolioHistoryApi(ObjectHistoryApi):
    """Changes of one of the caller's portfolios and of its transactions (deleted ones too)."""

    model = Portfolio


@extend_schema(tags=["transactions"])
class TransactionHistoryApi(ObjectHistoryApi):
    """Changes of one of the caller's transactions, newest first."""

    model = Transaction


@extend_schema(tags=["bots"])
class BotHistoryApi(ObjectHistoryApi):
    """Changes of one of the caller's bots (settings, start, pause, stop), newest first."""

    model = Bot
