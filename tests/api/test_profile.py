"""GET/PUT/PATCH /api/v1/profile."""

from decimal import Decimal
from http import HTTPStatus

import pytest

from accounts.models import Profile
from audit.models import ActivityAction, ActivityLog

URL = "/api/v1/profile"

FULL = {
    "display_name": "Ada Lovelace",
    "country": "CH",
    "base_currency": "CHF",
    "timezone": "Europe/Zurich",
    "risk_tolerance": "aggressive",
    "investment_horizon": "long",
    "trading_style": "positional",
    "initial_capital": "25000.50",
}


def test_get_answers_the_callers_profile_with_decimals_as_strings(session_client, user):
    Profile.objects.filter(user=user).update(display_name="Ada", initial_capital=Decimal("12.5"))

    body = session_client.get(URL).json()

    assert body["display_name"] == "Ada"
    assert body["initial_capital"] == "12.50000000"
    assert set(body) == {*FULL, "updated_at"}


def test_put_replaces_every_field_and_records_the_change(session_client, user):
    response = session_client.put(URL, FULL, format="json")

    assert response.status_code == HTTPStatus.OK
    profile = Profile.objects.get(user=user)
    assert profile.country == "CH"
    assert profile.initial_capital == Decimal("25000.50")
    assert {k: response.json()[k] for k in FULL if k != "initial_capital"} == {
        k: v for k, v in FULL.items() if k != "initial_capital"
    }
    row = ActivityLog.objects.get(user=user, action=ActivityAction.PROFILE_UPDATED)
    assert "country" in row.details["fields"]


@pytest.mark.parametrize("missing", sorted(FULL))
def test_put_without_a_writable_field_is_refused_and_changes_nothing(session_client, user, missing):
    before = Profile.objects.get(user=user)
    body = {k: v for k, v in FULL.items() if k != missing}

    response = session_client.put(URL, body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == [missing]
    assert Profile.objects.get(user=user).updated_at == before.updated_at


def test_patch_changes_only_the_fields_given(session_client, user):
    before = Profile.objects.get(user=user)

    response = session_client.patch(URL, {"timezone": "Asia/Kolkata"}, format="json")

    assert response.status_code == HTTPStatus.OK
    after = Profile.objects.get(user=user)
    assert after.timezone == "Asia/Kolkata"
    assert (after.base_currency, after.risk_tolerance) == (
        before.base_currency,
        before.risk_tolerance,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country", "XX"),
        ("country", "CHE"),
        ("base_currency", "ABC"),
        ("base_currency", ""),
        ("timezone", "Mars/Olympus_Mons"),
        ("risk_tolerance", "reckless"),
        ("investment_horizon", "forever"),
        ("trading_style", "scalping"),
        ("initial_capital", "-1"),
        ("initial_capital", "abc"),
        ("initial_capital", "1.123456789"),
        ("initial_capital", "1" * 17),
        ("display_name", "x" * 101),
    ],
)
def test_invalid_values_answer_400_under_their_field_and_change_nothing(
    session_client, user, field, value
):
    before = Profile.objects.get(user=user)

    response = session_client.patch(URL, {field: value}, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == [field]
    assert Profile.objects.get(user=user).updated_at == before.updated_at


def test_a_body_field_naming_an_owner_is_ignored(session_client, user, other_user):
    response = session_client.patch(
        URL, {"user": other_user.pk, "display_name": "Mine"}, format="json"
    )

    assert response.status_code == HTTPStatus.OK
    assert Profile.objects.get(user=user).display_name == "Mine"
    assert Profile.objects.get(user=other_user).display_name == ""


def test_a_patch_that_changes_nothing_records_no_activity(session_client, user):
    current = session_client.get(URL).json()["timezone"]

    session_client.patch(URL, {"timezone": current}, format="json")

    assert not ActivityLog.objects.filter(action=ActivityAction.PROFILE_UPDATED).exists()
