"""Bot pages (SPEC §7): list, create form with errors by field, detail with controls, ladder,
orders, runs, tick log with gaps and the equity chart; another user's bot is 404."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse

from bots.models import Bot, BotStatus
from bots.services import bot_start, bot_tick_run
from tests.bots import runner_builders as rb

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_costs(settings):
    settings.BOTS_FEE_RATE = "0"
    settings.BOTS_SLIPPAGE_BPS = "0"


@pytest.fixture
def client(client, user):
    client.force_login(user)
    return client


def form_data(instrument, account, **overrides):
    data = {
        "name": "Page bot",
        "account": account.pk,
        "instrument": instrument.pk,
        "interval": "1m",
        **rb.SPEC_CONFIG,
        "stop_loss_pct": "",
        "cooldown_seconds": "0",
    }
    data.update(overrides)
    return data


def test_the_form_creates_a_bot_and_shows_its_page(client, user):
    instrument = rb.instrument()
    page = client.get(reverse("bot_create"))
    assert page.status_code == HTTPStatus.OK
    assert b'data-preview-url="/api/v1/bots/preview"' in page.content

    response = client.post(reverse("bot_create"), form_data(instrument, rb.account(user)))

    bot = Bot.objects.get(user=user)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("bot_detail", args=[bot.pk])
    assert bot.config["take_profit_pct"] == "1.5"
    assert bot.status == BotStatus.STOPPED


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"take_profit_pct": "0"}, "take_profit_pct"),
        ({"price_deviation_pct": "40", "max_safety_orders": "5"}, "max_safety_orders"),
    ],
)
def test_a_bad_setting_shows_its_error_next_to_the_field(client, user, change, field):
    instrument = rb.instrument()

    response = client.post(reverse("bot_create"), form_data(instrument, rb.account(user), **change))

    assert response.status_code == HTTPStatus.OK
    assert field in response.context["form"].errors
    assert not Bot.objects.exists()


def test_capital_beyond_the_free_balance_is_refused_on_the_account_field(client, user):
    instrument = rb.instrument()
    account = rb.account(user, free=Decimal(500))

    response = client.post(reverse("bot_create"), form_data(instrument, account))

    assert response.status_code == HTTPStatus.OK
    [message] = response.context["form"].errors["account"]
    assert "1500" in message
    assert not Bot.objects.exists()


def test_the_detail_page_shows_controls_ladder_orders_runs_ticks_gaps_and_equity(client, user):
    instrument = rb.instrument()
    bot = rb.bot(user, instrument=instrument)
    client.post(reverse("bot_start", args=[bot.pk]))
    bot.refresh_from_db()
    start = bot.next_run_at
    for minute, price in ((1, Decimal(100)), (2, Decimal(99)), (6, Decimal("98.5"))):
        rb.set_price(instrument, price)
        bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(minute, start=start))

    page = client.get(reverse("bot_detail", args=[bot.pk]))

    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert 'id="bot-pause"' in html
    assert 'id="bot-stop"' in html
    assert 'id="bot-start"' not in html
    assert html.count('data-level-state="filled"') == 2  # base and SO1
    assert html.count('data-level-state="pending"') == 2
    assert 'data-tick-gap="3"' in html
    assert "equity-chart-data" in html
    assert "safety_1" in html

    client.post(reverse("bot_stop", args=[bot.pk]))
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED
    page = client.get(reverse("bot_detail", args=[bot.pk]))
    assert 'id="bot-start"' in page.content.decode()
    assert "bot_stopped" in page.content.decode()


def test_a_wrong_action_shows_a_message_not_an_error(client, user):
    bot = rb.bot(user, instrument=rb.instrument())

    response = client.post(reverse("bot_pause", args=[bot.pk]), follow=True)

    assert response.status_code == HTTPStatus.OK
    assert "cannot be paused" in response.content.decode()


def test_the_list_shows_status_pnl_and_next_tick(client, user):
    bot = rb.bot(user, instrument=rb.instrument())
    bot_start(bot=bot)

    page = client.get(reverse("bot_list"))

    assert page.status_code == HTTPStatus.OK
    assert bot.name in page.content.decode()
    assert 'data-bot-status="running"' in page.content.decode()


def test_editing_a_running_bot_changes_only_its_name(client, user):
    instrument = rb.instrument()
    bot = rb.bot(user, instrument=instrument)
    bot_start(bot=bot)

    response = client.post(
        reverse("bot_edit", args=[bot.pk]),
        form_data(instrument, bot.account, name="Renamed", interval="1h"),
    )

    assert response.status_code == HTTPStatus.OK
    assert "interval" in response.context["form"].errors
    response = client.post(
        reverse("bot_edit", args=[bot.pk]),
        form_data(instrument, bot.account, name="Renamed", interval=bot.interval),
    )
    assert response.status_code == HTTPStatus.FOUND
    bot.refresh_from_db()
    assert bot.name == "Renamed"


def test_another_users_bot_pages_are_404(client, other_user):
    theirs = rb.bot(other_user, instrument=rb.instrument())

    for name in ("bot_detail", "bot_edit", "bot_delete"):
        assert client.get(reverse(name, args=[theirs.pk])).status_code == HTTPStatus.NOT_FOUND
    assert client.post(reverse("bot_start", args=[theirs.pk])).status_code == HTTPStatus.NOT_FOUND
