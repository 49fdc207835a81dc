"""The Activity log tab: the user's own rows, filtered by action, status and dates, 25 a page."""

import csv
import io
from datetime import UTC, datetime
from http import HTTPStatus

import pytest
from django.urls import reverse

from audit.models import ActivityAction, ActivityLog, ActivityStatus
from audit.services import activity_record


def record(user, description, action=ActivityAction.PROFILE_UPDATED, **kwargs):
    return activity_record(user=user, action=action, description=description, **kwargs)


def descriptions(response) -> list[str]:
    return [row.description for row in response.context["rows"]]


def test_lists_only_the_users_own_rows_newest_first(page_client, user, other_user):
    record(user, "first")
    record(other_user, "someone else's")
    record(user, "second")

    response = page_client.get(reverse("profile_activity"))

    assert descriptions(response) == ["second", "first"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": ActivityAction.TOKEN_CREATED}, ["token"]),
        ({"status": ActivityStatus.FAILURE}, ["failed sign-in"]),
        ({"action": ActivityAction.SIGN_IN_FAILED, "status": ActivityStatus.SUCCESS}, []),
        ({}, ["failed sign-in", "token", "profile"]),
    ],
)
def test_filters_by_action_and_status(page_client, user, query, expected):
    record(user, "profile")
    record(user, "token", action=ActivityAction.TOKEN_CREATED)
    record(
        user,
        "failed sign-in",
        action=ActivityAction.SIGN_IN_FAILED,
        status=ActivityStatus.FAILURE,
    )

    response = page_client.get(reverse("profile_activity"), query)

    assert descriptions(response) == expected


def _at(user, description, when: datetime) -> None:
    row = record(user, description)
    # The activity manager refuses edits; moving a row in time is test set-up only, done
    # through the base manager (the hash chain is not what these tests look at).
    ActivityLog._base_manager.filter(pk=row.pk).update(created_at=when)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"date_from": "2025-03-02"}, ["late", "evening"]),
        ({"date_to": "2025-03-01"}, ["early"]),
        ({"date_from": "2025-03-02", "date_to": "2025-03-02"}, ["evening"]),
    ],
)
def test_date_range_is_whole_days_in_the_users_time_zone(page_client, user, query, expected):
    user.profile.timezone = "Asia/Kolkata"  # UTC+05:30
    user.profile.save()
    _at(user, "early", datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    # 2025-03-01 20:00 UTC is already 2025-03-02 01:30 in Kolkata.
    _at(user, "evening", datetime(2025, 3, 1, 20, 0, tzinfo=UTC))
    _at(user, "late", datetime(2025, 3, 5, 9, 0, tzinfo=UTC))

    response = page_client.get(reverse("profile_activity"), query)

    assert sorted(descriptions(response)) == sorted(expected)


def test_shows_times_in_the_users_time_zone(page_client, user):
    user.profile.timezone = "Asia/Kolkata"
    user.profile.save()
    _at(user, "evening", datetime(2025, 3, 1, 20, 0, tzinfo=UTC))

    html = page_client.get(reverse("profile_activity")).content.decode()

    assert "2025-03-02 01:30:00" in html
    assert "Times in Asia/Kolkata" in html


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"date_from": "2025-03-05", "date_to": "2025-03-01"}, "date_to", "on or after"),
        ({"date_from": "yesterday"}, "date_from", "Enter a valid date."),
        ({"status": "maybe"}, "status", "Select a valid choice."),
    ],
)
def test_bad_filters_show_errors_next_to_the_field(page_client, user, query, field, message):
    record(user, "row")

    response = page_client.get(reverse("profile_activity"), query)

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert message in html.split(f'id="id_{field}_error"', 1)[1].split("</div>\n", 1)[0]
    assert descriptions(response) == []


def test_pages_hold_25_rows_and_keep_the_filters(page_client, user):
    for number in range(30):
        record(user, f"row {number:02}", action=ActivityAction.TOKEN_CREATED)
    record(user, "other action")

    first = page_client.get(reverse("profile_activity"), {"action": "token_created"})
    second = page_client.get(reverse("profile_activity"), {"action": "token_created", "page": 2})

    assert len(first.context["rows"]) == 25
    assert descriptions(second) == [f"row {number:02}" for number in range(4, -1, -1)]
    assert "?action=token_created&amp;page=2" in first.content.decode()


def test_shows_action_labels_and_status_badges(page_client, user):
    record(user, "x", action=ActivityAction.SIGN_IN_FAILED, status=ActivityStatus.FAILURE)

    html = page_client.get(reverse("profile_activity")).content.decode()

    assert "Failed sign-in" in html
    assert '<span class="badge text-bg-danger">Failure</span>' in html


def _csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_export_downloads_the_filtered_rows_as_csv_and_records_the_export(
    page_client, user, other_user
):
    record(user, "profile change")
    record(user, "=HYPERLINK(evil)", action=ActivityAction.TOKEN_CREATED)
    record(other_user, "someone else's")

    response = page_client.get(
        reverse("profile_activity_export"), {"action": ActivityAction.TOKEN_CREATED}
    )

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="activity-')
    rows = _csv_rows(response)
    # The formula is neutralised for spreadsheets (CSV injection).
    assert [row["description"] for row in rows] == ["'=HYPERLINK(evil)"]
    assert rows[0]["action"] == "API token created"
    exported = ActivityLog.objects.filter(user=user, action=ActivityAction.EXPORT).get()
    assert exported.details == {"kind": "activity", "format": "csv", "rows": 1}


def test_export_without_filters_holds_every_own_row_newest_first(page_client, user):
    record(user, "first")
    record(user, "second")

    rows = _csv_rows(page_client.get(reverse("profile_activity_export")))

    assert [row["description"] for row in rows] == ["second", "first"]
    assert set(rows[0]) == {
        "time",
        "action",
        "status",
        "description",
        "ip_address",
        "user_agent",
        "request_id",
    }


def test_export_with_bad_filters_sends_back_to_the_tab_with_the_filters(page_client, user):
    response = page_client.get(
        reverse("profile_activity_export"), {"date_from": "2026-02-01", "date_to": "2026-01-01"}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("profile_activity") + "?")
    assert not ActivityLog.objects.filter(action=ActivityAction.EXPORT).exists()


def test_the_tab_links_the_export_with_the_current_filters(page_client, user):
    response = page_client.get(reverse("profile_activity"), {"status": ActivityStatus.FAILURE})

    assert f"{reverse('profile_activity_export')}?status=failure" in response.content.decode()
