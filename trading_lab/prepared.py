"""Hot reads compiled once: a queryset turned into SQL on its first run, then re-run with new
values without building or compiling it again.

Django builds and compiles a queryset on every call. For a lookup on a key that is cheap for
the database, that Python work is most of the cost: on SQLite, building and compiling a
one-row read takes several times as long as running it. A bot tick makes about ten such reads,
so its code path uses `PreparedRead` for them (bench/bot_ticks.py, docs/performance.md).

    BOT_OPEN_RUN = PreparedRead(
        lambda bot: BotRun.objects.filter(bot=bot, ended_at__isnull=True).order_by()[:1],
        bot=int,
    )
    run = BOT_OPEN_RUN.first(bot=bot.pk)

How it works: the builder is called once per database connection with sentinel values in
place of the parameters, the queryset is compiled, and the sentinels are found among the
compiled query's parameters. Later calls put the new values in their slots and run the same
SQL through the connection's cursor (so query logging, `CaptureQueriesContext` and execute
wrappers still see it). Rows become model instances with `Model.from_db` and the compiler's
own converters and related-object populators, as Django's `ModelIterable` does; a
`values_list()` queryset gives tuples. Only plain values (int or str) in exact lookups can be
parameters: anything the compiler would transform is refused when the read is first prepared.

The cache lives on the connection wrapper, which is per thread and per database alias, so two
threads never share a compiler. django_prepared_queries does the same job but has not been
released since Django 2 and does not import on 5.2, hence this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import QuerySet
from django.db.models.fields import AutoFieldMixin
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.models.signals import post_save, pre_save
from django.db.transaction import TransactionManagementError

# Stand-ins for the parameters while compiling (see `_compile`): within any integer field's
# range, and strings with control bytes.
_INT_SENTINELS = (30_011, 31_019)
_STR_SENTINEL = "\x1fprepared-read:{}:{}\x1f"
_CACHE_ATTRIBUTE = "_trading_lab_prepared_reads"
# Each prepared statement's key in a connection's cache. Not id(): a statement dropped and
# collected leaves its id to the next object, which would find the old statement's SQL.
_KEYS = count()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str, type], ...]  # (position in params, parameter name, its type)
    compiler: Any
    converters: dict
    # Model results: where the model's columns are, their attnames, the related populators.
    model: type | None
    start: int
    end: int
    attnames: tuple[str, ...]
    populators: tuple
    for_update: bool


class PreparedRead:
    """A read whose SQL is compiled once per connection; see the module docstring."""

    def __init__(self, build: Callable[..., QuerySet], **parameters: type) -> None:
        for name, kind in parameters.items():
            if kind not in (int, str):
                raise ImproperlyConfigured(f"Parameter {name!r} must be int or str, not {kind}.")
        self._build = build
        self._parameters = parameters
        self._key = next(_KEYS)

    def rows(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list:
        """Every row: model instances, or tuples for a `values_list()` queryset."""
        connection = connections[using]
        compiled = self._compiled(connection, using)
        if compiled.for_update and connection.get_autocommit():
            # What Django's compiler says of select_for_update() outside a transaction.
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        params = list(compiled.params)
        for position, name, wrapper in compiled.slots:
            value = values[name]
            kind = self._parameters[name]
            if type(value) is not kind:
                raise TypeError(f"{name!r} must be {kind.__name__}: {value!r}")
            params[position] = value if wrapper is kind else wrapper(value)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            raw = cursor.fetchall()
        rows = raw
        if compiled.converters:
            rows = compiled.compiler.apply_converters(raw, compiled.converters)
        if compiled.model is None:
            return [tuple(row) for row in rows]
        model, start, end, attnames = (
            compiled.model,
            compiled.start,
            compiled.end,
            compiled.attnames,
        )
        objects = []
        for row in rows:
            obj = model.from_db(using, attnames, row[start:end])
            for populator in compiled.populators:
                populator.populate(row, obj)
            objects.append(obj)
        return objects

    def first(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> Any:
        """The first row, or None."""
        rows = self.rows(using=using, **values)
        return rows[0] if rows else None

    def _compiled(self, connection, using: str) -> _Compiled:
        return _per_connection(connection, self._key, lambda: self._compile(connection, using))

    def _compile(self, connection, using: str) -> _Compiled:
        # Compiled twice with two sets of sentinels: a parameter's slot is where the first
        # set's value and the second's appear, so a constant that happens to equal a sentinel
        # is never taken for a slot. Sentinels are small positive numbers, because Django
        # answers an integer lookup outside the field's range (a negative id, a number beyond
        # a small integer) with an empty result instead of SQL.
        first = self._sentinels(0)
        queryset, compiler, sql, params = self._compile_with(first, connection, using)
        second = self._sentinels(1)
        *_, second_sql, second_params = self._compile_with(second, connection, using)
        if sql != second_sql or len(params) != len(second_params):
            raise ImproperlyConfigured("A prepared read must give the same SQL for any values.")
        slots = []
        for position, (value, other) in enumerate(zip(params, second_params, strict=True)):
            for name in self._parameters:
                if _same(value, first[name]) and _same(other, second[name]):
                    # The backend may wrap a value to tell the driver its type (psycopg's
                    # Int4 for a small integer field): new values get the same wrapper.
                    slots.append((position, name, type(value)))
        missing = set(self._parameters) - {slot[1] for slot in slots}
        if missing:
            raise ImproperlyConfigured(
                f"Parameters {sorted(missing)} do not reach the SQL unchanged: use them in "
                "exact lookups only."
            )
        select = compiler.select[0 : compiler.col_count]
        converters = compiler.get_converters([column[0] for column in select])
        model, start, end, attnames, populators = None, 0, 0, (), ()
        if queryset._iterable_class is ModelIterable:
            if compiler.annotation_col_map:
                raise ImproperlyConfigured("A prepared model read cannot carry annotations.")
            klass_info = compiler.klass_info
            model = klass_info["model"]
            fields = klass_info["select_fields"]
            start, end = fields[0], fields[-1] + 1
            attnames = tuple(column[0].target.attname for column in compiler.select[start:end])
            populators = tuple(get_related_populators(klass_info, compiler.select, using))
        return _Compiled(
            sql=sql,
            params=tuple(params),
            slots=tuple(slots),
            compiler=compiler,
            converters=converters,
            model=model,
            start=start,
            end=end,
            attnames=attnames,
            populators=populators,
            # Django refuses it outside a transaction where the database can lock rows.
            for_update=(
                queryset.query.select_for_update and connection.features.has_select_for_update
            ),
        )

    def _sentinels(self, round_: int) -> dict[str, Any]:
        base = _INT_SENTINELS[round_]
        return {
            name: base + number if kind is int else _STR_SENTINEL.format(round_, name)
            for number, (name, kind) in enumerate(self._parameters.items())
        }

    def _compile_with(self, sentinels: dict[str, Any], connection, using: str):
        queryset = self._build(**sentinels).using(using)
        if queryset._iterable_class not in (ModelIterable, ValuesListIterable):
            raise ImproperlyConfigured("A prepared read is a plain or values_list() queryset.")
        if queryset._known_related_objects or queryset._prefetch_related_lookups:
            raise ImproperlyConfigured("A prepared read cannot prefetch or carry known objects.")
        compiler = queryset.query.get_compiler(using=using, connection=connection)
        sql, params = compiler.as_sql()
        return queryset, compiler, sql, tuple(params)


def _per_connection(connection, key: Any, build: Callable[[], Any]) -> Any:
    """What `build` gives, kept on the connection wrapper (per thread and alias) under `key`."""
    cache = connection.__dict__.setdefault(_CACHE_ATTRIBUTE, {})
    if key not in cache:
        cache[key] = build()
    return cache[key]


def _same(value: Any, sentinel: Any) -> bool:
    return isinstance(value, type(sentinel)) and value == sentinel


def _saved(instance: Any, using: str, *, created: bool, update_fields, signal: bool) -> None:
    """What `Model.save` does after its statement: the instance's state, then `post_save`."""
    instance._state.adding = False
    instance._state.db = using
    if signal:
        post_save.send(
            sender=type(instance),
            instance=instance,
            created=created,
            update_fields=update_fields,
            raw=False,
            using=using,
        )


class PreparedUpdate:
    """`instance.save(update_fields=fields)` for one model and one list of fields, with the
    UPDATE's SQL written once per connection instead of built and compiled on every save.

    What it keeps of `Model.save`: each field's `pre_save` (so `auto_now` fields move), the
    values prepared by each field for the database, the check that the row was there, and, with
    `signals=True`, the `pre_save` and `post_save` signals with the same arguments (auditlog
    and any other receiver see a save). With `signals=False` it is `QuerySet.update()` on the
    row's primary key, which sends none.
    """

    def __init__(self, model: type, fields: list[str], *, signals: bool = True) -> None:
        self._model = model
        self._names = tuple(fields)
        self._signals = signals
        self._key = next(_KEYS)

    def save(self, instance: Any, *, using: str = DEFAULT_DB_ALIAS) -> None:
        if type(instance) is not self._model:
            raise TypeError(f"A {self._model.__name__} update cannot save {instance!r}.")
        connection = connections[using]
        sql, fields, pk_field = self._compiled(connection)
        origin = type(instance)
        update_fields = frozenset(self._names)
        if self._signals:
            pre_save.send(
                sender=origin,
                instance=instance,
                raw=False,
                using=using,
                update_fields=update_fields,
            )
        params = [
            field.get_db_prep_save(field.pre_save(instance, False), connection) for field in fields
        ]
        params.append(pk_field.get_db_prep_value(instance.pk, connection))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if cursor.rowcount != 1:
                raise DatabaseError("Save with update_fields did not affect any rows.")
        _saved(instance, using, created=False, update_fields=update_fields, signal=self._signals)

    def _compiled(self, connection) -> tuple[str, list, Any]:
        return _per_connection(connection, self._key, lambda: self._compile(connection))

    def _compile(self, connection) -> tuple[str, list, Any]:
        meta = self._model._meta
        fields = [meta.get_field(name) for name in self._names]
        for field in fields:
            if not field.concrete or field.primary_key or hasattr(field, "get_placeholder"):
                raise ImproperlyConfigured(f"{field} cannot be saved by a prepared update.")
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
        # Table and column names come from the model, quoted; values are parameters.
        table, pk = quote(meta.db_table), quote(meta.pk.column)
        sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
        return sql, fields, meta.pk


class PreparedInsert:
    """`instance.save(force_insert=True)` of a new row of one model, with the INSERT's SQL
    written once per connection: each field's `pre_save` (so `auto_now_add` fields are set),
    the values prepared by each field, the new primary key set on the instance, and with
    `signals=True` the `pre_save` and `post_save` signals (`created=True`). For a model with an
    auto-incremented primary key and no field that needs a special placeholder."""

    def __init__(self, model: type, *, signals: bool = True) -> None:
        self._model = model
        self._signals = signals
        self._key = next(_KEYS)

    def save(self, instance: Any, *, using: str = DEFAULT_DB_ALIAS) -> None:
        if type(instance) is not self._model or not instance._state.adding:
            raise TypeError(f"A {self._model.__name__} insert cannot save {instance!r}.")
        connection = connections[using]
        sql, fields, returning = self._compiled(connection)
        origin = type(instance)
        if self._signals:
            pre_save.send(
                sender=origin, instance=instance, raw=False, using=using, update_fields=None
            )
        params = [
            field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
        ]
        meta = self._model._meta
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if returning:
                pk = cursor.fetchone()[0]
            else:
                pk = connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column)
        setattr(instance, meta.pk.attname, pk)
        _saved(instance, using, created=True, update_fields=None, signal=self._signals)

    def save_many(self, instances: list, *, using: str = DEFAULT_DB_ALIAS) -> None:
        """Insert new rows in one `executemany`, like `bulk_create`: no signals, and the
        instances do not learn their primary keys."""
        if any(type(obj) is not self._model or not obj._state.adding for obj in instances):
            raise TypeError(f"A {self._model.__name__} insert takes new rows of its model only.")
        if not instances:
            return
        connection = connections[using]
        sql, fields, _ = self._compiled(connection, returning=False)
        rows = [
            [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
            for obj in instances
        ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)
        for obj in instances:
            obj._state.adding = False
            obj._state.db = using

    def save_rows(
        self,
        template: Any,
        columns: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        *,
        using: str = DEFAULT_DB_ALIAS,
    ) -> None:
        """Insert one row per tuple of `rows` in one `executemany`, without a model instance
        per row: the fields named in `columns` (attribute names) take the tuple's values in
        that order, every other field the value of the unsaved instance `template` (its field
        `pre_save` run once, so a default or `auto_now_add` is the same for every row). Each
        value is prepared by its field, as `save_many` does; no signals."""
        if type(template) is not self._model or not template._state.adding:
            raise TypeError(f"A {self._model.__name__} insert takes a new row of its model.")
        if not rows:
            return
        connection = connections[using]
        sql, fields, _ = self._compiled(connection, returning=False)
        at = {name: index for index, name in enumerate(columns)}
        unknown = set(at) - {field.attname for field in fields}
        if unknown:
            raise ImproperlyConfigured(f"{self._model.__name__} has no column {sorted(unknown)}.")
        shared = [
            None
            if field.attname in at
            else field.get_db_prep_save(field.pre_save(template, True), connection)
            for field in fields
        ]
        own = [
            (position, at[field.attname], field.get_db_prep_save)
            for position, field in enumerate(fields)
            if field.attname in at
        ]
        values = []
        for row in rows:
            prepared = shared.copy()
            for position, index, prepare in own:
                prepared[position] = prepare(row[index], connection)
            values.append(prepared)
        with connection.cursor() as cursor:
            cursor.executemany(sql, values)

    def _compiled(self, connection, *, returning: bool = True) -> tuple[str, list, bool]:
        return _per_connection(
            connection, (self._key, returning), lambda: self._compile(connection, returning)
        )

    def _compile(self, connection, returning: bool) -> tuple[str, list, bool]:
        meta = self._model._meta
        if not isinstance(meta.pk, AutoFieldMixin):
            raise ImproperlyConfigured(f"{meta.label} has no auto-incremented primary key.")
        fields = [field for field in meta.concrete_fields if field is not meta.pk]
        for field in fields:
            if hasattr(field, "get_placeholder") or field.generated or field.has_db_default():
                raise ImproperlyConfigured(f"{field} cannot be saved by a prepared insert.")
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        # Table and column names come from the model, quoted; values are parameters.
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
        returning = returning and connection.features.can_return_columns_from_insert
        if returning:
            clause, _ = connection.ops.return_insert_columns([meta.pk])
            sql = f"{sql} {clause}"
        return sql, fields, returning
