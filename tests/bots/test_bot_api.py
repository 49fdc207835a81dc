"""The bots API (SPEC §6): CRUD, lifecycle with 409 on a wrong state, runs/deals/orders, preview."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse

from audit.models import ActivityAction, ActivityLog
from bots.models import Bot, BotStatus
from bots.services import bot_tick_run
from tests.bots import runner_builders as rb

pytestmark = pytest.mark.django_db

BOT_FIELDS = {
    "id",
    "name",
    "bot_type",
    "account",
    "symbol",
    "exchange",
    "interval",
    "config",
    "status",
    "next_run_at",
    "required_capital",
}


@pytest.fixture(autouse=True)
def _fees(settings):
    settings.BOTS_FEE_RATE = "0.001"
    settings.BOTS_SLIPPAGE_BPS = "0"


@pytest.fixture
def instrument(db):
    return rb.instrument(price=Decimal(100))


def body(instrument, **overrides):
    return {
        "name": "Grid one",
        "symbol": instrument.symbol,
        "interval": "5m",
        "config": dict(rb.SPEC_CONFIG),
        **overrides,
    }


def create(client, instrument, **overrides):
    response = client.post(reverse("api-bots"), body(instrument, **overrides), format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    return response.json()


def action(client, bot_id, name):
    return client.post(reverse(f"api-bot-{name}", kwargs={"id": bot_id}))


def test_create_answers_the_spec_fields_with_the_required_capital_including_fees(
    token_client, user, instrument
):
    data = create(token_client, instrument)

    assert set(data) >= BOT_FIELDS
    assert data["status"] == "stopped"
    assert data["next_run_at"] is None
    assert data["symbol"] == instrument.symbol
    assert data["interval"] == "5m"
    # 1,500 of orders plus 0.1% fees on each buy.
    assert Decimal(data["required_capital"]) == Decimal("1501.5")
    assert data["config"]["take_profit_pct"] == "1.5"
    assert data["account"] == Bot.objects.get(pk=data["id"]).account.pk
    assert ActivityLog.objects.filter(user_ref=user.audit_ref, action=ActivityAction.BOT_CREATED)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"take_profit_pct": "0"}, "config.take_profit_pct"),
        ({"base_order_size": "abc"}, "config.base_order_size"),
        ({"max_safety_orders": 200}, "config.max_safety_orders"),
        ({"surprise": 1}, "config.surprise"),
    ],
)
def test_a_bad_config_answers_400_naming_the_config_field(
    session_client, instrument, change, field
):
    config = {**rb.SPEC_CONFIG, **change}

    response = session_client.post(
        reverse("api-bots"), body(instrument, config=config), format="json"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]
    assert Bot.objects.count() == 0


def test_a_config_needing_more_than_the_free_balance_is_refused_on_the_account(
    session_client, user, instrument
):
    rb.account(user, free=Decimal(1000))

    response = session_client.post(reverse("api-bots"), body(instrument), format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    [message] = response.json()["errors"]["account"]
    assert "1501.5" in message
    assert "1000" in message


def test_an_unknown_or_another_users_private_symbol_is_400(session_client, other_user):
    private = rb.instrument()
    private.owner = other_user
    private.save()

    response = session_client.post(reverse("api-bots"), body(private), format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "symbol" in response.json()["errors"]


def test_lifecycle_start_pause_resume_stop_and_409_on_a_wrong_state(session_client, instrument):
    bot_id = create(session_client, instrument)["id"]

    assert action(session_client, bot_id, "pause").status_code == HTTPStatus.CONFLICT
    started = action(session_client, bot_id, "start")
    assert started.status_code == HTTPStatus.OK
    assert started.json()["status"] == "running"
    assert started.json()["next_run_at"]

    again = action(session_client, bot_id, "start")
    assert again.status_code == HTTPStatus.CONFLICT
    assert set(again.json()) == {"detail", "errors"}
    assert "running" in again.json()["detail"]

    edit = session_client.patch(
        reverse("api-bot-detail", kwargs={"id": bot_id}), {"interval": "1h"}, format="json"
    )
    assert edit.status_code == HTTPStatus.CONFLICT
    renamed = session_client.patch(
        reverse("api-bot-detail", kwargs={"id": bot_id}), {"name": "Renamed"}, format="json"
    )
    assert renamed.status_code == HTTPStatus.OK
    assert renamed.json()["name"] == "Renamed"
    deleted = session_client.delete(reverse("api-bot-detail", kwargs={"id": bot_id}))
    assert deleted.status_code == HTTPStatus.CONFLICT

    assert action(session_client, bot_id, "pause").json()["status"] == "paused"
    assert action(session_client, bot_id, "resume").json()["status"] == "running"
    stopped = action(session_client, bot_id, "stop")
    assert stopped.json()["status"] == "stopped"
    assert stopped.json()["next_run_at"] is None
    assert action(session_client, bot_id, "stop").status_code == HTTPStatus.CONFLICT

    runs = session_client.get(reverse("api-bot-runs", kwargs={"id": bot_id})).json()
    assert runs["count"] == 1
    assert runs["results"][0]["status"] == "stopped"
    assert session_client.delete(reverse("api-bot-detail", kwargs={"id": bot_id})).status_code == (
        HTTPStatus.NO_CONTENT
    )


def test_runs_deals_orders_and_ticks_are_listed_and_paginated(session_client, instrument):
    bot_id = create(session_client, instrument)["id"]
    action(session_client, bot_id, "start")
    bot = Bot.objects.get(pk=bot_id)
    for minute, price in enumerate(rb.SPEC_PATH[:3], start=1):
        rb.set_price(instrument, price)
        bot_tick_run(bot_id=bot_id, scheduled_at=rb.minutes(minute, start=bot.next_run_at))

    orders = session_client.get(reverse("api-bot-orders", kwargs={"id": bot_id})).json()
    deals = session_client.get(reverse("api-bot-deals", kwargs={"id": bot_id})).json()
    ticks = session_client.get(reverse("api-bot-ticks", kwargs={"id": bot_id})).json()

    assert {"count", "next", "previous", "results"} <= set(orders)
    assert sorted(o["kind"] for o in orders["results"]) == ["base", "safety_1", "safety_2"]
    assert deals["count"] == 1
    assert deals["results"][0]["safety_orders_filled"] == 2
    assert ticks["count"] == 3


def test_preview_gives_the_ladder_the_capital_and_whether_it_fits(session_client, instrument):
    response = session_client.post(
        reverse("api-bot-preview"),
        {"config": rb.SPEC_CONFIG, "symbol": instrument.symbol},
        format="json",
    )

    assert response.status_code == HTTPStatus.OK
    data = response.json()
    assert [level["trigger_price"] for level in data["levels"]] == [
        "100.0000000000",
        "99.0000000000",
        "97.5000000000",
        "95.2500000000",
    ]
    assert [level["size"] for level in data["levels"]][1:] == [
        "200.00000000",
        "400.00000000",
        "800.00000000",
    ]
    assert Decimal(data["required_capital"]) == Decimal("1501.5")
    assert data["fits"] is True
    assert data["currency"] == "USD"


def test_preview_of_a_bad_config_answers_400_with_config_fields(session_client):
    response = session_client.post(
        reverse("api-bot-preview"),
        {"config": {**rb.SPEC_CONFIG, "price_deviation_pct": "150"}},
        format="json",
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "config.price_deviation_pct" in response.json()["errors"]


def test_another_users_bot_is_404_for_every_action(session_client, other_user, instrument):
    theirs = rb.bot(other_user, instrument=instrument)

    for name in ("start", "pause", "resume", "stop"):
        assert action(session_client, theirs.pk, name).status_code == HTTPStatus.NOT_FOUND
    theirs.refresh_from_db()
    assert theirs.status == BotStatus.STOPPED
