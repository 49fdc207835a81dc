"""Serializer fields that keep request bodies inside the caller's own rows (SPEC §2)."""

from django.db.models import QuerySet
from rest_framework import serializers

from trading_lab.models import OwnedQuerySet


class OwnedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id in a request body, resolved only among the requesting user's rows.

    Another user's id fails exactly like one that does not exist ("object does not exist"),
    so nothing is revealed and nothing is written. Give it the model's unscoped queryset,
    e.g. `OwnedPrimaryKeyRelatedField(queryset=Portfolio.objects.all())`; the serializer needs
    the request in its context (DRF's generic views pass it).
    """

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if not isinstance(queryset, OwnedQuerySet):
            raise TypeError(f"{queryset.model.__name__} rows are not owned: use a plain field.")
        request = self.context.get("request")
        return queryset.for_user(getattr(request, "user", None))
