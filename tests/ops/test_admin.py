"""The admin: every registered model's pages render for staff, and no page shows a secret."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.utils import decrypt as mfa_decrypt
from allauth.usersessions.models import UserSession
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import BrokerCredential, PersonalApiToken, User
from accounts.services import token_create, token_revoke
from audit.models import (
    ActivityAction,
    ActivityLog,
    Heartbeat,
    HeartbeatKind,
    ScheduledJob,
    SchedulerExecution,
)
from audit.services.config import config_update
from audit.services.jobs import job_create
from audit.services.monitoring import health_sample_record
from audit.tasks import worker_heartbeat
from tests.bots.admin_rows_backtests import backtest_rows
from tests.bots.admin_rows_bots import bot_rows
from tests.bots.admin_rows_paper import paper_rows
from tests.factories import PASSWORD, BrokerCredentialFactory, BrokerSessionFactory, UserFactory
from tests.portfolio.admin_rows import portfolio_rows
from trading_lab.api.throttling import api_usage_count

# Registered models that may have no row in a test database, each with why. Their changelist
# and add page are still checked; a model not listed here must get a row in `admin_rows`.
ROWLESS = {
    "socialaccount.SocialAccount": "a row needs an installed OAuth provider; tests configure none",
}

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def admin_rows(staff_user) -> list[str]:
    """At least one row of every admin model, several holding secrets; returns the secrets."""
    trader = UserFactory(email="trader.rows@example.com")
    trader.profile.display_name = "Row Trader"
    trader.profile.save()
    EmailAddress.objects.create(user=trader, email=trader.email, verified=True, primary=True)
    Group.objects.create(name="support")

    credential = BrokerCredentialFactory(
        user=trader,
        api_key="AKIA-live-key-Xq93LmZpT0",
        api_secret="sec-live-7Hc2Wq9vNf41Kd",
        passphrase="correct-horse-passphrase-88",
    )
    session = BrokerSessionFactory(
        credential=credential,
        access_token="acc-tok-5Rr8Yv2Jq0Lm",
        refresh_token="ref-tok-9Tt1Uu3Ww5Xx",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    token, raw_token = token_create(user=trader, name="ci")  # writes an activity row too

    totp_secret = generate_totp_secret()
    TOTP.activate(trader, totp_secret)
    recovery = RecoveryCodes.activate(trader)
    seed = mfa_decrypt(recovery.instance.data["seed"])
    user_session = UserSession.objects.create(
        user=trader,
        ip="203.0.113.7",
        session_key="sk7h2m9q4w8e1r5t3y6u0i2o",
        user_agent="Mozilla/5.0 (rows)",
    )

    job_create(user=trader, job_type="import_prices", params={"file": "prices.csv"})
    scheduled = ScheduledJob.objects.create(
        name="test-heartbeat",
        task="audit.tasks.worker_heartbeat",
        interval_seconds=30,
        next_run_at=timezone.now(),
    )
    SchedulerExecution.objects.create(job=scheduled, scheduled_for=timezone.now())
    Heartbeat.objects.create(kind=HeartbeatKind.WORKER, instance="host:1", beat_at=timezone.now())
    health_sample_record()  # unhealthy (no scheduler heartbeat): a sample and an open alert
    config_update(changes={"trading.fee_rate": "0.002"}, user=staff_user)  # and the version
    api_usage_count(user_id=trader.pk, category="reads")
    worker_heartbeat.enqueue()
    portfolio_rows(trader)
    paper_rows(trader)
    backtest_rows(trader)
    bot_rows(trader)

    return [
        credential.api_key,
        credential.api_secret,
        credential.passphrase,
        session.access_token,
        session.refresh_token,
        raw_token,
        token.token_hash,
        totp_secret,
        seed,
        user_session.session_key,
        trader.password,
        staff_user.password,
    ]


def pages_of(model, staff_user) -> list[tuple[str, int]]:
    """(url, expected status) of the changelist, a search, the add page and a change page."""
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = staff_user
    changelist = admin_url(model, "changelist")
    pages = [(changelist, HTTPStatus.OK), (f"{changelist}?q=trader", HTTPStatus.OK)]
    can_add = model_admin.has_add_permission(request)
    pages.append((admin_url(model, "add"), HTTPStatus.OK if can_add else HTTPStatus.FORBIDDEN))
    obj = model._default_manager.order_by("pk").first()
    if model._meta.label in ROWLESS:
        return pages
    assert obj is not None, f"admin_rows creates no {model._meta.label}: add one"
    pages.append((admin_url(model, "change", obj.pk), HTTPStatus.OK))
    pages.append((admin_url(model, "history", obj.pk), HTTPStatus.OK))
    return pages


@pytest.mark.django_db
@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_every_admin_page_of_every_registered_model_renders_for_staff(
    staff_client, staff_user, admin_rows, model
):
    for url, status in pages_of(model, staff_user):
        response = staff_client.get(url)
        assert response.status_code == status, url


@pytest.mark.django_db
@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_no_admin_page_shows_a_secret_or_token_hash(staff_client, staff_user, admin_rows, model):
    for url, _ in pages_of(model, staff_user):
        content = staff_client.get(url).content.decode()
        leaked = [secret for secret in admin_rows if secret in content]
        assert leaked == [], url


@pytest.mark.django_db
def test_broker_credential_shows_masked_values_and_has_no_secret_inputs(staff_client):
    credential = BrokerCredentialFactory(api_key="AKIA-live-key-Xq93LmZpT0")

    response = staff_client.get(admin_url(BrokerCredential, "change", credential.pk))

    assert "••••••••ZpT0" in response.content.decode()
    form = response.context["adminform"].form
    assert {"api_key", "api_secret", "passphrase"}.isdisjoint(form.fields)


@pytest.mark.django_db
def test_editing_a_credential_in_the_admin_keeps_its_secrets(staff_client):
    credential = BrokerCredentialFactory(api_key="AKIA-live-key-Xq93LmZpT0", passphrase="pp-123")

    response = staff_client.post(
        admin_url(BrokerCredential, "change", credential.pk),
        {
            "label": "renamed",
            "status": "error",
            "last_error": "Invalid signature",
            "sessions-TOTAL_FORMS": "0",
            "sessions-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == HTTPStatus.FOUND
    credential.refresh_from_db()
    assert (credential.label, credential.status) == ("renamed", "error")
    assert (credential.api_key, credential.passphrase) == ("AKIA-live-key-Xq93LmZpT0", "pp-123")


@pytest.mark.django_db
def test_revoke_selected_revokes_through_the_service_and_reports(staff_client, user):
    fresh, _ = token_create(user=user, name="fresh")
    old, _ = token_create(user=user, name="old")
    token_revoke(token=old)

    response = staff_client.post(
        admin_url(PersonalApiToken, "changelist"),
        {"action": "revoke_selected", "_selected_action": [fresh.pk, old.pk]},
        follow=True,
    )

    fresh.refresh_from_db()
    assert fresh.revoked_at is not None
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["Revoked 1 token.", "1 token was already revoked."]
    revoked_rows = ActivityLog.objects.filter(
        action=ActivityAction.TOKEN_REVOKED, details__token_id=fresh.pk
    )
    assert revoked_rows.count() == 1


@pytest.mark.django_db
def test_token_change_page_is_read_only(staff_client, user):
    token, _ = token_create(user=user, name="ci")

    response = staff_client.post(admin_url(PersonalApiToken, "change", token.pk), {"name": "x"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    token.refresh_from_db()
    assert token.name == "ci"


@pytest.fixture
def activity_row(user) -> ActivityLog:
    token_create(user=user, name="ci")
    return ActivityLog.objects.get(user=user, action=ActivityAction.TOKEN_CREATED)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "view", "data"),
    [
        ("post", "change", {"description": "edited", "action": "sign_in"}),
        ("get", "delete", None),
        ("post", "delete", {"post": "yes"}),
        ("get", "add", None),
    ],
)
def test_activity_log_cannot_be_added_edited_or_deleted_in_the_admin(
    staff_client, activity_row, method, view, data
):
    args = () if view == "add" else (activity_row.pk,)
    before = list(ActivityLog.objects.values().order_by("seq"))

    response = getattr(staff_client, method)(admin_url(ActivityLog, view, *args), data)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert list(ActivityLog.objects.values().order_by("seq")) == before


@pytest.mark.django_db
def test_activity_log_changelist_offers_no_bulk_delete(staff_client, activity_row):
    response = staff_client.get(admin_url(ActivityLog, "changelist"))

    assert response.status_code == HTTPStatus.OK
    assert response.context["action_form"] is None  # no actions at all, so no delete_selected
    staff_client.post(
        admin_url(ActivityLog, "changelist"),
        {"action": "delete_selected", "_selected_action": [activity_row.pk], "post": "yes"},
    )
    assert ActivityLog.objects.filter(pk=activity_row.pk).exists()


@pytest.mark.django_db
def test_admin_add_user_stores_the_email_lowercased_with_profile(staff_client):
    response = staff_client.post(
        admin_url(User, "add"),
        {
            "email": "New.Trader@Example.COM",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == HTTPStatus.FOUND
    created = User.objects.get(email="new.trader@example.com")
    assert created.check_password(PASSWORD)
    assert created.profile is not None
    assert created.preferences is not None


@pytest.mark.django_db
def test_admin_add_user_refuses_an_email_taken_in_another_case(staff_client, user):
    response = staff_client.post(
        admin_url(User, "add"),
        {
            "email": user.email.upper(),
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.errors["email"] == [
        "A user with this email address already exists."
    ]
    assert User.objects.filter(email__iexact=user.email).count() == 1


@pytest.mark.django_db
def test_scheduled_job_admin_refuses_a_task_outside_the_tasks_modules(staff_client):
    response = staff_client.post(
        admin_url(ScheduledJob, "add"),
        {
            "name": "evil",
            "task": "os.system",
            "kwargs": "{}",
            "interval_seconds": "60",
            "enabled": "on",
            "next_run_at_0": "2030-01-01",
            "next_run_at_1": "00:00:00",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert "task" in response.context["adminform"].form.errors
    assert not ScheduledJob.objects.filter(name="evil").exists()
