"""A user's History panel data: only their own rows, field labels, who as you/staff/system,
children where a trader expects them, and never a secret or an excluded field."""

import json
from dataclasses import asdict

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.http import Http404
from django.template.loader import render_to_string

from accounts.models import BrokerCredential
from audit.user_history import HISTORY_PAGE_SIZE, object_history
from bots.services import bot_pause, bot_start, bot_tick_run, bot_update
from portfolio.services import portfolio_update, transaction_delete
from tests.bots import runner_builders as rb
from tests.factories import (
    BrokerCredentialFactory,
    PortfolioFactory,
    TransactionFactory,
)
from trading_lab.encryption import encrypt_str

pytestmark = pytest.mark.django_db

FERNET_TOKEN_START = "gAAAAA"


def _text(history) -> str:
    return json.dumps([asdict(item) for item in history.items], default=str)


def _lines(item) -> list[str]:
    return [f"{c.field}: {c.old} -> {c.new}" for c in item.changes]


def test_a_change_reads_as_field_label_old_and_new_by_you(user):
    portfolio = PortfolioFactory(user=user, name="Old name")
    with set_actor(user):
        portfolio_update(portfolio=portfolio, data={"name": "New name", "description": "Long"})

    newest = object_history(user=user, instance=portfolio).items[0]

    assert (newest.action, newest.actor, newest.subject) == ("changed", "you", "")
    assert sorted(_lines(newest)) == ["Description: — -> Long", "Name: Old name -> New name"]


def test_staff_and_background_changes_name_no_one(user, staff_user):
    portfolio = PortfolioFactory(user=user)
    with set_actor(staff_user):
        portfolio_update(portfolio=portfolio, data={"description": "fixed by support"})

    items = object_history(user=user, instance=portfolio).items

    assert [(item.action, item.actor) for item in items] == [
        ("changed", "staff"),
        ("created", "system"),
    ]
    assert staff_user.email not in _text(object_history(user=user, instance=portfolio))


def test_another_users_row_is_not_found(user, other_user):
    portfolio = PortfolioFactory(user=other_user)

    with pytest.raises(Http404):
        object_history(user=user, instance=portfolio)


def test_a_portfolio_lists_its_transactions_also_deleted_ones_but_no_one_elses(user):
    portfolio = PortfolioFactory(user=user, base_currency="USD")
    other = PortfolioFactory(user=user, base_currency="USD")
    kept = TransactionFactory(portfolio=portfolio, notes="kept")
    gone = TransactionFactory(portfolio=portfolio, notes="gone")
    TransactionFactory(portfolio=other, notes="elsewhere")
    with set_actor(user):
        transaction_delete(transaction=gone)

    items = object_history(user=user, instance=portfolio).items

    children = [(item.action, item.subject.split(" ")[0]) for item in items if item.subject]
    assert children == [
        ("deleted", "Transaction"),
        ("created", "Transaction"),
        ("created", "Transaction"),
    ]
    assert "elsewhere" not in _text(object_history(user=user, instance=portfolio))
    created = [item for item in items if item.subject and item.action == "created"]
    assert "Notes: — -> gone" in _lines(created[0])
    assert "Notes: — -> kept" in _lines(created[1])
    assert f"Instrument: — -> {kept.instrument}" in _lines(created[1])
    # A transaction's own panel is its own entries only.
    own = object_history(user=user, instance=kept).items
    assert [(item.action, item.subject) for item in own] == [("created", "")]


def test_a_bot_shows_config_edits_key_by_key_and_start_pause_but_no_ticks(user):
    bot = rb.bot(user, instrument=rb.instrument())
    with set_actor(user):
        bot_update(bot=bot, data={"config": {**bot.config, "take_profit_pct": "2.5"}})
        bot_start(bot=bot)
    bot.refresh_from_db()
    outcome = bot_tick_run(bot_id=bot.pk, scheduled_at=bot.next_run_at)
    assert outcome.tick.orders_placed == 1, outcome  # the base order: the bot moved on
    with set_actor(user):
        bot_pause(bot=bot)

    items = object_history(user=user, instance=bot).items
    text = _text(object_history(user=user, instance=bot))

    assert [_lines(item) for item in items[:3]] == [
        ["Status: Running -> Paused"],
        ["Status: Stopped -> Running"],
        ["Config: take profit pct: 1.5 -> 2.5"],
    ]
    for hidden in ("next_run_at", "Next run at", "last_tick_at", "Last tick at", "State"):
        assert hidden not in text


def test_a_broker_credentials_history_never_holds_a_secret_even_from_an_old_entry(user):
    credential = BrokerCredentialFactory(user=user, passphrase="broker-passphrase-Aq7")
    first_label = credential.label
    with set_actor(user):
        credential.label = "main account"
        credential.api_secret = "rotated-api-secret-Lm93"
        credential.save()
    secrets = [
        credential.api_key,
        credential.api_secret,
        credential.passphrase,
        "api-key-",
        "api-secret-",
        "passphrase-",
    ]
    # An entry written before the secrets were excluded (or by a bug) holds them: still hidden.
    LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(BrokerCredential),
        object_pk=str(credential.pk),
        object_id=credential.pk,
        object_repr=str(credential),
        action=LogEntry.Action.UPDATE,
        changes={
            "api_key": [credential.api_key, encrypt_str("api-key-new-0001")],
            "api_secret": [encrypt_str(credential.api_secret), "api-secret-plain-0002"],
            "passphrase": ["passphrase-old-3", "passphrase-new-4"],
            "status": ["disconnected", "connected"],
        },
        actor=user,
    )

    history = object_history(user=user, instance=credential)
    text = _text(history)

    assert [_lines(item) for item in history.items[:2]] == [
        ["Status: Disconnected -> Connected"],
        [f"Label: {first_label} -> main account"],
    ]
    html = render_to_string("components/history_panel.html", {"history": history, "user_tz": "UTC"})
    assert "Connected" in html
    assert [secret for secret in secrets if secret in text + html] == []
    assert FERNET_TOKEN_START not in text + html
    fields = {change.field.lower() for item in history.items for change in item.changes}
    assert fields.isdisjoint({"api key", "api secret", "passphrase"})


def test_history_is_paged_newest_first_and_a_bad_page_number_gives_the_first_page(user):
    portfolio = PortfolioFactory(user=user)
    with set_actor(user):
        for n in range(HISTORY_PAGE_SIZE + 5):
            portfolio_update(portfolio=portfolio, data={"description": f"v{n}"})

    first = object_history(user=user, instance=portfolio)
    second = object_history(user=user, instance=portfolio, page=2)
    junk = object_history(user=user, instance=portfolio, page="x")

    assert first.page.paginator.count == HISTORY_PAGE_SIZE + 6
    assert len(first.items) == HISTORY_PAGE_SIZE
    assert _lines(first.items[0]) == [
        f"Description: v{HISTORY_PAGE_SIZE + 3} -> v{HISTORY_PAGE_SIZE + 4}"
    ]
    assert [item.action for item in second.items][-1] == "created"
    assert len(second.items) == 6
    assert [item.id for item in junk.items] == [item.id for item in first.items]
