"""The Security tab lists the user's sessions and ends one of them (allauth usersessions)."""

from http import HTTPStatus

import pytest
from allauth.usersessions.models import UserSession
from django.test import Client
from django.urls import reverse

from audit.models import ActivityAction, ActivityLog


def signed_in_client(user, password, user_agent: str) -> Client:
    """A separate browser, signed in through allauth's form (which opens a user session)."""
    browser = Client(HTTP_USER_AGENT=user_agent)
    response = browser.post(reverse("account_login"), {"login": user.email, "password": password})
    assert response.status_code == HTTPStatus.FOUND
    return browser


@pytest.fixture
def laptop(user, password) -> Client:
    return signed_in_client(user, password, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")


@pytest.fixture
def phone(user, password) -> Client:
    ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"
    return signed_in_client(user, password, ua)


def _session_of(browser: Client) -> UserSession:
    return UserSession.objects.get(session_key=browser.session.session_key)


def test_security_tab_lists_each_session_and_marks_the_current_one(laptop, phone):
    html = laptop.get(reverse("profile_security")).content.decode()

    assert "Firefox on Linux" in html
    assert "Safari on iOS" in html
    assert html.count("This browser") == 1
    assert reverse("profile_session_end", args=[_session_of(phone).pk]) in html
    assert reverse("profile_session_end", args=[_session_of(laptop).pk]) not in html


def test_ending_another_session_signs_that_browser_out(user, laptop, phone):
    phone_session = _session_of(phone)

    response = laptop.post(reverse("profile_session_end", args=[phone_session.pk]))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("profile_security") + "#sessions"
    assert not UserSession.objects.filter(pk=phone_session.pk).exists()
    assert phone.get(reverse("dashboard")).status_code == HTTPStatus.FOUND
    assert laptop.get(reverse("dashboard")).status_code == HTTPStatus.OK
    row = ActivityLog.objects.for_user(user).get(action=ActivityAction.SESSION_ENDED)
    assert row.details == {"session_id": phone_session.pk, "ip": "127.0.0.1", "current": False}


def test_ending_the_current_session_signs_out(laptop):
    response = laptop.post(reverse("profile_session_end", args=[_session_of(laptop).pk]))

    assert response["Location"] == reverse("account_login")
    assert laptop.get(reverse("dashboard")).status_code == HTTPStatus.FOUND


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_ending_another_users_session_is_not_found_and_ends_nothing(
    other_user, password, laptop, method
):
    stranger = signed_in_client(other_user, password, "Stranger/1.0")
    session = _session_of(stranger)

    response = getattr(laptop, method)(reverse("profile_session_end", args=[session.pk]))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert UserSession.objects.filter(pk=session.pk).exists()
    assert stranger.get(reverse("dashboard")).status_code == HTTPStatus.OK


def test_ending_a_session_by_get_is_not_allowed(laptop, phone):
    session = _session_of(phone)

    response = laptop.get(reverse("profile_session_end", args=[session.pk]))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert UserSession.objects.filter(pk=session.pk).exists()


def test_allauth_sessions_page_offers_end_buttons_too(laptop, phone):
    html = laptop.get(reverse("usersessions_list")).content.decode()

    assert reverse("profile_session_end", args=[_session_of(phone).pk]) in html
    assert "Sign Out Other Sessions" in html


def test_allauths_sign_out_other_sessions_records_each_ended_session(user, password, laptop, phone):
    tablet = signed_in_client(user, password, "Mozilla/5.0 (iPad; CPU OS 17_0) Safari/604.1")
    others = {_session_of(phone).pk, _session_of(tablet).pk}

    response = laptop.post(reverse("usersessions_list"))

    assert response.status_code == HTTPStatus.FOUND
    assert set(UserSession.objects.filter(user=user).values_list("pk", flat=True)) == {
        _session_of(laptop).pk
    }
    rows = ActivityLog.objects.for_user(user).filter(action=ActivityAction.SESSION_ENDED)
    assert {row.details["session_id"] for row in rows} == others
    assert all(row.details["current"] is False for row in rows)
