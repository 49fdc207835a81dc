"""The bots admin: staff pause and stop selected bots through the services."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from bots.models import BotRun, BotStatus, RunStatus
from bots.services import bot_start
from tests.bots import runner_builders as rb

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def act(client, action, bots):
    return client.post(
        reverse("admin:bots_bot_changelist"),
        {"action": action, "_selected_action": [bot.pk for bot in bots]},
        follow=True,
    )


def test_pause_then_stop_selected_bots_go_through_the_services(staff_client, user):
    instrument = rb.instrument()
    running = [rb.bot(user, instrument=instrument) for _ in range(2)]
    for bot in running:
        bot_start(bot=bot)
    idle = rb.bot(user, instrument=instrument)

    paused = act(staff_client, "pause_selected", [*running, idle])

    assert paused.status_code == HTTPStatus.OK
    text = paused.content.decode()
    assert "2 bot(s) paused." in text
    assert "cannot be paused" in text
    for bot in running:
        bot.refresh_from_db()
        assert bot.status == BotStatus.PAUSED

    stopped = act(staff_client, "stop_selected", running)

    assert "2 bot(s) stopped." in stopped.content.decode()
    assert set(BotRun.objects.values_list("status", flat=True)) == {RunStatus.STOPPED}
    assert BotRun.objects.filter(ended_at__isnull=True).count() == 0
