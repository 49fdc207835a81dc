"""/api/v1/broker-credentials: CRUD with write-only secrets, re-authentication, connect."""

from http import HTTPStatus

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.brokers.services import broker_credential_create
from accounts.models import Broker, BrokerCredential, BrokerSession, CredentialStatus
from accounts.services import token_create
from tests.accounts.broker_support import (
    API_KEY,
    API_SECRET,
    NEW_API_KEY,
    sign_in_fresh,
)

URL = "/api/v1/broker-credentials"
SHOWN_FIELDS = {
    "id",
    "broker",
    "label",
    "api_key_masked",
    "api_secret_masked",
    "passphrase_masked",
    "status",
    "last_connected_at",
    "last_error",
    "created_at",
    "updated_at",
}
BINANCE = {"broker": "binance", "label": "main", "api_key": API_KEY, "api_secret": API_SECRET}


@pytest.fixture
def fresh_api(user, password) -> APIClient:
    """Signed in through allauth and just re-authenticated: may add and replace keys."""
    browser = sign_in_fresh(Client(), user.email, password)
    client = APIClient()
    client.cookies = browser.cookies
    return client


def _credential(user, **kwargs) -> BrokerCredential:
    values = {**BINANCE, **kwargs}
    return broker_credential_create(user=user, **values)


def test_create_answers_201_with_the_secrets_masked_and_never_in_plaintext(fresh_api, user):
    response = fresh_api.post(URL, BINANCE, format="json")

    assert response.status_code == HTTPStatus.CREATED, response.json()
    body = response.json()
    assert set(body) == SHOWN_FIELDS
    assert response["Location"] == f"{URL}/{body['id']}"
    assert response["Cache-Control"].startswith("max-age=0")
    assert body["api_key_masked"] == "••••••••" + API_KEY[-4:]
    assert body["api_secret_masked"] == "••••••••" + API_SECRET[-4:]
    assert body["passphrase_masked"] == ""
    assert body["status"] == "disconnected"
    stored = BrokerCredential.objects.get(pk=body["id"], user=user)
    assert (stored.api_key, stored.api_secret) == (API_KEY, API_SECRET)


def test_list_and_detail_show_only_the_callers_credentials(session_client, user, other_user):
    mine = _credential(user)
    theirs = _credential(other_user)

    listed = session_client.get(URL).json()
    detail = session_client.get(f"{URL}/{mine.pk}")
    foreign = session_client.get(f"{URL}/{theirs.pk}")

    assert [row["id"] for row in listed["results"]] == [mine.pk]
    assert detail.json()["label"] == "main"
    assert foreign.status_code == HTTPStatus.NOT_FOUND
    assert foreign.json() == {"detail": "Not found.", "errors": {}}


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_another_users_credential_is_404_and_unchanged(session_client, other_user, method):
    theirs = _credential(other_user)

    response = getattr(session_client, method)(f"{URL}/{theirs.pk}", {"label": "x"}, format="json")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert BrokerCredential.objects.get(pk=theirs.pk).label == "main"


@pytest.mark.parametrize("action", ["connect", "disconnect"])
def test_connecting_another_users_credential_is_404(session_client, other_user, action):
    theirs = _credential(other_user, broker="paper", api_key="", api_secret="")

    response = session_client.post(f"{URL}/{theirs.pk}/{action}")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert BrokerCredential.objects.get(pk=theirs.pk).status == CredentialStatus.DISCONNECTED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"label": "x"}, "broker"),
        ({"broker": "robinhood", "label": "x"}, "broker"),
        ({"broker": "paper"}, "label"),
        ({"broker": "paper", "label": "x" * 101}, "label"),
        ({**BINANCE, "api_key": ""}, "api_key"),
        ({**BINANCE, "api_secret": "s" * 2001}, "api_secret"),
        ({**BINANCE, "passphrase": "p" * 20}, "passphrase"),
        ({"broker": "paper", "label": "x", "api_key": API_KEY}, "api_key"),
    ],
)
def test_bad_input_answers_400_naming_the_field_and_writes_nothing(fresh_api, body, field):
    response = fresh_api.post(URL, body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST, response.json()
    assert field in response.json()["errors"]
    assert not BrokerCredential.objects.exists()


def test_a_duplicate_label_answers_400_on_label(fresh_api, user):
    _credential(user)

    response = fresh_api.post(URL, BINANCE, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "label" in response.json()["errors"]


def test_a_paper_credential_needs_no_reauthentication(session_client):
    response = session_client.post(URL, {"broker": "paper", "label": "sandbox"}, format="json")

    assert response.status_code == HTTPStatus.CREATED


def test_adding_a_key_without_recent_reauthentication_is_403_and_writes_nothing(session_client):
    response = session_client.post(URL, BINANCE, format="json")

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "password confirmation" in response.json()["detail"]
    assert not BrokerCredential.objects.exists()


def test_an_expired_reauthentication_no_longer_counts(fresh_api, settings):
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0

    response = fresh_api.post(URL, BINANCE, format="json")

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_a_personal_token_can_never_add_or_replace_a_key(user):
    _, raw = token_create(user=user, name="bot")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    existing = _credential(user, label="existing")

    added = client.post(URL, BINANCE, format="json")
    replaced = client.patch(f"{URL}/{existing.pk}", {"api_key": NEW_API_KEY}, format="json")
    paper = client.post(URL, {"broker": "paper", "label": "sandbox"}, format="json")
    renamed = client.patch(f"{URL}/{existing.pk}", {"label": "renamed"}, format="json")

    assert (added.status_code, replaced.status_code) == (HTTPStatus.FORBIDDEN,) * 2
    assert (paper.status_code, renamed.status_code) == (HTTPStatus.CREATED, HTTPStatus.OK)
    assert BrokerCredential.objects.get(pk=existing.pk).api_key == API_KEY


def test_replacing_a_key_needs_reauthentication_even_when_it_is_the_same(session_client, user):
    credential = _credential(user)

    same = session_client.patch(f"{URL}/{credential.pk}", {"api_key": API_KEY}, format="json")
    new = session_client.put(
        f"{URL}/{credential.pk}", {"label": "main", "api_key": NEW_API_KEY}, format="json"
    )

    assert same.status_code == new.status_code == HTTPStatus.FORBIDDEN
    assert BrokerCredential.objects.get(pk=credential.pk).api_key == API_KEY


def test_put_needs_the_label_and_patch_replaces_a_key_after_reauthentication(fresh_api, user):
    credential = _credential(user)

    missing = fresh_api.put(f"{URL}/{credential.pk}", {"api_key": NEW_API_KEY}, format="json")
    patched = fresh_api.patch(f"{URL}/{credential.pk}", {"api_key": NEW_API_KEY}, format="json")

    assert missing.status_code == HTTPStatus.BAD_REQUEST
    assert "label" in missing.json()["errors"]
    assert patched.status_code == HTTPStatus.OK
    assert patched.json()["api_key_masked"] == "••••••••" + NEW_API_KEY[-4:]
    stored = BrokerCredential.objects.get(pk=credential.pk)
    assert (stored.api_key, stored.api_secret) == (NEW_API_KEY, API_SECRET)


def test_delete_answers_204_and_removes_it(session_client, user):
    credential = _credential(user)

    response = session_client.delete(f"{URL}/{credential.pk}")

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not BrokerCredential.objects.exists()


def test_connect_and_disconnect_the_paper_broker(session_client, user):
    credential = _credential(user, broker="paper", label="sandbox", api_key="", api_secret="")

    connected = session_client.post(f"{URL}/{credential.pk}/connect")
    disconnected = session_client.post(f"{URL}/{credential.pk}/disconnect")

    assert connected.status_code == HTTPStatus.OK
    assert connected.json()["status"] == "connected"
    assert connected.json()["login_url"] == ""
    assert connected.json()["last_connected_at"]
    assert disconnected.status_code == HTTPStatus.OK
    assert disconnected.json()["status"] == "disconnected"
    assert not BrokerSession.objects.filter(active=True).exists()


def test_a_refused_connect_answers_400_and_the_credential_keeps_the_error(session_client, user):
    credential = _credential(user, broker=Broker.KRAKEN)

    response = session_client.post(f"{URL}/{credential.pk}/connect")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["errors"]["non_field_errors"]
    shown = session_client.get(f"{URL}/{credential.pk}").json()
    assert shown["status"] == "error"
    assert shown["last_error"] == response.json()["errors"]["non_field_errors"][0]


def test_the_schema_documents_the_broker_credential_routes(db):
    import yaml

    schema = yaml.safe_load(APIClient().get("/api/schema/").content)

    assert {
        "/api/v1/broker-credentials",
        "/api/v1/broker-credentials/{id}",
        "/api/v1/broker-credentials/{id}/connect",
        "/api/v1/broker-credentials/{id}/disconnect",
    } <= set(schema["paths"])
    create = schema["components"]["schemas"]["BrokerCredentialCreateRequest"]["properties"]
    shown = schema["components"]["schemas"]["BrokerCredential"]["properties"]
    assert create["api_key"]["writeOnly"] is True
    assert "api_key" not in shown
