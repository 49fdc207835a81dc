"""auditlog's diff of a model instance, with its per-call set-up done once per model.

auditlog's `model_instance_diff(old, new, fields_to_check=..., use_json_for_changes=True)` works
out on every call which fields to compare (a set of the model's fields, filtered by the fields
asked for and by the registry's include and exclude lists), then reads each value through
`get_field_value`, which looks up settings and field kinds for every value. Code that writes
many entries of one model and one field list (a bot tick) calls `entry_differ` once and the
function it returns for every change: the same fields in the same order, the same values, the
same comparison. Settings it does not cover (changes stored as text, masked fields, foreign keys
as text) get auditlog's own function. `tests/audit/test_history_diff.py` compares the two.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from auditlog.diff import get_field_value, is_primitive, model_instance_diff, track_field
from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.db.models import DateTimeField, ForeignKey, JSONField
from django.utils.encoding import smart_str

Changes = dict[str, tuple[Any, Any]]
Differ = Callable[[models.Model | None, models.Model], Changes | None]


def entry_differ(model: type[models.Model], fields: tuple[str, ...] | None) -> Differ:
    """A function `(old, new)` giving the `changes` auditlog logs when `new` is saved: created
    (`old` None, `fields` None, every field of the model) or updated with
    `update_fields=fields` (`old` the row as stored).

    Built once per (model, fields) and settings that shape the diff, as auditlog's registry
    is built once per process.
    """
    return _differ(
        model,
        fields,
        settings.AUDITLOG_STORE_JSON_CHANGES,
        settings.AUDITLOG_USE_FK_STRING_REPRESENTATION,
    )


@cache
def _differ(
    model: type[models.Model],
    fields: tuple[str, ...] | None,
    use_json: bool,
    fk_as_text: bool,
) -> Differ:
    options = auditlog.get_model_fields(model)
    if not use_json or options["mask_fields"] or fk_as_text:
        checked = list(fields) if fields is not None else None

        def differ_auditlog(old: models.Model | None, new: models.Model) -> Changes | None:
            return model_instance_diff(
                old, new, fields_to_check=checked, use_json_for_changes=use_json
            )

        return differ_auditlog
    readers = [(field.name, _reader(field)) for field in _fields(model, fields, options)]

    def differ(old: models.Model | None, new: models.Model) -> Changes | None:
        changes = {}
        for name, read in readers:
            # auditlog reads every field of a missing instance as None.
            old_value = None if old is None else read(old)
            new_value = read(new)
            if old_value != new_value:
                if not is_primitive(old_value):
                    old_value = smart_str(old_value)
                if not is_primitive(new_value):
                    new_value = smart_str(new_value)
                changes[name] = (old_value, new_value)
        return changes or None

    return differ


def _fields(
    model: type[models.Model], names: tuple[str, ...] | None, options: dict[str, Any]
) -> list[models.Field]:
    """The fields `model_instance_diff` compares, in the order it compares them."""
    if names is None:
        # A creation: every tracked field, reverse relations included.
        # (auditlog's `get_fields_in_model`, which takes an instance for its `_meta`.)
        fields = set([field for field in model._meta.get_fields() if track_field(field)])  # noqa: C403
    else:
        # An update: the concrete fields, as the union of old's and new's lists (one set of
        # the same fields built the same way, so the same iteration order).
        fields = set(model._meta.fields + model._meta.fields)
        if names:
            fields = {
                field
                for field in fields
                if (isinstance(field, ForeignKey) and field.attname in names) or field.name in names
            }
    if (options["include_fields"] or options["exclude_fields"]) and fields:
        if options["include_fields"]:
            fields = [field for field in fields if field.name in options["include_fields"]]
        if options["exclude_fields"]:
            fields = [field for field in fields if field.name not in options["exclude_fields"]]
    return list(fields)


def _reader(field: Any) -> Callable[[models.Model], Any]:
    """`get_field_value(obj, field, use_json_for_changes=True)` for one field."""
    concrete = getattr(field, "concrete", False)
    if (
        not concrete
        or isinstance(field, DateTimeField | JSONField)
        or field.one_to_one
        or field.many_to_many
    ):
        return lambda obj: get_field_value(obj, field, True)
    if field.many_to_one:
        if not hasattr(field, "rel_class"):
            return lambda obj: get_field_value(obj, field, True)
        attname = field.attname
        return lambda obj: smart_str(getattr(obj, attname), strings_only=True)
    name = field.name
    return lambda obj: getattr(obj, name)
