"""A trader's own model history (issue 6): the History panel of a portfolio, transaction, bot...

Staff read every entry as stored (audit/staff_apis.py); a user reads only the entries of one
row they own, and of its listed children, rendered for people: field labels, choice labels,
names of related rows looked up through what the reader may see, and who made the change as
"you", "staff", "system" or "another account", never anyone's address. The fields history
must not record (audit/history.py) are dropped again here, so an entry written before a field
was excluded shows nothing of it either.
"""

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from auditlog.models import LogEntry
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import models
from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils.text import capfirst

from audit.history import SECRET_FIELD_NAMES, excluded_fields

HISTORY_PAGE_SIZE = 50
# Longest value shown in a change line; JSON and notes can be long.
VALUE_MAX_CHARS = 200
EMPTY = "—"

# Children whose history a trader expects on the parent's panel, as (child model, foreign key
# to the parent). A deleted transaction has no page left: its portfolio's panel is where the
# deletion shows. A bot's runs, deals and orders are its own tables on the bot page, written
# by every tick, so they are not listed here.
HISTORY_CHILDREN: dict[str, tuple[tuple[str, str], ...]] = {
    "portfolio.Portfolio": (("portfolio.Transaction", "portfolio"),),
}

# Columns every entry would repeat without telling the reader anything.
_BOOKKEEPING_FIELDS = frozenset({"id", "created_at", "updated_at"})

# Names of related rows on one page of entries, by (model, stored key).
Names = dict[tuple[type[models.Model], str], str]

ACTIONS = {
    LogEntry.Action.CREATE: "created",
    LogEntry.Action.UPDATE: "changed",
    LogEntry.Action.DELETE: "deleted",
    LogEntry.Action.ACCESS: "viewed",
}
# Who made a change, as the owner is told: only the owner is ever named, as "you".
ACTOR_YOU, ACTOR_STAFF, ACTOR_OTHER, ACTOR_SYSTEM = "you", "staff", "another account", "system"
ACTORS = (ACTOR_YOU, ACTOR_STAFF, ACTOR_OTHER, ACTOR_SYSTEM)


@dataclass(frozen=True)
class HistoryChange:
    """One field of one entry: its name, its label, its value before and after (`—`: empty).

    A key of a settings dictionary is named `field.key` (`config.take_profit_pct`).
    """

    name: str
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryItem:
    """One entry as the owner sees it; `subject` names a child row, empty for the row itself."""

    id: int
    timestamp: datetime
    action: str
    actor: str
    subject: str
    changes: tuple[HistoryChange, ...]


@dataclass(frozen=True)
class HistoryPage:
    """One page of a row's history, newest first, and the paginator's page for the links."""

    items: list[HistoryItem]
    page: Page


def object_history(
    *, user: Any, instance: models.Model, page: Any = 1, per_page: int = HISTORY_PAGE_SIZE
) -> HistoryPage:
    """The history of `instance` (one of `user`'s rows) and its children, newest first, paged.

    Raises Http404 when `instance` is not the user's: not yours and not there look the same.
    A page number that is not one gives the first or last page. The number of queries does
    not depend on the number of entries.
    """
    current = Paginator(history_entries(user=user, instance=instance), per_page).get_page(page)
    items = history_items(user=user, instance=instance, entries=list(current.object_list))
    return HistoryPage(items=items, page=current)


def history_entries(*, user: Any, instance: models.Model) -> QuerySet[LogEntry]:
    """The log entries of `instance` (one of `user`'s rows) and its children, newest first.

    Raises Http404 when `instance` is not the user's. Render them with `history_items`.
    """
    owned = getattr(type(instance)._default_manager, "for_user", None)
    if owned is None or not owned(user).filter(pk=instance.pk).exists():
        raise Http404
    return (
        LogEntry.objects.filter(_entries_of(instance))
        .annotate(actor_is_staff=F("actor__is_staff"))
        .only(
            "id",
            "timestamp",
            "action",
            "content_type_id",
            "object_repr",
            "changes",
            "actor_id",
            "actor_email",
        )
        .order_by("-timestamp", "-pk")
    )


def history_items(
    *, user: Any, instance: models.Model, entries: list[LogEntry]
) -> list[HistoryItem]:
    """`entries` of `history_entries(user=user, instance=instance)` as the user sees them."""
    names = _related_names(entries, user=user)
    return [_item(entry, user=user, own_model=type(instance), names=names) for entry in entries]


def _entries_of(instance: models.Model) -> Q:
    """The row's own entries, and those of its children (current ones, and deleted ones)."""
    query = _row(ContentType.objects.get_for_model(type(instance)), instance.pk)
    for label, parent_field in HISTORY_CHILDREN.get(type(instance)._meta.label, ()):
        child = apps.get_model(label)
        child_type = ContentType.objects.get_for_model(child)
        current = child._default_manager.filter(**{parent_field: instance}).values("pk")
        # A deletion's entry holds every field's last value, the parent's key among them.
        deleted = LogEntry.objects.filter(
            content_type=child_type,
            action=LogEntry.Action.DELETE,
            **{f"changes__{parent_field}__0": instance.pk},
        ).values("object_id")
        query |= Q(content_type=child_type) & (Q(object_id__in=current) | Q(object_id__in=deleted))
    return query


def _row(content_type: ContentType, pk: Any) -> Q:
    # auditlog indexes integer keys in `object_id`, others only in `object_pk`.
    if isinstance(pk, int):
        return Q(content_type=content_type, object_id=pk)
    return Q(content_type=content_type, object_pk=str(pk))


def _item(
    entry: LogEntry,
    *,
    user: Any,
    own_model: type[models.Model],
    names: Names,
) -> HistoryItem:
    model = ContentType.objects.get_for_id(entry.content_type_id).model_class()
    subject = ""
    if model is not own_model and model is not None:
        subject = f"{capfirst(model._meta.verbose_name)} {entry.object_repr}"
    action = ACTIONS.get(entry.action, ACTIONS[LogEntry.Action.UPDATE])
    changes: tuple[HistoryChange, ...] = ()
    # A deletion's entry lists every field's last value; the subject already names the row.
    if model is not None and entry.action != LogEntry.Action.DELETE:
        changes = tuple(_changes(entry, model, names))
    return HistoryItem(
        id=entry.pk,
        timestamp=entry.timestamp,
        action=action,
        actor=_actor(entry, user),
        subject=subject,
        changes=changes,
    )


def _actor(entry: LogEntry, user: Any) -> str:
    """Who made the change, without naming anyone but the reader."""
    if entry.actor_id is not None and entry.actor_id == user.pk:
        return ACTOR_YOU
    if entry.actor_id is not None and entry.actor_is_staff:
        return ACTOR_STAFF
    if entry.actor_id is not None or entry.actor_email:
        # Another account, or one deleted since: either way not the reader, and not named.
        return ACTOR_OTHER
    # No one signed in: a background job, the scheduler, a management command.
    return ACTOR_SYSTEM


@cache
def _shown_fields(model: type[models.Model]) -> dict[str, models.Field]:
    """The model's fields a user may see in history: concrete, not secret, not bookkeeping."""
    hidden = set(excluded_fields(model)) | SECRET_FIELD_NAMES | _BOOKKEEPING_FIELDS
    owner_path = getattr(model, "owner_path", "")
    hidden.add(owner_path.split("__")[0])
    shown = {}
    for field in model._meta.concrete_fields:
        if field.name in hidden:
            continue
        if field.is_relation and field.related_model is apps.get_model(settings.AUTH_USER_MODEL):
            continue
        shown[field.name] = field
    return shown


def _changes(
    entry: LogEntry,
    model: type[models.Model],
    names: Names,
) -> Iterable[HistoryChange]:
    fields = _shown_fields(model)
    recorded = entry.changes if isinstance(entry.changes, dict) else {}
    # In the model's field order, as its forms show them.
    for name, field in fields.items():
        values = recorded.get(name)
        if not isinstance(values, list) or len(values) != 2:
            continue
        old, new = values
        label = capfirst(str(field.verbose_name))
        if isinstance(field, models.JSONField) and (
            isinstance(old, dict | type(None)) and isinstance(new, dict | type(None))
        ):
            yield from _json_key_changes(name, label, old or {}, new or {})
            continue
        old_text, new_text = _value(field, old, names), _value(field, new, names)
        if entry.action == LogEntry.Action.CREATE and new_text == EMPTY:
            continue
        yield HistoryChange(name=name, field=label, old=old_text, new=new_text)


def _json_key_changes(name: str, label: str, old: dict, new: dict) -> Iterable[HistoryChange]:
    """A settings dictionary (a bot's config) changes key by key: say which keys moved."""
    for key in sorted(set(old) | set(new), key=str):
        if old.get(key) != new.get(key):
            yield HistoryChange(
                name=f"{name}.{key}",
                field=f"{label}: {str(key).replace('_', ' ')}",
                old=_plain(old.get(key)),
                new=_plain(new.get(key)),
            )


def _value(field: models.Field, value: Any, names: Names) -> str:
    if value is None or value == "":
        return EMPTY
    if field.is_relation:
        return names.get((field.related_model, str(value)), f"#{value}")
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.BooleanField):
        return "yes" if value in (True, "True", "true") else "no"
    if isinstance(field, models.DecimalField):
        return _decimal(value)
    if isinstance(field, models.DateTimeField):
        return _datetime(value)
    return _plain(value)


def _plain(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    if len(text) > VALUE_MAX_CHARS:
        return text[: VALUE_MAX_CHARS - 1] + "…"
    return text


def _decimal(value: Any) -> str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return _plain(value)
    # Stored at the column's scale ("1.000000000000", "0E-8"): show it without the padding.
    return f"{number.normalize():f}" if number else "0"


def _datetime(value: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return _plain(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _related_names(entries: list[LogEntry], *, user: Any) -> Names:
    """Names of the rows the page's entries point at: one query per related model.

    Looked up through what the reader may see (their own rows, plus shared reference data), so
    a key that is not theirs stays a bare number.
    """
    wanted: dict[type[models.Model], set[str]] = defaultdict(set)
    for entry in entries:
        model = ContentType.objects.get_for_id(entry.content_type_id).model_class()
        if model is None or not isinstance(entry.changes, dict):
            continue
        fields = _shown_fields(model)
        for name, values in entry.changes.items():
            field = fields.get(name)
            if field is None or not field.is_relation or not isinstance(values, list):
                continue
            wanted[field.related_model].update(str(v) for v in values if v not in (None, ""))
    names: Names = {}
    for related, keys in wanted.items():
        for row in _visible(related, user).filter(pk__in=_keys(related, keys)):
            names[(related, str(row.pk))] = str(row)
    return names


def _visible(model: type[models.Model], user: Any) -> QuerySet:
    """The rows of `model` the reader may see: their own, plus shared reference data."""
    rows = model._default_manager.all()
    if hasattr(rows, "visible_to"):
        return rows.visible_to(user)
    if hasattr(rows, "for_user"):
        return rows.for_user(user)
    # Not owned by anyone: reference data. Links to users never get here (_shown_fields).
    return rows


def _keys(model: type[models.Model], keys: set[str]) -> list[Any]:
    values = []
    for key in keys:
        try:
            values.append(model._meta.pk.to_python(key))
        except ValidationError:
            continue  # a malformed stored key names no row
    return values
