"""A tick writes its model history (django-auditlog) in one statement at the end: every row it
creates or changes still has its entries, and replaying them over the row's old values gives
its new values, field by field, as auditlog's own `save()` would have recorded them."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from audit.history import excluded_fields
from bots.models import Bot, BotRun, Deal, Order, OrderStatus, PaperBalance, PaperPosition
from bots.services import bot_start, bot_tick_run
from tests.bots import runner_builders as rb

pytestmark = pytest.mark.django_db

HISTORY_MODELS = (Order, PaperBalance, PaperPosition, Deal, BotRun, Bot)
# Base order, SO1, SO2, SO3 refused (the balance is spent by then), then the take profit.
PATH = [Decimal("100"), Decimal("99"), Decimal("97.5"), Decimal("95.25"), Decimal("101")]
CREATE, UPDATE = LogEntry.Action.CREATE, LogEntry.Action.UPDATE

Entries = dict[tuple[type, int], list[LogEntry]]


def _rows() -> dict[tuple[type, int], dict]:
    return {(model, row["id"]): row for model in HISTORY_MODELS for row in model.objects.values()}


def _recorded_fields(model) -> dict[str, str]:
    """Field name -> column attribute, for the fields history records for `model`."""
    skipped = set(excluded_fields(model))
    return {
        field.name: field.attname
        for field in model._meta.concrete_fields
        if field.name not in skipped
    }


def _typed(model, name: str, logged):
    """A value as an entry holds it (JSON), typed as the database returns it."""
    if logged is None:
        return None
    value = model._meta.get_field(name).to_python(logged)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # auditlog logs times as naive UTC
    return value


def _entries_since(last_id: int) -> Entries:
    models = {ContentType.objects.get_for_model(model).pk: model for model in HISTORY_MODELS}
    entries = LogEntry.objects.filter(pk__gt=last_id, content_type__in=models).order_by("pk")
    found: Entries = {}
    for entry in entries:
        found.setdefault((models[entry.content_type_id], int(entry.object_pk)), []).append(entry)
    return found


def _tick_and_check(bot, at: datetime) -> Entries:
    """Run the tick; check, for every row of the history models, that replaying the tick's
    entries over the row's old values gives its new values. Returns the entries."""
    before = _rows()
    last_id = LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    bot_tick_run(bot_id=bot.pk, scheduled_at=at)
    after = _rows()
    entries = _entries_since(last_id)
    assert set(entries) <= set(after)
    for key, row in after.items():
        model, old = key[0], before.get(key)
        fields = _recorded_fields(model)
        state = {name: None if old is None else old[attname] for name, attname in fields.items()}
        for position, entry in enumerate(entries.get(key, [])):
            assert entry.action == (CREATE if old is None and position == 0 else UPDATE), key
            for name, (was, now) in entry.changes.items():
                if name not in fields:
                    continue  # auditlog also lists the reverse relations of a new row
                assert _typed(model, name, was) == state[name], (key, name, was)
                state[name] = _typed(model, name, now)
        assert state == {name: row[attname] for name, attname in fields.items()}, key
    return entries


def _kinds(entries: Entries) -> set[tuple[str, int]]:
    return {
        (model._meta.model_name, entry.action)
        for (model, _), rows in entries.items()
        for entry in rows
    }


def test_every_row_a_tick_creates_or_changes_has_its_history_entries(user):
    instrument = rb.instrument()
    bot = rb.bot(user, instrument=instrument)
    bot_start(bot=bot, now=rb.T0)
    rb.account(user, free=Decimal(750))

    seen = []
    for i, price in enumerate(PATH, start=1):
        rb.set_price(instrument, price)
        seen.append(_tick_and_check(bot, rb.minutes(i)))
    # The same tick delivered again changes nothing and records nothing.
    assert _tick_and_check(bot, rb.minutes(len(PATH))) == {}

    # Opening: the position and the deal are new, the order fills, the run counts it.
    assert _kinds(seen[0]) == {
        ("paperposition", CREATE),
        ("deal", CREATE),
        ("order", CREATE),
        ("paperbalance", UPDATE),
        ("paperposition", UPDATE),
        ("botrun", UPDATE),
    }
    # A safety order: the deal grows.
    growing = {
        ("order", CREATE),
        ("paperbalance", UPDATE),
        ("paperposition", UPDATE),
        ("deal", UPDATE),
        ("botrun", UPDATE),
    }
    assert _kinds(seen[1]) == _kinds(seen[2]) == growing
    # The refused SO3 is a rejected order; no money moved.
    assert _kinds(seen[3]) == {("order", CREATE)}
    assert Order.objects.get(bot=bot, kind="safety_3").status == OrderStatus.REJECTED
    # The take profit closes the deal and adds its P&L to the run.
    assert _kinds(seen[4]) == growing
    deal = Deal.objects.get(bot=bot)
    (closing,) = seen[4][(Deal, deal.pk)]
    assert closing.changes["status"] == ["open", "closed"]
    assert closing.changes["exit_kind"] == ["", "take_profit"]
