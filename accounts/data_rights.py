"""Data rights (SPEC §3 accounts): download everything one owns; delete one's account.

The export and the deletion both start from the same list: every concrete `OwnedModel`
(discovered, so a model added later is exported and deleted the day it lands) plus the rows
allauth keeps for the user. Secrets never leave: encrypted fields are masked (last 4
characters), hashes and MFA secrets are left out.
"""

import logging
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from allauth.account.internal.flows.reauthentication import did_recently_reauthenticate
from allauth.account.models import EmailAddress
from allauth.core import ratelimit
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from auditlog.context import disable_auditlog
from auditlog.models import LogEntry
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models.deletion import ProtectedError
from django.http import HttpRequest
from django.utils import timezone
from django_tasks import task

from accounts.models import User, masked
from audit.models import ActivityAction, ActivityLog, BackgroundJob
from audit.services import activity_record
from audit.services.jobs import JobRun, job_create, job_enqueue, job_task
from trading_lab.encryption import EncryptedTextField
from trading_lab.exceptions import ApplicationError
from trading_lab.exports import plain_decimal
from trading_lab.models import OwnedModel

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "trading-lab-account-export"
EXPORT_VERSION = 1
EXPORT_JOB_TYPE = "account_export"
# Above this many rows the export runs as a background job (a setting can change it).
EXPORT_INLINE_MAX_ROWS = 5000

# Columns that would give away a secret even though they are not the secret itself.
EXPORT_EXCLUDED_FIELDS: dict[str, frozenset[str]] = {
    "accounts.PersonalApiToken": frozenset({"token_hash"}),
}


def owned_models() -> list[type[models.Model]]:
    """Every concrete user-owned model of the project, in a stable order."""
    found = [
        model
        for model in apps.get_models()
        if issubclass(model, OwnedModel) and not model._meta.proxy
    ]
    return sorted(found, key=lambda model: model._meta.label)


def _owned_rows(model: type[models.Model], user: User) -> models.QuerySet:
    return model._default_manager.all().for_user(user).order_by("pk")


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain_decimal(value)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def _row(model: type[models.Model], obj: models.Model) -> dict[str, Any]:
    excluded = EXPORT_EXCLUDED_FIELDS.get(model._meta.label, frozenset())
    row: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.name in excluded:
            continue
        value = field.value_from_object(obj)
        if isinstance(field, EncryptedTextField):
            row[f"{field.name}_masked"] = masked(value)
            continue
        row[field.attname if field.is_relation else field.name] = _json(value)
    if isinstance(obj, BackgroundJob) and obj.job_type == EXPORT_JOB_TYPE:
        # An earlier export's document: it would nest every earlier export in this one.
        row["result"] = None
    return row


def export_row_count(*, user: User) -> int:
    """How many owned rows an export of `user` holds (decides inline or background)."""
    return sum(_owned_rows(model, user).count() for model in owned_models())


def _account_rows(user: User) -> dict[str, Any]:
    """The user row and allauth's rows: addresses, linked sign-ins, MFA, sessions (no secrets)."""
    return {
        "user": {
            "id": user.pk,
            "email": user.email,
            "audit_ref": str(user.audit_ref),
            "date_joined": _json(user.date_joined),
            "last_login": _json(user.last_login),
            "is_active": user.is_active,
        },
        "email_addresses": [
            {"email": a.email, "verified": a.verified, "primary": a.primary}
            for a in EmailAddress.objects.filter(user=user).order_by("pk")
        ],
        "social_accounts": [
            {
                "provider": s.provider,
                "uid": s.uid,
                "date_joined": _json(s.date_joined),
                "last_login": _json(s.last_login),
            }
            for s in SocialAccount.objects.filter(user=user).order_by("pk")
        ],
        "mfa_authenticators": [
            {
                "type": a.type,
                "created_at": _json(a.created_at),
                "last_used_at": _json(a.last_used_at),
            }
            for a in Authenticator.objects.filter(user=user).order_by("pk")
        ],
        "sessions": [
            {
                "ip": s.ip,
                "user_agent": s.user_agent,
                "created_at": _json(s.created_at),
                "last_seen_at": _json(s.last_seen_at),
            }
            for s in UserSession.objects.filter(user=user).order_by("pk")
        ],
    }


def _model_rows(user: User) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for model in owned_models():
        rows = [_row(model, obj) for obj in _owned_rows(model, user).iterator(chunk_size=2000)]
        yield model._meta.label, rows


def export_document(*, user: User, progress=None) -> dict[str, Any]:
    """Every row `user` owns as one JSON-ready document, keyed by model (`app.Model`)."""
    models_ = owned_models()
    data: dict[str, list[dict[str, Any]]] = {}
    for index, (label, rows) in enumerate(_model_rows(user)):
        data[label] = rows
        if progress is not None:
            progress(int(100 * (index + 1) / (len(models_) + 1)), f"Exported {label}.")
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": _json(timezone.now()),
        "account": _account_rows(user),
        "data": data,
        "counts": {label: len(rows) for label, rows in data.items()},
    }


def _export_record(*, user: User, document: dict, background: bool, request=None) -> None:
    rows = sum(document["counts"].values())
    activity_record(
        user=user,
        action=ActivityAction.EXPORT,
        description=f"Downloaded all account data ({rows} rows).",
        details={"kind": "account", "format": "json", "rows": rows, "background": background},
        request=request,
    )


def export_inline_max_rows() -> int:
    return getattr(settings, "ACCOUNT_EXPORT_INLINE_MAX_ROWS", EXPORT_INLINE_MAX_ROWS)


def account_export(
    *, user: User, background: bool = False, request: HttpRequest | None = None
) -> dict[str, Any] | BackgroundJob:
    """The export document, or, for a large account (or when asked), a queued job making it.

    Recorded in the activity log after the rows are read, so the record is not in the file.
    """
    if not background and export_row_count(user=user) <= export_inline_max_rows():
        document = export_document(user=user)
        _export_record(user=user, document=document, background=False, request=request)
        return document
    with transaction.atomic():
        job = job_create(user=user, job_type=EXPORT_JOB_TYPE)
        job_enqueue(job=job, task=account_export_task)
    return job


@task
@job_task
def account_export_task(run: JobRun) -> dict[str, Any]:
    """Build a large account's export in the worker; the document is the job's result."""
    user = run.job.user
    if user is None:
        raise ApplicationError("The account of this export no longer exists.")
    document = export_document(user=user, progress=run.progress)
    _export_record(user=user, document=document, background=True)
    return document


def export_job_document(*, job: BackgroundJob) -> dict[str, Any]:
    """The document of a finished export job (the caller resolved `job` through for_user)."""
    if job.job_type != EXPORT_JOB_TYPE:
        raise ApplicationError("This job is not an account export.")
    if job.status != "succeeded" or not isinstance(job.result, dict):
        raise ApplicationError(f"The export is not ready yet ({job.status}).")
    return job.result


# Deleting ------------------------------------------------------------------------------------


class ReauthenticationRequiredError(ApplicationError):
    """The request did not prove, recently or now, that it comes from the account's owner."""


class TooManyAttemptsError(ApplicationError):
    """Too many wrong passwords or codes in a short time (allauth's `reauthenticate` limit)."""


def reauthentication_check(
    *, request: HttpRequest, user: User, password: str = "", code: str = "", by_token: bool = False
) -> None:
    """Pass when the browser session re-authenticated recently, or when the password (and the
    MFA code, when two-factor is on) given now is right.

    A personal token alone never passes: a leaked token must not be able to delete the
    account. Wrong guesses count against allauth's `reauthenticate` rate limit.
    """
    if not by_token and did_recently_reauthenticate(request):
        return
    if not password:
        raise ReauthenticationRequiredError(
            "Re-authenticate first: confirm your password at /accounts/reauthenticate/, or "
            "send it as `password` (with `code` when two-factor authentication is on).",
            {"password": ["Required to delete the account."]},
        )
    if not ratelimit.consume(request, action="reauthenticate", user=user):
        raise TooManyAttemptsError("Too many attempts; wait a minute and try again.")
    if not user.has_usable_password() or not user.check_password(password):
        raise ApplicationError("Invalid input.", {"password": ["The password is not right."]})
    authenticators = Authenticator.objects.filter(user=user).exclude(
        type=Authenticator.Type.WEBAUTHN
    )
    if authenticators.exists() and not any(
        code and auth.wrap().validate_code(code) for auth in authenticators
    ):
        raise ApplicationError(
            "Invalid input.", {"code": ["Give a current code from your authenticator app."]}
        )


def _deletion_order(owned: list[type[models.Model]]) -> list[type[models.Model]]:
    """Owned models, each after every owned model that points at it with PROTECT."""
    protecting: dict[type[models.Model], set[type[models.Model]]] = {m: set() for m in owned}
    for model in owned:
        for field in model._meta.concrete_fields:
            target = field.related_model if field.is_relation else None
            if (
                target in protecting
                and target is not model
                and field.remote_field.on_delete is models.PROTECT
            ):
                protecting[target].add(model)
    ordered: list[type[models.Model]] = []
    while protecting:
        ready = sorted(
            (m for m, before in protecting.items() if not before - set(ordered)),
            key=lambda m: m._meta.label,
        )
        if not ready:  # a PROTECT cycle: let the user's cascade sort out the rest
            ordered.extend(sorted(protecting, key=lambda m: m._meta.label))
            break
        for model in ready:
            ordered.append(model)
            del protecting[model]
    return ordered


def _history_pseudonymise(*, user: User, pseudonym: str) -> None:
    """Model history keeps its entries, but no longer says who the person was."""
    LogEntry.objects.filter(actor=user).update(actor=None, actor_email="")
    user_type = ContentType.objects.get_for_model(User)
    LogEntry.objects.filter(content_type=user_type, object_pk=str(user.pk)).update(
        object_repr=pseudonym, changes={}, changes_text=""
    )
    for entry in LogEntry.objects.filter(object_repr__icontains=user.email).only(
        "pk", "object_repr"
    ):
        LogEntry.objects.filter(pk=entry.pk).update(
            object_repr=entry.object_repr.replace(user.email, pseudonym)
        )


def account_delete(*, user: User, request: HttpRequest | None = None) -> str:
    """Delete everything `user` owns and the account; end their sessions and tokens.

    Activity rows stay, linked only by the pseudonymous `user_ref`; model history stays
    without the person's address. Returns the pseudonymous id.
    """
    pseudonym = f"deleted-user:{user.audit_ref}"
    with transaction.atomic():
        # Recorded first, with the account still there, so the row carries its user_ref.
        activity_record(
            user=user,
            action=ActivityAction.ACCOUNT_DELETED,
            description="Account deleted at the owner's request.",
            details={"user_ref": str(user.audit_ref)},
            request=request,
        )
        # Every browser signed in as this user is signed out; tokens go with their rows.
        for session in UserSession.objects.filter(user=user):
            session.end()
        try:
            # The deletion itself is not model history: its entries would copy every row.
            with disable_auditlog():
                for model in _deletion_order(owned_models()):
                    if model is ActivityLog:
                        continue  # kept; the user's deletion clears its link
                    _owned_rows(model, user).delete()
                _history_pseudonymise(user=user, pseudonym=pseudonym)
                User.objects.filter(pk=user.pk).delete()
        except ProtectedError as error:
            logger.exception("Account %s could not be deleted.", user.pk)
            raise ApplicationError(
                "Some of your data is still referenced elsewhere; contact support."
            ) from error
    if request is not None and getattr(request, "session", None) is not None:
        # Not logout(): its signal would record a sign-out for a user who no longer exists.
        request.session.flush()
        request.user = AnonymousUser()
    return pseudonym
