"""Binance, Coinbase and Kraken through ccxt; the exchanges' HTTP calls are answered by
`responses` (these machines have no network): keys accepted, keys refused with each exchange's
real error body, timeouts and unreachable exchanges, and ccxt is imported only on connect."""

import base64
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from http import HTTPStatus

import pytest
import requests
import responses
from django.conf import settings

from accounts.brokers.services import broker_connect, broker_credential_create
from accounts.models import Broker, BrokerCredential, BrokerSession, CredentialStatus
from audit.models import ActivityLog

API_KEY = "ccxtApiKey5Rt8Yu2Io7Pa4Sd1Fg"
# Kraken's secrets are base64; the others accept any string, so one base64 secret serves all.
API_SECRET = "Y2N4dC1zZWNyZXQtN0hxMkxtOVgtNFR6OFB3MU5jNlZiMw=="
PASSPHRASE = "ccxtPass3Wq8Er5Ty"


@dataclass(frozen=True)
class Exchange:
    broker: str
    method: str
    url: str
    key_header: str
    accepted: object
    refused_status: int
    refused: object
    secrets: dict = field(default_factory=dict)


BINANCE = Exchange(
    broker=Broker.BINANCE,
    method="GET",
    url="https://api.binance.com/api/v3/account",
    key_header="X-MBX-APIKEY",
    accepted={
        "makerCommission": 10,
        "takerCommission": 10,
        "canTrade": True,
        "accountType": "SPOT",
        "balances": [{"asset": "BTC", "free": "0.10000000", "locked": "0.00000000"}],
        "permissions": ["SPOT"],
    },
    refused_status=401,
    refused={"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
)
KRAKEN = Exchange(
    broker=Broker.KRAKEN,
    method="POST",
    url="https://api.kraken.com/0/private/Balance",
    key_header="API-Key",
    accepted={"error": [], "result": {"XXBT": "0.1000000000", "ZUSD": "250.0000"}},
    # Kraken answers a refused key with HTTP 200 and the reason in `error`.
    refused_status=200,
    refused={"error": ["EAPI:Invalid key"]},
)
COINBASE = Exchange(
    broker=Broker.COINBASE,
    method="GET",
    url="https://api.coinbase.com/api/v3/brokerage/accounts",
    # Advanced Trade (CDP) keys sign a JWT naming the key; see _key_sent.
    key_header="",
    accepted={
        "accounts": [
            {
                "uuid": "8bfc20d7-f7c6-4422-bf07-8243ca4169fe",
                "currency": "BTC",
                "available_balance": {"value": "0.1", "currency": "BTC"},
            }
        ],
        "has_next": False,
        "cursor": "",
        "size": 1,
    },
    refused_status=401,
    refused="Unauthorized\n",
)
COINBASE_EXCHANGE = Exchange(
    broker=Broker.COINBASE,
    method="GET",
    url="https://api.exchange.coinbase.com/accounts",
    key_header="CB-ACCESS-KEY",
    accepted=[
        {
            "id": "71452118-efc7-4cc4-8780-a5e22d4baa53",
            "currency": "BTC",
            "balance": "0.1000000000000000",
            "available": "0.1000000000000000",
            "hold": "0.0000000000000000",
            "profile_id": "75da88c5-05bf-4f54-bc85-5c775bd68254",
        }
    ],
    refused_status=401,
    refused={"message": "Invalid API Key"},
    secrets={"passphrase": PASSPHRASE},
)
EXCHANGES = pytest.mark.parametrize(
    "exchange",
    [BINANCE, KRAKEN, COINBASE, COINBASE_EXCHANGE],
    ids=["binance", "kraken", "coinbase", "coinbase-exchange"],
)


def _credential(user, exchange: Exchange) -> BrokerCredential:
    return broker_credential_create(
        user=user,
        broker=exchange.broker,
        label="main",
        api_key=API_KEY,
        api_secret=API_SECRET,
        **exchange.secrets,
    )


def _answer(exchange: Exchange, *, status: int, payload: object) -> None:
    if isinstance(payload, str):
        responses.add(exchange.method, exchange.url, status=status, body=payload)
    else:
        responses.add(exchange.method, exchange.url, status=status, json=payload)


def _key_sent(request, exchange: Exchange) -> str:
    """The API key a signed request carried: a header, or (Coinbase CDP keys) the JWT subject."""
    if exchange.key_header:
        return request.headers[exchange.key_header]
    token = request.headers["Authorization"].removeprefix("Bearer ")
    claims = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["sub"]


def _nothing_secret_kept(credential: BrokerCredential) -> None:
    stored = credential.last_error + json.dumps(
        list(ActivityLog.objects.values("description", "details")), default=str
    )
    for secret in (API_KEY, API_SECRET, PASSPHRASE):
        assert secret not in stored


@EXCHANGES
@responses.activate
def test_accepted_keys_connect_with_one_signed_balance_call_and_no_token(user, exchange):
    _answer(exchange, status=200, payload=exchange.accepted)
    credential = _credential(user, exchange)

    outcome = broker_connect(credential=credential)

    assert (outcome.error, outcome.login_url) == ("", "")
    (call,) = responses.calls  # the balance call only: no market list downloaded
    assert call.request.url.startswith(exchange.url)
    assert _key_sent(call.request, exchange) == API_KEY
    if exchange.secrets:
        assert call.request.headers["CB-ACCESS-PASSPHRASE"] == PASSPHRASE
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.CONNECTED
    session = BrokerSession.objects.get(credential=credential, active=True)
    assert (session.access_token, session.refresh_token, session.expires_at) == (None, None, None)


@EXCHANGES
@responses.activate
def test_refused_keys_are_an_error_that_says_so_and_shows_no_secret(user, exchange):
    _answer(exchange, status=exchange.refused_status, payload=exchange.refused)
    credential = _credential(user, exchange)

    outcome = broker_connect(credential=credential)

    credential.refresh_from_db()
    assert credential.status == CredentialStatus.ERROR
    assert credential.last_error == outcome.error
    assert f"{credential.get_broker_display()} refused the keys" in credential.last_error
    assert not BrokerSession.objects.exists()
    _nothing_secret_kept(credential)


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (requests.exceptions.ConnectTimeout("timed out"), "did not answer in time"),
        (requests.exceptions.ReadTimeout("timed out"), "did not answer in time"),
        (requests.exceptions.ConnectionError("no route to host"), "could not be reached"),
    ],
    ids=["connect-timeout", "read-timeout", "unreachable"],
)
@EXCHANGES
@responses.activate
def test_a_timeout_or_an_unreachable_exchange_is_an_error_that_says_so(
    user, exchange, failure, message
):
    responses.add(exchange.method, exchange.url, body=failure)
    credential = _credential(user, exchange)

    broker_connect(credential=credential)

    credential.refresh_from_db()
    assert credential.status == CredentialStatus.ERROR
    assert message in credential.last_error
    _nothing_secret_kept(credential)


@responses.activate
def test_an_exchange_outage_is_not_reported_as_refused_keys(user):
    responses.get(BINANCE.url, status=503, body="Service Unavailable")
    credential = _credential(user, BINANCE)

    broker_connect(credential=credential)

    credential.refresh_from_db()
    assert credential.status == CredentialStatus.ERROR
    assert "refused the keys" not in credential.last_error
    assert "Binance" in credential.last_error


@responses.activate
def test_connect_through_the_api_answers_the_connected_credential(session_client, user):
    _answer(KRAKEN, status=200, payload=KRAKEN.accepted)
    credential = _credential(user, KRAKEN)

    response = session_client.post(f"/api/v1/broker-credentials/{credential.pk}/connect")

    assert response.status_code == HTTPStatus.OK
    assert (response.json()["status"], response.json()["login_url"]) == ("connected", "")


@responses.activate
def test_refused_keys_through_the_api_answer_400_with_the_reason(session_client, user):
    _answer(BINANCE, status=BINANCE.refused_status, payload=BINANCE.refused)
    credential = _credential(user, BINANCE)

    response = session_client.post(f"/api/v1/broker-credentials/{credential.pk}/connect")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    (reason,) = response.json()["errors"]["non_field_errors"]
    assert "Binance refused the keys" in reason
    assert "Invalid API-key" in reason
    assert API_KEY not in response.content.decode()


def test_ccxt_is_imported_on_connect_not_with_the_adapters():
    code = (
        "import sys, django; django.setup();"
        "from accounts.brokers.adapters import adapter_for;"
        "adapter_for('binance'); print('ccxt' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "trading_lab.settings", "DEBUG": "true"},
        cwd=settings.BASE_DIR,
    )

    assert result.stdout.strip() == "False"


@EXCHANGES
@responses.activate
def test_no_secret_reaches_the_logs_even_at_debug_level(user, exchange, caplog):
    _answer(exchange, status=exchange.refused_status, payload=exchange.refused)
    credential = _credential(user, exchange)
    caplog.set_level(logging.DEBUG)

    broker_connect(credential=credential)

    for secret in (API_KEY, API_SECRET, PASSPHRASE):
        assert secret not in caplog.text


@responses.activate
def test_a_secret_that_cannot_sign_is_an_error_before_anything_is_sent(user):
    credential = broker_credential_create(
        user=user,
        broker=Broker.KRAKEN,
        label="main",
        api_key=API_KEY,
        api_secret="not-base64-as-kraken-secrets-are!",
    )

    broker_connect(credential=credential)

    credential.refresh_from_db()
    assert credential.status == CredentialStatus.ERROR
    assert "could not be used to sign" in credential.last_error
    assert len(responses.calls) == 0
