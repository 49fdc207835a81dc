"""Reads of the audit area; each starts from the reader's own rows (`for_user`)."""

from datetime import datetime

from django.db.models import QuerySet

from accounts.models import User
from audit.models import ActivityLog, BackgroundJob


def activity_list(
    *,
    user: User,
    action: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[ActivityLog]:
    """The reader's activity, newest first, optionally narrowed by action, status and time."""
    rows = ActivityLog.objects.for_user(user)
    if action:
        rows = rows.filter(action=action)
    if status:
        rows = rows.filter(status=status)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return rows.order_by("-seq")


def job_list(
    *, user: User, status: str | None = None, job_type: str | None = None
) -> QuerySet[BackgroundJob]:
    """The reader's background jobs, newest first; system jobs (no user) are never included."""
    jobs = BackgroundJob.objects.for_user(user)
    if status:
        jobs = jobs.filter(status=status)
    if job_type:
        jobs = jobs.filter(job_type=job_type)
    return jobs.order_by("-created_at", "-pk")
