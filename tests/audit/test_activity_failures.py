"""A refused action lands in the actor's activity log with status failure (SPEC §3 audit).

The success rows are tested with each area; these check the failure side, from the API, the
admin and a direct service call, and that the refusal's own transaction still rolled back.
"""

from datetime import date
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse

from audit.models import ActivityAction, ActivityLog, ActivityStatus
from bots.models import Backtest, BotStatus
from bots.services import bot_start
from bots.services.backtests import backtest_create
from portfolio.services.exports import transactions_export
from tests.bots import runner_builders as rb
from trading_lab.exceptions import ApplicationError

pytestmark = pytest.mark.django_db


def failures(action: str) -> list[ActivityLog]:
    return list(ActivityLog.objects.filter(action=action, status=ActivityStatus.FAILURE))


def test_starting_a_running_bot_through_the_api_records_a_failure(session_client, user):
    instrument = rb.instrument()
    bot = rb.bot(user, instrument=instrument)
    url = reverse("api-bot-start", kwargs={"id": bot.pk})

    assert session_client.post(url).status_code == HTTPStatus.OK
    again = session_client.post(url)

    assert again.status_code == HTTPStatus.CONFLICT
    [row] = failures(ActivityAction.BOT_STARTED)
    assert row.user == user
    assert row.description.startswith("Starting the bot failed: ")
    assert again.json()["detail"] in row.description
    assert row.ip_address  # from the request, like the success row
    assert (
        ActivityLog.objects.filter(
            action=ActivityAction.BOT_STARTED, status=ActivityStatus.SUCCESS
        ).count()
        == 1
    )


def test_a_staff_admin_action_refused_for_one_bot_is_the_staff_members_failure(
    client, staff_user, user
):
    idle = rb.bot(user, instrument=rb.instrument())
    client.force_login(staff_user)

    client.post(
        reverse("admin:bots_bot_changelist"),
        {"action": "pause_selected", "_selected_action": [idle.pk]},
    )

    [row] = failures(ActivityAction.BOT_PAUSED)
    assert row.user == staff_user
    idle.refresh_from_db()
    assert idle.status == BotStatus.STOPPED


def test_a_refused_backtest_records_a_failure_and_creates_nothing(user):
    with pytest.raises(ApplicationError):
        backtest_create(
            user=user,
            instrument=rb.instrument(),
            start=date(2026, 5, 1),
            end=date(2026, 4, 1),  # before the start
            initial_balance=Decimal(1000),
            fee_rate=Decimal("0.001"),
            slippage_bps=Decimal(0),
            config=dict(rb.SPEC_CONFIG),
            enqueue=False,
        )

    [row] = failures(ActivityAction.BACKTEST_CREATED)
    assert row.user == user
    assert row.details["errors"]  # the field errors, by field
    assert not Backtest.objects.exists()


def test_an_export_in_an_unknown_format_records_a_failure(user):
    with pytest.raises(ApplicationError):
        transactions_export(user=user, fmt="pdf")

    [row] = failures(ActivityAction.EXPORT)
    assert row.user == user
    assert row.description.startswith("The transactions export failed: ")


def test_a_successful_action_records_no_failure(user):
    bot = rb.bot(user, instrument=rb.instrument())

    bot_start(bot=bot)

    assert not ActivityLog.objects.filter(status=ActivityStatus.FAILURE).exists()


def test_a_refusal_without_any_user_to_name_records_nothing(db):
    with pytest.raises(ApplicationError):
        transactions_export(user=None, fmt="pdf")

    assert not ActivityLog.objects.exists()
