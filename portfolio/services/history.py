"""Model history for rows written with `bulk_create`, which sends no signals auditlog could see.

`history_record_created` writes, in bulk, the CREATE entry a `save()` of each row would have
written: the same `changes` (auditlog's own diff), object id and text and correlation id; and
each entry gets LogEntry's `pre_save` signal, as its own save would send, through which
auditlog's context (`set_actor`, our AuditContextMiddleware) fills in the actor, the address and
the request's correlation id.
"""

from __future__ import annotations

from collections.abc import Sequence

from auditlog.cid import get_cid
from auditlog.context import auditlog_disabled
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, router
from django.db.models.signals import pre_save
from django.utils.encoding import smart_str

BATCH_SIZE = 2000


def history_record_created(instances: Sequence[models.Model]) -> int:
    """Write one CREATE history entry per saved instance of one model; return how many.

    The instances must have their primary keys (bulk_create returns them on PostgreSQL and on
    SQLite 3.35+). Nothing is written when history is off (`disable_auditlog`) or the model has
    none. The diff covers the concrete fields only: a row just created has no reverse relation
    (no dividend points at a new transaction), which a save's diff would look up row by row.
    """
    if not instances or auditlog_disabled.get():
        return 0
    model = type(instances[0])
    if not auditlog.contains(model):
        return 0
    content_type = ContentType.objects.get_for_model(model)
    concrete = [field.name for field in model._meta.concrete_fields]
    use_json = settings.AUDITLOG_STORE_JSON_CHANGES
    cid = get_cid()
    using = router.db_for_write(LogEntry)
    entries = []
    for instance in instances:
        pk = instance.pk
        if pk is None:
            raise ValueError(f"{model.__name__} rows need their primary keys for history.")
        changes = model_instance_diff(
            None, instance, fields_to_check=concrete, use_json_for_changes=use_json
        )
        if not changes:
            continue
        entry = LogEntry(
            content_type=content_type,
            object_pk=smart_str(pk),
            object_id=pk if isinstance(pk, int) else None,
            object_repr=smart_str(instance),
            serialized_data=LogEntry.objects._get_serialized_data_or_none(instance),
            action=LogEntry.Action.CREATE,
            changes=changes,
            cid=cid,
        )
        get_additional_data = getattr(instance, "get_additional_data", None)
        if callable(get_additional_data):
            entry.additional_data = get_additional_data()
        pre_save.send(sender=LogEntry, instance=entry, raw=False, using=using, update_fields=None)
        entries.append(entry)
    LogEntry.objects.bulk_create(entries, batch_size=BATCH_SIZE)
    return len(entries)
