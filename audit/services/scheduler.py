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
from django.db import IntegrityError, router, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import task_backends
from django_tasks.base import Task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from audit.models import (
    ExecutionStatus,
    Heartbeat,
    HeartbeatKind,
    ScheduledJob,
    SchedulerExecution,
)
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
        name="verify-audit",
        task="audit.tasks.verify_audit",
        interval_seconds=24 * 60 * 60,
        description="Verifies the activity log's hash chain; fails listing any problem.",
    ),
    DefaultSchedule(
        name="prune-task-results",
        task="audit.tasks.prune_task_results",
        interval_seconds=24 * 60 * 60,
        description="Deletes finished task results and dead processes' heartbeats (7 days).",
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
    """One scheduler pass: write the heartbeat, then tick every due job."""
    heartbeat_record(kind=HeartbeatKind.SCHEDULER, instance=instance)
    return scheduler_tick_due(now=now)


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
    """Delete finished task results and heartbeats of gone processes older than 7 days."""
    now = now or timezone.now()
    results, _ = (
        DBTaskResult.objects.finished().filter(finished_at__lt=now - TASK_RESULT_RETENTION).delete()
    )
    heartbeats, _ = Heartbeat.objects.filter(beat_at__lt=now - HEARTBEAT_RETENTION).delete()
    return {"task_results": results, "heartbeats": heartbeats}


def task_backend_is_database() -> bool:
    """Whether the default task backend keeps its queue in this database (queue depth known)."""
    return isinstance(task_backends["default"], DatabaseBackend)
