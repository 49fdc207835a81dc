"""Reads of the accounts area; each starts from the reader's own rows (`for_user`)."""

from django.db.models import QuerySet

from accounts.models import PersonalApiToken, Preferences, Profile, User


def profile_get(*, user: User) -> Profile:
    """The reader's profile (every user has one from the moment the account exists)."""
    return Profile.objects.for_user(user).get()


def preferences_get(*, user: User) -> Preferences:
    """The reader's preferences (created with the account, like the profile)."""
    return Preferences.objects.for_user(user).get()


def token_list(*, user: User) -> QuerySet[PersonalApiToken]:
    """The reader's personal API tokens, newest first, revoked and expired ones included."""
    return PersonalApiToken.objects.for_user(user).order_by("-created_at", "-pk")
