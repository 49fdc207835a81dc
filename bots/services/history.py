"""Model history of a bot tick, written in one statement at the end instead of row by row.

auditlog writes an entry from each `save()`'s signals, and for an update it first reads the old
row back (one more SELECT per save). A tick already holds the old rows, locked: `HistoryBatch`
takes each change as it is made, computes the entry auditlog would have computed at that moment
(its diff, through `audit.history_diff.entry_differ`, the same object text, object id and
correlation id, and the actor and address auditlog's context gives through LogEntry's
`pre_save`), and writes them all with one `executemany`, in the order the changes were made.
Rows saved through the batch are saved with auditlog's signals off, so that no entry is written
twice.

The context is the same for every entry of a tick (one task or one request), so `pre_save` is
sent once, to a template entry whose actor, address, correlation id and timestamp every entry of
the batch takes (as `portfolio/services/history.py` does for imported rows).
"""

from __future__ import annotations

import copy
from typing import Any

from auditlog.cid import get_cid
from auditlog.context import auditlog_disabled, disable_auditlog
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist
from django.db import models, router
from django.db.models.signals import pre_save
from django.utils.encoding import smart_str

from audit.history_diff import entry_differ
from trading_lab.prepared import PreparedInsert, PreparedUpdate

# The saves of a tick, one compiled INSERT per model and UPDATE per (model, fields): a handful.
_INSERTS: dict[type, PreparedInsert] = {}
_UPDATES: dict[tuple[type, tuple[str, ...]], PreparedUpdate] = {}
# The entries go in as `bulk_create` would put them, through one compiled INSERT.
_LOG_ENTRY_INSERT = PreparedInsert(LogEntry)
# The columns each entry has of its own; the others come from the batch's template entry.
ENTRY_OWN_COLUMNS = (
    "content_type_id",
    "object_pk",
    "object_id",
    "object_repr",
    "serialized_data",
    "action",
    "changes",
    "additional_data",
)

# auditlog's text for an object whose __str__ fails on a missing relation.
DEFAULT_OBJECT_REPR = "<error forming object repr>"


# Per model: (covered by history, entries carry serialized data, model has additional data).
_MODELS: dict[type, tuple[bool, bool, bool]] = {}


def _model_options(model: type[models.Model]) -> tuple[bool, bool, bool]:
    if model not in _MODELS:
        covered = auditlog.contains(model)
        _MODELS[model] = (
            covered,
            covered and auditlog.get_serialize_options(model)["serialize_data"],
            callable(getattr(model, "get_additional_data", None)),
        )
    return _MODELS[model]


def history_snapshot(instance: models.Model) -> models.Model:
    """A copy of `instance` as it is now: the old side of an update's diff."""
    return copy.copy(instance)


class HistoryBatch:
    """The history entries of one transaction's changes, written together by `write()`.

    Records nothing when history is off where the batch is made (`disable_auditlog`).
    """

    def __init__(self) -> None:
        self.enabled = not auditlog_disabled.get()
        # Each entry's own column values, in ENTRY_OWN_COLUMNS order.
        self.entries: list[tuple[Any, ...]] = []

    def insert(self, instance: models.Model) -> None:
        """`instance.save(force_insert=True)` of a new row and its CREATE entry (auditlog's
        `log_create`). The INSERT's SQL is compiled once (`PreparedInsert`), signals and
        `auto_now_add` as `save()` has them."""
        model = type(instance)
        insert = _INSERTS.get(model)
        if insert is None:
            insert = _INSERTS[model] = PreparedInsert(model)
        with disable_auditlog():
            insert.save(instance)
        self._add(instance, LogEntry.Action.CREATE, None, None)

    def update(self, instance: models.Model, *, old: models.Model, fields: list[str]) -> None:
        """`instance.save(update_fields=fields)` and its UPDATE entry, `old` being the row as
        stored (what auditlog's `log_update` would read back before the save). The save's SQL
        is compiled once (`PreparedUpdate`), signals and `auto_now` as `save()` has them."""
        key = (type(instance), tuple(fields))
        update = _UPDATES.get(key)
        if update is None:
            update = _UPDATES[key] = PreparedUpdate(type(instance), fields)
        with disable_auditlog():
            update.save(instance)
        self._add(instance, LogEntry.Action.UPDATE, old, key[1])

    def _add(
        self,
        instance: models.Model,
        action: int,
        old: models.Model | None,
        fields: tuple[str, ...] | None,
    ) -> None:
        model = type(instance)
        covered, serialize, additional = _model_options(model)
        if not self.enabled or not covered:
            return
        changes = entry_differ(model, fields)(old, instance)
        if not changes:
            return
        pk = instance.pk
        try:
            text = smart_str(instance)
        except ObjectDoesNotExist:
            text = DEFAULT_OBJECT_REPR
        self.entries.append(
            (
                ContentType.objects.get_for_model(model).pk,
                smart_str(pk),
                pk if isinstance(pk, int) else None,
                text,
                LogEntry.objects._get_serialized_data_or_none(instance) if serialize else None,
                action,
                changes,
                instance.get_additional_data() if additional else None,
            )
        )

    def write(self) -> int:
        """Insert the entries recorded so far; return how many."""
        if not self.entries:
            return 0
        written = len(self.entries)
        # auditlog's context (`set_actor`) fills in the actor and address in this signal; it
        # gives every entry of one request or task the same values.
        template = LogEntry(cid=get_cid())
        using = router.db_for_write(LogEntry)
        pre_save.send(
            sender=LogEntry, instance=template, raw=False, using=using, update_fields=None
        )
        _LOG_ENTRY_INSERT.save_rows(template, ENTRY_OWN_COLUMNS, self.entries, using=using)
        self.entries = []
        return written
