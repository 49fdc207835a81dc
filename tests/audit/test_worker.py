"""The real worker: tasks enqueued through the database backend and run by `manage.py db_worker`
in-process for one batch. Transactional tests: the worker commits like in production, and its
connection handling would break a test wrapped in a transaction.
"""

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from audit.models import (
    BackgroundJob,
    ExecutionStatus,
    Heartbeat,
    HeartbeatKind,
    JobStatus,
    SchedulerExecution,
)
from audit.services.jobs import UNEXPECTED_FAILURE, JobRun, job_create, job_enqueue, job_task
from audit.services.scheduler import (
    DEFAULT_SCHEDULES,
    process_instance,
    scheduled_jobs_ensure_defaults,
    scheduler_tick_due,
)
from audit.tasks import run_scheduled_execution
from tests.worker import run_worker

pytestmark = pytest.mark.django_db(transaction=True)

# Bodies that ran, in order: the in-process worker shares this module with the test.
RUNS: list[int] = []


@pytest.fixture(autouse=True)
def _fresh_runs():
    RUNS.clear()


@task
@job_task
def sum_numbers(run: JobRun) -> dict:
    RUNS.append(run.job.pk)
    numbers = run.params["numbers"]
    run.progress(50, "Adding")
    return {"sum": sum(numbers)}


@task
@job_task
def divide_by_zero(run: JobRun) -> None:
    RUNS.append(run.job.pk)
    run.params["numerator"] / 0


def enqueue(user, body_task, params) -> BackgroundJob:
    with transaction.atomic():
        job = job_create(user=user, job_type=body_task.name, params=params)
        job_enqueue(job=job, task=body_task)
    job.refresh_from_db()
    return job


def test_worker_runs_an_enqueued_job_to_success(user):
    job = enqueue(user, sum_numbers, {"numbers": [1, 2, 3]})
    assert DBTaskResult.objects.ready().count() == 1

    run_worker()

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"sum": 6}
    assert job.progress == 100
    task_row = DBTaskResult.objects.get(pk=job.task_result_id)
    assert task_row.status == "SUCCESSFUL"
    assert [job.pk] == RUNS


def test_worker_records_a_failing_job_as_failed_with_its_error(user):
    job = enqueue(user, divide_by_zero, {"numerator": 1})

    run_worker()

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("builtins.ZeroDivisionError")
    assert job.message == UNEXPECTED_FAILURE
    task_row = DBTaskResult.objects.get(pk=job.task_result_id)
    assert task_row.status == "FAILED"
    assert "ZeroDivisionError" in task_row.traceback


def test_worker_given_the_same_job_twice_runs_it_once(user):
    job = enqueue(user, sum_numbers, {"numbers": [4]})
    sum_numbers.enqueue(job_id=job.pk)

    run_worker()

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert [job.pk] == RUNS
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 2


def test_worker_runs_scheduled_ticks_and_its_heartbeat_proves_it_consumes_the_queue():
    scheduled_jobs_ensure_defaults()
    executions = scheduler_tick_due(now=timezone.now())
    assert len(executions) == len(DEFAULT_SCHEDULES)

    run_worker()

    outcomes = {
        e.job.name: (e.status, e.success, e.duration is not None)
        for e in SchedulerExecution.objects.select_related("job")
    }
    assert outcomes == {d.name: (ExecutionStatus.SUCCEEDED, True, True) for d in DEFAULT_SCHEDULES}
    assert Heartbeat.objects.filter(kind=HeartbeatKind.WORKER, instance=process_instance())
    assert DBTaskResult.objects.ready().count() == 0


def test_duplicate_delivery_of_a_scheduled_tick_runs_it_once():
    scheduled_jobs_ensure_defaults()
    [execution] = [
        e for e in scheduler_tick_due(now=timezone.now()) if e.job.name == "worker-heartbeat"
    ]
    run_worker()
    execution.refresh_from_db()
    beat_at = Heartbeat.objects.get(kind=HeartbeatKind.WORKER).beat_at

    run_scheduled_execution.enqueue(execution_id=execution.pk)
    run_worker()

    first_run = (execution.started_at, execution.finished_at)
    execution.refresh_from_db()
    assert (execution.started_at, execution.finished_at) == first_run
    assert Heartbeat.objects.get(kind=HeartbeatKind.WORKER).beat_at == beat_at
    # Every default schedule's tick ran once, plus the duplicate delivery that did nothing.
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == len(DEFAULT_SCHEDULES) + 1
