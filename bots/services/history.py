"""Model history of a bot tick, written in one statement at the end instead of row by row.

auditlog writes an entry from each `save()`'s signals, and for an update it first reads the old
row back (one more SELECT per save). A tick already holds the old rows, locked: `HistoryBatch`
takes each change as it is made, computes the entry auditlog would have computed at that moment
(its own `model_instance_diff`, the same object text, object id, correlation id, and the actor
and address auditlog's context gives through LogEntry's `pre_save`), and writes them all with
one `bulk_create`, in the order the changes were made. Rows saved through the batch are saved
with auditlog's signals off, so that no entry is written twice.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from auditlog.cid import get_cid
from auditlog.context import auditlog_disabled, disable_auditlog
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist
from django.db import models, router
from django.db.models.signals import pre_save
from django.utils.encoding import smart_str

from trading_lab.prepared import PreparedInsert, PreparedUpdate

# The saves of a tick, one compiled UPDATE per (model, fields): a handful in all.
_UPDATES: dict[tuple[type, tuple[str, ...]], PreparedUpdate] = {}
# The entries go in as `bulk_create` would put them, through one compiled INSERT.
_LOG_ENTRY_INSERT = PreparedInsert(LogEntry)

# auditlog's text for an object whose __str__ fails on a missing relation.
DEFAULT_OBJECT_REPR = "<error forming object repr>"


def history_snapshot(instance: models.Model) -> models.Model:
    """A copy of `instance` as it is now: the old side of an update's diff."""
    return copy.copy(instance)


class HistoryBatch:
    """The history entries of one transaction's changes, written together by `write()`.

    Records nothing when history is off where the batch is made (`disable_auditlog`).
    """

    def __init__(self) -> None:
        self.enabled = not auditlog_disabled.get()
        self.entries: list[LogEntry] = []

    def insert(self, instance: models.Model) -> None:
        """Save the new `instance` and record its CREATE entry (auditlog's `log_create`)."""
        with disable_auditlog():
            instance.save(force_insert=True)
        self.inserted([instance])

    def inserted(self, instances: Iterable[models.Model]) -> None:
        """Record the CREATE entries of rows already inserted (by `bulk_create`)."""
        for instance in instances:
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
        self._add(instance, LogEntry.Action.UPDATE, old, fields)

    def _add(
        self,
        instance: models.Model,
        action: int,
        old: models.Model | None,
        fields: Iterable[str] | None,
    ) -> None:
        model = type(instance)
        if not self.enabled or not auditlog.contains(model):
            return
        changes = model_instance_diff(
            old,
            instance,
            fields_to_check=list(fields) if fields is not None else None,
            use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES,
        )
        if not changes:
            return
        pk = instance.pk
        try:
            text = smart_str(instance)
        except ObjectDoesNotExist:
            text = DEFAULT_OBJECT_REPR
        entry = LogEntry(
            content_type=ContentType.objects.get_for_model(instance),
            object_pk=smart_str(pk),
            object_id=pk if isinstance(pk, int) else None,
            object_repr=text,
            serialized_data=LogEntry.objects._get_serialized_data_or_none(instance),
            action=action,
            changes=changes,
            cid=get_cid(),
        )
        get_additional_data = getattr(instance, "get_additional_data", None)
        if callable(get_additional_data):
            entry.additional_data = get_additional_data()
        # auditlog's context (`set_actor`) fills in the actor and address in this signal.
        using = router.db_for_write(LogEntry)
        pre_save.send(sender=LogEntry, instance=entry, raw=False, using=using, update_fields=None)
        self.entries.append(entry)

    def write(self) -> int:
        """Insert the entries recorded so far; return how many."""
        if not self.entries:
            return 0
        written = len(self.entries)
        _LOG_ENTRY_INSERT.save_many(self.entries)
        self.entries = []
        return written
