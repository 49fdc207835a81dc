"""Model history for rows written in bulk, which sends no signals auditlog could see.

`CreatedEntries` writes, in bulk, the CREATE entry a `save()` of each row would have written:
the same `changes` (auditlog's diff), object id and text and correlation id, and the actor,
address and correlation id auditlog's context (`set_actor`, our AuditContextMiddleware) gives an
entry through LogEntry's `pre_save` signal. On PostgreSQL the entries go in with one `COPY`;
elsewhere with `bulk_create`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from json.encoder import encode_basestring_ascii as encode_json_string
from operator import attrgetter
from typing import Any, TypeVar

from auditlog.cid import get_cid
from auditlog.context import auditlog_disabled
from auditlog.diff import is_primitive, model_instance_diff
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connections, models, router
from django.db.models.signals import pre_save
from django.utils import timezone
from django.utils.encoding import smart_str

from portfolio.services.bulk_write import copy_rows, copy_supported

BATCH_SIZE = 2000
# Instances whose entries `CreatedEntries.build` makes at a time.
BUILD_CHUNK = 1000
# The columns each entry fills in itself; every other column takes the batch's template value.
ENTRY_OWN_COLUMNS = ("object_pk", "object_id", "object_repr", "serialized_data", "changes")

Differ = Callable[[models.Model], dict[str, Any] | None]
T = TypeVar("T")


class CreatedEntries:
    """The CREATE entries of a batch of new rows of one model, in steps a bulk write can spread.

    The entries are the ones a `save()` of each row would have written. The diff covers the
    concrete fields only: a row just created has no reverse relation (no dividend points at a
    new transaction), which a save's diff would look up row by row.

    `for_model` reads what every entry shares (the content type, auditlog's context) and may
    query; `build` makes each entry's own values and queries nothing as long as the instances'
    `__str__` reads no relation it has not cached; `write` stores them (`COPY` on PostgreSQL,
    `bulk_create` elsewhere) and can run other work while the server takes them.
    """

    def __init__(self, model: type[models.Model], using: str) -> None:
        self.model = model
        self.using = using
        self.table = LogEntry._meta.db_table  # where the entries go
        self.template = _entry_template(model, using)
        self.copy = copy_supported(using)
        # COPY sends `changes` as text: written as JSON straight away where the model allows.
        self.differ_many = (self.copy and create_changes_json(model)) or _each(create_differ(model))
        self.serialize = auditlog.get_serialize_options(model)["serialize_data"]
        self.additional = callable(getattr(model, "get_additional_data", None))

    @classmethod
    def for_model(cls, model: type[models.Model]) -> CreatedEntries | None:
        """None when history is off (`disable_auditlog`) or `model` has none."""
        if auditlog_disabled.get() or not auditlog.contains(model):
            return None
        return cls(model, router.db_for_write(LogEntry))

    def build(self, instances: Sequence[models.Model]) -> Iterator[tuple[Any, ...]]:
        """Each saved instance's own entry values (an instance without changes has none),
        `BUILD_CHUNK` instances at a time, so that `write` sends the first entries while the
        next ones are made. The instances must have their primary keys."""
        differ_many, template = self.differ_many, self.template
        serialize, additional = self.serialize, self.additional
        for start in range(0, len(instances), BUILD_CHUNK):
            chunk = instances[start : start + BUILD_CHUNK]
            pks = [instance.pk for instance in chunk]
            if None in pks:
                raise ValueError(f"{self.model.__name__} rows need their primary keys for history.")
            # What auditlog's `smart_str` gives an instance.
            texts = map(str, chunk)
            for instance, pk, text, changes in zip(
                chunk, pks, texts, differ_many(chunk), strict=True
            ):
                if not changes:
                    continue
                yield (
                    pk,
                    text,
                    LogEntry.objects._get_serialized_data_or_none(instance) if serialize else None,
                    instance.get_additional_data() if additional else template.additional_data,
                    changes,
                )

    def write(
        self, own: Iterable[tuple[Any, ...]], *, meanwhile: Callable[[], T] | None = None
    ) -> T | None:
        """Store the entries `build` made; run `meanwhile()` as `copy_rows` does (on other
        databases, after the insert) and return its result."""
        if self.copy:
            return _copy_entries(self.template, own, self.using, meanwhile=meanwhile)
        _bulk_create_entries(self.template, own, self.using)
        return None if meanwhile is None else meanwhile()


def _entry_template(model: type[models.Model], using: str) -> LogEntry:
    """The values every entry of this batch shares, the context's actor and address included.

    auditlog's context fills in an entry in its `pre_save` signal; it sets the same values on
    every entry of a request, so one signal for a template stands for one per entry.
    """
    template = LogEntry(
        content_type=ContentType.objects.get_for_model(model),
        action=LogEntry.Action.CREATE,
        cid=get_cid(),
        timestamp=timezone.now(),
    )
    pre_save.send(sender=LogEntry, instance=template, raw=False, using=using, update_fields=None)
    return template


def _bulk_create_entries(template: LogEntry, own: Iterable[tuple[Any, ...]], using: str) -> None:
    shared = {
        field.attname: getattr(template, field.attname)
        for field in LogEntry._meta.concrete_fields
        if not field.primary_key
        and field.attname not in ENTRY_OWN_COLUMNS
        and field.attname != "additional_data"
    }
    entries = [
        LogEntry(
            **shared,
            object_pk=smart_str(pk),
            object_id=pk if isinstance(pk, int) else None,
            object_repr=text,
            serialized_data=serialized,
            additional_data=additional,
            changes=changes,
        )
        for pk, text, serialized, additional, changes in own
    ]
    LogEntry.objects.using(using).bulk_create(entries, batch_size=BATCH_SIZE)


def _copy_entries(
    template: LogEntry,
    own: Iterable[tuple[Any, ...]],
    using: str,
    *,
    meanwhile: Callable[[], T] | None = None,
) -> T | None:
    connection = connections[using]
    fields = [field for field in LogEntry._meta.concrete_fields if not field.primary_key]
    at = {field.attname: index for index, field in enumerate(fields)}
    # Every entry starts as the template's row; each fills in its own columns.
    shared = [
        None
        if field.attname in ENTRY_OWN_COLUMNS or field.attname == "additional_data"
        else field.get_db_prep_save(getattr(template, field.attname), connection)
        for field in fields
    ]
    pk_at, id_at, repr_at = at["object_pk"], at["object_id"], at["object_repr"]
    changes_at, serialized_at, additional_at = (
        at["changes"],
        at["serialized_data"],
        at["additional_data"],
    )
    serialized_encoder = LogEntry._meta.get_field("serialized_data").encoder
    additional_encoder = LogEntry._meta.get_field("additional_data").encoder
    dumps = json.dumps

    def rows():
        for pk, text, serialized, additional, changes in own:
            row = shared.copy()
            row[pk_at] = str(pk)
            row[id_at] = pk if isinstance(pk, int) else None
            row[repr_at] = text
            # The JSON columns' own encoding (`changes` has no custom encoder), unless
            # `create_changes_json` wrote it already.
            row[changes_at] = changes if type(changes) is str else dumps(changes)
            if serialized is not None:
                row[serialized_at] = dumps(serialized, cls=serialized_encoder)
            if additional is not None:
                row[additional_at] = dumps(additional, cls=additional_encoder)
            yield row

    return copy_rows(
        using=using,
        table=LogEntry._meta.db_table,
        columns=[field.column for field in fields],
        rows=rows(),
        meanwhile=meanwhile,
    )


def _each(differ: Differ) -> Callable[[Sequence[models.Model]], list[dict[str, Any] | None]]:
    return lambda instances: list(map(differ, instances))


def create_differ(model: type[models.Model]) -> Differ:
    """A function giving the `changes` auditlog logs for the creation of a `model` instance.

    The same result as auditlog's `model_instance_diff(None, instance, <concrete fields>)`, with
    its per-call set-up (field lists, registry look-ups) done once for the batch. Settings this
    shortcut does not cover (masked fields, text changes, foreign keys as text) use auditlog's.
    """
    plan = _create_plan(model)
    if plan is None:
        concrete = [field.name for field in model._meta.concrete_fields]
        use_json = settings.AUDITLOG_STORE_JSON_CHANGES
        return lambda instance: model_instance_diff(
            None, instance, fields_to_check=concrete, use_json_for_changes=use_json
        )
    names, read_all, converters = plan

    def differ(instance: models.Model) -> dict[str, Any] | None:
        changes = {}
        for name, value in zip(names, _values(instance, read_all, converters), strict=True):
            # A new row's old value is None: every field with a value has changed.
            if value is not None:
                changes[name] = (None, value)
        return changes or None

    return differ


def create_changes_json(
    model: type[models.Model],
) -> Callable[[Sequence[models.Model]], list[str | None]] | None:
    """`create_differ`'s changes of many instances written straight as JSON text, as
    `json.dumps` writes them (same keys, order and values), one text (or None) per instance;
    None where `create_differ` falls back to auditlog.

    For the `COPY` path, which sends each entry's `changes` as text: building a dict per entry
    and encoding it again costs more than the database's own work on the entry. The text is made
    a column at a time, so that a column of one plain type is encoded in one step.
    """
    plan = _create_plan(model)
    if plan is None:
        return None
    names, read_all, converters = plan
    heads = [
        f"{encode_json_string(name)}: [null, ".replace("{", "{{").replace("}", "}}")
        for name in names
    ]

    def changes_json(instances: Sequence[models.Model]) -> list[str | None]:
        # Each field's column is looked at once: its values converted, and either left for
        # `str.format` to write (an int; a Decimal, date or datetime within quotes) or written
        # as JSON text here. Then one format string per pattern of missing values (a cash
        # row has no instrument) writes each entry in one call.
        if not instances:
            return []
        columns: list[list[Any]] = []
        specs: list[str] = []
        nullable: list[int] = []
        for at, (convert, values) in enumerate(
            zip(converters, zip(*map(read_all, instances), strict=True), strict=True)
        ):
            column = list(map(convert, values)) if convert is not None else list(values)
            kinds = set(map(type, column))
            if _NONE in kinds:
                nullable.append(at)
                kinds.discard(_NONE)
            # The column's one type (None aside), if it has one.
            kind = next(iter(kinds)) if len(kinds) == 1 else None
            if kind in _JSON_QUOTED:
                specs.append(f'"{{{at}!s}}"')
            else:
                specs.append(f"{{{at}}}")
                if kind is str:
                    column = [None if v is None else encode_json_string(v) for v in column]
                elif kinds and kind is not int:  # several types, or one without a shortcut
                    column = [None if v is None else _json_value(v) for v in column]
            columns.append(column)
        formats: dict[tuple[bool, ...], Callable[..., str] | None] = {}

        def entry_format(missing: tuple[bool, ...]) -> Callable[..., str] | None:
            absent = {at for at, none in zip(nullable, missing, strict=True) if none}
            parts = [f"{heads[at]}{spec}]" for at, spec in enumerate(specs) if at not in absent]
            return ("{{" + ", ".join(parts) + "}}").format if parts else None

        rows = zip(*columns, strict=True)
        if not nullable:
            write = entry_format(())
            return [write(*row) for row in rows] if write else [None] * len(instances)
        patterns = list(
            zip(*([value is None for value in columns[at]] for at in nullable), strict=True)
        )
        for missing in set(patterns):
            formats[missing] = entry_format(missing)
        return [
            write(*row) if (write := formats[missing]) else None
            for row, missing in zip(rows, patterns, strict=True)
        ]

    return changes_json


_NONE = type(None)
# `str()` of these writes only digits, signs, letters, ".", ":" and spaces, none of which JSON
# escapes: `"<str(value)>"` is their JSON text.
_JSON_QUOTED = frozenset({Decimal, date, datetime})


def _json_value(value: Any) -> str:
    """One value as `json.dumps` writes what auditlog's diff logs for it."""
    kind = type(value)
    if kind is str:
        return encode_json_string(value)
    if kind is int:
        return int.__repr__(value)
    if kind in _JSON_QUOTED:
        return f'"{value!s}"'
    return json.dumps(_logged(value))


def _create_plan(model: type[models.Model]) -> tuple[list[str], Any, list] | None:
    """The field names, one reader of all their values and each one's conversion, or None when
    a setting needs auditlog's own diff (masked fields, text changes, foreign keys as text).
    """
    options = auditlog.get_model_fields(model)
    if (
        not settings.AUDITLOG_STORE_JSON_CHANGES
        or options["mask_fields"]
        or settings.AUDITLOG_USE_FK_STRING_REPRESENTATION
    ):
        return None
    fields = list(model._meta.concrete_fields)
    if options["include_fields"]:
        fields = [field for field in fields if field.name in options["include_fields"]]
    fields = [field for field in fields if field.name not in options["exclude_fields"]]
    # One C-level read of every field, then the conversions a few field kinds need.
    read = attrgetter(*[_attribute(field) for field in fields])
    read_all = read if len(fields) > 1 else lambda instance: (read(instance),)
    return [field.name for field in fields], read_all, [_converter(field) for field in fields]


def _values(instance: models.Model, read_all: Any, converters: list) -> list[Any]:
    """The values auditlog's diff logs for `instance`'s fields (None for no value)."""
    values = []
    for value, convert in zip(read_all(instance), converters, strict=True):
        if convert is not None:
            value = convert(value)
        values.append(None if value is None else _logged(value))
    return values


def _logged(value: Any) -> Any:
    """What auditlog's diff logs for a value: a JSON primitive as it is, anything else as
    its `smart_str` (for a Decimal, date or datetime, `str()`, without `smart_str`'s checks)."""
    kind = type(value)
    if kind is str or kind is int:
        return value
    if kind in _JSON_QUOTED:
        return str(value)
    return value if is_primitive(value) else smart_str(value)


def _attribute(field: models.Field) -> str:
    if (field.one_to_one or field.many_to_one) and hasattr(field, "rel_class"):
        return field.attname
    return field.name


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    """What auditlog's `get_field_value(..., use_json_for_changes=True)` does to a value read."""
    if isinstance(field, models.DateTimeField):
        to_python = field.to_python
        last: list[Any] = [None, None]

        def convert_datetime(value: Any) -> Any:
            # Rows written together share one timestamp object: convert it once.
            if value is not None and value is last[0]:
                return last[1]
            original = value
            try:
                value = to_python(value)
            except TypeError:
                return value
            if value is not None and settings.USE_TZ and not timezone.is_naive(value):
                value = timezone.make_naive(value, timezone=UTC)
            last[:] = [original, value]
            return value

        return convert_datetime
    if isinstance(field, models.JSONField):
        return field.to_python
    if (field.one_to_one or field.many_to_one) and hasattr(field, "rel_class"):
        return lambda value: value if type(value) is int else smart_str(value, strings_only=True)
    return None
