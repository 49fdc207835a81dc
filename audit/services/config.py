"""Reading and changing the system configuration (definitions in audit/config.py)."""

import contextlib
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from audit.config import DEFINITIONS, ConfigDefinition
from audit.models import ActivityAction, SystemConfigEntry, SystemConfigVersion
from audit.services.activity import activity_record
from trading_lab.exceptions import ApplicationError
from trading_lab.prepared import PreparedRead


@dataclass(frozen=True)
class ConfigValue:
    """One setting as staff see it: its value, where it comes from, and its definition."""

    definition: ConfigDefinition
    value: Any
    default: Any
    overridden: bool


def _definition(key: str) -> ConfigDefinition:
    try:
        return DEFINITIONS[key]
    except KeyError as exc:
        raise ApplicationError(f"No setting named {key}.", {key: ["No such setting."]}) from exc


# One compiled read per set of keys the code asks for together (a handful: throttles, trading
# costs, retention), because requests and bot ticks read them all the time.
_STORED_READS: dict[tuple[str, ...], PreparedRead] = {}


def _stored_read(keys: tuple[str, ...]) -> PreparedRead:
    read = _STORED_READS.get(keys)
    if read is None:
        read = _STORED_READS[keys] = PreparedRead(
            lambda: SystemConfigEntry.objects.filter(key__in=keys).values_list("key", "value")
        )
    return read


def config_get(key: str) -> Any:
    """The typed value of one setting: the stored one, else its default."""
    return config_get_many([key])[key]


def config_get_many(keys: list[str]) -> dict[str, Any]:
    """The typed values of several settings in one query (what `config_get` gives for each)."""
    definitions = {key: _definition(key) for key in keys}
    stored = dict(_stored_read(tuple(keys)).rows())
    values = {}
    for key, definition in definitions.items():
        values[key] = definition.default()
        if key in stored:
            # A row that no longer fits its definition (bounds tightened in a release) must not
            # stop trading: the default applies until staff set a valid value again.
            with contextlib.suppress(ValueError):
                values[key] = definition.parse(stored[key])
    return values


def config_version() -> int:
    """The configuration's version: it rises by one with every change."""
    return SystemConfigVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def config_list() -> list[ConfigValue]:
    """Every defined setting with its current value, in key order."""
    stored = dict(SystemConfigEntry.objects.values_list("key", "value"))
    values = []
    for key, definition in sorted(DEFINITIONS.items()):
        default = definition.default()
        value, overridden = default, False
        if key in stored:
            # A stored value that no longer fits its definition shows the default in use.
            with contextlib.suppress(ValueError):
                value, overridden = definition.parse(stored[key]), True
        values.append(ConfigValue(definition, value, default, overridden))
    return values


def config_update(
    *, changes: dict[str, Any], user: Any = None, request: HttpRequest | None = None
) -> int:
    """Set several settings at once, all or nothing; `None` returns one to its default.

    Every value is checked against its definition first; any error refuses the whole change,
    keyed by setting. Returns the new version.
    """
    errors: dict[str, list[str]] = {}
    parsed: dict[str, Any] = {}
    for key, raw in changes.items():
        definition = DEFINITIONS.get(key)
        if definition is None:
            errors[key] = ["No such setting."]
            continue
        if raw is None:
            parsed[key] = None
            continue
        try:
            parsed[key] = definition.parse(raw)
        except ValueError as exc:
            errors[key] = [str(exc)]
    if errors:
        raise ApplicationError("The configuration was not changed.", errors)
    if not parsed:
        raise ApplicationError("Nothing to change.", {"non_field_errors": ["Give a setting."]})
    with transaction.atomic():
        head, _ = SystemConfigVersion.objects.select_for_update().get_or_create(pk=1)
        changed = {}
        for key, value in parsed.items():
            entry = SystemConfigEntry.objects.select_for_update().filter(key=key).first()
            if value is None:
                if entry is not None:
                    entry.delete()
                    changed[key] = None
                continue
            stored = DEFINITIONS[key].stored(value)
            if entry is None:
                SystemConfigEntry.objects.create(key=key, value=stored, updated_by=user)
            elif entry.value != stored:
                entry.value, entry.updated_by = stored, user
                entry.save(update_fields=["value", "updated_by", "updated_at"])
            else:
                continue
            changed[key] = stored
        if changed:
            head.version += 1
            head.save(update_fields=["version", "updated_at"])
            activity_record(
                user=user,
                action=ActivityAction.CONFIG_UPDATED,
                description=f"Changed {', '.join(sorted(changed))}",
                details={"changes": changed, "version": head.version},
                request=request,
            )
        return head.version
