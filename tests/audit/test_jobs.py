"""Background jobs: lifecycle, progress, failure, cancel, one claim, enqueue after commit.

The tasks below run in-process through `Task.call` (the worker's own call), except where a
test says it uses the immediate backend; the real `db_worker` runs in test_worker.py.
"""

from decimal import Decimal

import pytest
from django.test import override_settings
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from audit.models import ActivityAction, ActivityLog, BackgroundJob, JobStatus
from audit.services.jobs import (
    UNEXPECTED_FAILURE,
    JobRun,
    job_cancel,
    job_claim,
    job_create,
    job_enqueue,
    job_progress,
    job_task,
)
from trading_lab.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _stored_progress(job_id: int) -> int:
    return BackgroundJob.objects.values_list("progress", flat=True).get(pk=job_id)


@task
@job_task
def count_steps(run: JobRun) -> dict:
    steps = run.params["steps"]
    seen = []
    for step in range(1, steps + 1):
        run.progress(step * 100 // steps, f"Step {step} of {steps}")
        seen.append(_stored_progress(run.job.pk))
    return {"seen": seen, "total": Decimal("1.50")}


@task
@job_task
def crash_halfway(run: JobRun) -> None:
    run.progress(40, "Half way")
    raise RuntimeError("disk on fire at /srv/data")


@task
@job_task
def refuse_input(run: JobRun) -> None:
    raise ApplicationError("The file has no header row.")


@task
@job_task
def cancelled_between_checks(run: JobRun) -> dict:
    run.progress(10, "Started")
    job_cancel(job=run.job)
    run.progress(20, "Must not be recorded")
    return {"reached": "the end"}


@task
@job_task
def cancelled_after_last_check(run: JobRun) -> dict:
    run.progress(90, "Nearly done")
    job_cancel(job=run.job)
    return {"reached": "the end"}


def test_job_create_queues_a_job_owned_by_its_user(user, other_user):
    job = job_create(user=user, job_type="count", params={"steps": 2, "amount": Decimal("2.50")})

    assert (job.status, job.progress, job.user) == (JobStatus.QUEUED, 0, user)
    assert job.params == {"steps": 2, "amount": "2.50"}
    assert list(BackgroundJob.objects.for_user(user)) == [job]
    assert not BackgroundJob.objects.for_user(other_user).exists()


@pytest.mark.parametrize("job_type", ["", "x" * 65])
def test_job_create_refuses_a_missing_or_too_long_type(user, job_type):
    with pytest.raises(ApplicationError) as raised:
        job_create(user=user, job_type=job_type, params={})

    assert "job_type" in raised.value.extra
    assert not BackgroundJob.objects.exists()


def test_job_runs_through_running_to_succeeded_with_progress_and_result(user):
    job = job_create(user=user, job_type="count", params={"steps": 4})

    count_steps.call(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.progress == 100
    assert job.result == {"seen": [25, 50, 75, 100], "total": "1.50"}
    assert job.error == ""
    assert job.started_at is not None
    assert job.finished_at >= job.started_at


def test_failed_task_keeps_the_error_and_shows_its_owner_a_plain_message(user):
    job = job_create(user=user, job_type="crash", params={})

    with pytest.raises(RuntimeError):
        crash_halfway.call(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.progress == 40
    assert job.error == "builtins.RuntimeError: disk on fire at /srv/data"
    assert job.message == UNEXPECTED_FAILURE
    assert job.finished_at is not None
    assert job.result is None


def test_application_error_of_a_task_is_shown_to_the_owner_as_is(user):
    job = job_create(user=user, job_type="import", params={})

    with pytest.raises(ApplicationError):
        refuse_input.call(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.error, job.message) == (
        JobStatus.FAILED,
        "The file has no header row.",
        "The file has no header row.",
    )


def test_cancelled_queued_job_is_never_run_by_its_task(user):
    job = job_create(user=user, job_type="count", params={"steps": 2})

    job_cancel(job=job)
    count_steps.call(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert (job.started_at, job.result, job.progress) == (None, None, 0)
    assert job.finished_at is not None


def test_running_job_asked_to_stop_stops_at_its_next_progress_check(user):
    job = job_create(user=user, job_type="count", params={})

    cancelled_between_checks.call(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.progress == 10
    assert job.result is None
    assert job.cancel_requested_at is not None
    assert job.finished_at is not None


def test_stop_request_after_the_last_check_lets_finished_work_end_succeeded(user):
    job = job_create(user=user, job_type="count", params={})

    cancelled_after_last_check.call(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"reached": "the end"}
    assert job.cancel_requested_at is not None


def test_cancelling_a_finished_job_is_refused_and_changes_nothing(user):
    job = job_create(user=user, job_type="count", params={"steps": 1})
    count_steps.call(job_id=job.pk)
    job.refresh_from_db()

    with pytest.raises(ApplicationError):
        job_cancel(job=job, user=user)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert not ActivityLog.objects.filter(action=ActivityAction.JOB_CANCELLED).exists()


def test_cancel_by_its_user_lands_in_their_activity_log(user):
    job = job_create(user=user, job_type="count", params={})

    job_cancel(job=job, user=user)

    entry = ActivityLog.objects.get(action=ActivityAction.JOB_CANCELLED)
    assert entry.user == user
    assert entry.details == {"job_id": job.pk, "job_type": "count", "was": "queued"}


def test_a_job_is_claimed_by_one_worker_only(user):
    job = job_create(user=user, job_type="count", params={"steps": 1})

    first = job_claim(job_id=job.pk)
    second = job_claim(job_id=job.pk)

    assert first is not None
    assert first.status == JobStatus.RUNNING
    assert second is None


@pytest.mark.parametrize(
    "status",
    [JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED],
)
def test_task_delivered_for_a_job_that_is_not_queued_does_not_run_it(user, status):
    job = job_create(user=user, job_type="count", params={"steps": 2})
    BackgroundJob.objects.filter(pk=job.pk).update(status=status)

    count_steps.call(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.progress, job.result, job.started_at) == (status, 0, None, None)


@pytest.mark.parametrize("percent", [-1, 101])
def test_progress_outside_0_to_100_is_refused(user, percent):
    job = job_claim(job_id=job_create(user=user, job_type="count", params={}).pk)

    with pytest.raises(ValueError, match="0 to 100"):
        job_progress(job_id=job.pk, percent=percent)

    assert _stored_progress(job.pk) == 0


def test_job_enqueue_writes_the_task_only_after_commit_and_keeps_its_id(
    user, django_capture_on_commit_callbacks
):
    job = job_create(user=user, job_type="count", params={"steps": 1})

    with django_capture_on_commit_callbacks() as callbacks:
        job_enqueue(job=job, task=count_steps)
        assert not DBTaskResult.objects.exists()
    for callback in callbacks:
        callback()

    task_row = DBTaskResult.objects.get()
    job.refresh_from_db()
    assert task_row.task_path == "tests.audit.test_jobs.count_steps"
    assert task_row.args_kwargs == {"args": [], "kwargs": {"job_id": job.pk}}
    assert job.task_result_id == str(task_row.id)
    assert job.status == JobStatus.QUEUED


def test_job_enqueued_on_the_immediate_backend_runs_once_committed(
    user, django_capture_on_commit_callbacks
):
    """Uses the immediate backend: the task runs inside enqueue, right after the commit."""
    job = job_create(user=user, job_type="count", params={"steps": 2})

    with override_settings(TASKS=IMMEDIATE), django_capture_on_commit_callbacks(execute=True):
        job_enqueue(job=job, task=count_steps)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"seen": [50, 100], "total": "1.50"}
    assert job.task_result_id != ""


def test_job_the_task_backend_refuses_ends_failed_instead_of_queued_forever(
    user, django_capture_on_commit_callbacks
):
    job = job_create(user=user, job_type="count", params={})
    backend_without_default_queue = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["other"]}
    }

    with (
        override_settings(TASKS=backend_without_default_queue),
        django_capture_on_commit_callbacks(execute=True),
    ):
        job_enqueue(job=job, task=count_steps)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == "The task backend refused the job."
    assert not DBTaskResult.objects.exists()


def test_only_a_queued_job_can_be_enqueued(user, django_capture_on_commit_callbacks):
    job = job_create(user=user, job_type="count", params={})
    job = job_cancel(job=job)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ApplicationError):
        job_enqueue(job=job, task=count_steps)

    assert not DBTaskResult.objects.exists()
