"""`audit.history_diff.entry_differ` gives what auditlog's `model_instance_diff` gives.

The bot runner writes its model history through `entry_differ` instead of auditlog's signals;
an entry must hold the same changes, in the same order, as auditlog would have logged. These
tests run both on the rows a few real ticks leave behind, for creation and for updates of one,
some and all fields, foreign keys named either way, JSON and time fields included.
"""

import copy
from datetime import timedelta
from decimal import Decimal

import pytest
from auditlog.diff import model_instance_diff
from django.conf import settings
from django.test import override_settings

from audit.history_diff import entry_differ
from bots.models import Bot, BotRun, Deal, Order, PaperBalance, PaperPosition
from bots.services import bot_start, bot_tick_run
from tests.bots import runner_builders as rb

pytestmark = pytest.mark.django_db

HISTORY_MODELS = (Order, PaperBalance, PaperPosition, Deal, BotRun, Bot)
PATH = [Decimal("100"), Decimal("99"), Decimal("97.5"), Decimal("101")]


@pytest.fixture
def traded(user):
    """A bot that opened a deal, added safety orders and took profit: rows of every model."""
    instrument = rb.instrument()
    bot = rb.bot(user, instrument=instrument)
    bot_start(bot=bot, now=rb.T0)
    rb.account(user, free=Decimal(750))
    for i, price in enumerate(PATH, start=1):
        rb.set_price(instrument, price)
        bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(i))
    rows = [row for model in HISTORY_MODELS for row in model.objects.order_by("pk")]
    assert {type(row) for row in rows} == set(HISTORY_MODELS)
    return rows


def _changed(row):
    """A copy of `row` with every concrete field given a different value, where one can be."""
    new = copy.copy(row)
    for field in type(row)._meta.concrete_fields:
        if field.primary_key:
            continue
        value = getattr(new, field.attname)
        kind = field.get_internal_type()
        if kind == "DecimalField":
            setattr(new, field.attname, (value or Decimal(0)) + Decimal("1.5"))
        elif kind in ("PositiveIntegerField", "IntegerField", "BigIntegerField"):
            setattr(new, field.attname, (value or 0) + 1)
        elif kind == "DateTimeField":
            setattr(new, field.attname, (value or rb.T0) + timedelta(seconds=90))
        elif kind == "JSONField":
            setattr(new, field.attname, {"changed": [1, "two", None], "was": value})
        elif kind in ("CharField", "TextField") and not field.choices:
            setattr(new, field.attname, f"{value}-changed")
        elif kind == "BooleanField":
            setattr(new, field.attname, not value)
        elif field.many_to_one and value is not None:
            setattr(new, field.attname, value + 1000)
    return new


def _field_lists(model):
    concrete = [field for field in model._meta.concrete_fields if not field.primary_key]
    for field in concrete:
        yield (field.name,)
        yield (field.attname,)
    yield tuple(field.attname for field in concrete)
    yield tuple(field.name for field in concrete[::2])


def _auditlog(old, new, fields=None):
    """What auditlog's receivers log: `model_instance_diff` with the JSON setting."""
    return model_instance_diff(
        old,
        new,
        fields_to_check=None if fields is None else list(fields),
        use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES,
    )


def _same(got, expected):
    """Equal, keys in the same order (the order the entry's JSON keeps)."""
    assert got == expected
    assert list(got or {}) == list(expected or {})


def test_a_creation_lists_what_auditlog_lists(traded):
    for row in traded:
        _same(entry_differ(type(row), None)(None, row), _auditlog(None, row))


def test_an_update_lists_what_auditlog_lists_for_every_field_list(traded):
    checked = 0
    for row in traded:
        new = _changed(row)
        for fields in _field_lists(type(row)):
            expected = _auditlog(row, new, fields)
            _same(entry_differ(type(row), fields)(row, new), expected)
            checked += 1
            # An unchanged row: nothing to log, from either.
            assert entry_differ(type(row), fields)(row, copy.copy(row)) is None
    assert checked > 100


def test_a_field_with_no_change_is_left_out(traded):
    deal = next(row for row in traded if isinstance(row, Deal))
    new = copy.copy(deal)
    new.quote_spent += Decimal("0.01")
    fields = ("quote_spent", "fees", "updated_at")

    changes = entry_differ(Deal, fields)(deal, new)

    assert changes == {"quote_spent": (str(deal.quote_spent), str(new.quote_spent))}
    _same(changes, _auditlog(deal, new, fields))


@pytest.mark.parametrize(
    "overrides",
    [{"AUDITLOG_STORE_JSON_CHANGES": False}, {"AUDITLOG_USE_FK_STRING_REPRESENTATION": True}],
    ids=["changes-as-text", "foreign-keys-as-text"],
)
def test_settings_it_does_not_cover_give_auditlogs_own_result(traded, overrides):
    with override_settings(**overrides):
        for row in traded:
            new = _changed(row)
            fields = tuple(field.attname for field in type(row)._meta.concrete_fields)
            _same(entry_differ(type(row), None)(None, row), _auditlog(None, row))
            _same(entry_differ(type(row), fields)(row, new), _auditlog(row, new, fields))
