"""Ending a session makes its cookie useless, and revoking a token makes it useless.

Each test copies a signed-in browser's session cookie first and proves the copy works, then
ends the session (sign-out, "end session" from another device, sign out other sessions, a
password change, expiry) and replays the copy from a new client: pages send it to sign in and
the API answers 401.
"""

from datetime import timedelta
from http import HTTPStatus

import pytest
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import token_create

NEW_PASSWORD = "Another-Long-Passphrase-42"


def _cookie(browser: Client) -> str:
    return browser.cookies[settings.SESSION_COOKIE_NAME].value


def _replay(cookie: str) -> tuple[int, str, int]:
    """A new client with only the copied cookie: (page status, its Location, API status)."""
    page_client, api_client = Client(), APIClient()
    page_client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    api_client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    page = page_client.get(reverse("dashboard"))
    api = api_client.get(reverse("api-profile"))
    return page.status_code, page.get("Location", ""), api.status_code


SIGNED_IN = (HTTPStatus.OK, "", HTTPStatus.OK)
SIGNED_OUT = (
    HTTPStatus.FOUND,
    f"{reverse('account_login')}?next={reverse('dashboard')}",
    HTTPStatus.UNAUTHORIZED,
)


@pytest.fixture
def laptop(sign_in_by_form, user, password) -> Client:
    return sign_in_by_form(user, password, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")


@pytest.fixture
def phone(sign_in_by_form, user, password) -> Client:
    return sign_in_by_form(user, password, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1")


def test_a_copied_cookie_works_while_its_session_lives(laptop):
    assert _replay(_cookie(laptop)) == SIGNED_IN


def test_after_sign_out_the_old_cookie_opens_no_page_and_no_api(laptop):
    cookie = _cookie(laptop)

    response = laptop.post(reverse("account_logout"))

    assert response.status_code == HTTPStatus.FOUND
    assert _replay(cookie) == SIGNED_OUT
    assert not Session.objects.filter(session_key=cookie).exists()


def test_ending_a_session_from_another_device_makes_its_cookie_useless(laptop, phone):
    cookie = _cookie(phone)
    session = UserSession.objects.get(session_key=cookie)

    laptop.post(reverse("profile_session_end", args=[session.pk]))

    assert _replay(cookie) == SIGNED_OUT
    assert _replay(_cookie(laptop)) == SIGNED_IN


def test_signing_out_other_sessions_makes_their_cookies_useless(
    sign_in_by_form, user, password, laptop, phone
):
    tablet = sign_in_by_form(user, password, "Mozilla/5.0 (iPad; CPU OS 17_0) Safari/604.1")
    others = [_cookie(phone), _cookie(tablet)]

    laptop.post(reverse("usersessions_list"))

    assert [_replay(cookie) for cookie in others] == [SIGNED_OUT, SIGNED_OUT]
    assert _replay(_cookie(laptop)) == SIGNED_IN


def test_a_password_change_ends_every_other_session(laptop, phone, password):
    cookie = _cookie(phone)

    response = laptop.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == HTTPStatus.FOUND, response.content
    assert _replay(cookie) == SIGNED_OUT
    # The browser that made the change stays signed in.
    assert laptop.get(reverse("dashboard")).status_code == HTTPStatus.OK


def test_an_expired_session_cookie_is_useless(laptop):
    cookie = _cookie(laptop)

    Session.objects.filter(session_key=cookie).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    assert _replay(cookie) == SIGNED_OUT


def test_a_signed_in_session_lives_one_day_at_most(sign_in_by_form, user, password):
    browser = sign_in_by_form(user, password)
    session = Session.objects.get(session_key=_cookie(browser))

    assert session.expire_date <= timezone.now() + timedelta(days=1)
    assert session.expire_date > timezone.now() + timedelta(hours=23)


# ------------------------------------------------------------------------------------------
# Personal API tokens


def _revoke_by_api(session_client, token) -> None:
    response = session_client.post(reverse("api-token-revoke", kwargs={"id": token.pk}))
    assert response.status_code == HTTPStatus.OK


def _delete_by_api(session_client, token) -> None:
    response = session_client.delete(reverse("api-token-detail", kwargs={"id": token.pk}))
    assert response.status_code == HTTPStatus.NO_CONTENT


def _revoke_on_the_security_tab(session_client, token) -> None:
    page = Client()
    page.cookies = session_client.cookies
    response = page.post(reverse("profile_token_revoke", args=[token.pk]))
    assert response.status_code == HTTPStatus.FOUND


@pytest.mark.parametrize("revoke", [_revoke_by_api, _delete_by_api, _revoke_on_the_security_tab])
def test_a_revoked_token_gets_401_at_once(session_client, user, revoke):
    token, raw = token_create(user=user, name="laptop script")
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert bearer.get(reverse("api-profile")).status_code == HTTPStatus.OK

    revoke(session_client, token)
    response = bearer.get(reverse("api-profile"))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"
    assert set(response.json()) == {"detail", "errors"}
