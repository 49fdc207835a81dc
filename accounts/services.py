"""Writes of the accounts area: personal API tokens, profile, preferences and sessions."""

import secrets
from datetime import datetime

from allauth.usersessions.internal.flows.sessions import end_sessions
from allauth.usersessions.models import UserSession
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import PersonalApiToken, Preferences, Profile, User
from audit.models import ActivityAction
from audit.services import activity_record
from trading_lab.exceptions import ApplicationError


def token_create(
    *, user: User, name: str, expires_at: datetime | None = None, request: HttpRequest | None = None
) -> tuple[PersonalApiToken, str]:
    """Create a personal API token; return it with the raw value, which is never shown again."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError("Invalid input.", {"expires_at": ["Must be in the future."]})
    if PersonalApiToken.objects.for_user(user).filter(name=name).exists():
        raise ApplicationError(
            "Invalid input.", {"name": ["You already have a token with this name."]}
        )
    raw = PersonalApiToken.PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = PersonalApiToken(
            user=user,
            name=name,
            token_prefix=raw[:10],
            token_hash=PersonalApiToken.hash_token(raw),
            expires_at=expires_at,
        )
        token.full_clean()
        token.save()
        activity_record(
            user=user,
            action=ActivityAction.TOKEN_CREATED,
            description=f"API token “{name}” created",
            details={"token_id": token.pk, "name": name, "prefix": token.token_prefix},
            request=request,
        )
    return token, raw


def token_revoke(
    *, token: PersonalApiToken, request: HttpRequest | None = None
) -> PersonalApiToken:
    """Revoke a token at once; revoking twice is harmless."""
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at", "updated_at"])
            activity_record(
                user=token.user,
                action=ActivityAction.TOKEN_REVOKED,
                description=f"API token “{token.name}” revoked",
                details={"token_id": token.pk, "name": token.name},
                request=request,
            )
    return token


def _user_settings_update(
    *,
    model: type[Profile] | type[Preferences],
    user: User,
    data: dict,
    action: str,
    request: HttpRequest | None,
):
    """Set the given fields on the user's one row of `model`, validate, save, record the action.

    Nothing is written or recorded when no value changes.
    """
    with transaction.atomic():
        row = model.objects.select_for_update().get(user=user)
        changed = [field for field, value in data.items() if getattr(row, field) != value]
        if changed:
            for field in changed:
                setattr(row, field, data[field])
            row.full_clean()
            row.save()
            activity_record(
                user=user,
                action=action,
                description=f"{model._meta.verbose_name.capitalize()} updated",
                details={"fields": sorted(changed)},
                request=request,
            )
    return row


def profile_update(*, user: User, data: dict, request: HttpRequest | None = None) -> Profile:
    """Change profile fields; validated with the model's rules; recorded when anything changed."""
    return _user_settings_update(
        model=Profile, user=user, data=data, action=ActivityAction.PROFILE_UPDATED, request=request
    )


def preferences_update(
    *, user: User, data: dict, request: HttpRequest | None = None
) -> Preferences:
    """Change preferences; cross-field rules (primary mode enabled...) come back as field errors."""
    return _user_settings_update(
        model=Preferences,
        user=user,
        data=data,
        action=ActivityAction.PREFERENCES_UPDATED,
        request=request,
    )


def user_session_end(*, user: User, session: UserSession, request: HttpRequest) -> None:
    """End one of the user's sign-in sessions; ending the current one signs them out."""
    if session.user_id != user.pk:
        raise ApplicationError("Invalid input.", {"session": ["This is not one of your sessions."]})
    # allauth's flow ends it through accounts.adapters.UserSessionsAdapter, which records it,
    # and signs the user out when it was the current session.
    end_sessions(request, [session])
