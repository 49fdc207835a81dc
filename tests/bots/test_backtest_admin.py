"""The backtest admin: read-only results, and a Stop action that goes through the service."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from bots.models import Backtest, BacktestStatus
from tests.bots.backtest_builders import finished_backtest, priced_instrument, queued_backtest

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:bots_backtest_changelist")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_stop_selected_cancels_queued_ones_and_reports_finished_ones(staff_client, user):
    instrument = priced_instrument()
    queued = queued_backtest(user, instrument)
    done = finished_backtest(user, instrument)

    response = staff_client.post(
        CHANGELIST,
        {"action": "stop_selected", "_selected_action": [queued.pk, done.pk]},
        follow=True,
    )

    shown = [str(message) for message in response.context["messages"]]
    assert shown == [
        "1 backtest(s) asked to stop.",
        f"#{done.pk}: This backtest has already finished (succeeded).",
    ]
    assert Backtest.objects.get(pk=queued.pk).status == BacktestStatus.CANCELLED


def test_a_backtest_page_shows_its_results_read_only(staff_client, user):
    backtest = finished_backtest(user, priced_instrument())

    response = staff_client.get(reverse("admin:bots_backtest_change", args=[backtest.pk]))

    assert response.status_code == HTTPStatus.OK
    assert "take_profit" in response.content.decode()
    assert response.context["adminform"].form.fields == {}
