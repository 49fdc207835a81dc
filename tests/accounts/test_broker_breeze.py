"""ICICI Breeze through our own REST client; its HTTP calls are answered by `responses` (these
machines have no network): login URL, the CustomerDetails exchange, the checksum-signed call that
proves the secret, bad keys, timeouts and the midnight expiry."""

import base64
import hashlib
import json
from datetime import UTC, datetime, time, timedelta
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.urls import reverse

from accounts.brokers.breeze import breeze_expiry
from accounts.brokers.kite import IST
from accounts.brokers.services import (
    broker_connect,
    broker_connect_complete,
    broker_credential_create,
    broker_login_state,
    broker_sessions_expire,
)
from accounts.models import Broker, BrokerCredential, BrokerSession, CredentialStatus
from audit.models import ActivityAction, ActivityLog
from tests.accounts.test_encryption import raw_value

# Breeze keys carry characters that must be escaped in the login URL (ICICI's own example does).
API_KEY = "K%834G9)2M9z75+111V2dP#q"
API_SECRET = "a69+y9097T9r2793#breeze-secret"
API_SESSION = "52547680"
USER_ID = "TRADER01"
SESSION_TOKEN = base64.b64encode(f"{USER_ID}:{API_SESSION}7Qx".encode()).decode()
CUSTOMER_DETAILS_URL = "https://api.icicidirect.com/breezeapi/api/v1/customerdetails"
FUNDS_URL = "https://api.icicidirect.com/breezeapi/api/v1/funds"
CUSTOMER = {
    "Success": {
        "exg_trade_date": {"NSE": "23-Nov-2026", "BSE": "23-Nov-2026"},
        "exg_status": {"NSE": "O", "BSE": "O"},
        "segments_allowed": {"Trading": "Y", "Equity": "Y", "Derivatives": "N", "Currency": "N"},
        "idirect_userid": USER_ID,
        "session_token": SESSION_TOKEN,
        "idirect_user_name": "A TRADER",
        "idirect_ORD_TYP": "N",
        "idirect_lastlogin_time": "23-Nov-2026 09:10:11",
    },
    "Status": 200,
    "Error": None,
}
FUNDS = {
    "Success": {
        "bank_account": "XXXXXXXX1234",
        "total_bank_balance": 150000.0,
        "allocated_equity": 50000.0,
        "block_by_trade_equity": 0.0,
        "unallocated_balance": "100000.0",
    },
    "Status": 200,
    "Error": None,
}


@pytest.fixture
def breeze(user) -> BrokerCredential:
    return broker_credential_create(
        user=user, broker=Broker.ICICI_BREEZE, label="icici", api_key=API_KEY, api_secret=API_SECRET
    )


def _complete(credential: BrokerCredential, api_session: str = API_SESSION):
    return broker_connect_complete(
        credential=credential,
        state=broker_login_state(credential=credential),
        request_token=api_session,
    )


def _nothing_secret_kept(credential: BrokerCredential) -> None:
    stored = credential.last_error + json.dumps(
        list(ActivityLog.objects.values("description", "details")), default=str
    )
    for secret in (API_KEY, API_SECRET, SESSION_TOKEN):
        assert secret not in stored


def test_connect_answers_the_breeze_login_url_with_the_key_escaped(breeze):
    outcome = broker_connect(credential=breeze)

    url = urlsplit(outcome.login_url)
    assert (url.scheme, url.netloc, url.path) == ("https", "api.icicidirect.com", "/apiuser/login")
    assert parse_qs(url.query) == {"api_key": [API_KEY]}
    assert BrokerCredential.objects.get(pk=breeze.pk).status == CredentialStatus.DISCONNECTED


def test_the_connect_button_sends_the_browser_to_breeze(client, user, breeze):
    client.force_login(user)

    response = client.post(reverse("profile_broker_connect", args=[breeze.pk]))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("https://api.icicidirect.com/apiuser/login?api_key=")


@responses.activate
def test_the_api_session_is_exchanged_checked_with_the_secret_and_stored_encrypted(breeze):
    responses.get(CUSTOMER_DETAILS_URL, json=CUSTOMER)
    responses.get(FUNDS_URL, json=FUNDS)

    outcome = _complete(breeze)

    assert outcome.error == ""
    details, funds = responses.calls
    assert json.loads(details.request.body) == {"SessionToken": API_SESSION, "AppKey": API_KEY}
    sent = funds.request.headers
    expected = hashlib.sha256((sent["X-Timestamp"] + "{}" + API_SECRET).encode()).hexdigest()
    assert sent["X-Checksum"] == f"token {expected}"
    assert (sent["X-AppKey"], sent["X-SessionToken"]) == (API_KEY, SESSION_TOKEN)
    assert datetime.strptime(sent["X-Timestamp"], "%Y-%m-%dT%H:%M:%S.000Z")  # noqa: DTZ007
    breeze.refresh_from_db()
    assert (breeze.status, breeze.last_error) == (CredentialStatus.CONNECTED, "")
    session = BrokerSession.objects.get(credential=breeze, active=True)
    assert session.access_token == SESSION_TOKEN
    assert SESSION_TOKEN not in raw_value(BrokerSession, "access_token", session.pk)
    assert session.expires_at.astimezone(IST).time() == time(0, 0)
    assert session.expires_at - datetime.now(UTC) <= timedelta(days=1)
    connected = ActivityLog.objects.get(action=ActivityAction.BROKER_CONNECTED)
    assert connected.details["broker_user_id"] == USER_ID
    _nothing_secret_kept(breeze)


@responses.activate
def test_a_refused_api_session_or_key_is_an_error_and_the_secret_is_never_sent(breeze):
    responses.get(
        CUSTOMER_DETAILS_URL,
        status=HTTPStatus.OK,
        json={"Success": None, "Status": 500, "Error": "Public Key does not exist."},
    )

    outcome = _complete(breeze)

    breeze.refresh_from_db()
    assert breeze.status == CredentialStatus.ERROR
    assert breeze.last_error == outcome.error
    assert "ICICI Breeze refused the sign-in: Public Key does not exist." in breeze.last_error
    assert len(responses.calls) == 1  # the signed call was never made
    assert not BrokerSession.objects.exists()
    _nothing_secret_kept(breeze)


@responses.activate
def test_a_wrong_secret_fails_the_signed_call_and_connects_nothing(breeze):
    responses.get(CUSTOMER_DETAILS_URL, json=CUSTOMER)
    responses.get(
        FUNDS_URL,
        status=HTTPStatus.UNAUTHORIZED,
        json={"Success": None, "Status": 401, "Error": "Invalid checksum"},
    )

    _complete(breeze)

    breeze.refresh_from_db()
    assert breeze.status == CredentialStatus.ERROR
    assert "Invalid checksum" in breeze.last_error
    assert not BrokerSession.objects.exists()
    _nothing_secret_kept(breeze)


@responses.activate
def test_an_answer_that_is_not_breeze_json_is_an_error_not_a_crash(breeze):
    responses.get(CUSTOMER_DETAILS_URL, status=HTTPStatus.BAD_GATEWAY, body="<html>502</html>")

    _complete(breeze)

    breeze.refresh_from_db()
    assert breeze.status == CredentialStatus.ERROR
    assert "HTTP 502" in breeze.last_error


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (requests.exceptions.ConnectTimeout("timed out"), "did not answer in time"),
        (requests.exceptions.ReadTimeout("timed out"), "did not answer in time"),
        (requests.exceptions.ConnectionError("no route to host"), "could not be reached"),
    ],
    ids=["connect-timeout", "read-timeout", "unreachable"],
)
@responses.activate
def test_a_timeout_or_an_unreachable_breeze_is_an_error_that_says_so(breeze, failure, message):
    responses.get(CUSTOMER_DETAILS_URL, body=failure)

    _complete(breeze)

    breeze.refresh_from_db()
    assert breeze.status == CredentialStatus.ERROR
    assert message in breeze.last_error


@responses.activate
def test_the_session_expires_at_midnight_ist_and_the_job_marks_it_expired(breeze):
    responses.get(CUSTOMER_DETAILS_URL, json=CUSTOMER)
    responses.get(FUNDS_URL, json=FUNDS)
    _complete(breeze)
    session = BrokerSession.objects.get(credential=breeze, active=True)

    assert broker_sessions_expire(now=session.expires_at - timedelta(minutes=1)) == 0
    assert broker_sessions_expire(now=session.expires_at) == 1

    breeze.refresh_from_db()
    assert breeze.status == CredentialStatus.EXPIRED
    assert not BrokerSession.objects.filter(active=True).exists()


@pytest.mark.parametrize(
    ("now", "expiry"),
    [
        # 09:15 IST on 2 March: that day's midnight, not 24 hours later.
        (datetime(2026, 3, 2, 3, 45, tzinfo=UTC), datetime(2026, 3, 2, 18, 30, tzinfo=UTC)),
        # 23:59 IST: a minute later.
        (datetime(2026, 3, 2, 18, 29, tzinfo=UTC), datetime(2026, 3, 2, 18, 30, tzinfo=UTC)),
        # 00:00 IST exactly: the whole day ahead.
        (datetime(2026, 3, 2, 18, 30, tzinfo=UTC), datetime(2026, 3, 3, 18, 30, tzinfo=UTC)),
    ],
)
def test_breeze_sessions_lapse_at_the_next_midnight_in_india(now, expiry):
    assert breeze_expiry(now) == expiry


@responses.activate
def test_breeze_sends_the_browser_back_with_only_apisession_and_the_connect_finishes(
    client, user, breeze
):
    responses.get(CUSTOMER_DETAILS_URL, json=CUSTOMER)
    responses.get(FUNDS_URL, json=FUNDS)
    client.force_login(user)
    client.post(reverse("profile_broker_connect", args=[breeze.pk]))

    back = client.get(reverse("profile_broker_callback"), {"apisession": API_SESSION})
    replay = client.get(reverse("profile_broker_callback"), {"apisession": API_SESSION})

    assert back.status_code == HTTPStatus.FOUND
    assert BrokerCredential.objects.get(pk=breeze.pk).status == CredentialStatus.CONNECTED
    # The pending connect is used once: a replayed answer names no connection.
    assert "named no connection" in str(list(replay.wsgi_request._messages))
    assert len(responses.calls) == 2


def test_an_apisession_without_a_connect_started_in_this_browser_connects_nothing(
    client, user, breeze
):
    client.force_login(user)

    client.get(reverse("profile_broker_callback"), {"apisession": API_SESSION})

    assert BrokerCredential.objects.get(pk=breeze.pk).status == CredentialStatus.DISCONNECTED
