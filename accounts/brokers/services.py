"""Writes of broker credentials and sessions: keys in, connect, disconnect, expiry.

Secrets arrive as plain strings and leave only as Fernet tokens in the database: no service
puts one in an activity row, an error message or a log line. The activity rows name which
secrets changed, never their values.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.brokers.adapters import BrokerAdapter, BrokerError, SessionResult, adapter_for
from accounts.models import (
    Broker,
    BrokerCredential,
    BrokerSession,
    CredentialStatus,
    User,
)
from audit.models import ActivityAction, ActivityStatus
from audit.services import activity_record
from trading_lab.exceptions import ApplicationError

logger = logging.getLogger(__name__)

SECRET_FIELDS = ("api_key", "api_secret", "passphrase")
SECRET_LABELS = {"api_key": "API key", "api_secret": "API secret", "passphrase": "passphrase"}


@dataclass(frozen=True)
class ConnectOutcome:
    """A connect's result: the credential as it now is, and where to sign in if the broker asks."""

    credential: BrokerCredential
    login_url: str = ""
    error: str = ""


def _secret_errors(adapter: BrokerAdapter, broker_label: str, values: dict[str, str]) -> dict:
    errors: dict[str, list[str]] = {}
    for name in SECRET_FIELDS:
        value = values.get(name) or ""
        if name in adapter.required_secrets and not value:
            errors[name] = [f"{broker_label} needs an {SECRET_LABELS[name]}."]
        elif value and name not in adapter.accepted_secrets():
            errors[name] = [f"{broker_label} takes no {SECRET_LABELS[name]}."]
    return errors


def _label_taken(*, user: User, broker: str, label: str, exclude_pk: int | None = None) -> bool:
    rows = BrokerCredential.objects.for_user(user).filter(broker=broker, label=label)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return rows.exists()


def _label_error(broker: str) -> ApplicationError:
    return ApplicationError(
        "Invalid input.",
        {"label": [f"You already have a {Broker(broker).label} credential with this label."]},
    )


def _describe(credential: BrokerCredential) -> dict:
    return {
        "credential_id": credential.pk,
        "broker": credential.broker,
        "label": credential.label,
    }


def broker_credential_create(
    *,
    user: User,
    broker: str,
    label: str,
    api_key: str = "",
    api_secret: str = "",
    passphrase: str = "",
    request: HttpRequest | None = None,
) -> BrokerCredential:
    """Store a broker's keys, encrypted, as a disconnected credential; recorded without them."""
    if broker not in Broker.values:
        raise ApplicationError("Invalid input.", {"broker": ["Unknown broker."]})
    secrets = {"api_key": api_key, "api_secret": api_secret, "passphrase": passphrase}
    errors = _secret_errors(adapter_for(broker), Broker(broker).label, secrets)
    if errors:
        raise ApplicationError("Invalid input.", errors)
    if _label_taken(user=user, broker=broker, label=label):
        raise _label_error(broker)
    with transaction.atomic():
        credential = BrokerCredential(user=user, broker=broker, label=label)
        for name, value in secrets.items():
            setattr(credential, name, value or None)
        credential.full_clean(validate_constraints=False)
        credential.save()
        activity_record(
            user=user,
            action=ActivityAction.CREDENTIAL_ADDED,
            description=f"{Broker(broker).label} credential “{label}” added",
            details={**_describe(credential), "secrets": [n for n in SECRET_FIELDS if secrets[n]]},
            request=request,
        )
    return credential


def _end_sessions(credential: BrokerCredential) -> BrokerSession | None:
    """Deactivate the credential's active session; return it (the caller holds the lock)."""
    session = BrokerSession.objects.filter(credential=credential, active=True).first()
    if session is not None:
        session.active = False
        session.save(update_fields=["active", "updated_at"])
    return session


def broker_credential_update(
    *, credential: BrokerCredential, data: dict, request: HttpRequest | None = None
) -> BrokerCredential:
    """Rename a credential or replace its secrets (absent or None keeps one, "" clears it).

    New keys end the current session: it was opened with the old ones.
    """
    adapter = adapter_for(credential.broker)
    label = data.get("label", credential.label)
    replaced = [
        name
        for name in SECRET_FIELDS
        if data.get(name) is not None and (data[name] or None) != getattr(credential, name)
    ]
    final = {
        name: data[name] if name in replaced else getattr(credential, name)
        for name in SECRET_FIELDS
    }
    errors = _secret_errors(adapter, credential.get_broker_display(), final)
    if errors:
        raise ApplicationError("Invalid input.", errors)
    if label != credential.label and _label_taken(
        user=credential.user, broker=credential.broker, label=label, exclude_pk=credential.pk
    ):
        raise _label_error(credential.broker)
    if label == credential.label and not replaced:
        return credential
    with transaction.atomic():
        locked = BrokerCredential.objects.select_for_update().get(pk=credential.pk)
        locked.label = label
        for name in replaced:
            setattr(locked, name, final[name] or None)
        if replaced:
            _end_sessions(locked)
            locked.status = CredentialStatus.DISCONNECTED
            locked.last_error = ""
        locked.full_clean(validate_constraints=False)
        locked.save()
        activity_record(
            user=locked.user,
            action=ActivityAction.CREDENTIAL_UPDATED,
            description=(
                f"{locked.get_broker_display()} credential “{label}”: "
                + (
                    f"{', '.join(SECRET_LABELS[n] for n in replaced)} replaced"
                    if replaced
                    else "renamed"
                )
            ),
            details={**_describe(locked), "previous_label": credential.label, "secrets": replaced},
            request=request,
        )
    return locked


def broker_credential_delete(
    *, credential: BrokerCredential, request: HttpRequest | None = None
) -> None:
    """Delete a credential with its sessions; the activity log keeps that it existed."""
    with transaction.atomic():
        activity_record(
            user=credential.user,
            action=ActivityAction.CREDENTIAL_DELETED,
            description=f"{credential} deleted",
            details=_describe(credential),
            request=request,
        )
        credential.delete()


LOGIN_STATE_SALT = "accounts.brokers.login-state"
LOGIN_STATE_MAX_AGE = 15 * 60


def broker_login_state(*, credential: BrokerCredential) -> str:
    """A signed, short-lived token naming the user and credential a broker login is for; the
    callback accepts only its own, so nobody can attach their broker sign-in to another user."""
    return signing.dumps({"u": credential.user_id, "c": credential.pk}, salt=LOGIN_STATE_SALT)


def _connect_failed(
    credential: BrokerCredential, error: str, request: HttpRequest | None
) -> ConnectOutcome:
    with transaction.atomic():
        locked = BrokerCredential.objects.select_for_update().get(pk=credential.pk)
        _end_sessions(locked)
        locked.status = CredentialStatus.ERROR
        locked.last_error = error
        locked.save(update_fields=["status", "last_error", "updated_at"])
        activity_record(
            user=locked.user,
            action=ActivityAction.BROKER_CONNECTED,
            status=ActivityStatus.FAILURE,
            description=f"Connecting {locked} failed: {error}",
            details={**_describe(locked), "error": error},
            request=request,
        )
    return ConnectOutcome(credential=locked, error=error)


def broker_connect(
    *, credential: BrokerCredential, request: HttpRequest | None = None
) -> ConnectOutcome:
    """Connect through the broker's adapter; a refusal is kept as status `error` + last_error.

    The adapter talks to the broker outside any transaction; what it returns is stored under a
    lock on the credential, so two connects at once leave one active session.
    """
    adapter = adapter_for(credential.broker)
    try:
        result = adapter.connect(credential, state=broker_login_state(credential=credential))
    except BrokerError as exc:
        return _connect_failed(
            credential, str(exc) or "The broker refused the connection.", request
        )
    if not result.connected:
        # The trader signs in on the broker's site; its callback finishes the connect.
        return ConnectOutcome(credential=credential, login_url=result.login_url)
    return ConnectOutcome(
        credential=broker_session_open(credential=credential, result=result, request=request)
    )


def broker_connect_complete(
    *,
    credential: BrokerCredential,
    state: str,
    request_token: str,
    request: HttpRequest | None = None,
) -> ConnectOutcome:
    """Finish a connect on the broker's callback: check `state`, exchange the request token."""
    try:
        signed = signing.loads(state, salt=LOGIN_STATE_SALT, max_age=LOGIN_STATE_MAX_AGE)
    except signing.BadSignature as exc:
        raise ApplicationError(
            "This sign-in link has expired or is not yours: connect again from Trading Lab."
        ) from exc
    if signed != {"u": credential.user_id, "c": credential.pk}:
        raise ApplicationError("This sign-in was started for another connection: connect again.")
    if not request_token:
        raise ApplicationError("The broker sent no request token: connect again.")
    try:
        result = adapter_for(credential.broker).complete(credential, request_token)
    except BrokerError as exc:
        return _connect_failed(credential, str(exc) or "The broker refused the sign-in.", request)
    return ConnectOutcome(
        credential=broker_session_open(credential=credential, result=result, request=request)
    )


def broker_session_open(
    *, credential: BrokerCredential, result: SessionResult, request: HttpRequest | None = None
) -> BrokerCredential:
    """Store a connect's tokens as the credential's one active session and mark it connected."""
    now = timezone.now()
    with transaction.atomic():
        locked = BrokerCredential.objects.select_for_update().get(pk=credential.pk)
        _end_sessions(locked)
        BrokerSession.objects.create(
            credential=locked,
            access_token=result.access_token or None,
            refresh_token=result.refresh_token or None,
            expires_at=result.expires_at,
            active=True,
        )
        locked.status = CredentialStatus.CONNECTED
        locked.last_connected_at = now
        locked.last_error = ""
        locked.save(update_fields=["status", "last_connected_at", "last_error", "updated_at"])
        activity_record(
            user=locked.user,
            action=ActivityAction.BROKER_CONNECTED,
            description=f"{locked} connected",
            details={**_describe(locked), "expires_at": result.expires_at, **result.details},
            request=request,
        )
    return locked


def broker_disconnect(
    *, credential: BrokerCredential, request: HttpRequest | None = None
) -> BrokerCredential:
    """End the credential's session (telling the broker where it can) and mark it disconnected."""
    with transaction.atomic():
        locked = BrokerCredential.objects.select_for_update().get(pk=credential.pk)
        session = _end_sessions(locked)
        was = locked.status
        locked.status = CredentialStatus.DISCONNECTED
        locked.last_error = ""
        locked.save(update_fields=["status", "last_error", "updated_at"])
        activity_record(
            user=locked.user,
            action=ActivityAction.BROKER_DISCONNECTED,
            description=f"{locked} disconnected",
            details={**_describe(locked), "previous_status": was},
            request=request,
        )
    try:
        adapter_for(locked.broker).disconnect(locked, session)
    except BrokerError as exc:
        # The session is over on our side either way; the broker's copy lapses on its own.
        logger.warning("Broker %s did not confirm the disconnect: %s", locked.broker, exc)
    return locked


def broker_sessions_expire(*, now: datetime | None = None) -> int:
    """Deactivate sessions past their expiry and mark their credentials expired; return how many.

    The scheduled job runs it; it is safe to run at any time and any number of times at once.
    """
    now = now or timezone.now()
    expired = 0
    due = BrokerSession.objects.filter(active=True, expires_at__lte=now).values_list(
        "credential_id", flat=True
    )
    for credential_id in list(due):
        with transaction.atomic():
            credential = BrokerCredential.objects.select_for_update().get(pk=credential_id)
            session = BrokerSession.objects.filter(
                credential=credential, active=True, expires_at__lte=now
            ).first()
            if session is None:
                continue
            session.active = False
            session.save(update_fields=["active", "updated_at"])
            credential.status = CredentialStatus.EXPIRED
            credential.save(update_fields=["status", "updated_at"])
            expired += 1
    return expired
