"""Broker credential services: keys in (validated, encrypted), connect, disconnect, expiry."""

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from accounts.brokers.adapters import BrokerAdapter, BrokerError, SessionResult, adapter_for
from accounts.brokers.services import (
    broker_connect,
    broker_credential_create,
    broker_credential_delete,
    broker_credential_update,
    broker_disconnect,
    broker_session_open,
    broker_sessions_expire,
)
from accounts.models import Broker, BrokerCredential, BrokerSession, CredentialStatus
from audit.models import ActivityAction, ActivityLog, ActivityStatus, ScheduledJob
from audit.services.scheduler import scheduled_jobs_ensure_defaults, scheduler_tick_due
from audit.tasks import run_scheduled_execution
from tests.accounts.broker_support import API_KEY, API_SECRET, NEW_API_KEY, PASSPHRASE
from trading_lab.exceptions import ApplicationError


def _binance(user, label="main"):
    return broker_credential_create(
        user=user, broker=Broker.BINANCE, label=label, api_key=API_KEY, api_secret=API_SECRET
    )


def _paper(user, label="paper"):
    return broker_credential_create(user=user, broker=Broker.PAPER, label=label)


def test_create_stores_the_keys_and_records_which_without_their_values(user):
    credential = _binance(user)

    credential.refresh_from_db()
    assert (credential.api_key, credential.api_secret, credential.passphrase) == (
        API_KEY,
        API_SECRET,
        None,
    )
    assert credential.status == CredentialStatus.DISCONNECTED
    row = ActivityLog.objects.get(action=ActivityAction.CREDENTIAL_ADDED)
    assert row.user == user
    assert row.details["secrets"] == ["api_key", "api_secret"]
    assert API_KEY not in str(row.details) + row.description


@pytest.mark.parametrize(
    ("broker", "secrets", "field", "message"),
    [
        (Broker.BINANCE, {"api_secret": API_SECRET}, "api_key", "needs an API key"),
        (Broker.KRAKEN, {"api_key": API_KEY}, "api_secret", "needs an API secret"),
        (Broker.PAPER, {"api_key": API_KEY}, "api_key", "takes no API key"),
        (
            Broker.BINANCE,
            {"api_key": API_KEY, "api_secret": API_SECRET, "passphrase": PASSPHRASE},
            "passphrase",
            "takes no passphrase",
        ),
    ],
)
def test_create_refuses_missing_or_unexpected_secrets_by_field(
    user, broker, secrets, field, message
):
    with pytest.raises(ApplicationError) as refused:
        broker_credential_create(user=user, broker=broker, label="x", **secrets)

    assert message in refused.value.extra[field][0]
    assert not BrokerCredential.objects.exists()


def test_coinbase_may_carry_a_passphrase(user):
    credential = broker_credential_create(
        user=user,
        broker=Broker.COINBASE,
        label="exchange",
        api_key=API_KEY,
        api_secret=API_SECRET,
        passphrase=PASSPHRASE,
    )

    assert BrokerCredential.objects.get(pk=credential.pk).passphrase == PASSPHRASE


def test_a_label_is_unique_per_user_and_broker_as_a_field_error(user, other_user):
    _binance(user)
    _binance(other_user)
    _paper(user, label="main")

    with pytest.raises(ApplicationError) as refused:
        _binance(user)

    assert "already have a Binance credential" in refused.value.extra["label"][0]


def test_paper_connects_with_one_active_session_and_reconnecting_keeps_one(user):
    credential = _paper(user)

    first = broker_connect(credential=credential)
    second = broker_connect(credential=credential)

    assert first.error == second.error == ""
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.CONNECTED
    assert credential.last_connected_at is not None
    assert BrokerSession.objects.filter(credential=credential).count() == 2
    assert BrokerSession.objects.filter(credential=credential, active=True).count() == 1
    assert ActivityLog.objects.filter(action=ActivityAction.BROKER_CONNECTED).count() == 2


@responses.activate
def test_a_refused_connect_keeps_the_error_and_records_the_failure(user):
    # Binance's answer to a bad key, given by `responses`: tests never reach the network.
    responses.get(
        "https://api.binance.com/api/v3/account",
        status=401,
        json={"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
    )
    credential = _binance(user)

    outcome = broker_connect(credential=credential)

    assert outcome.error
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.ERROR
    assert credential.last_error == outcome.error
    row = ActivityLog.objects.get(action=ActivityAction.BROKER_CONNECTED)
    assert row.status == ActivityStatus.FAILURE
    assert not BrokerSession.objects.filter(credential=credential, active=True).exists()


class _FlakyAdapter(BrokerAdapter):
    broker = Broker.BINANCE

    def __init__(self, answers):
        self.answers = list(answers)

    def connect(self, credential, *, state=""):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_status_moves_error_to_connected_clearing_the_last_error(user, monkeypatch):
    adapter = _FlakyAdapter(
        [
            BrokerError("The broker did not answer in time."),
            SessionResult(connected=True, access_token="tok-Yh3Jk9Lm2Nb7", expires_at=None),
        ]
    )
    monkeypatch.setattr("accounts.brokers.services.adapter_for", lambda broker: adapter)
    credential = _binance(user)

    broker_connect(credential=credential)
    credential.refresh_from_db()
    assert (credential.status, credential.last_error) == (
        CredentialStatus.ERROR,
        "The broker did not answer in time.",
    )
    broker_connect(credential=credential)

    credential.refresh_from_db()
    assert (credential.status, credential.last_error) == (CredentialStatus.CONNECTED, "")
    assert BrokerSession.objects.get(credential=credential, active=True).access_token == (
        "tok-Yh3Jk9Lm2Nb7"
    )


def test_an_adapter_may_answer_a_login_url_and_nothing_changes_yet(user, monkeypatch):
    adapter = _FlakyAdapter([SessionResult(connected=False, login_url="https://broker/login")])
    monkeypatch.setattr("accounts.brokers.services.adapter_for", lambda broker: adapter)
    credential = _binance(user)

    outcome = broker_connect(credential=credential)

    assert outcome.login_url == "https://broker/login"
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.DISCONNECTED
    assert not BrokerSession.objects.exists()


def test_disconnect_ends_the_session_and_is_harmless_twice(user):
    credential = _paper(user)
    broker_connect(credential=credential)

    broker_disconnect(credential=credential)
    again = broker_disconnect(credential=credential)

    assert again.status == CredentialStatus.DISCONNECTED
    assert not BrokerSession.objects.filter(active=True).exists()
    assert ActivityLog.objects.filter(action=ActivityAction.BROKER_DISCONNECTED).count() == 2


def test_new_keys_end_the_session_and_disconnect(user):
    credential = _binance(user)
    broker_session_open(credential=credential, result=SessionResult(connected=True))

    updated = broker_credential_update(credential=credential, data={"api_key": NEW_API_KEY})

    assert updated.status == CredentialStatus.DISCONNECTED
    assert BrokerCredential.objects.get(pk=credential.pk).api_key == NEW_API_KEY
    assert BrokerCredential.objects.get(pk=credential.pk).api_secret == API_SECRET
    assert not BrokerSession.objects.filter(active=True).exists()
    row = ActivityLog.objects.get(action=ActivityAction.CREDENTIAL_UPDATED)
    assert row.details["secrets"] == ["api_key"]
    assert NEW_API_KEY not in str(row.details) + row.description


def test_a_rename_keeps_the_session_and_an_unchanged_update_writes_nothing(user):
    credential = _paper(user)
    broker_connect(credential=credential)

    broker_credential_update(credential=credential, data={"label": "paper"})
    renamed = broker_credential_update(credential=credential, data={"label": "sandbox"})

    assert renamed.label == "sandbox"
    assert renamed.status == CredentialStatus.CONNECTED
    assert ActivityLog.objects.filter(action=ActivityAction.CREDENTIAL_UPDATED).count() == 1


def test_clearing_a_required_secret_is_refused(user):
    credential = _binance(user)

    with pytest.raises(ApplicationError) as refused:
        broker_credential_update(credential=credential, data={"api_secret": ""})

    assert "api_secret" in refused.value.extra
    assert BrokerCredential.objects.get(pk=credential.pk).api_secret == API_SECRET


def test_delete_removes_the_credential_and_its_sessions_and_is_recorded(user):
    credential = _paper(user)
    broker_connect(credential=credential)

    broker_credential_delete(credential=credential)

    assert not BrokerCredential.objects.exists()
    assert not BrokerSession.objects.exists()
    assert ActivityLog.objects.filter(action=ActivityAction.CREDENTIAL_DELETED).count() == 1


def test_the_expiry_job_deactivates_lapsed_sessions_and_marks_credentials_expired(user):
    now = timezone.now()
    lapsed, live, forever = _binance(user, "lapsed"), _binance(user, "live"), _paper(user)
    broker_session_open(
        credential=lapsed, result=SessionResult(connected=True, expires_at=now - timedelta(1))
    )
    broker_session_open(
        credential=live, result=SessionResult(connected=True, expires_at=now + timedelta(1))
    )
    broker_connect(credential=forever)

    assert broker_sessions_expire(now=now) == 1
    assert broker_sessions_expire(now=now) == 0

    statuses = dict(BrokerCredential.objects.values_list("label", "status"))
    assert statuses == {
        "lapsed": CredentialStatus.EXPIRED,
        "live": CredentialStatus.CONNECTED,
        "paper": CredentialStatus.CONNECTED,
    }
    assert list(
        BrokerSession.objects.filter(active=True)
        .values_list("credential__label", flat=True)
        .order_by("credential__label")
    ) == ["live", "paper"]


def test_every_broker_has_an_adapter_and_paper_needs_no_keys():
    assert {broker: adapter_for(broker).broker for broker in Broker.values} == {
        broker: broker for broker in Broker.values
    }
    assert adapter_for(Broker.PAPER).required_secrets == ()


def test_the_scheduled_expiry_job_runs_the_service_through_the_scheduler(user):
    lapsed = _binance(user, "lapsed")
    broker_session_open(
        credential=lapsed,
        result=SessionResult(connected=True, expires_at=timezone.now() - timedelta(minutes=1)),
    )
    scheduled_jobs_ensure_defaults()
    job = ScheduledJob.objects.get(name="expire-broker-sessions")
    job.next_run_at = timezone.now()
    job.save()
    [execution] = [e for e in scheduler_tick_due() if e.job_id == job.pk]

    run_scheduled_execution.call(execution_id=execution.pk)

    execution.refresh_from_db()
    lapsed.refresh_from_db()
    assert execution.success is True
    assert lapsed.status == CredentialStatus.EXPIRED
