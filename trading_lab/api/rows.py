"""List rows without a model instance or a serializer call per row.

A read-only `ModelSerializer` turns each row into a model instance (and one per related object),
then walks every field through `get_attribute` and `to_representation`. For a page of 50 ledger
rows that is most of the request's time (docs/performance.md, load). A `RowPlan` is compiled
once from the serializer class: the database paths of its fields for `values_list()`, and one
formatter per field that gives exactly what the field's `to_representation` would. Fields it
cannot read from a column (a method field, a nested serializer, a source that is a property)
are refused when the plan is made, so a view cannot quietly drift from its serializer; the tests
compare the two outputs for every view that uses a plan.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework import fields as drf_fields
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.settings import ISO_8601, api_settings


def _decimal(field: drf_fields.DecimalField) -> Callable[[Any], Any]:
    """DecimalField.to_representation with its exponent and context made once, not per value."""
    coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    if field.localize or field.normalize_output or not coerce or field.decimal_places is None:
        return field.to_representation
    exponent = decimal.Decimal(".1") ** field.decimal_places
    context = decimal.DefaultContext.copy()
    if field.max_digits is not None:
        context.prec = field.max_digits
    rounding = field.rounding

    def represent(value: Any) -> str:
        if not isinstance(value, decimal.Decimal):
            value = decimal.Decimal(str(value).strip())
        return f"{value.quantize(exponent, rounding=rounding, context=context):f}"

    return represent


def _formatter(field: drf_fields.Field) -> Callable[[Any], Any] | None:
    """What writes a field's non-null value; None when the column's value is already it."""
    kind = type(field)
    if kind is drf_fields.IntegerField:
        return int
    if kind is drf_fields.CharField:
        return str
    if kind is drf_fields.DecimalField:
        return _decimal(field)
    if kind is drf_fields.DateField:
        output = getattr(field, "format", api_settings.DATE_FORMAT)
        if output is not None and output.lower() == ISO_8601:
            return _iso_date
    return field.to_representation  # ChoiceField, DateTimeField (time zone), JSONField, ...


def _iso_date(value: Any) -> str:
    return value.isoformat()


def _column_path(model, source: str) -> str:
    """`instrument.symbol` as `instrument__symbol`, checked to end at a concrete column (a
    foreign key only by its attname, `portfolio_id`)."""
    parts = source.split(".")
    current = model
    for position, part in enumerate(parts):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            raise ImproperlyConfigured(f"{model.__name__}: {source!r} is not a column.") from None
        if position < len(parts) - 1:
            usable = field.many_to_one or field.one_to_one
            if not usable or part != field.name:
                raise ImproperlyConfigured(f"{model.__name__}: {source!r} is not a column.")
            current = field.related_model
        elif not field.concrete or (field.is_relation and part != field.attname):
            raise ImproperlyConfigured(f"{model.__name__}: {source!r} is not a column.")
    return "__".join(parts)


class RowPlan:
    """A read-only ModelSerializer's output, from `values_list()` rows."""

    def __init__(self, serializer_class: type[serializers.ModelSerializer]) -> None:
        model = serializer_class.Meta.model
        names, paths, formatters = [], [], []
        for name, field in serializer_class().fields.items():
            if field.write_only:
                continue
            if not field.read_only:
                raise ImproperlyConfigured(f"{serializer_class.__name__}.{name} is writable.")
            if isinstance(
                field,
                serializers.BaseSerializer
                | serializers.SerializerMethodField
                | serializers.RelatedField
                | serializers.ManyRelatedField
                | serializers.HiddenField,
            ):
                raise ImproperlyConfigured(
                    f"{serializer_class.__name__}.{name} is not read from one column."
                )
            names.append(name)
            paths.append(_column_path(model, field.source))
            formatters.append(_formatter(field))
        self.names = tuple(names)
        self.paths = tuple(paths)
        self.formatters = tuple(formatters)

    def values(self, queryset: QuerySet) -> QuerySet:
        return queryset.values_list(*self.paths)

    def rows(self, values: Iterable[tuple]) -> list[dict[str, Any]]:
        names, formatters = self.names, self.formatters
        return [
            dict(
                zip(
                    names,
                    [
                        value if value is None or write is None else write(value)
                        for write, value in zip(formatters, row, strict=True)
                    ],
                    strict=True,
                )
            )
            for row in values
        ]


@cache
def row_plan(serializer_class: type[serializers.ModelSerializer]) -> RowPlan:
    return RowPlan(serializer_class)


class PlannedListMixin:
    """`GET` of a list view through a RowPlan of its serializer: the same JSON, paginated the
    same way, without building a model instance or running the serializer for each row."""

    def list(self, request, *args, **kwargs) -> Response:
        plan = row_plan(self.get_serializer_class())
        values = plan.values(self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(values)
        if page is None:
            return Response(plan.rows(values))
        return self.get_paginated_response(plan.rows(page))
