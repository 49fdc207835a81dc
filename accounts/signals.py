"""Every user has a profile and preferences from the moment the row exists."""

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Preferences, Profile, User


@receiver(post_save, sender=User, dispatch_uid="accounts_user_profile")
def create_profile_and_preferences(
    sender: type, instance: User, created: bool, **kwargs: Any
) -> None:
    if created and not kwargs.get("raw"):
        Profile.objects.get_or_create(user=instance)
        Preferences.objects.get_or_create(user=instance)
