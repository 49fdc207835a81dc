"""Dismissed insights: the insight cards a user closed (SPEC §3 accounts, §6 insights)."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import DismissedInsight, User
from audit.models import ActivityAction
from audit.services import activity_record
from trading_lab.exceptions import ApplicationError


def dismissed_insight_list(*, user: User) -> QuerySet[DismissedInsight]:
    """The reader's dismissed insights, most recently dismissed first."""
    return DismissedInsight.objects.for_user(user).order_by("-dismissed_at", "-pk")


def insight_id_check(insight_id: str) -> str:
    """The insight id as stored, or a field error on `insight_id` when it is not a valid id."""
    probe = DismissedInsight(insight_id=insight_id)
    try:
        probe.clean_fields(exclude=["user", "dismissed_at"])
    except ValidationError as error:
        raise ApplicationError(
            "Invalid input.", {"insight_id": error.message_dict["insight_id"]}
        ) from error
    return insight_id


def insights_dismiss(
    *, user: User, insight_ids: Iterable[str], request: HttpRequest | None = None
) -> list[DismissedInsight]:
    """Dismiss insights; an id already dismissed keeps its first time. Recorded when new."""
    ids = list(dict.fromkeys(insight_id_check(insight_id) for insight_id in insight_ids))
    with transaction.atomic():
        existing = {
            row.insight_id: row
            for row in DismissedInsight.objects.for_user(user).filter(insight_id__in=ids)
        }
        now = timezone.now()
        added = []
        for insight_id in ids:
            if insight_id in existing:
                continue
            try:
                # A savepoint: a concurrent dismissal of the same id is not an error.
                with transaction.atomic():
                    row = DismissedInsight.objects.create(
                        user=user, insight_id=insight_id, dismissed_at=now
                    )
            except IntegrityError:
                row = DismissedInsight.objects.for_user(user).get(insight_id=insight_id)
            else:
                added.append(insight_id)
            existing[insight_id] = row
        if added:
            activity_record(
                user=user,
                action=ActivityAction.INSIGHT_DISMISSED,
                description=f"Dismissed {len(added)} insight{'s' if len(added) != 1 else ''}.",
                details={"insight_ids": added},
                request=request,
            )
    return [existing[insight_id] for insight_id in ids]


def insight_dismiss(
    *, user: User, insight_id: str, request: HttpRequest | None = None
) -> tuple[DismissedInsight, bool]:
    """Dismiss one insight; return it and whether it was newly dismissed."""
    before = DismissedInsight.objects.for_user(user).filter(insight_id=insight_id).exists()
    (row,) = insights_dismiss(user=user, insight_ids=[insight_id], request=request)
    return row, not before


def insight_restore(*, user: User, insight_id: str, request: HttpRequest | None = None) -> bool:
    """Show a dismissed insight again; False (and nothing recorded) when it was not dismissed."""
    insight_id_check(insight_id)
    with transaction.atomic():
        deleted, _ = DismissedInsight.objects.for_user(user).filter(insight_id=insight_id).delete()
        if deleted:
            activity_record(
                user=user,
                action=ActivityAction.INSIGHT_RESTORED,
                description=f"Insight “{insight_id}” shown again.",
                details={"insight_id": insight_id},
                request=request,
            )
    return bool(deleted)
