"""The admin's operations page (/admin/operations/): where staff start when something is wrong.

One page: open staff alerts, the latest health sample and a 24-hour chart, jobs by status with
retry and cancel, recent failures with their errors, and the scheduled jobs with "run now".
Every button posts back here and calls the same service as the matching admin action, so the
activity log and model history record it the same way; then it redirects (post/redirect/get).
"""

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from audit.models import (
    BackgroundJob,
    ExecutionStatus,
    HealthSample,
    JobStatus,
    ScheduledJob,
    SchedulerExecution,
    StaffAlert,
)
from audit.services.jobs import job_cancel, job_is_retryable, job_retry
from audit.services.monitoring import health_chart, staff_alert_resolve, staff_alerts_open
from audit.services.scheduler import scheduled_job_run_now
from trading_lab.exceptions import ApplicationError

RECENT = timedelta(hours=24)
FAILURES_SHOWN = 20
# A sample every 5 minutes: none for three periods means the worker is not running them.
SAMPLE_LATE_AFTER = timedelta(minutes=15)


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _post(request: HttpRequest) -> None:
    action = request.POST.get("action", "")
    try:
        target = int(request.POST.get("id", ""))
    except ValueError:
        messages.error(request, "Nothing was selected.")
        return
    try:
        if action == "resolve":
            _require(request, "audit.change_staffalert")
            alert = get_object_or_404(StaffAlert, pk=target)
            staff_alert_resolve(alert=alert, user=request.user, request=request)
            messages.success(request, f"Alert “{alert.title}” resolved.")
        elif action == "retry":
            _require(request, "audit.change_backgroundjob")
            job = get_object_or_404(BackgroundJob, pk=target)
            again = job_retry(job=job, user=request.user, request=request)
            messages.success(request, f"Job #{job.pk} queued again as #{again.pk}.")
        elif action == "cancel":
            _require(request, "audit.change_backgroundjob")
            job = get_object_or_404(BackgroundJob, pk=target)
            job_cancel(job=job, user=request.user, request=request)
            messages.success(request, f"Job #{job.pk} cancelled (or asked to stop).")
        elif action == "run_now":
            _require(request, "audit.change_scheduledjob")
            scheduled = scheduled_job_run_now(job=get_object_or_404(ScheduledJob, pk=target))
            messages.success(request, f"{scheduled.name} will run at the scheduler's next pass.")
        else:
            messages.error(request, "Unknown action.")
    except ApplicationError as exc:
        messages.error(request, exc.message)


def operations_view(request: HttpRequest) -> HttpResponse:
    # What the page shows is what the job admin shows: staff without that view right see nothing.
    _require(request, "audit.view_backgroundjob")
    if request.method == "POST":
        _post(request)
        return HttpResponseRedirect(reverse("admin:operations"))
    now = timezone.now()
    since = now - RECENT
    counts = dict(BackgroundJob.objects.values_list("status").annotate(n=Count("pk")).order_by())
    job_statuses = [
        {
            "value": value,
            "label": label,
            "count": counts.get(value, 0),
            "url": f"{reverse('admin:audit_backgroundjob_changelist')}?status__exact={value}",
        }
        for value, label in JobStatus.choices
    ]
    failed_jobs = list(
        BackgroundJob.objects.filter(status=JobStatus.FAILED, finished_at__gte=since)
        .select_related("user")
        .order_by("-finished_at")[:FAILURES_SHOWN]
    )
    for job in failed_jobs:
        job.retryable = job_is_retryable(job)
    active_jobs = list(
        BackgroundJob.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .select_related("user")
        .order_by("created_at")[:FAILURES_SHOWN]
    )
    failed_runs = list(
        SchedulerExecution.objects.filter(status=ExecutionStatus.FAILED, finished_at__gte=since)
        .select_related("job")
        .order_by("-finished_at")[:FAILURES_SHOWN]
    )
    scheduled = list(ScheduledJob.objects.order_by("name"))
    latest = HealthSample.objects.order_by("-recorded_at").first()
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": "Operations",
        "alerts": staff_alerts_open(),
        "latest": latest,
        "sample_late": latest is None or now - latest.recorded_at > SAMPLE_LATE_AFTER,
        "chart": health_chart(now=now),
        "job_statuses": job_statuses,
        "failed_jobs": failed_jobs,
        "active_jobs": active_jobs,
        "failed_runs": failed_runs,
        "scheduled": scheduled,
        "can_change_jobs": request.user.has_perm("audit.change_backgroundjob"),
        "can_run_scheduled": request.user.has_perm("audit.change_scheduledjob"),
        "can_resolve": request.user.has_perm("audit.change_staffalert"),
    }
    return TemplateResponse(request, "admin/operations.html", context)
