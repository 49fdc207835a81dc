"""GET /api/v1/activity: the caller's own rows, newest first, with filters."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from audit.models import ActivityAction, ActivityLog, ActivityStatus

URL = "/api/v1/activity"


def test_the_list_holds_only_the_callers_rows_newest_first(
    session_client, user, other_user, make_activity
):
    first = make_activity(user, ActivityAction.SIGN_IN)
    make_activity(other_user, ActivityAction.SIGN_IN)
    second = make_activity(user, ActivityAction.TOKEN_CREATED, description="API token created")

    body = session_client.get(URL).json()

    assert [row["id"] for row in body["results"]] == [second.pk, first.pk]
    assert body["results"][0] == {
        "id": second.pk,
        "created_at": body["results"][0]["created_at"],
        "action": "token_created",
        "status": "success",
        "description": "API token created",
        "details": {},
        "ip_address": None,
        "user_agent": "",
    }


@pytest.fixture
def history(user, other_user, make_activity):
    """The user's sign-in 3 days ago, failed sign-in 2 days ago, token creation 1 day ago."""
    now = timezone.now()
    rows = {
        "signed in": make_activity(user, ActivityAction.SIGN_IN),
        "failed": make_activity(user, ActivityAction.SIGN_IN_FAILED, status=ActivityStatus.FAILURE),
        "token": make_activity(user, ActivityAction.TOKEN_CREATED),
    }
    make_activity(other_user, ActivityAction.SIGN_IN_FAILED, status=ActivityStatus.FAILURE)
    for days_ago, row in zip((3, 2, 1), rows.values(), strict=True):
        # Test set-up only: the model's manager refuses updates, the base manager does not.
        ActivityLog._base_manager.filter(pk=row.pk).update(
            created_at=now - timedelta(days=days_ago)
        )
    return rows, now


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["token", "failed", "signed in"]),
        ({"action": "sign_in"}, ["signed in"]),
        ({"status": "failure"}, ["failed"]),
        ({"since": -2}, ["token", "failed"]),
        ({"until": -2}, ["signed in"]),
        ({"since": -2.5, "until": -1.5}, ["failed"]),
        ({"action": "token_created", "status": "failure"}, []),
    ],
)
def test_filters_narrow_the_callers_rows(session_client, history, params, expected):
    rows, now = history
    query = {
        key: (now + timedelta(days=value)).isoformat() if key in ("since", "until") else value
        for key, value in params.items()
    }

    body = session_client.get(URL, query).json()

    assert [row["id"] for row in body["results"]] == [rows[name].pk for name in expected]


def test_a_date_alone_is_accepted_as_midnight(session_client, history):
    rows, now = history
    tomorrow = (now + timedelta(days=1)).date().isoformat()

    body = session_client.get(URL, {"until": tomorrow}).json()

    assert body["count"] == len(rows)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"action": "launched_rocket"}, "action"),
        ({"status": "maybe"}, "status"),
        ({"since": "last week"}, "since"),
        ({"until": "2025-13-01"}, "until"),
        ({"since": "2025-02-01", "until": "2025-01-01"}, "until"),
    ],
)
def test_a_bad_filter_answers_400_under_its_name(session_client, params, field):
    response = session_client.get(URL, params)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == [field]
