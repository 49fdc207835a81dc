"""Data rights (SPEC §3 accounts): the export holds every owned row; deleting leaves none.

Both tests seed one row of every owned model through tests/test_ownership.py's factories (the
walker fails when a model has none), then enumerate the owned models through django.apps: a
model added later is checked the day it lands, without editing this file.
"""

import json
import uuid
from datetime import UTC, datetime
from http import HTTPStatus

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from auditlog.models import LogEntry
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.data_rights import EXPORT_JOB_TYPE, account_export_task, owned_models
from accounts.models import User
from accounts.services import token_create
from audit.models import ActivityAction, ActivityLog, BackgroundJob, JobStatus
from audit.services import activity_chain_verify
from tests.factories import PASSWORD, BrokerCredentialFactory, UserFactory
from tests.pages.support import inline_code, reauthenticate
from tests.test_ownership import OWNED_FACTORIES, Seed, snapshot

EXPORT_URL = "/api/v1/me/export"
ME_URL = "/api/v1/me"
SECRETS = ("sk-live-Ki7Qp2Wm9Xz4Lb8N", "secret-Hq3Tn6Vr1Yc5Jd0Z")


def seeded_user(label: str) -> tuple[User, dict]:
    """A user with at least one row of every owned model, and a credential with known keys."""
    user = UserFactory()
    seed = Seed(
        text=f"rights-{label}-{uuid.uuid4().hex[:8]}",
        moment=datetime(2002, 3, 4, 5, 6, 7, tzinfo=UTC),
    )
    rows = {name: make(user, seed) for name, make in OWNED_FACTORIES.items()}
    BrokerCredentialFactory(
        user=user, label="known keys", api_key=SECRETS[0], api_secret=SECRETS[1]
    )
    return user, rows


def owned_pks(user: User) -> dict[str, set]:
    return {
        model._meta.label: set(
            model._default_manager.all().for_user(user).values_list("pk", flat=True)
        )
        for model in owned_models()
    }


@pytest.fixture
def owner(db):
    return seeded_user("owner")


@pytest.fixture
def bystander(db):
    return seeded_user("bystander")


def test_every_owned_model_is_seeded_for_these_tests(owner):
    user, _ = owner

    empty = sorted(label for label, pks in owned_pks(user).items() if not pks)

    assert empty == [], f"Add a factory to OWNED_FACTORIES in tests/test_ownership.py: {empty}"


def test_the_export_holds_every_row_of_every_owned_model_and_no_one_elses(owner, bystander):
    user, _ = owner
    client = APIClient()
    client.force_login(user)
    expected = owned_pks(user)

    response = client.get(EXPORT_URL)

    assert response.status_code == HTTPStatus.OK
    assert "attachment" in response["Content-Disposition"]
    document = response.json()
    exported = {label: {row["id"] for row in rows} for label, rows in document["data"].items()}
    missing = sorted(set(expected) - set(exported))
    assert missing == [], f"owned models missing from the export: {missing}"
    assert {label: exported[label] for label in expected} == expected
    assert document["account"]["user"]["email"] == user.email
    assert document["account"]["email_addresses"] == [
        {"email": a.email, "verified": a.verified, "primary": a.primary}
        for a in EmailAddress.objects.filter(user=user)
    ]
    assert bystander[0].email not in response.content.decode()


def test_the_export_masks_credentials_and_leaves_out_token_hashes(owner):
    user, _ = owner
    client = APIClient()
    client.force_login(user)

    text = client.get(EXPORT_URL).content.decode()
    document = json.loads(text)

    assert [secret for secret in SECRETS if secret in text] == []
    known = next(
        row for row in document["data"]["accounts.BrokerCredential"] if row["label"] == "known keys"
    )
    assert known["api_key_masked"] == "••••••••" + SECRETS[0][-4:]
    assert "api_key" not in known
    assert "api_secret" not in known
    tokens = document["data"]["accounts.PersonalApiToken"]
    assert tokens
    assert all("token_hash" not in row for row in tokens)


def test_the_export_is_recorded(owner):
    user, _ = owner
    client = APIClient()
    client.force_login(user)

    client.get(EXPORT_URL)

    row = ActivityLog.objects.for_user(user).filter(action=ActivityAction.EXPORT).first()
    assert row.details["kind"] == "account"


def test_a_large_account_gets_a_job_whose_result_is_the_document(owner, settings):
    user, _ = owner
    settings.ACCOUNT_EXPORT_INLINE_MAX_ROWS = 10
    client = APIClient()
    client.force_login(user)

    response = client.get(EXPORT_URL)

    assert response.status_code == HTTPStatus.ACCEPTED
    job = BackgroundJob.objects.get(pk=response.json()["id"])
    assert job.job_type == EXPORT_JOB_TYPE
    assert response["Location"] == reverse("api-job-detail", kwargs={"id": job.pk})
    account_export_task.call(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert set(job.result["data"]) >= set(owned_pks(user))
    # The page's download link serves it; the next export does not nest this one's document.
    page = Client()
    page.force_login(user)
    download = page.get(reverse("profile_export_download", kwargs={"pk": job.pk}))
    assert download.status_code == HTTPStatus.OK
    assert json.loads(download.content)["format"] == "trading-lab-account-export"
    settings.ACCOUNT_EXPORT_INLINE_MAX_ROWS = 100_000
    again = client.get(EXPORT_URL).json()
    jobs = {row["id"]: row for row in again["data"]["audit.BackgroundJob"]}
    assert jobs[job.pk]["result"] is None


def test_the_security_tab_offers_the_export_and_the_delete_page(owner):
    user, _ = owner
    page = Client()
    page.force_login(user)

    html = page.get(reverse("profile_security")).content.decode()

    assert reverse("profile_export") in html
    assert reverse("profile_delete") in html
    download = page.get(reverse("profile_export"))
    assert download.status_code == HTTPStatus.OK
    assert json.loads(download.content)["account"]["user"]["email"] == user.email


# Deleting --------------------------------------------------------------------------------------


def test_deleting_needs_reauthentication(owner):
    user, _ = owner
    client = APIClient()
    client.force_login(user)

    nothing = client.delete(ME_URL, {}, format="json")
    wrong = client.delete(ME_URL, {"password": "not-it"}, format="json")

    assert nothing.status_code == HTTPStatus.FORBIDDEN
    assert list(nothing.json()["errors"]) == ["password"]
    assert wrong.status_code == HTTPStatus.BAD_REQUEST
    assert User.objects.filter(pk=user.pk).exists()


def test_a_personal_token_alone_cannot_delete_the_account(owner):
    user, _ = owner
    _, raw = token_create(user=user, name="deleter")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    refused = client.delete(ME_URL, {}, format="json")
    accepted = client.delete(ME_URL, {"password": PASSWORD}, format="json")

    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert accepted.status_code == HTTPStatus.NO_CONTENT
    assert not User.objects.filter(pk=user.pk).exists()


def test_delete_leaves_no_owned_row_keeps_pseudonymous_activity_and_ends_sessions(owner, bystander):
    user, _ = owner
    pk, audit_ref, email = user.pk, user.audit_ref, user.email
    other_before = snapshot(bystander[0])
    activity_before = ActivityLog.objects.filter(user=user).count()
    browser = Client()
    browser.force_login(user)
    other_browser = Client()
    other_browser.force_login(user)
    UserSession.objects.create(
        user=user,
        session_key=other_browser.session.session_key,
        ip="192.0.2.1",
        user_agent="other",
    )
    client = APIClient()
    client.force_login(user)

    response = client.delete(ME_URL, {"password": PASSWORD}, format="json")

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not User.objects.filter(pk=pk).exists()
    left = {
        model._meta.label: model._default_manager.filter(**{f"{model.owner_path}__pk": pk}).count()
        for model in owned_models()
    }
    assert {label: count for label, count in left.items() if count} == {}
    # Audit rows stay, linked only by the pseudonymous id; the chain still verifies.
    kept = ActivityLog.objects.filter(user_ref=audit_ref)
    assert kept.count() == activity_before + 1
    assert kept.filter(user__isnull=False).count() == 0
    assert kept.filter(action=ActivityAction.ACCOUNT_DELETED).count() == 1
    assert activity_chain_verify().intact
    assert not LogEntry.objects.filter(actor_email__iexact=email).exists()
    assert not LogEntry.objects.filter(object_repr__icontains=email).exists()
    # Every browser is signed out; the other user's rows are exactly as they were.
    assert browser.get(reverse("profile_security")).status_code == HTTPStatus.FOUND
    assert other_browser.get(reverse("profile_security")).status_code == HTTPStatus.FOUND
    assert snapshot(bystander[0]) == other_before


def test_the_delete_page_asks_for_reauthentication_then_deletes(owner):
    user, _ = owner
    page = Client()
    page.force_login(user)
    url = reverse("profile_delete")

    assert page.get(url).status_code == HTTPStatus.OK
    first = page.post(url, {"confirm": user.email})
    assert first.status_code == HTTPStatus.FOUND
    assert "reauthenticate" in first["Location"]
    assert User.objects.filter(pk=user.pk).exists()

    reauthenticate(page, PASSWORD)
    wrong = page.post(url, {"confirm": "someone@else.example"})
    assert wrong.status_code == HTTPStatus.OK
    assert "This is not your email address." in wrong.content.decode()
    done = page.post(url, {"confirm": user.email.upper()})

    assert done.status_code == HTTPStatus.FOUND
    assert not User.objects.filter(pk=user.pk).exists()


def test_a_session_that_just_reauthenticated_needs_no_password(owner):
    user, _ = owner
    browser = Client()
    browser.force_login(user)
    reauthenticate(browser, PASSWORD)

    response = browser.delete(ME_URL)

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not User.objects.filter(pk=user.pk).exists()


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED])
def test_the_security_tab_lists_exports_and_the_pages_have_no_inline_code(user, status):
    job = BackgroundJob.objects.create(user=user, job_type=EXPORT_JOB_TYPE, status=status)
    page = Client()
    page.force_login(user)

    security = page.get(reverse("profile_security")).content.decode()
    delete = page.get(reverse("profile_delete")).content.decode()

    assert inline_code(security) == []
    assert inline_code(delete) == []
    assert reverse("profile_export_download", kwargs={"pk": job.pk}) not in security
    unfinished = page.get(reverse("profile_export_download", kwargs={"pk": job.pk}))
    assert unfinished.status_code == HTTPStatus.FOUND
