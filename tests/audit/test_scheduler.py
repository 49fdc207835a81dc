"""The scheduler: one execution per tick, missed slots skipped, heartbeat, defaults, the run
of an execution on the worker side (called in-process here; the real worker is in
test_worker.py), and the housekeeping task.

Two schedulers at once on PostgreSQL are in test_scheduler_concurrency.py.
"""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from audit.models import (
    ActivityAction,
    ActivityLog,
    BackgroundJob,
    ExecutionStatus,
    Heartbeat,
    HeartbeatKind,
    ScheduledJob,
    SchedulerExecution,
)
from audit.services.activity import activity_record
from audit.services.jobs import job_claim, job_create, job_succeed
from audit.services.scheduler import (
    DEFAULT_SCHEDULES,
    process_instance,
    scheduled_jobs_ensure_defaults,
    scheduled_task_resolve,
    scheduler_pass,
    scheduler_tick_due,
    task_results_prune,
)
from audit.tasks import AuditChainBrokenError, run_scheduled_execution
from trading_lab.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def scheduled(name="job", *, task="audit.tasks.worker_heartbeat", **fields) -> ScheduledJob:
    values = {"interval_seconds": 60, "next_run_at": NOW, **fields}
    return ScheduledJob.objects.create(name=name, task=task, **values)


def execute(execution: SchedulerExecution) -> SchedulerExecution:
    run_scheduled_execution.call(execution_id=execution.pk)
    execution.refresh_from_db()
    return execution


def test_due_job_gets_exactly_one_execution_per_tick():
    job = scheduled(next_run_at=NOW - timedelta(seconds=10))

    first = scheduler_tick_due(now=NOW)
    again = scheduler_tick_due(now=NOW + timedelta(seconds=49))
    next_tick = scheduler_tick_due(now=NOW + timedelta(seconds=50))

    assert [e.scheduled_for for e in first] == [NOW - timedelta(seconds=10)]
    assert again == []
    assert [e.scheduled_for for e in next_tick] == [NOW + timedelta(seconds=50)]
    assert job.executions.count() == 2
    job.refresh_from_db()
    assert job.next_run_at == NOW + timedelta(seconds=110)


@pytest.mark.parametrize(
    ("late_by", "skipped", "next_run_at"),
    [
        (timedelta(0), 0, NOW + MINUTE),
        (timedelta(seconds=59), 0, NOW + timedelta(seconds=1)),
        (MINUTE, 1, NOW + MINUTE),
        (timedelta(seconds=210), 3, NOW + timedelta(seconds=30)),
        (timedelta(days=1), 1440, NOW + MINUTE),
    ],
)
def test_missed_slots_are_counted_and_skipped_not_replayed(late_by, skipped, next_run_at):
    job = scheduled(next_run_at=NOW - late_by)

    executions = scheduler_tick_due(now=NOW)

    assert len(executions) == 1
    assert executions[0].scheduled_for == NOW - late_by
    assert executions[0].skipped_runs == skipped
    job.refresh_from_db()
    assert job.next_run_at == next_run_at
    assert scheduler_tick_due(now=NOW) == []


def test_disabled_and_not_yet_due_jobs_do_not_tick():
    scheduled("disabled", enabled=False, next_run_at=NOW - MINUTE)
    scheduled("later", next_run_at=NOW + timedelta(seconds=1))

    assert scheduler_tick_due(now=NOW) == []
    assert not SchedulerExecution.objects.exists()


def test_tick_enqueues_its_run_in_the_same_write():
    scheduled(next_run_at=NOW)

    [execution] = scheduler_tick_due(now=NOW)

    task_row = DBTaskResult.objects.get()
    assert task_row.task_path == "audit.tasks.run_scheduled_execution"
    assert task_row.args_kwargs == {"args": [], "kwargs": {"execution_id": execution.pk}}
    execution.refresh_from_db()
    assert execution.task_result_id == str(task_row.id)
    assert execution.status == ExecutionStatus.QUEUED


def test_tick_whose_enqueue_fails_leaves_no_execution_and_the_job_still_due():
    job = scheduled(next_run_at=NOW - MINUTE)
    refusing_backend = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["other"]}
    }

    with override_settings(TASKS=refusing_backend), pytest.raises(Exception, match="not valid"):
        scheduler_tick_due(now=NOW)

    job.refresh_from_db()
    assert job.next_run_at == NOW - MINUTE
    assert not SchedulerExecution.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_tick_already_taken_is_never_created_twice_even_if_staff_move_the_job_back():
    job = scheduled(next_run_at=NOW)
    scheduler_tick_due(now=NOW)
    ScheduledJob.objects.filter(pk=job.pk).update(next_run_at=NOW)

    assert scheduler_tick_due(now=NOW + timedelta(seconds=5)) == []

    assert job.executions.count() == 1
    job.refresh_from_db()
    assert job.next_run_at == NOW + MINUTE


def test_each_scheduler_pass_writes_its_heartbeat():
    scheduler_pass(instance="sched-host:41", now=NOW)
    first = Heartbeat.objects.get(kind=HeartbeatKind.SCHEDULER, instance="sched-host:41")

    scheduler_pass(instance="sched-host:41", now=NOW)

    second = Heartbeat.objects.get(kind=HeartbeatKind.SCHEDULER, instance="sched-host:41")
    assert second.beat_at > first.beat_at
    assert Heartbeat.objects.count() == 1


def test_default_schedules_are_created_once_and_staff_edits_are_kept():
    scheduled_jobs_ensure_defaults()
    ScheduledJob.objects.filter(name="verify-audit").update(interval_seconds=3600, enabled=False)

    scheduled_jobs_ensure_defaults()

    assert sorted(ScheduledJob.objects.values_list("name", flat=True)) == sorted(
        d.name for d in DEFAULT_SCHEDULES
    )
    verify = ScheduledJob.objects.get(name="verify-audit")
    assert (verify.interval_seconds, verify.enabled) == (3600, False)
    heartbeat = ScheduledJob.objects.get(name="worker-heartbeat")
    assert (heartbeat.task, heartbeat.interval_seconds) == ("audit.tasks.worker_heartbeat", 30)


def test_every_default_schedule_names_a_valid_task():
    for default in DEFAULT_SCHEDULES:
        assert callable(scheduled_task_resolve(path=default.task, kwargs={}))


# The command drops stale connections each pass, as a long-running process must:
# that needs a test whose connection is not held in a transaction.
@pytest.mark.django_db(transaction=True)
def test_run_scheduler_once_creates_defaults_ticks_them_and_beats():
    out = StringIO()

    call_command("run_scheduler", "--once", stdout=out)

    assert ScheduledJob.objects.count() == len(DEFAULT_SCHEDULES)
    assert SchedulerExecution.objects.count() == len(DEFAULT_SCHEDULES)
    assert Heartbeat.objects.filter(
        kind=HeartbeatKind.SCHEDULER, instance=process_instance()
    ).exists()
    assert "stopped" in out.getvalue()


@pytest.mark.parametrize("interval", ["0", "-5"])
def test_run_scheduler_refuses_a_poll_interval_that_is_not_positive(interval):
    with pytest.raises(CommandError, match="positive"):
        call_command("run_scheduler", "--once", "--interval", interval)

    assert not Heartbeat.objects.exists()


# The command drops stale connections each pass, as a long-running process must:
# that needs a test whose connection is not held in a transaction.
@pytest.mark.django_db(transaction=True)
def test_run_scheduler_once_exits_non_zero_when_the_pass_fails():
    refusing_backend = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["other"]}
    }

    with override_settings(TASKS=refusing_backend), pytest.raises(CommandError, match="failed"):
        call_command("run_scheduler", "--once", stdout=StringIO())

    assert not SchedulerExecution.objects.exists()


def test_execution_run_records_start_finish_duration_and_success():
    job = scheduled(next_run_at=NOW)
    [execution] = scheduler_tick_due(now=NOW)

    execution = execute(execution)

    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.success is True
    assert execution.error_details == ""
    assert execution.finished_at >= execution.started_at
    assert execution.duration is not None
    job.refresh_from_db()
    assert job.last_run_at == execution.started_at
    assert Heartbeat.objects.filter(kind=HeartbeatKind.WORKER, instance=process_instance())


def test_duplicate_delivery_of_an_execution_runs_its_job_once():
    scheduled(next_run_at=NOW)
    [execution] = scheduler_tick_due(now=NOW)
    execution = execute(execution)
    beat = Heartbeat.objects.get(kind=HeartbeatKind.WORKER)

    again = execute(execution)

    # A second run of worker_heartbeat would have moved the heartbeat and the times.
    assert Heartbeat.objects.get(kind=HeartbeatKind.WORKER).beat_at == beat.beat_at
    assert (again.started_at, again.finished_at) == (execution.started_at, execution.finished_at)


def test_verify_audit_job_succeeds_on_an_intact_chain(user):
    activity_record(user=user, action=ActivityAction.SIGN_IN)
    scheduled(task="audit.tasks.verify_audit", next_run_at=NOW)
    [execution] = scheduler_tick_due(now=NOW)

    assert execute(execution).success is True


def test_verify_audit_job_fails_with_the_problems_when_the_chain_is_broken(user):
    activity_record(user=user, action=ActivityAction.SIGN_IN)
    row = activity_record(user=user, action=ActivityAction.SIGN_OUT)
    # The base manager: the default one refuses bulk edits, an attacker's SQL would not.
    ActivityLog._base_manager.filter(pk=row.pk).update(description="edited behind the log's back")
    scheduled(task="audit.tasks.verify_audit", next_run_at=NOW)
    [execution] = scheduler_tick_due(now=NOW)

    with pytest.raises(AuditChainBrokenError):
        run_scheduled_execution.call(execution_id=execution.pk)

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.success is False
    assert f"Row #{row.seq} was changed after it was written." in execution.error_details
    assert execution.finished_at is not None


@pytest.mark.parametrize(
    ("task", "kwargs", "field", "says"),
    [
        ("os.system", {}, "task", "not in the tasks module of an installed app"),
        ("subprocess.run", {"args": ["true"]}, "task", "not in the tasks module"),
        ("tests.audit.test_scheduler.scheduled", {}, "task", "not in the tasks module"),
        ("worker_heartbeat", {}, "task", "not in the tasks module"),
        ("audit.tasks.no_such_task", {}, "task", "cannot be imported"),
        ("audit.tasks.AuditChainBrokenError", {}, "task", "neither a task nor a function"),
        ("audit.tasks.worker_heartbeat", {"unexpected": 1}, "kwargs", "does not accept"),
        ("audit.tasks.run_scheduled_execution", {}, "kwargs", "does not accept"),
    ],
)
def test_scheduled_task_path_is_validated(task, kwargs, field, says):
    with pytest.raises(ApplicationError, match=says) as raised:
        scheduled_task_resolve(path=task, kwargs=kwargs)

    assert list(raised.value.extra) == [field]


def test_execution_of_an_invalid_task_fails_with_the_reason():
    scheduled(task="os.system", kwargs={"command": "true"}, next_run_at=NOW)
    [execution] = scheduler_tick_due(now=NOW)

    with pytest.raises(ApplicationError):
        run_scheduled_execution.call(execution_id=execution.pk)

    execution.refresh_from_db()
    assert (execution.status, execution.success) == (ExecutionStatus.FAILED, False)
    assert "not in the tasks module of an installed app" in execution.error_details


def _task_row(status: str, finished_at: datetime | None) -> DBTaskResult:
    return DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="audit.tasks.worker_heartbeat",
        backend_name="default",
        status=status,
        finished_at=finished_at,
    )


def test_prune_deletes_finished_task_results_and_heartbeats_older_than_seven_days():
    now = timezone.now()
    old_success = _task_row("SUCCESSFUL", now - timedelta(days=8))
    old_failure = _task_row("FAILED", now - timedelta(days=8))
    recent = _task_row("SUCCESSFUL", now - timedelta(days=6))
    waiting = _task_row("READY", None)
    Heartbeat.objects.create(
        kind=HeartbeatKind.WORKER, instance="gone:1", beat_at=now - timedelta(days=8)
    )
    Heartbeat.objects.create(kind=HeartbeatKind.WORKER, instance="alive:2", beat_at=now)

    counts = task_results_prune(now=now)

    assert counts == {"task_results": 2, "heartbeats": 1, "jobs": 0, "executions": 0}
    remaining = set(DBTaskResult.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, waiting.pk}
    assert old_success.pk not in remaining
    assert old_failure.pk not in remaining
    assert list(Heartbeat.objects.values_list("instance", flat=True)) == ["alive:2"]


def test_prune_deletes_finished_jobs_after_seven_days_and_executions_after_thirty(user):
    now = timezone.now()
    old_done = job_create(user=user, job_type="test.done")
    job_claim(job_id=old_done.pk)
    job_succeed(job_id=old_done.pk)
    recent_done = job_create(user=user, job_type="test.done")
    job_claim(job_id=recent_done.pk)
    job_succeed(job_id=recent_done.pk)
    long_queued = job_create(user=user, job_type="test.waiting")
    BackgroundJob.objects.filter(pk__in=[old_done.pk, long_queued.pk]).update(
        finished_at=now - timedelta(days=8), created_at=now - timedelta(days=40)
    )
    BackgroundJob.objects.filter(pk=long_queued.pk).update(finished_at=None)
    job = ScheduledJob.objects.create(
        name="prune-me", task="audit.tasks.worker_heartbeat", interval_seconds=60, next_run_at=now
    )
    old_run, recent_run, unfinished = (
        SchedulerExecution.objects.create(
            job=job, scheduled_for=now - age, finished_at=now - age if finished else None
        )
        for age, finished in (
            (timedelta(days=31), True),
            (timedelta(days=29), True),
            (timedelta(days=45), False),
        )
    )

    counts = task_results_prune(now=now)

    assert (counts["jobs"], counts["executions"]) == (1, 1)
    assert set(BackgroundJob.objects.values_list("pk", flat=True)) == {
        recent_done.pk,
        long_queued.pk,
    }
    assert set(SchedulerExecution.objects.values_list("pk", flat=True)) == {
        recent_run.pk,
        unfinished.pk,
    }
    assert not SchedulerExecution.objects.filter(pk=old_run.pk).exists()
