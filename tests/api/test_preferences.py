"""GET/PUT/PATCH /api/v1/preferences: every enum and type validated, cross-field rules per field."""

from http import HTTPStatus

import pytest

from accounts.models import Preferences
from audit.models import ActivityAction, ActivityLog

URL = "/api/v1/preferences"

FULL = {
    "theme": "dark",
    "notify_alert_triggered": False,
    "notify_bot_order_filled": True,
    "notify_weekly_summary": True,
    "disclosure_accepted_at": "2025-01-02T03:04:05Z",
    "universe": "NIFTY500",
    "market_region": "india",
    "risk_profile": "conservative",
    "trading_modes": {"intraday": True, "swing": True, "options": False, "futures": False},
    "primary_mode": "swing",
    "auxiliary_modes": ["intraday"],
}


def test_get_answers_the_callers_preferences(session_client):
    body = session_client.get(URL).json()

    assert set(body) == {*FULL, "updated_at"}
    assert body["trading_modes"] == {
        "intraday": False,
        "swing": False,
        "options": False,
        "futures": False,
    }


def test_put_replaces_every_field_and_records_the_change(session_client, user):
    response = session_client.put(URL, FULL, format="json")

    assert response.status_code == HTTPStatus.OK
    assert {k: response.json()[k] for k in FULL} == FULL
    stored = Preferences.objects.get(user=user)
    assert (stored.theme, stored.primary_mode, stored.auxiliary_modes) == (
        "dark",
        "swing",
        ["intraday"],
    )
    assert ActivityLog.objects.filter(user=user, action=ActivityAction.PREFERENCES_UPDATED).exists()


@pytest.mark.parametrize("missing", sorted(FULL))
def test_put_without_a_writable_field_is_refused(session_client, missing):
    body = {k: v for k, v in FULL.items() if k != missing}

    response = session_client.put(URL, body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == [missing]


def test_put_must_name_every_trading_mode(session_client):
    body = {**FULL, "trading_modes": {"intraday": True, "swing": True}}

    response = session_client.put(URL, body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert sorted(response.json()["errors"]) == ["trading_modes.futures", "trading_modes.options"]


def test_patch_of_some_trading_modes_keeps_the_others(session_client, user):
    Preferences.objects.filter(user=user).update(
        trading_modes={"intraday": True, "swing": False, "options": True, "futures": False}
    )

    response = session_client.patch(URL, {"trading_modes": {"swing": True}}, format="json")

    assert response.status_code == HTTPStatus.OK
    assert Preferences.objects.get(user=user).trading_modes == {
        "intraday": True,
        "swing": True,
        "options": True,
        "futures": False,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"theme": "neon"}, "theme"),
        ({"universe": "FTSE100"}, "universe"),
        ({"market_region": "mars"}, "market_region"),
        ({"risk_profile": "yolo"}, "risk_profile"),
        ({"primary_mode": "crypto"}, "primary_mode"),
        ({"auxiliary_modes": ["crypto"]}, "auxiliary_modes.0"),
        ({"auxiliary_modes": "swing"}, "auxiliary_modes"),
        ({"auxiliary_modes": ["swing", "swing"]}, "auxiliary_modes"),
        ({"trading_modes": {"crypto": True}}, "trading_modes.crypto"),
        ({"trading_modes": {"swing": "maybe"}}, "trading_modes.swing"),
        ({"trading_modes": ["swing"]}, "trading_modes"),
        ({"notify_weekly_summary": "sometimes"}, "notify_weekly_summary"),
        ({"disclosure_accepted_at": "yesterday"}, "disclosure_accepted_at"),
    ],
)
def test_invalid_enums_and_types_answer_400_under_their_field(session_client, user, body, field):
    before = Preferences.objects.get(user=user)

    response = session_client.patch(URL, body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == [field]
    assert Preferences.objects.get(user=user).updated_at == before.updated_at


@pytest.mark.parametrize(
    ("stored_modes", "body", "field"),
    [
        # The primary mode must be switched on, whether it arrives alone or with the modes.
        ({}, {"primary_mode": "options"}, "primary_mode"),
        (
            {},
            {"primary_mode": "options", "trading_modes": {"options": False}},
            "primary_mode",
        ),
        # ... and cannot also be an auxiliary mode.
        (
            {"swing": True},
            {"primary_mode": "swing", "auxiliary_modes": ["swing"]},
            "auxiliary_modes",
        ),
    ],
)
def test_cross_field_rules_come_back_under_their_field(
    session_client, user, stored_modes, body, field
):
    modes = {"intraday": False, "swing": False, "options": False, "futures": False}
    Preferences.objects.filter(user=user).update(trading_modes={**modes, **stored_modes})

    response = session_client.patch(URL, body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == [field]


def test_switching_a_mode_on_with_it_as_primary_in_one_patch_is_accepted(session_client, user):
    response = session_client.patch(
        URL, {"primary_mode": "options", "trading_modes": {"options": True}}, format="json"
    )

    assert response.status_code == HTTPStatus.OK
    assert Preferences.objects.get(user=user).primary_mode == "options"
