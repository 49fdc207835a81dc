"""Background jobs: create and enqueue on the web side, claim, progress and finish on the worker.

Every state change is a conditional UPDATE on `status`, so two workers handed the same job (a
duplicate delivery, a retry) cannot both run it, and a finished job never changes again.
"""

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks.base import Task

from audit.models import ActivityAction, BackgroundJob, JobStatus
from audit.services.activity import activity_record
from trading_lab.exceptions import ApplicationError

logger = logging.getLogger(__name__)

MESSAGE_MAX = BackgroundJob._meta.get_field("message").max_length
ERROR_MAX = 10_000
UNEXPECTED_FAILURE = "The job failed unexpectedly."


class JobCancelled(Exception):  # noqa: N818 (a request to stop, not an error)
    """Raised at a progress check when the job was asked to stop; the runner ends it cancelled."""


def _json_safe(value: Any) -> Any:
    # Decimals, dates and UUIDs become strings exactly as the API renders them.
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def job_create(*, user: Any, job_type: str, params: dict[str, Any] | None = None) -> BackgroundJob:
    """Create a queued job for `user` (None for system jobs); enqueue it with `job_enqueue`."""
    if not job_type or len(job_type) > BackgroundJob._meta.get_field("job_type").max_length:
        message = "A job needs a type of at most 64 characters."
        raise ApplicationError(message, {"job_type": [message]})
    owner = user if getattr(user, "is_authenticated", False) else None
    return BackgroundJob.objects.create(
        user=owner, job_type=job_type, params=_json_safe(params or {}), status=JobStatus.QUEUED
    )


def job_enqueue(*, job: BackgroundJob, task: Task) -> None:
    """Enqueue `task(job_id=...)` once the current transaction commits; keep its result id."""
    if not isinstance(task, Task):
        raise TypeError("job_enqueue needs a django-tasks Task (decorate the function with @task).")
    if job.status != JobStatus.QUEUED:
        raise ApplicationError(f"Only a queued job can be enqueued; this one is {job.status}.")
    job_id = job.pk

    def enqueue() -> None:
        try:
            result = task.enqueue(job_id=job_id)
        except Exception:
            logger.exception("Could not enqueue job %s (%s).", job_id, task.module_path)
            job_fail(job_id=job_id, error="The task backend refused the job.")
            return
        BackgroundJob.objects.filter(pk=job_id).update(task_result_id=str(result.id)[:64])

    # After commit: a worker must never pick up a job whose row it cannot see yet.
    transaction.on_commit(enqueue)


def job_claim(*, job_id: int) -> BackgroundJob | None:
    """Mark a queued job running (queued→running, one winner); None when it is not queued."""
    now = timezone.now()
    claimed = BackgroundJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=now, updated_at=now
    )
    if not claimed:
        return None
    return BackgroundJob.objects.select_related("user").get(pk=job_id)


def job_progress(*, job_id: int, percent: int, message: str = "") -> None:
    """Record how far a running job got; raise JobCancelled if it was asked to stop."""
    if not 0 <= percent <= 100:
        raise ValueError(f"Progress is a percentage from 0 to 100, not {percent}.")
    updated = BackgroundJob.objects.filter(
        pk=job_id, status=JobStatus.RUNNING, cancel_requested_at__isnull=True
    ).update(progress=percent, message=message[:MESSAGE_MAX], updated_at=timezone.now())
    if not updated:
        # Cancel requested, or the job no longer runs (cancelled or failed by someone else):
        # either way the task must stop doing work.
        raise JobCancelled(f"Job {job_id} was asked to stop.")


def job_succeed(*, job_id: int, result: Any = None, message: str = "") -> bool:
    """End a running job as succeeded with its result; False if it was not running."""
    now = timezone.now()
    return bool(
        BackgroundJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
            status=JobStatus.SUCCEEDED,
            progress=100,
            result=_json_safe(result),
            message=message[:MESSAGE_MAX],
            finished_at=now,
            updated_at=now,
        )
    )


def job_fail(*, job_id: int, error: str, message: str = "") -> bool:
    """End a queued or running job as failed, keeping the error; False if it had finished."""
    now = timezone.now()
    return bool(
        BackgroundJob.objects.filter(
            pk=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).update(
            status=JobStatus.FAILED,
            error=error[:ERROR_MAX],
            message=(message or error)[:MESSAGE_MAX],
            finished_at=now,
            updated_at=now,
        )
    )


def job_cancel(
    *, job: BackgroundJob, user: Any = None, request: HttpRequest | None = None
) -> BackgroundJob:
    """Cancel a queued job at once, or ask a running one to stop at its next progress check.

    The caller has already resolved `job` through `for_user()`; `user` (the person cancelling)
    gets an activity log row.
    """
    now = timezone.now()
    with transaction.atomic():
        cancelled = BackgroundJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED,
            message="Cancelled before it started.",
            finished_at=now,
            updated_at=now,
        )
        requested = cancelled or BackgroundJob.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING, cancel_requested_at__isnull=True
        ).update(cancel_requested_at=now, updated_at=now)
        job.refresh_from_db()
        if not requested:
            if job.status == JobStatus.RUNNING:
                return job
            raise ApplicationError(f"This job has already finished ({job.status}).")
        if getattr(user, "is_authenticated", False):
            activity_record(
                user=user,
                action=ActivityAction.JOB_CANCELLED,
                description=f"Cancelled job {job.job_type} #{job.pk}.",
                details={
                    "job_id": job.pk,
                    "job_type": job.job_type,
                    "was": JobStatus.QUEUED if cancelled else JobStatus.RUNNING,
                },
                request=request,
            )
    return job


# Job types staff may retry, and the task that runs each. A retry is a new job with the same
# owner and parameters: safe for these because each is all-or-nothing (an import that failed
# wrote nothing; its external ids make a second success impossible) or idempotent (a refresh
# upserts bars). Backtests are not here: their row belongs to one job; re-run them from a copy.
RETRYABLE_JOB_TASKS: dict[str, str] = {
    "import": "portfolio.services.imports.transactions_import_task",
    "refresh_prices": "portfolio.tasks.refresh_prices",
}


def job_is_retryable(job: BackgroundJob) -> bool:
    return job.job_type in RETRYABLE_JOB_TASKS and job.status in (
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    )


def job_retry(
    *, job: BackgroundJob, user: Any = None, request: HttpRequest | None = None
) -> BackgroundJob:
    """Queue a new job with the same type, owner and parameters as a failed or cancelled one."""
    if job.job_type not in RETRYABLE_JOB_TASKS:
        raise ApplicationError(f"Jobs of type {job.job_type} cannot be retried from here.")
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise ApplicationError(
            f"Only a failed or cancelled job can be retried; this one is {job.status}."
        )
    task = import_string(RETRYABLE_JOB_TASKS[job.job_type])
    with transaction.atomic():
        again = job_create(user=job.user, job_type=job.job_type, params=job.params)
        job_enqueue(job=again, task=task)
        if getattr(user, "is_authenticated", False):
            activity_record(
                user=user,
                action=ActivityAction.JOB_RETRIED,
                description=f"Retried job {job.job_type} #{job.pk} as #{again.pk}.",
                details={"job_id": job.pk, "job_type": job.job_type, "new_job_id": again.pk},
                request=request,
            )
    return again


def _failure_text(exc: BaseException) -> tuple[str, str]:
    """(error kept on the job, message shown to its owner) for an exception a job raised."""
    if isinstance(exc, ApplicationError):
        return exc.message, exc.message
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return "The worker stopped while the job was running.", "Interrupted; please retry."
    # The exception text can hold internals: keep it for staff, show the owner a plain line.
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}", UNEXPECTED_FAILURE


@dataclass(frozen=True)
class JobRun:
    """What a job task's body gets: its job row and a way to report progress."""

    job: BackgroundJob

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    def progress(self, percent: int, message: str = "") -> None:
        job_progress(job_id=self.job.pk, percent=percent, message=message)


def job_run(*, job_id: int, body: Callable[[JobRun], Any]) -> None:
    """Claim the job, run `body`, and end the job succeeded, failed (error kept) or cancelled."""
    job = job_claim(job_id=job_id)
    if job is None:
        logger.info("Job %s is not queued (cancelled, or another worker has it); skipped.", job_id)
        return
    try:
        result = body(JobRun(job=job))
    except JobCancelled:
        now = timezone.now()
        BackgroundJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
            status=JobStatus.CANCELLED, message="Cancelled.", finished_at=now, updated_at=now
        )
        return
    except BaseException as exc:
        error, message = _failure_text(exc)
        job_fail(job_id=job_id, error=error, message=message)
        # Re-raised so the task backend records the failure and logs the traceback too.
        raise
    job_succeed(job_id=job_id, result=result)


def job_task(body: Callable[[JobRun], Any]) -> Callable[[int], None]:
    """Turn `body(run: JobRun)` into a task function taking `job_id`; put `@task` above it.

    @task
    @job_task
    def portfolio_import(run: JobRun) -> dict: ...

    job_enqueue(job=job_create(user=user, job_type="import", params=...), task=portfolio_import)
    """

    @functools.wraps(body)
    def run_job(job_id: int) -> None:
        job_run(job_id=job_id, body=body)

    return run_job
