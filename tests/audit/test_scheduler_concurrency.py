"""Schedulers running at once on PostgreSQL: real row locks, real processes, real signals.

Transactional tests: the schedulers' transactions must commit for the other side to see them
(a test wrapped in one transaction would hide a missing lock).
"""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.models import Count
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from audit.models import ExecutionStatus, Heartbeat, HeartbeatKind, ScheduledJob, SchedulerExecution
from audit.services.scheduler import DEFAULT_SCHEDULES, scheduler_pass
from tests.audit.test_worker import run_worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DUE_JOBS = 150
PROCESS_TIMEOUT = 120


def make_due_jobs(count: int) -> list[ScheduledJob]:
    """Jobs late by up to 90 s whose next slot is an hour away: a second tick of one of them
    during the test could only be the same tick twice."""
    now = timezone.now()
    return ScheduledJob.objects.bulk_create(
        ScheduledJob(
            name=f"load-{i:03d}",
            task="audit.tasks.worker_heartbeat",
            interval_seconds=3600,
            next_run_at=now - timedelta(seconds=i % 90),
        )
        for i in range(count)
    )


def assert_each_job_ticked_once(expected_jobs: int) -> None:
    per_job = SchedulerExecution.objects.values("job").annotate(n=Count("id"))
    assert len(per_job) == expected_jobs
    assert {row["n"] for row in per_job} == {1}
    # One task row per tick: an enqueue outside the tick's transaction would leave extras.
    enqueued = DBTaskResult.objects.filter(task_path="audit.tasks.run_scheduled_execution")
    assert enqueued.count() == expected_jobs


def test_two_scheduler_threads_at_once_tick_every_due_job_exactly_once(caplog):
    make_due_jobs(DUE_JOBS)
    now = timezone.now()
    start = threading.Barrier(2)
    ticked: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def scheduler(instance: str) -> None:
        try:
            start.wait()
            ticked[instance] = [e.pk for e in scheduler_pass(instance=instance, now=now)]
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler, args=(f"t{i}:1",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    # The row locks kept them apart: the unique constraint (the backstop) never had to.
    assert "already exists" not in caplog.text
    first, second = (set(ids) for ids in ticked.values())
    assert first.isdisjoint(second)
    assert len(first | second) == DUE_JOBS
    assert_each_job_ticked_once(DUE_JOBS)
    assert Heartbeat.objects.filter(kind=HeartbeatKind.SCHEDULER).count() == 2

    run_worker()

    outcomes = SchedulerExecution.objects.order_by().values_list("status", "success").distinct()
    assert list(outcomes) == [(ExecutionStatus.SUCCEEDED, True)]


def _subprocess_env() -> dict[str, str]:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    url = f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DEBUG": "true", "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}


def _run_scheduler(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_scheduler", *args],
        cwd=Path(settings.BASE_DIR),
        env=_subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_run_scheduler_processes_at_once_tick_every_due_job_exactly_once():
    make_due_jobs(DUE_JOBS)

    processes = [_run_scheduler("--once") for _ in range(2)]
    outputs = [process.communicate(timeout=PROCESS_TIMEOUT) for process in processes]

    assert [process.returncode for process in processes] == [0, 0], outputs
    # Both also created the default schedules at start: once each, not twice.
    assert ScheduledJob.objects.count() == DUE_JOBS + len(DEFAULT_SCHEDULES)
    assert_each_job_ticked_once(DUE_JOBS + len(DEFAULT_SCHEDULES))
    instances = set(Heartbeat.objects.values_list("instance", flat=True))
    assert {instance.rsplit(":", 1)[1] for instance in instances} == {
        str(process.pid) for process in processes
    }


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_run_scheduler_exits_cleanly_on_a_stop_signal(stop_signal):
    process = _run_scheduler("--interval", "3600")
    try:
        # The first line is written once the signal handlers are in place.
        started = process.stdout.readline()
        assert "started" in started, process.stderr.read()
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=PROCESS_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, err
    assert "stopped" in out
