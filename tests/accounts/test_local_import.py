"""The old browser app's localStorage import (SPEC §6 `POST /api/v1/preferences/import-local`)."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus

import pytest

from accounts.local_import import unwrap
from accounts.models import DismissedInsight, Preferences, Profile
from audit.models import ActivityAction, ActivityLog
from portfolio.models import WatchlistItem
from portfolio.services import WatchlistEntry, watchlist_item_add
from tests.test_ownership import snapshot as every_row

URL = "/api/v1/preferences/import-local"


def snapshot(user) -> dict:
    """Every row the user owns, but for the session row each request touches (last seen)."""
    rows = every_row(user)
    del rows["usersessions.UserSession"]
    return rows


def browser_blob() -> dict[str, str]:
    """What `JSON.stringify(localStorage)` of the old app looked like: every value a string."""
    profile = {
        "displayName": "Asha Rao",
        "country": "in",
        "baseCurrency": "inr",
        "timezone": "Asia/Kolkata",
        "riskTolerance": "High",
        "investmentHorizon": "long",
        "tradingStyle": "longTerm",
        "initialCapital": 250000.5,
        "avatarColor": "#ff0",
    }
    return {
        # JSON of a JSON string: the app stored JSON.stringify(value) through a helper that
        # stringified it again.
        "arise_risk": json.dumps(json.dumps("aggressive")),
        "arise_universe": "NIFTY 500",
        "arise_market_region": '"India"',
        "arise_modes": json.dumps(["intraday", "swing", "options"]),
        "arise_primary_mode": "swing",
        "arise_auxiliary_modes": json.dumps(json.dumps(["swing", "intraday"])),
        "arise_disclosure_accepted_v1": "2024-03-05T09:15:00.000Z",
        "arise_account_profile_v1": json.dumps(profile),
        "arise_watchlist": json.dumps(
            ["RELIANCE", {"symbol": "tcs", "exchange": "nse", "targetPrice": "4100.5"}]
        ),
        "arise_dismissed_insights_v1": json.dumps(["welcome", "rebalance:2024-q1"]),
        # Cached server data and things this server never knew.
        "arise_market": json.dumps({"NIFTY": 22000}),
        "arise_news": "[]",
        "arise_picks": json.dumps([{"symbol": "INFY"}]),
        "arise_market_ts": "1709630100000",
        "arise_sidebar_collapsed": "true",
        "theme-cache": "dark",
    }


@pytest.mark.parametrize(
    ("stored", "value"),
    [
        ("moderate", "moderate"),
        ('"moderate"', "moderate"),
        (json.dumps(json.dumps("moderate")), "moderate"),
        ('["a","b"]', ["a", "b"]),
        (json.dumps(json.dumps({"a": 1})), {"a": 1}),
        ("true", True),
        ("1709630100000", 1709630100000),
        (["already", "parsed"], ["already", "parsed"]),
        ("Asha's list", "Asha's list"),
    ],
)
def test_values_are_unwrapped_from_every_layer_of_json(stored, value):
    assert unwrap(stored) == value


def test_a_realistic_blob_moves_preferences_profile_watchlist_and_insights_in(session_client, user):
    response = session_client.post(URL, browser_blob(), format="json")

    assert response.status_code == HTTPStatus.OK, response.json()
    body = response.json()
    assert body["imported"] == sorted(
        [
            "arise_account_profile_v1",
            "arise_auxiliary_modes",
            "arise_disclosure_accepted_v1",
            "arise_dismissed_insights_v1",
            "arise_market_region",
            "arise_modes",
            "arise_primary_mode",
            "arise_risk",
            "arise_universe",
            "arise_watchlist",
        ]
    )
    assert body["ignored"] == [
        "arise_account_profile_v1.avatarColor",
        "arise_sidebar_collapsed",
        "theme-cache",
    ]
    assert body["cache_keys"] == ["arise_market", "arise_market_ts", "arise_news", "arise_picks"]
    assert body["changed"]["watchlist_added"] == ["RELIANCE", "TCS.NSE"]
    assert body["changed"]["insights_dismissed"] == ["welcome", "rebalance:2024-q1"]

    preferences = Preferences.objects.get(user=user)
    assert preferences.risk_profile == "aggressive"
    assert preferences.universe == "NIFTY500"
    assert preferences.market_region == "india"
    assert preferences.trading_modes == {
        "intraday": True,
        "swing": True,
        "options": True,
        "futures": False,
    }
    assert preferences.primary_mode == "swing"
    # The old app listed the primary mode among the auxiliary ones; it is dropped there.
    assert preferences.auxiliary_modes == ["intraday"]
    assert preferences.disclosure_accepted_at == datetime(2024, 3, 5, 9, 15, tzinfo=UTC)

    profile = Profile.objects.get(user=user)
    assert (profile.display_name, profile.country, profile.base_currency) == (
        "Asha Rao",
        "IN",
        "INR",
    )
    assert (profile.timezone, profile.risk_tolerance) == ("Asia/Kolkata", "aggressive")
    assert (profile.investment_horizon, profile.trading_style) == ("long", "long_term")
    assert profile.initial_capital == Decimal("250000.5")

    items = WatchlistItem.objects.for_user(user).order_by("symbol")
    assert [(i.symbol, i.exchange, i.target_price) for i in items] == [
        ("RELIANCE", "", None),
        ("TCS", "NSE", Decimal("4100.5")),
    ]
    assert set(DismissedInsight.objects.for_user(user).values_list("insight_id", flat=True)) == {
        "welcome",
        "rebalance:2024-q1",
    }
    assert (
        ActivityLog.objects.for_user(user).filter(action=ActivityAction.LOCAL_DATA_IMPORTED).count()
        == 1
    )


def test_importing_the_same_blob_again_changes_nothing(session_client, user):
    assert session_client.post(URL, browser_blob(), format="json").status_code == HTTPStatus.OK
    before = snapshot(user)

    response = session_client.post(URL, browser_blob(), format="json")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["changed"] == {
        "preferences": [],
        "profile": [],
        "watchlist_added": [],
        "insights_dismissed": [],
    }
    # Not one row changed, activity log included: a re-import records nothing either.
    assert snapshot(user) == before


def test_a_symbol_already_on_the_watchlist_keeps_its_notes(session_client, user):
    watchlist_item_add(user=user, entry=WatchlistEntry(symbol="RELIANCE", notes="core holding"))

    session_client.post(URL, browser_blob(), format="json")

    assert WatchlistItem.objects.for_user(user).get(symbol="RELIANCE").notes == "core holding"


def test_a_true_disclosure_keeps_the_first_acceptance_time(session_client, user):
    first = datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC)
    Preferences.objects.filter(user=user).update(disclosure_accepted_at=first)

    session_client.post(URL, {"arise_disclosure_accepted_v1": "true"}, format="json")

    assert Preferences.objects.get(user=user).disclosure_accepted_at == first


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("arise_risk", '"reckless"'),
        ("arise_universe", "FTSE100"),
        ("arise_market_region", "Mars"),
        ("arise_modes", '["intraday","crypto"]'),
        ("arise_modes", '{"intraday": "yes"}'),
        ("arise_primary_mode", "scalping"),
        ("arise_auxiliary_modes", '["swing",'),
        ("arise_disclosure_accepted_v1", "last tuesday"),
        ("arise_account_profile_v1", '{"country": "Atlantis"}'),
        ("arise_account_profile_v1", '{"initialCapital": "lots"}'),
        ("arise_account_profile_v1", '"just text"'),
        ("arise_watchlist", '[{"notes": "no symbol"}]'),
        ("arise_watchlist", '{"RELIANCE": 1}'),
        ("arise_dismissed_insights_v1", '["has space"]'),
    ],
)
def test_a_bad_value_answers_400_naming_its_key_and_saves_nothing(session_client, user, key, value):
    before = snapshot(user)

    response = session_client.post(URL, {**browser_blob(), key: value}, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == [key]
    assert snapshot(user) == before


def test_a_primary_mode_that_is_not_switched_on_is_refused_under_its_key(session_client, user):
    before = snapshot(user)
    blob = {**browser_blob(), "arise_modes": '["intraday"]', "arise_auxiliary_modes": "[]"}

    response = session_client.post(URL, blob, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == ["arise_primary_mode"]
    assert snapshot(user) == before


def test_a_body_that_is_not_an_object_answers_400(session_client):
    response = session_client.post(URL, ["arise_risk"], format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_only_cache_and_unknown_keys_change_nothing(session_client, user):
    before = snapshot(user)

    response = session_client.post(URL, {"arise_news": "[]", "other": "1"}, format="json")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["imported"] == []
    assert snapshot(user) == before
