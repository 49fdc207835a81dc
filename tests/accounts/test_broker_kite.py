"""Zerodha Kite through the official client; its HTTP calls are answered by `responses` (these
machines have no network): login URL, callback, token exchange, bad keys, timeout, expiry."""

import hashlib
from datetime import UTC, datetime, time, timedelta
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.test import Client
from django.urls import reverse

from accounts.brokers.kite import IST, kite_expiry
from accounts.brokers.services import (
    broker_connect,
    broker_credential_create,
    broker_disconnect,
    broker_login_state,
    broker_sessions_expire,
)
from accounts.models import Broker, BrokerCredential, BrokerSession, CredentialStatus
from tests.accounts.test_encryption import raw_value

API_KEY = "kiteapikey7Hq2Lm9X"
API_SECRET = "kitesecret4Tz8Pw1Nc6Vb3"
REQUEST_TOKEN = "reqtok9Kd2Jf7Hs4"
ACCESS_TOKEN = "acctok3Qw8Er5Ty1Ui6Op"
TOKEN_URL = "https://api.kite.trade/session/token"
SESSION = {
    "status": "success",
    "data": {
        "user_id": "AB1234",
        "user_name": "A Trader",
        "access_token": ACCESS_TOKEN,
        "refresh_token": "",
        "public_token": "pub-123",
        "login_time": "2026-11-23 09:15:00",
    },
}


@pytest.fixture
def kite(user) -> BrokerCredential:
    return broker_credential_create(
        user=user, broker=Broker.ZERODHA_KITE, label="kite", api_key=API_KEY, api_secret=API_SECRET
    )


@pytest.fixture
def web(client: Client, user) -> Client:
    client.force_login(user)
    return client


def _callback(web: Client, credential, **params):
    query = {
        "credential": credential.pk,
        "state": broker_login_state(credential=credential),
        "request_token": REQUEST_TOKEN,
        "action": "login",
        "status": "success",
        **params,
    }
    return web.get(reverse("profile_broker_callback"), query, follow=True)


def test_connect_answers_the_kite_login_url_carrying_the_credential_and_state(kite):
    outcome = broker_connect(credential=kite)

    url = urlsplit(outcome.login_url)
    query = parse_qs(url.query)
    assert (url.netloc, url.path) == ("kite.zerodha.com", "/connect/login")
    assert query["api_key"] == [API_KEY]
    redirect = parse_qs(query["redirect_params"][0])
    assert redirect["credential"] == [str(kite.pk)]
    assert redirect["state"][0]
    assert BrokerCredential.objects.get(pk=kite.pk).status == CredentialStatus.DISCONNECTED


def test_the_connect_button_sends_the_browser_to_kite(web, kite):
    response = web.post(reverse("profile_broker_connect", args=[kite.pk]))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("https://kite.zerodha.com/connect/login?")


@responses.activate
def test_the_callback_exchanges_the_token_and_stores_it_encrypted_until_6_ist(web, kite):
    responses.post(TOKEN_URL, json=SESSION)

    response = _callback(web, kite)

    assert "Zerodha Kite: kite is connected." in response.content.decode()
    (call,) = responses.calls
    sent = parse_qs(call.request.body)
    checksum = hashlib.sha256((API_KEY + REQUEST_TOKEN + API_SECRET).encode()).hexdigest()
    assert sent == {"api_key": [API_KEY], "request_token": [REQUEST_TOKEN], "checksum": [checksum]}
    kite.refresh_from_db()
    assert kite.status == CredentialStatus.CONNECTED
    session = BrokerSession.objects.get(credential=kite, active=True)
    assert session.access_token == ACCESS_TOKEN
    assert ACCESS_TOKEN not in raw_value(BrokerSession, "access_token", session.pk)
    assert session.expires_at.astimezone(IST).time() == time(6, 0)
    assert ACCESS_TOKEN not in response.content.decode()


@responses.activate
def test_bad_keys_keep_the_error_and_connect_nothing(web, kite):
    responses.post(
        TOKEN_URL,
        status=403,
        json={"status": "error", "error_type": "TokenException", "message": "Invalid `checksum`."},
    )

    response = _callback(web, kite)

    kite.refresh_from_db()
    assert kite.status == CredentialStatus.ERROR
    assert "Invalid `checksum`." in kite.last_error
    assert "could not connect" in response.content.decode()
    assert not BrokerSession.objects.exists()


@responses.activate
def test_a_timeout_is_an_error_that_says_so(web, kite):
    responses.post(TOKEN_URL, body=requests.exceptions.ConnectTimeout("timed out"))

    _callback(web, kite)

    kite.refresh_from_db()
    assert kite.status == CredentialStatus.ERROR
    assert "did not answer in time" in kite.last_error


@responses.activate
def test_the_session_expires_at_6_ist_and_the_job_marks_it_expired(web, kite):
    responses.post(TOKEN_URL, json=SESSION)
    _callback(web, kite)
    session = BrokerSession.objects.get(credential=kite, active=True)

    assert broker_sessions_expire(now=session.expires_at - timedelta(minutes=1)) == 0
    assert broker_sessions_expire(now=session.expires_at) == 1

    kite.refresh_from_db()
    assert kite.status == CredentialStatus.EXPIRED
    assert not BrokerSession.objects.filter(active=True).exists()


@pytest.mark.parametrize(
    ("now", "expiry"),
    [
        (datetime(2026, 3, 2, 0, 29, tzinfo=UTC), datetime(2026, 3, 2, 0, 30, tzinfo=UTC)),
        (datetime(2026, 3, 2, 0, 30, tzinfo=UTC), datetime(2026, 3, 3, 0, 30, tzinfo=UTC)),
        (datetime(2026, 3, 2, 15, 0, tzinfo=UTC), datetime(2026, 3, 3, 0, 30, tzinfo=UTC)),
    ],
)
def test_kite_tokens_lapse_at_the_next_6_00_in_india(now, expiry):
    assert kite_expiry(now) == expiry


@responses.activate
def test_disconnect_invalidates_the_token_at_kite(web, kite):
    responses.post(TOKEN_URL, json=SESSION)
    responses.delete(TOKEN_URL, json={"status": "success", "data": True})
    _callback(web, kite)

    broker_disconnect(credential=kite)

    assert [call.request.method for call in responses.calls] == ["POST", "DELETE"]
    assert parse_qs(urlsplit(responses.calls[1].request.url).query)["access_token"] == [
        ACCESS_TOKEN
    ]
    kite.refresh_from_db()
    assert kite.status == CredentialStatus.DISCONNECTED


@responses.activate
def test_a_state_for_another_credential_or_forged_is_refused_without_calling_kite(web, kite, user):
    other = broker_credential_create(
        user=user, broker=Broker.ZERODHA_KITE, label="two", api_key=API_KEY, api_secret=API_SECRET
    )

    crossed = _callback(web, kite, state=broker_login_state(credential=other))
    forged = _callback(web, kite, state="forged")

    assert "another connection" in crossed.content.decode()
    assert "expired or is not yours" in forged.content.decode()
    assert len(responses.calls) == 0  # nothing was sent to Kite
    assert BrokerCredential.objects.get(pk=kite.pk).status == CredentialStatus.DISCONNECTED


def test_a_cancelled_sign_in_changes_nothing(web, kite):
    response = _callback(web, kite, status="cancelled")

    assert "was cancelled" in response.content.decode()
    assert BrokerCredential.objects.get(pk=kite.pk).status == CredentialStatus.DISCONNECTED


def test_another_users_credential_in_the_callback_is_404(web, other_user):
    theirs = broker_credential_create(
        user=other_user,
        broker=Broker.ZERODHA_KITE,
        label="theirs",
        api_key=API_KEY,
        api_secret=API_SECRET,
    )

    response = web.get(
        reverse("profile_broker_callback"),
        {"credential": theirs.pk, "state": broker_login_state(credential=theirs)},
    )
    bad_id = web.get(reverse("profile_broker_callback"), {"credential": "x"})

    assert response.status_code == bad_id.status_code == HTTPStatus.NOT_FOUND
    assert BrokerCredential.objects.get(pk=theirs.pk).status == CredentialStatus.DISCONNECTED
