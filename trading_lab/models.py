"""Base classes every domain model builds on: timestamps and owner scoping."""

from typing import Any

from django.db import models


class TimeStampedModel(models.Model):
    """`created_at` and `updated_at` on every domain row (SPEC §3)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class OwnedQuerySet(models.QuerySet):
    """A queryset whose rows belong to a user through the model's `owner_path`.

    `for_user()` is the only door to owned rows in views, serializers, forms, exports and tasks
    (SPEC §2). A user who is not signed in owns nothing.
    """

    def for_user(self, user: Any) -> "OwnedQuerySet":
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(**{self.model.owner_path: user})


class OwnedModel(TimeStampedModel):
    """A user-owned row. Subclasses set `owner_path` (`"user"`, `"portfolio__user"`...)."""

    owner_path = "user"

    objects = OwnedQuerySet.as_manager()

    class Meta:
        abstract = True
