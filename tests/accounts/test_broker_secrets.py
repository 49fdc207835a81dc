"""Secrets never leave in plaintext (issue 5): keys given through the API and the pages appear
in no answer, page, admin page, model history, activity row, account export, session or log
line."""

import json
import logging
from http import HTTPStatus

import pytest
import responses
from auditlog.models import LogEntry
from django.contrib.sessions.models import Session
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.brokers.adapters import SessionResult
from accounts.brokers.services import broker_session_open
from accounts.data_rights import export_document
from accounts.models import BrokerCredential, BrokerSession
from audit.models import ActivityLog
from tests.accounts.broker_support import (
    API_KEY,
    API_SECRET,
    NEW_API_KEY,
    NEW_API_SECRET,
    PASSPHRASE,
    sign_in_fresh,
)
from tests.factories import PASSWORD, UserFactory

PAGE_KEY = "Rt6yHn2MkJ8bVc4X-pagekey-1QwE5rTz"
PAGE_SECRET = "Gb9nMj3KlP7oIu2Y-pagesecret-4TrE8wQa"
PAGE_NEW_KEY = "Lk2jHg6FdS1aQw9E-pagenewkey-3RtY7uIo"
ACCESS_TOKEN = "Zx8cVb3NmL5kJh1G-access-9FdS4aPo"
REFRESH_TOKEN = "Qa2wSx7EdC4rFv9T-refresh-6GbY1hNu"
SECRETS = [
    API_KEY,
    API_SECRET,
    NEW_API_KEY,
    NEW_API_SECRET,
    PASSPHRASE,
    PAGE_KEY,
    PAGE_SECRET,
    PAGE_NEW_KEY,
    ACCESS_TOKEN,
    REFRESH_TOKEN,
]
URL = "/api/v1/broker-credentials"


def _leaks(where: str, text: str) -> list[str]:
    return [f"{where}: {secret}" for secret in SECRETS if secret in text]


@pytest.mark.django_db
@responses.activate
def test_secrets_never_leave_in_plaintext(caplog):
    caplog.set_level(logging.DEBUG)
    user = UserFactory()
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser = sign_in_fresh(Client(), user.email, PASSWORD)
    api = APIClient()
    api.cookies = browser.cookies
    seen: list[tuple[str, str]] = []

    def keep(where: str, response) -> None:
        assert response.status_code < HTTPStatus.INTERNAL_SERVER_ERROR, where
        seen.append((where, response.content.decode(errors="replace")))

    # Through the API: add, replace, connect (Binance refuses the key), read back.
    responses.get(
        "https://api.binance.com/api/v3/account",
        status=401,
        json={"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
    )
    created = api.post(
        URL,
        {"broker": "binance", "label": "api", "api_key": API_KEY, "api_secret": API_SECRET},
        format="json",
    )
    keep("API create", created)
    coinbase = api.post(
        URL,
        {
            "broker": "coinbase",
            "label": "exchange",
            "api_key": NEW_API_SECRET[::-1],
            "api_secret": API_SECRET[::-1],
            "passphrase": PASSPHRASE,
        },
        format="json",
    )
    keep("API create with passphrase", coinbase)
    api_id = created.json()["id"]
    keep(
        "API replace",
        api.patch(
            f"{URL}/{api_id}",
            {"api_key": NEW_API_KEY, "api_secret": NEW_API_SECRET},
            format="json",
        ),
    )
    keep("API put", api.put(f"{URL}/{api_id}", {"label": "api-2"}, format="json"))
    keep("API bad input", api.post(URL, {"broker": "paper", "label": "p", "api_key": API_KEY}))
    keep("API connect", api.post(f"{URL}/{api_id}/connect"))
    keep("API list", api.get(URL))
    keep("API detail", api.get(f"{URL}/{api_id}"))

    # Through the pages: add, and replace a key on the edit page.
    keep(
        "page add",
        browser.post(
            "/profile/brokers",
            {"broker": "kraken", "label": "page", "api_key": PAGE_KEY, "api_secret": PAGE_SECRET},
            follow=True,
        ),
    )
    page_credential = BrokerCredential.objects.get(user=user, label="page")
    edit = reverse("profile_broker_edit", args=[page_credential.pk])
    keep("page edit form", browser.get(edit))
    keep(
        "page replace", browser.post(edit, {"label": "page", "api_key": PAGE_NEW_KEY}, follow=True)
    )
    keep(
        "page refused",
        browser.post(
            "/profile/brokers", {"broker": "kraken", "label": "page", "api_key": PAGE_KEY}
        ),
    )
    # A session with tokens, as an OAuth-like broker's connect leaves one.
    broker_session_open(
        credential=page_credential,
        result=SessionResult(
            connected=True, access_token=ACCESS_TOKEN, refresh_token=REFRESH_TOKEN
        ),
    )

    # Positive control: the secrets really are stored (and readable by the server).
    stored = {c.label: c for c in BrokerCredential.objects.filter(user=user)}
    assert (stored["api-2"].api_key, stored["api-2"].api_secret) == (NEW_API_KEY, NEW_API_SECRET)
    assert (stored["page"].api_key, stored["page"].api_secret) == (PAGE_NEW_KEY, PAGE_SECRET)
    assert stored["exchange"].passphrase == PASSPHRASE
    assert BrokerSession.objects.get(active=True).access_token == ACCESS_TOKEN

    # Every page and answer that could show them.
    for name in ("profile_brokers", "dashboard", "profile_activity", "profile_activity_export"):
        keep(name, browser.get(reverse(name)))
    keep("page edit after", browser.get(edit))
    keep("API activity", api.get("/api/v1/activity?page_size=500"))
    tab = dict(seen)["profile_brokers"]
    assert "••••••••" + PAGE_NEW_KEY[-4:] in tab  # the masked tail is shown: the page is real
    assert "••••••••" + PAGE_NEW_KEY[-4:] in json.dumps(
        export_document(user=user), cls=DjangoJSONEncoder, ensure_ascii=False
    )

    admin = Client()
    admin.force_login(staff)
    for credential in stored.values():
        keep(
            "admin change",
            admin.get(reverse("admin:accounts_brokercredential_change", args=[credential.pk])),
        )
        keep(
            "admin history",
            admin.get(reverse("admin:accounts_brokercredential_history", args=[credential.pk])),
        )
    for session in BrokerSession.objects.all():
        keep(
            "admin session",
            admin.get(reverse("admin:accounts_brokersession_change", args=[session.pk])),
        )
    keep("admin list", admin.get(reverse("admin:accounts_brokercredential_changelist")))
    keep("admin sessions", admin.get(reverse("admin:accounts_brokersession_changelist")))
    keep("admin activity", admin.get(reverse("admin:audit_activitylog_changelist")))
    keep(
        "staff audit API",
        admin.get(reverse("api-staff-audit"), {"entity": "accounts.brokercredential"}),
    )
    keep(
        "staff audit API sessions",
        admin.get(reverse("api-staff-audit"), {"entity": "accounts.brokersession"}),
    )

    stores = {
        "model history (LogEntry)": str(list(LogEntry.objects.values())),
        "activity log": str(list(ActivityLog.objects.values())),
        "account export": json.dumps(export_document(user=user), cls=DjangoJSONEncoder),
        "sessions": " ".join(str(s.get_decoded()) for s in Session.objects.all()),
        "captured logs": caplog.text,
    }
    assert LogEntry.objects.filter(content_type__model="brokercredential").exists()
    assert ActivityLog.objects.filter(action="credential_updated").count() == 3

    leaks = [leak for where, text in [*seen, *stores.items()] for leak in _leaks(where, text)]
    assert leaks == []
