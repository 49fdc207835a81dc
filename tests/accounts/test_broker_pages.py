"""The profile's Broker connections tab: list, add, edit, connect, disconnect, delete."""

import re
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accounts.brokers.services import broker_connect, broker_credential_create
from accounts.models import Broker, BrokerCredential, BrokerSession, CredentialStatus
from audit.models import ActivityAction, ActivityLog
from tests.accounts.broker_support import API_KEY, API_SECRET, NEW_API_KEY, sign_in_fresh
from tests.pages.support import inline_code

TAB = "/profile/brokers"
BINANCE_FORM = {"broker": "binance", "label": "main", "api_key": API_KEY, "api_secret": API_SECRET}


@pytest.fixture
def web(client: Client, user) -> Client:
    """Signed in, but not recently re-authenticated."""
    client.force_login(user)
    return client


@pytest.fixture
def fresh(user, password) -> Client:
    return sign_in_fresh(Client(), user.email, password)


def _binance(user, **kwargs) -> BrokerCredential:
    values = {
        "broker": Broker.BINANCE,
        "label": "main",
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        **kwargs,
    }
    return broker_credential_create(user=user, **values)


def _all_sessions_text() -> str:
    return " ".join(str(session.get_decoded()) for session in Session.objects.all())


def test_the_tab_lists_credentials_masked_with_status_and_last_error(web, user):
    _binance(user)
    failed = _binance(user, broker=Broker.KRAKEN, label="kraken")
    broker_connect(credential=failed)

    response = web.get(TAB)

    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert 'href="/profile/brokers"' in html
    assert "Broker connections" in html
    assert "••••••••" + API_KEY[-4:] in html
    assert API_KEY not in html
    assert API_SECRET not in html
    assert BrokerCredential.objects.get(pk=failed.pk).last_error in html
    assert ">Error<" in html
    assert ">Disconnected<" in html
    assert inline_code(html) == []


def test_adding_paper_needs_no_password_and_it_connects_and_disconnects(web, user):
    added = web.post(TAB, {"broker": "paper", "label": "sandbox"})
    credential = BrokerCredential.objects.get(user=user)

    connected = web.post(reverse("profile_broker_connect", args=[credential.pk]), follow=True)
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.CONNECTED
    assert "is connected" in connected.content.decode()
    assert ">Connected<" in connected.content.decode()
    web.post(reverse("profile_broker_disconnect", args=[credential.pk]))

    assert added.status_code == HTTPStatus.FOUND
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.DISCONNECTED
    assert not BrokerSession.objects.filter(active=True).exists()


def test_adding_keys_without_a_recent_password_sends_to_reauthenticate_and_keeps_nothing(
    web,
):
    response = web.post(TAB, BINANCE_FORM)

    assert response.status_code == HTTPStatus.FOUND
    location = urlsplit(response["Location"])
    assert location.path == reverse("account_reauthenticate")
    assert parse_qs(location.query)["next"] == [TAB]
    assert not BrokerCredential.objects.exists()
    # The typed keys are dropped, not parked in the session until the password is given.
    assert API_KEY not in _all_sessions_text()
    assert API_SECRET not in _all_sessions_text()


def test_after_reauthenticating_keys_are_added_and_shown_masked(fresh, user):
    response = fresh.post(TAB, BINANCE_FORM, follow=True)

    html = response.content.decode()
    credential = BrokerCredential.objects.get(user=user)
    assert (credential.api_key, credential.api_secret) == (API_KEY, API_SECRET)
    assert "••••••••" + API_KEY[-4:] in html
    assert API_KEY not in html
    assert API_SECRET not in html


def test_form_errors_show_next_to_their_fields_and_keys_are_not_rendered_back(fresh, user):
    _binance(user)

    response = fresh.post(TAB, {**BINANCE_FORM, "api_secret": ""})

    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert re.search(r'id="id_api_secret_error">\s*<div>Binance needs an API secret', html)
    assert API_KEY not in html
    duplicate = fresh.post(TAB, BINANCE_FORM).content.decode()
    assert re.search(r'id="id_label_error">\s*<div>You already have a Binance', duplicate)
    assert API_SECRET not in duplicate
    assert BrokerCredential.objects.count() == 1


def test_replacing_a_key_on_the_edit_page_needs_a_recent_password(web, user, password):
    credential = _binance(user)
    edit = reverse("profile_broker_edit", args=[credential.pk])

    page = web.get(edit)
    refused = web.post(edit, {"label": "main", "api_key": NEW_API_KEY})
    renamed = web.post(edit, {"label": "renamed"})

    assert page.status_code == HTTPStatus.OK
    assert API_KEY not in page.content.decode()
    assert urlsplit(refused["Location"]).path == reverse("account_reauthenticate")
    assert renamed.status_code == HTTPStatus.FOUND
    credential.refresh_from_db()
    assert (credential.label, credential.api_key) == ("renamed", API_KEY)

    fresh = sign_in_fresh(Client(), user.email, password)
    replaced = fresh.post(edit, {"label": "renamed", "api_key": NEW_API_KEY})

    assert replaced.status_code == HTTPStatus.FOUND
    credential.refresh_from_db()
    assert (credential.api_key, credential.api_secret) == (NEW_API_KEY, API_SECRET)


def test_the_edit_page_shows_the_credentials_history_without_any_secret(user, password):
    credential = _binance(user)
    edit = reverse("profile_broker_edit", args=[credential.pk])
    fresh = sign_in_fresh(Client(), user.email, password)
    fresh.post(edit, {"label": "renamed", "api_key": NEW_API_KEY})

    html = fresh.get(edit).content.decode()

    assert 'id="history"' in html
    assert (
        '<span class="history-old">main</span> → <span class="history-new">renamed</span>' in html
    )
    for secret in (API_KEY, API_SECRET, NEW_API_KEY):
        assert secret not in html
        assert secret[-4:] not in html.split('id="history"')[1]  # not even the masked tail


def test_delete_removes_the_credential_and_is_recorded(web, user):
    credential = _binance(user)
    page = web.get(TAB).content.decode()

    response = web.post(reverse("profile_broker_delete", args=[credential.pk]))

    assert "data-confirm=" in page
    assert response.status_code == HTTPStatus.FOUND
    assert not BrokerCredential.objects.exists()
    assert ActivityLog.objects.filter(action=ActivityAction.CREDENTIAL_DELETED).exists()


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("profile_broker_edit", "get"),
        ("profile_broker_edit", "post"),
        ("profile_broker_connect", "post"),
        ("profile_broker_disconnect", "post"),
        ("profile_broker_delete", "post"),
    ],
)
def test_another_users_credential_is_404_on_every_page(web, other_user, name, method):
    theirs = _binance(other_user)

    response = getattr(web, method)(reverse(name, args=[theirs.pk]), {"label": "x"})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert BrokerCredential.objects.get(pk=theirs.pk).label == "main"
