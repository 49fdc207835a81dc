"""Dismissed insights through the API (SPEC §6 insights)."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.models import DismissedInsight
from audit.models import ActivityAction, ActivityLog

LIST_URL = "/api/v1/insights/dismissed"


def dismiss_url(insight_id: str) -> str:
    return reverse("api-insight-dismiss", kwargs={"insight_id": insight_id})


def test_the_routes_are_where_the_spec_puts_them():
    assert reverse("api-insights-dismissed") == LIST_URL
    assert dismiss_url("rebalance-2024") == "/api/v1/insights/rebalance-2024/dismiss"


def test_dismissing_lists_the_insight_and_records_it_once(session_client, user):
    first = session_client.post(dismiss_url("concentration:AAPL"))
    again = session_client.post(dismiss_url("concentration:AAPL"))

    assert first.status_code == HTTPStatus.CREATED
    assert again.status_code == HTTPStatus.OK
    assert again.json()["dismissed_at"] == first.json()["dismissed_at"]
    listed = session_client.get(LIST_URL).json()
    assert listed["count"] == 1
    assert listed["results"][0]["insight_id"] == "concentration:AAPL"
    recorded = ActivityLog.objects.for_user(user).filter(action=ActivityAction.INSIGHT_DISMISSED)
    assert [row.details["insight_ids"] for row in recorded] == [["concentration:AAPL"]]


def test_the_list_is_newest_first_and_paginated(session_client):
    for insight_id in ("first", "second", "third"):
        session_client.post(dismiss_url(insight_id))

    body = session_client.get(LIST_URL).json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert [row["insight_id"] for row in body["results"]] == ["third", "second", "first"]


def test_undismissing_shows_it_again_and_is_idempotent(session_client, user):
    session_client.post(dismiss_url("welcome"))

    removed = session_client.delete(dismiss_url("welcome"))
    again = session_client.delete(dismiss_url("welcome"))

    assert removed.status_code == again.status_code == HTTPStatus.NO_CONTENT
    assert not DismissedInsight.objects.for_user(user).exists()
    restored = ActivityLog.objects.for_user(user).filter(action=ActivityAction.INSIGHT_RESTORED)
    assert restored.count() == 1


@pytest.mark.parametrize("bad", ["-starts-with-dash", "has space", "x" * 101, "semi;colon"])
def test_a_malformed_insight_id_answers_400_and_stores_nothing(session_client, user, bad):
    response = session_client.post(dismiss_url(bad))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == ["insight_id"]
    assert not DismissedInsight.objects.for_user(user).exists()


def test_dismissals_are_per_user(session_client, other_user, api_client):
    session_client.post(dismiss_url("welcome"))
    api_client.force_login(other_user)

    assert api_client.get(LIST_URL).json()["count"] == 0
    assert api_client.post(dismiss_url("welcome")).status_code == HTTPStatus.CREATED
    assert DismissedInsight.objects.filter(insight_id="welcome").count() == 2


def test_anonymous_callers_get_401(api_client):
    assert api_client.get(LIST_URL).status_code == HTTPStatus.UNAUTHORIZED
    assert api_client.post(dismiss_url("welcome")).status_code == HTTPStatus.UNAUTHORIZED
