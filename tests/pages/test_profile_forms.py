"""The Account and Preferences tabs save through the services and show errors by the field."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.models import Preferences, Profile
from audit.models import ActivityAction, ActivityLog

VALID_PROFILE = {
    "display_name": "Grace",
    "country": "CH",
    "base_currency": "CHF",
    "timezone": "Europe/Zurich",
    "risk_tolerance": "aggressive",
    "investment_horizon": "long",
    "trading_style": "positional",
    "initial_capital": "25000.50",
}

VALID_PREFERENCES = {
    "theme": "dark",
    "notify_alert_triggered": "on",
    "notify_weekly_summary": "on",
    "universe": "NIFTY50",
    "market_region": "india",
    "risk_profile": "conservative",
    "trading_modes": ["swing", "options"],
    "primary_mode": "swing",
    "auxiliary_modes": ["options"],
    "disclosure_accepted": "on",
}


def test_profile_form_saves_every_field_and_records_activity(page_client, user):
    response = page_client.post(reverse("profile"), VALID_PROFILE)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("profile")
    profile = Profile.objects.get(user=user)
    assert profile.display_name == "Grace"
    assert profile.country == "CH"
    assert profile.base_currency == "CHF"
    assert profile.timezone == "Europe/Zurich"
    assert profile.risk_tolerance == "aggressive"
    assert profile.investment_horizon == "long"
    assert profile.trading_style == "positional"
    assert profile.initial_capital == Decimal("25000.50")
    row = ActivityLog.objects.for_user(user).get(action=ActivityAction.PROFILE_UPDATED)
    assert "initial_capital" in row.details["fields"]


def test_profile_form_success_shows_a_message(page_client):
    response = page_client.post(reverse("profile"), VALID_PROFILE, follow=True)

    assert "Your profile was saved." in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("initial_capital", "-1", "greater than or equal to 0"),
        ("initial_capital", "lots", "Enter a number."),
        ("base_currency", "XXY", "Select a valid choice."),
        ("country", "ZZ", "Select a valid choice."),
        ("timezone", "Mars/Olympus", "Select a valid choice."),
        ("risk_tolerance", "reckless", "Select a valid choice."),
        ("display_name", "x" * 101, "at most 100 characters"),
    ],
)
def test_profile_form_shows_bad_input_next_to_the_field_and_saves_nothing(
    page_client, user, field, value, message
):
    response = page_client.post(reverse("profile"), {**VALID_PROFILE, field: value})

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    error_block = html.split(f'id="id_{field}_error"', 1)[1].split("</div>", 2)
    assert message in "".join(error_block[:2])
    profile = Profile.objects.get(user=user)
    assert profile.display_name == ""
    assert profile.base_currency == "USD"
    assert not ActivityLog.objects.for_user(user).filter(action="profile_updated").exists()


def test_profile_form_shows_stored_capital_without_trailing_zeros(page_client, user):
    user.profile.initial_capital = Decimal("1500.25000000")
    user.profile.save()

    html = page_client.get(reverse("profile")).content.decode()

    assert 'value="1500.25"' in html


def test_preferences_form_saves_switches_modes_and_disclosure(page_client, user):
    response = page_client.post(reverse("profile_preferences"), VALID_PREFERENCES)

    assert response.status_code == HTTPStatus.FOUND
    preferences = Preferences.objects.get(user=user)
    assert preferences.theme == "dark"
    assert preferences.notify_alert_triggered is True
    assert preferences.notify_bot_order_filled is False
    assert preferences.notify_weekly_summary is True
    assert preferences.universe == "NIFTY50"
    assert preferences.market_region == "india"
    assert preferences.risk_profile == "conservative"
    assert preferences.trading_modes == {
        "intraday": False,
        "swing": True,
        "options": True,
        "futures": False,
    }
    assert preferences.primary_mode == "swing"
    assert preferences.auxiliary_modes == ["options"]
    assert preferences.disclosure_accepted_at is not None


def test_preferences_form_keeps_the_first_disclosure_acceptance_time(page_client, user):
    page_client.post(reverse("profile_preferences"), VALID_PREFERENCES)
    first = Preferences.objects.get(user=user).disclosure_accepted_at

    page_client.post(reverse("profile_preferences"), {**VALID_PREFERENCES, "theme": "light"})

    assert Preferences.objects.get(user=user).disclosure_accepted_at == first


def test_preferences_form_unticking_the_disclosure_withdraws_it(page_client, user):
    page_client.post(reverse("profile_preferences"), VALID_PREFERENCES)
    data = {k: v for k, v in VALID_PREFERENCES.items() if k != "disclosure_accepted"}

    page_client.post(reverse("profile_preferences"), data)

    assert Preferences.objects.get(user=user).disclosure_accepted_at is None


def test_preferences_form_shows_the_theme_it_saved_on_the_next_page(page_client):
    response = page_client.post(reverse("profile_preferences"), VALID_PREFERENCES, follow=True)

    html = response.content.decode()
    assert 'data-bs-theme="dark"' in html
    assert "Your preferences were saved." in html


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"primary_mode": "futures"}, "primary_mode", "must be one of the enabled trading modes"),
        ({"auxiliary_modes": ["swing"]}, "auxiliary_modes", "cannot also be an auxiliary mode"),
        ({"theme": "neon"}, "theme", "Select a valid choice."),
        ({"trading_modes": ["scalping"]}, "trading_modes", "Select a valid choice."),
        ({"universe": "DAX"}, "universe", "Select a valid choice."),
    ],
)
def test_preferences_form_shows_refusals_next_to_the_field_and_saves_nothing(
    page_client, user, change, field, message
):
    response = page_client.post(reverse("profile_preferences"), {**VALID_PREFERENCES, **change})

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    assert message in html.split(f'id="id_{field}_error"', 1)[1].split("</div>\n", 1)[0]
    preferences = Preferences.objects.get(user=user)
    assert preferences.theme == "system"
    assert preferences.primary_mode == ""


def test_preferences_form_starts_from_the_stored_values(page_client, user):
    user.preferences.trading_modes = {
        "intraday": True,
        "swing": False,
        "options": False,
        "futures": False,
    }
    user.preferences.primary_mode = "intraday"
    user.preferences.save()

    form = page_client.get(reverse("profile_preferences")).context["form"]

    assert form.initial["trading_modes"] == ["intraday"]
    assert form.initial["primary_mode"] == "intraday"
    assert form.initial["disclosure_accepted"] is False
