"""The scheduler: ticks of due scheduled jobs, their runs on the worker, heartbeats, defaults.

A tick happens in one transaction per job: lock the job row (`SKIP LOCKED`, so a second
scheduler moves on to other jobs instead of waiting), create the execution for
(job, next_run_at) — unique, so a tick exists at most once —, move next_run_at past now, and
enqueue the run. With the database task backend the task row is written in that same
transaction, so a tick and its enqueue commit or roll back together.
"""

import inspect
import logging
import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, router, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import task_backends
from django_tasks.base import Task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from audit.models import (
    BackgroundJob,
    ExecutionStatus,
    Heartbeat,
    HeartbeatKind,
    JobStatus,
    ScheduledJob,
    SchedulerExecution,
)
from audit.services.config import config_get
from trading_lab.exceptions import ApplicationError

logger = logging.getLogger(__name__)

ERROR_DETAILS_MAX = 10_000
TASK_RESULT_RETENTION = timedelta(days=7)
HEARTBEAT_RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    interval_seconds: int
    description: str


DEFAULT_SCHEDULES = (
    DefaultSchedule(
        name="worker-heartbeat",
        task="audit.tasks.worker_heartbeat",
        interval_seconds=30,
        description="Writes the worker heartbeat, proving a worker consumes the queue.",
    ),
    DefaultSchedule(
        name="record-health",
        task="audit.tasks.record_health",
        interval_seconds=5 * 60,
        description="Records a health sample for the admin's chart; alerts staff while unhealthy.",
    ),
    DefaultSchedule(
        name="verify-audit",
        task="audit.tasks.verify_audit",
        interval_seconds=24 * 60 * 60,
        description="Verifies the activity log's chain; alerts staff and fails on any problem.",
    ),
    DefaultSchedule(
        name="prune-task-results",
        task="audit.tasks.prune_task_results",
        interval_seconds=24 * 60 * 60,
        description="Deletes old task results, heartbeats and finished jobs (7 days), runs (30).",
    ),
    DefaultSchedule(
        name="reclaim-stale-work",
        task="audit.tasks.reclaim_stale_work",
        interval_seconds=5 * 60,
        description="Fails jobs and scheduled runs whose worker died (silent too long).",
    ),
    DefaultSchedule(
        name="prune-activity",
        task="audit.tasks.prune_activity",
        interval_seconds=24 * 60 * 60,
        description="Archives activity rows past retention (gzip JSON lines), then deletes them.",
    ),
    DefaultSchedule(
        name="prune-history",
        task="audit.tasks.prune_history",
        interval_seconds=24 * 60 * 60,
        description="Flushes model history older than HISTORY_RETENTION_DAYS (auditlogflush).",
    ),
    DefaultSchedule(
        name="backup",
        task="audit.tasks.backup_database",
        interval_seconds=24 * 60 * 60,
        description="Backs the database up into BACKUP_DIR and rotates old copies.",
    ),
    DefaultSchedule(
        name="propose-dividends",
        task="portfolio.tasks.propose_dividends",
        interval_seconds=24 * 60 * 60,
        description="Proposes pending dividends from price-bar dividend data (idempotent).",
    ),
    DefaultSchedule(
        name="expire-broker-sessions",
        task="accounts.tasks.expire_broker_sessions",
        interval_seconds=5 * 60,
        description="Deactivates broker sessions past their expiry (Kite: 06:00 IST) and marks "
        "their credentials expired.",
    ),
)


def process_instance() -> str:
    """This process's name in heartbeats: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def heartbeat_record(*, kind: str, instance: str | None = None) -> Heartbeat:
    """Write the sign of life of this worker or scheduler process (one row per process)."""
    heartbeat, _ = Heartbeat.objects.update_or_create(
        kind=kind,
        instance=instance or process_instance(),
        defaults={"beat_at": timezone.now()},
    )
    return heartbeat


def scheduled_jobs_ensure_defaults() -> list[ScheduledJob]:
    """Create the default schedules that are missing; never touch ones staff have edited."""
    now = timezone.now()
    jobs = []
    for default in DEFAULT_SCHEDULES:
        job, _ = ScheduledJob.objects.get_or_create(
            name=default.name,
            defaults={
                "task": default.task,
                "interval_seconds": default.interval_seconds,
                "description": default.description,
                "next_run_at": now,
            },
        )
        jobs.append(job)
    return jobs


def scheduled_job_run_now(*, job: ScheduledJob, now: datetime | None = None) -> ScheduledJob:
    """Make `job` due at the scheduler's next pass (its interval then continues from there)."""
    job.next_run_at = now or timezone.now()
    # save(), not update(): the change lands in the scheduled job's model history.
    job.save(update_fields=["next_run_at", "updated_at"])
    return job


def scheduled_task_resolve(*, path: str, kwargs: dict[str, Any] | None = None) -> Callable:
    """The callable a scheduled job names, checked: in an installed app's `tasks` module,
    a django-tasks task (without context) or a plain function accepting `kwargs`.

    Raises ApplicationError with a `task` or `kwargs` field error otherwise.
    """

    def refuse(message: str, field: str = "task") -> ApplicationError:
        return ApplicationError(message, {field: [message]})

    module_path, _, name = (path or "").rpartition(".")
    task_modules = {f"{config.name}.tasks" for config in apps.get_app_configs()}
    # Staff type this path: only task modules are reachable, never os.system and the like.
    if not name or module_path not in task_modules:
        raise refuse(f"“{path}” is not in the tasks module of an installed app.")
    try:
        target = import_string(path)
    except ImportError as exc:
        raise refuse(f"“{path}” cannot be imported.") from exc
    if isinstance(target, Task):
        if target.takes_context:
            raise refuse(f"“{path}” takes a task context and cannot be scheduled.")
        func, call = target.func, target.call
    elif inspect.isfunction(target):
        func = call = target
    else:
        raise refuse(f"“{path}” is neither a task nor a function.")
    try:
        inspect.signature(func).bind(**(kwargs or {}))
    except TypeError as exc:
        raise refuse(f"“{path}” does not accept these arguments: {exc}.", "kwargs") from exc
    return call


def _enqueue_execution(execution: SchedulerExecution) -> None:
    from audit.tasks import run_scheduled_execution

    backend = run_scheduled_execution.get_backend()
    same_database = isinstance(backend, DatabaseBackend) and router.db_for_write(
        DBTaskResult
    ) == router.db_for_write(SchedulerExecution)
    if same_database:
        result = run_scheduled_execution.enqueue(execution_id=execution.pk)
        execution.task_result_id = str(result.id)
        execution.save(update_fields=["task_result_id"])
        return

    # Any other backend (a broker, the immediate backend) lives outside this transaction:
    # enqueue once the tick is committed, or the worker could look for an execution that
    # does not exist yet.
    execution_id = execution.pk

    def enqueue() -> None:
        result = run_scheduled_execution.enqueue(execution_id=execution_id)
        SchedulerExecution.objects.filter(pk=execution_id).update(task_result_id=str(result.id))

    transaction.on_commit(enqueue)


def _tick(job: ScheduledJob, now: datetime) -> SchedulerExecution | None:
    """Inside the caller's transaction, with `job` locked: create its execution, advance it."""
    scheduled_for = job.next_run_at
    interval = timedelta(seconds=job.interval_seconds)
    slots_due = (now - scheduled_for) // interval + 1
    next_run_at = scheduled_for + slots_due * interval
    ScheduledJob.objects.filter(pk=job.pk).update(
        next_run_at=next_run_at, updated_at=timezone.now()
    )
    if SchedulerExecution.objects.filter(job=job, scheduled_for=scheduled_for).exists():
        # Staff moved next_run_at back onto a tick that already ran: never run a tick twice.
        return None
    execution = SchedulerExecution.objects.create(
        job=job, scheduled_for=scheduled_for, skipped_runs=slots_due - 1
    )
    _enqueue_execution(execution)
    return execution


def scheduler_tick_due(*, now: datetime | None = None) -> list[SchedulerExecution]:
    """Tick every enabled job due at `now` (default: the current time), one transaction each."""
    executions: list[SchedulerExecution] = []
    seen: set[int] = set()
    while True:
        tick_now = now or timezone.now()
        try:
            with transaction.atomic():
                job = (
                    ScheduledJob.objects.select_for_update(skip_locked=True)
                    .filter(enabled=True, next_run_at__lte=tick_now)
                    .exclude(pk__in=seen)
                    .order_by("next_run_at", "pk")
                    .first()
                )
                if job is None:
                    return executions
                seen.add(job.pk)
                execution = _tick(job, tick_now)
        except IntegrityError:
            # The unique (job, scheduled_for) is the last line of defence if two schedulers
            # ever met on one tick: this one rolls back its whole tick, enqueue included.
            logger.warning("Tick of scheduled job %s already exists; skipped.", job.pk)
            continue
        if execution is not None:
            executions.append(execution)


def scheduler_pass(
    *, instance: str | None = None, now: datetime | None = None
) -> list[SchedulerExecution]:
    """One scheduler pass: write the heartbeat, then tick every due job and every due bot."""
    from bots.services.runner import bot_ticks_enqueue_due

    heartbeat_record(kind=HeartbeatKind.SCHEDULER, instance=instance)
    executions = scheduler_tick_due(now=now)
    bot_ticks_enqueue_due(now=now)
    return executions


def _error_details(exc: BaseException) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    return "".join(traceback.format_exception(exc))[-ERROR_DETAILS_MAX:]


def scheduled_execution_run(*, execution_id: int) -> SchedulerExecution | None:
    """Run one execution's job on this worker and record how it went; a repeat does nothing."""
    started_at = timezone.now()
    claimed = SchedulerExecution.objects.filter(
        pk=execution_id, status=ExecutionStatus.QUEUED
    ).update(status=ExecutionStatus.RUNNING, started_at=started_at, updated_at=started_at)
    if not claimed:
        logger.info("Execution %s is not queued (a duplicate delivery?); skipped.", execution_id)
        return None
    execution = SchedulerExecution.objects.select_related("job").get(pk=execution_id)
    job = execution.job
    ScheduledJob.objects.filter(pk=job.pk).update(last_run_at=started_at)
    clock = time.monotonic()
    try:
        call = scheduled_task_resolve(path=job.task, kwargs=job.kwargs)
        call(**job.kwargs)
    except BaseException as exc:
        _finish(execution, clock, success=False, error_details=_error_details(exc))
        # Re-raised so the task backend records and logs the failure as well.
        raise
    _finish(execution, clock, success=True, error_details="")
    return execution


def _finish(
    execution: SchedulerExecution, clock: float, *, success: bool, error_details: str
) -> None:
    execution.finished_at = timezone.now()
    execution.duration = timedelta(seconds=time.monotonic() - clock)
    execution.success = success
    execution.status = ExecutionStatus.SUCCEEDED if success else ExecutionStatus.FAILED
    execution.error_details = error_details
    execution.save(
        update_fields=[
            "finished_at",
            "duration",
            "success",
            "status",
            "error_details",
            "updated_at",
        ]
    )


def task_results_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Delete what background work leaves behind once it is old.

    Finished task results and heartbeats of gone processes after 7 days; finished background
    jobs and the scheduler's executions after their periods in the system configuration (7 and
    30 days by default). Running and queued work is never touched.
    """
    now = now or timezone.now()
    results, _ = (
        DBTaskResult.objects.finished().filter(finished_at__lt=now - TASK_RESULT_RETENTION).delete()
    )
    heartbeats, _ = Heartbeat.objects.filter(beat_at__lt=now - HEARTBEAT_RETENTION).delete()
    jobs_kept = timedelta(days=config_get("retention.finished_jobs_days"))
    runs_kept = timedelta(days=config_get("retention.scheduler_runs_days"))
    jobs, _ = BackgroundJob.objects.filter(
        status__in=BackgroundJob.FINISHED, finished_at__lt=now - jobs_kept
    ).delete()
    executions, _ = SchedulerExecution.objects.filter(finished_at__lt=now - runs_kept).delete()
    return {
        "task_results": results,
        "heartbeats": heartbeats,
        "jobs": jobs,
        "executions": executions,
    }


def task_backend_is_database() -> bool:
    """Whether the default task backend keeps its queue in this database (queue depth known)."""
    return isinstance(task_backends["default"], DatabaseBackend)


def stale_work_reclaim(*, now: datetime | None = None) -> dict[str, int]:
    """Mark failed the running jobs and scheduled runs that went silent (their worker died).

    A worker killed mid-task leaves its row `running` for ever; without this the progress bar of
    a user's import or backtest would spin on. A job counts as silent when its last progress
    report (`updated_at`) is older than `WORK_STALE_AFTER`; a scheduled run when it started that
    long ago. If the worker was only slow, its next progress report finds the job no longer
    running and stops (`JobCancelled`), so a reclaimed job never finishes twice.
    """
    now = now or timezone.now()
    cutoff = now - settings.WORK_STALE_AFTER
    minutes = int(settings.WORK_STALE_AFTER.total_seconds() // 60)
    error = f"The worker stopped while running this (no report for {minutes} minutes)."
    jobs = BackgroundJob.objects.filter(status=JobStatus.RUNNING, updated_at__lt=cutoff).update(
        status=JobStatus.FAILED, error=error, message=error, finished_at=now, updated_at=now
    )
    executions = SchedulerExecution.objects.filter(
        status=ExecutionStatus.RUNNING, started_at__lt=cutoff
    ).update(
        status=ExecutionStatus.FAILED,
        success=False,
        error_details=error,
        finished_at=now,
        updated_at=now,
    )
    if jobs or executions:
        logger.warning("Reclaimed %s stale jobs and %s stale scheduled runs.", jobs, executions)
    return {"jobs": jobs, "executions": executions}
