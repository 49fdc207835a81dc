"""Receivers that turn sign-in and account events into activity log rows.

Sources: django-allauth's account and MFA signals, and django.contrib.auth's for sign-out and
failed sign-in (allauth authenticates through `django.contrib.auth.authenticate`). Ending a
session has no signal (allauth's only hook is `USERSESSIONS_ADAPTER.end_sessions`): the
service that ends it, `accounts.services.user_session_end`, records it.

Rows outlive the account (only the pseudonymous `user_ref` stays), so no row carries an email
address, a password, a code or a secret: only what happened, how, and from where.
"""

from typing import Any

from allauth.account import signals as account_signals
from allauth.account.authentication import get_authentication_records
from allauth.account.utils import filter_users_by_email
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver
from django.http import HttpRequest

from audit.models import ActivityAction, ActivityStatus
from audit.services import activity_record

MFA_ADDED = {
    Authenticator.Type.TOTP: "Authenticator app (TOTP) activated",
    Authenticator.Type.RECOVERY_CODES: "Recovery codes generated",
    Authenticator.Type.WEBAUTHN: "Security key added",
}
MFA_REMOVED = {
    Authenticator.Type.TOTP: "Authenticator app (TOTP) deactivated",
    Authenticator.Type.RECOVERY_CODES: "Recovery codes removed",
    Authenticator.Type.WEBAUTHN: "Security key removed",
}


def _methods(request: HttpRequest | None, user: Any) -> list[str]:
    """How the user proved who they are in this sign-in (password, mfa, socialaccount...)."""
    if request is None or not hasattr(request, "session"):
        return []
    # Records also hold the email typed in; keep only the method names.
    return [
        str(record["method"])
        for record in get_authentication_records(request, user)
        if isinstance(record, dict) and record.get("method")
    ]


@receiver(account_signals.user_signed_up, dispatch_uid="audit_signed_up")
def on_signed_up(sender: type, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    sociallogin = kwargs.get("sociallogin")
    provider = sociallogin.account.provider if sociallogin is not None else None
    activity_record(
        user=user,
        action=ActivityAction.SIGNUP,
        description=f"Signed up with {provider}" if provider else "Signed up",
        details={"method": "socialaccount" if provider else "password", "provider": provider},
        request=request,
    )


@receiver(account_signals.user_logged_in, dispatch_uid="audit_logged_in")
def on_logged_in(sender: type, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    # allauth's signal, not Django's: it fires once the whole login (MFA included) is done,
    # through every door (pages, admin, headless), and not for tests' force_login.
    methods = _methods(request, user)
    activity_record(
        user=user,
        action=ActivityAction.SIGN_IN,
        description="Signed in",
        details={"methods": methods},
        request=request,
    )


@receiver(auth_signals.user_login_failed, dispatch_uid="audit_login_failed")
def on_login_failed(
    sender: str, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Only the login name is read from `credentials`, to find whose account it was; the
    # password attempted never leaves this function (nor does the name: it may be a stranger's).
    login = credentials.get("email") or credentials.get("username") or ""
    users = filter_users_by_email(login) if "@" in str(login) else []
    user = users[0] if len(users) == 1 else None
    activity_record(
        user=user,
        action=ActivityAction.SIGN_IN_FAILED,
        status=ActivityStatus.FAILURE,
        description="Failed sign-in: wrong email or password",
        details={"method": "password", "known_account": user is not None},
        request=request,
    )


@receiver(mfa_signals.authentication_failed, dispatch_uid="audit_mfa_failed")
def on_mfa_failed(
    sender: type, request: HttpRequest, user: Any, authenticator: Authenticator, **kwargs: Any
) -> None:
    reauthentication = bool(kwargs.get("reauthentication"))
    activity_record(
        user=user,
        action=ActivityAction.SIGN_IN_FAILED,
        status=ActivityStatus.FAILURE,
        description="Failed re-authentication: wrong MFA code"
        if reauthentication
        else "Failed sign-in: wrong MFA code",
        details={
            "method": "mfa",
            "authenticator": authenticator.type,
            "reauthentication": reauthentication,
        },
        request=request,
    )


@receiver(auth_signals.user_logged_out, dispatch_uid="audit_logged_out")
def on_logged_out(
    sender: type, request: HttpRequest | None, user: Any = None, **kwargs: Any
) -> None:
    if user is None:
        return
    activity_record(
        user=user, action=ActivityAction.SIGN_OUT, description="Signed out", request=request
    )


@receiver(account_signals.password_changed, dispatch_uid="audit_password_changed")
def on_password_changed(sender: type, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    activity_record(
        user=user,
        action=ActivityAction.PASSWORD_CHANGE,
        description="Password changed",
        details={"event": "changed"},
        request=request,
    )


@receiver(account_signals.password_set, dispatch_uid="audit_password_set")
def on_password_set(sender: type, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    activity_record(
        user=user,
        action=ActivityAction.PASSWORD_CHANGE,
        description="Password set",
        details={"event": "set"},
        request=request,
    )


@receiver(account_signals.password_reset, dispatch_uid="audit_password_reset")
def on_password_reset(sender: type, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    activity_record(
        user=user,
        action=ActivityAction.PASSWORD_RESET,
        description="Password reset by email link",
        request=request,
    )


def _email_event(request: HttpRequest, user: Any, event: str, description: str) -> None:
    activity_record(
        user=user,
        action=ActivityAction.EMAIL_CHANGE,
        description=description,
        details={"event": event},
        request=request,
    )


@receiver(account_signals.email_added, dispatch_uid="audit_email_added")
def on_email_added(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    _email_event(request, user, "added", "Email address added")


@receiver(account_signals.email_removed, dispatch_uid="audit_email_removed")
def on_email_removed(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    _email_event(request, user, "removed", "Email address removed")


@receiver(account_signals.email_changed, dispatch_uid="audit_email_changed")
def on_email_changed(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    _email_event(request, user, "primary_changed", "Primary email address changed")


@receiver(account_signals.email_confirmed, dispatch_uid="audit_email_confirmed")
def on_email_confirmed(
    sender: Any, request: HttpRequest, email_address: Any, **kwargs: Any
) -> None:
    _email_event(request, email_address.user, "confirmed", "Email address confirmed")


def _mfa_event(
    request: HttpRequest, user: Any, authenticator: Authenticator, event: str, description: str
) -> None:
    # Never `authenticator.data`: it holds the secret and the recovery-code seed.
    activity_record(
        user=user,
        action=ActivityAction.MFA_CHANGE,
        description=description,
        details={"event": event, "authenticator": authenticator.type},
        request=request,
    )


@receiver(mfa_signals.authenticator_added, dispatch_uid="audit_mfa_added")
def on_authenticator_added(
    sender: type, request: HttpRequest, user: Any, authenticator: Authenticator, **kwargs: Any
) -> None:
    description = MFA_ADDED.get(authenticator.type, "Authenticator added")
    _mfa_event(request, user, authenticator, "added", description)


@receiver(mfa_signals.authenticator_removed, dispatch_uid="audit_mfa_removed")
def on_authenticator_removed(
    sender: type, request: HttpRequest, user: Any, authenticator: Authenticator, **kwargs: Any
) -> None:
    description = MFA_REMOVED.get(authenticator.type, "Authenticator removed")
    _mfa_event(request, user, authenticator, "removed", description)


@receiver(mfa_signals.authenticator_reset, dispatch_uid="audit_mfa_reset")
def on_authenticator_reset(
    sender: type, request: HttpRequest, user: Any, authenticator: Authenticator, **kwargs: Any
) -> None:
    _mfa_event(request, user, authenticator, "reset", "Recovery codes regenerated")
