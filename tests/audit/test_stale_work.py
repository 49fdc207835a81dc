"""Reclaiming work whose worker died: a running job or scheduled run that went silent fails.

A worker killed with SIGKILL cannot write its own ending, so without this a user's progress bar
would spin for ever. A slow worker that reports after being reclaimed is stopped, not finished.
"""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from audit.models import (
    BackgroundJob,
    ExecutionStatus,
    JobStatus,
    ScheduledJob,
    SchedulerExecution,
)
from audit.services.jobs import JobCancelled, job_claim, job_create, job_progress, job_succeed
from audit.services.scheduler import stale_work_reclaim

pytestmark = pytest.mark.django_db

STALE = timedelta(minutes=15)


def _running_job(user, *, silent_for: timedelta) -> BackgroundJob:
    job = job_create(user=user, job_type="test.slow")
    job_claim(job_id=job.pk)
    BackgroundJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - silent_for)
    return job


def _running_execution(*, started_ago: timedelta) -> SchedulerExecution:
    started = timezone.now() - started_ago
    job = ScheduledJob.objects.create(
        name=f"job-{started_ago}",
        task="audit.tasks.worker_heartbeat",
        interval_seconds=60,
        next_run_at=started + timedelta(minutes=1),
    )
    return SchedulerExecution.objects.create(
        job=job, scheduled_for=started, status=ExecutionStatus.RUNNING, started_at=started
    )


@override_settings(WORK_STALE_AFTER=STALE)
def test_silent_running_job_is_failed_with_a_reason_and_a_recent_one_is_left_alone(user):
    dead = _running_job(user, silent_for=STALE + timedelta(seconds=1))
    alive = _running_job(user, silent_for=STALE - timedelta(minutes=1))

    assert stale_work_reclaim() == {"jobs": 1, "executions": 0}

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == JobStatus.FAILED
    assert dead.finished_at is not None
    assert "worker stopped" in dead.error
    assert alive.status == JobStatus.RUNNING


@override_settings(WORK_STALE_AFTER=STALE)
def test_finished_and_queued_jobs_are_never_reclaimed(user):
    queued = job_create(user=user, job_type="test.waiting")
    BackgroundJob.objects.filter(pk=queued.pk).update(updated_at=timezone.now() - 2 * STALE)
    done = _running_job(user, silent_for=timedelta(0))
    job_succeed(job_id=done.pk, result={"ok": True})
    BackgroundJob.objects.filter(pk=done.pk).update(updated_at=timezone.now() - 2 * STALE)

    assert stale_work_reclaim() == {"jobs": 0, "executions": 0}
    assert BackgroundJob.objects.get(pk=queued.pk).status == JobStatus.QUEUED
    assert BackgroundJob.objects.get(pk=done.pk).status == JobStatus.SUCCEEDED


@override_settings(WORK_STALE_AFTER=STALE)
def test_a_slow_worker_reporting_after_the_reclaim_is_stopped_and_cannot_succeed(user):
    job = _running_job(user, silent_for=STALE * 2)
    stale_work_reclaim()

    with pytest.raises(JobCancelled):
        job_progress(job_id=job.pk, percent=50)
    assert job_succeed(job_id=job.pk, result={}) is False
    assert BackgroundJob.objects.get(pk=job.pk).status == JobStatus.FAILED


@override_settings(WORK_STALE_AFTER=STALE)
def test_a_scheduled_run_started_too_long_ago_fails_and_a_recent_one_keeps_running():
    dead = _running_execution(started_ago=STALE + timedelta(minutes=1))
    alive = _running_execution(started_ago=timedelta(minutes=1))

    assert stale_work_reclaim() == {"jobs": 0, "executions": 1}

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == ExecutionStatus.FAILED
    assert dead.success is False
    assert "worker stopped" in dead.error_details
    assert alive.status == ExecutionStatus.RUNNING


def test_reclaim_is_a_default_schedule():
    from audit.services.scheduler import DEFAULT_SCHEDULES

    reclaim = {schedule.name: schedule for schedule in DEFAULT_SCHEDULES}["reclaim-stale-work"]
    assert reclaim.task == "audit.tasks.reclaim_stale_work"
