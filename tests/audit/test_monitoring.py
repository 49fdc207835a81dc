"""Health samples, staff alerts and the admin's operations page (issue 6: health, staff tools)."""

import base64
from datetime import timedelta
from http import HTTPStatus

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import (
    ActivityAction,
    ActivityLog,
    BackgroundJob,
    ExecutionStatus,
    HealthSample,
    Heartbeat,
    HeartbeatKind,
    JobStatus,
    ScheduledJob,
    SchedulerExecution,
    StaffAlert,
    StaffAlertKind,
)
from audit.services import activity_record
from audit.services.config import config_update
from audit.services.jobs import job_create, job_fail
from audit.services.monitoring import (
    health_chart,
    health_sample_record,
    staff_alert_raise,
    staff_alert_resolve,
)
from audit.services.scheduler import scheduler_tick_due
from audit.tasks import AuditChainBrokenError, run_scheduled_execution
from tests.factories import UserFactory
from trading_lab.exceptions import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def admins(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]


def _beat(kind: str, seconds_ago: float = 0) -> None:
    Heartbeat.objects.update_or_create(
        kind=kind,
        instance=f"{kind}:1",
        defaults={"beat_at": timezone.now() - timedelta(seconds=seconds_ago)},
    )


def _all_alive() -> None:
    _beat(HeartbeatKind.WORKER)
    _beat(HeartbeatKind.SCHEDULER)


# Health samples ---------------------------------------------------------------------------------


def test_a_healthy_sample_stores_the_report_and_raises_no_alert():
    _all_alive()

    sample = health_sample_record()

    assert sample.healthy is True
    assert sample.database_latency_ms is not None
    assert sample.database_latency_ms >= 0
    assert sample.worker_age_seconds is not None
    assert sample.worker_age_seconds < 60
    assert sample.checks["database"]["ok"] is True
    assert not StaffAlert.objects.exists()


def test_an_unhealthy_sample_opens_one_alert_and_emails_staff_once(
    admins, mailoutbox, django_capture_on_commit_callbacks
):
    _beat(HeartbeatKind.SCHEDULER)
    _beat(HeartbeatKind.WORKER, seconds_ago=3600)  # a dead worker

    with django_capture_on_commit_callbacks(execute=True):
        first = health_sample_record()
    with django_capture_on_commit_callbacks(execute=True):
        health_sample_record()

    assert first.healthy is False
    [alert] = StaffAlert.objects.all()
    assert alert.kind == StaffAlertKind.UNHEALTHY
    assert alert.title == "Health check failing: worker"
    assert alert.occurrences == 2
    assert alert.is_open
    [mail] = mailoutbox
    assert mail.to == ["ops@example.com"]
    assert "Health check failing: worker" in mail.subject


def test_samples_past_retention_are_pruned_when_a_sample_is_recorded(staff_user):
    _all_alive()
    now = timezone.now()
    config_update(changes={"retention.health_samples_days": 2}, user=staff_user)
    old = HealthSample.objects.create(recorded_at=now - timedelta(days=2, minutes=1), healthy=True)
    kept = HealthSample.objects.create(recorded_at=now - timedelta(days=1, hours=23), healthy=True)

    new = health_sample_record(now=now)

    assert set(HealthSample.objects.values_list("pk", flat=True)) == {kept.pk, new.pk}
    assert not HealthSample.objects.filter(pk=old.pk).exists()


def test_the_chart_places_the_last_day_of_samples_and_marks_the_unhealthy_ones():
    now = timezone.now()
    HealthSample.objects.create(
        recorded_at=now - timedelta(hours=25), healthy=False, database_latency_ms=99
    )
    HealthSample.objects.create(
        recorded_at=now - timedelta(hours=18), healthy=True, database_latency_ms=2.0
    )
    HealthSample.objects.create(
        recorded_at=now - timedelta(hours=6), healthy=False, database_latency_ms=4.0
    )

    chart = health_chart(now=now, width=240, height=100)

    assert len(chart.samples) == 2  # the 25-hour-old one is outside the day
    assert chart.max_latency_ms == 4.0
    # x: 6 h in is a quarter of the width, 18 h in three quarters;
    # y: 4 ms at the top (2 px in), 2 ms half way down.
    assert chart.latency_points == "60.0,50.0 180.0,2.0"
    assert chart.unhealthy_marks == ["180.0"]
    assert chart.healthy_share == 0.5


# Staff alerts -----------------------------------------------------------------------------------


def test_a_broken_activity_chain_fails_the_scheduled_run_and_opens_an_alert(
    user, admins, mailoutbox, django_capture_on_commit_callbacks
):
    activity_record(user=user, action=ActivityAction.SIGN_IN)
    row = activity_record(user=user, action=ActivityAction.SIGN_OUT)
    ActivityLog._base_manager.filter(pk=row.pk).update(description="edited behind the log's back")
    ScheduledJob.objects.create(
        name="verify",
        task="audit.tasks.verify_audit",
        interval_seconds=60,
        next_run_at=timezone.now(),
    )
    [execution] = scheduler_tick_due()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(AuditChainBrokenError):
        run_scheduled_execution.call(execution_id=execution.pk)

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    [alert] = StaffAlert.objects.filter(resolved_at__isnull=True)
    assert alert.kind == StaffAlertKind.AUDIT_CHAIN_BROKEN
    assert f"Row #{row.seq} was changed after it was written." in alert.details
    [mail] = mailoutbox
    assert "activity log chain is broken" in mail.subject


def test_an_intact_chain_raises_no_alert(user):
    activity_record(user=user, action=ActivityAction.SIGN_IN)
    ScheduledJob.objects.create(
        name="verify",
        task="audit.tasks.verify_audit",
        interval_seconds=60,
        next_run_at=timezone.now(),
    )
    [execution] = scheduler_tick_due()

    run_scheduled_execution.call(execution_id=execution.pk)

    assert not StaffAlert.objects.exists()


def test_a_resolved_alert_stays_resolved_and_the_next_failure_opens_a_new_one(staff_user):
    alert = staff_alert_raise(kind=StaffAlertKind.UNHEALTHY, title="Health check failing: cache")

    staff_alert_resolve(alert=alert, user=staff_user)
    again = staff_alert_raise(kind=StaffAlertKind.UNHEALTHY, title="Health check failing: cache")

    alert.refresh_from_db()
    assert alert.resolved_by == staff_user
    assert alert.resolved_at is not None
    assert again.pk != alert.pk
    assert again.is_open
    assert again.occurrences == 1
    with pytest.raises(ApplicationError, match="already resolved"):
        staff_alert_resolve(alert=alert, user=staff_user)
    # The resolution is a change to a domain row: it is in the model history.
    [entry] = LogEntry.objects.get_for_object(alert).filter(action=LogEntry.Action.UPDATE)
    assert "resolved_at" in entry.changes_dict


def test_an_unknown_alert_kind_is_refused():
    with pytest.raises(ValueError, match="Unknown staff alert kind"):
        staff_alert_raise(kind="nonsense", title="x")


# The operations page ----------------------------------------------------------------------------


@pytest.fixture
def staff_web(client, staff_user):
    client.force_login(staff_user)
    return client


def _failed_import(owner) -> BackgroundJob:
    job = job_create(
        user=owner,
        job_type="import",
        params={
            "portfolio_id": 1,
            "filename": "a.csv",
            "dry_run": False,
            "content": base64.b64encode(b"date,type\n").decode(),
        },
    )
    BackgroundJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    job_fail(job_id=job.pk, error="Row 2, column price: not a number.")
    job.refresh_from_db()
    return job


def test_operations_page_shows_alerts_health_jobs_failures_and_schedules(staff_web, user):
    _all_alive()
    health_sample_record()
    staff_alert_raise(
        kind=StaffAlertKind.AUDIT_CHAIN_BROKEN, title="The activity log chain is broken"
    )
    failed = _failed_import(user)
    queued = job_create(user=user, job_type="import", params={})
    scheduled = ScheduledJob.objects.create(
        name="nightly-thing",
        task="audit.tasks.worker_heartbeat",
        interval_seconds=60,
        next_run_at=timezone.now() + timedelta(hours=1),
    )
    SchedulerExecution.objects.create(
        job=scheduled,
        scheduled_for=timezone.now(),
        status=ExecutionStatus.FAILED,
        success=False,
        finished_at=timezone.now(),
        error_details="Boom: the scheduled thing broke.",
    )

    response = staff_web.get(reverse("admin:operations"))

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "The activity log chain is broken" in html
    assert "1 open staff alert" in html  # the banner every admin page shows
    assert "healthy" in html
    assert "<svg" in html
    assert f"import #{failed.pk}" in html
    assert "Row 2, column price: not a number." in html
    assert f"import #{queued.pk}" in html
    assert "nightly-thing" in html
    assert "Boom: the scheduled thing broke." in html
    assert "No health sample in the last 15 minutes" not in html


def test_operations_page_says_when_no_sample_came_lately(staff_web):
    HealthSample.objects.create(recorded_at=timezone.now() - timedelta(minutes=20), healthy=True)

    html = staff_web.get(reverse("admin:operations")).content.decode()

    assert "No health sample in the last 15 minutes" in html


def test_operations_page_is_for_staff_only(client, user):
    client.force_login(user)

    response = client.get(reverse("admin:operations"))

    assert response.status_code == HTTPStatus.FOUND
    assert reverse("admin:operations") not in response["Location"].split("?")[0]


def test_retry_queues_a_copy_of_the_failed_job_and_records_who_did_it(staff_web, staff_user, user):
    failed = _failed_import(user)

    response = staff_web.post(reverse("admin:operations"), {"action": "retry", "id": failed.pk})

    assert response.status_code == HTTPStatus.FOUND
    again = BackgroundJob.objects.exclude(pk=failed.pk).get()
    assert again.status == JobStatus.QUEUED
    assert (again.user, again.job_type, again.params) == (user, "import", failed.params)
    row = ActivityLog.objects.get(action=ActivityAction.JOB_RETRIED)
    assert row.user == staff_user
    assert row.details == {"job_id": failed.pk, "job_type": "import", "new_job_id": again.pk}


def test_retry_of_a_job_that_did_not_fail_is_refused_with_a_message(staff_web, user):
    job = job_create(user=user, job_type="import", params={})

    response = staff_web.post(
        reverse("admin:operations"), {"action": "retry", "id": job.pk}, follow=True
    )

    assert "Only a failed or cancelled job can be retried" in response.content.decode()
    assert BackgroundJob.objects.count() == 1


def test_cancel_and_run_now_and_resolve_from_the_page(staff_web, staff_user, user):
    job = job_create(user=user, job_type="import", params={})
    later = timezone.now() + timedelta(days=1)
    scheduled = ScheduledJob.objects.create(
        name="daily", task="audit.tasks.worker_heartbeat", interval_seconds=86400, next_run_at=later
    )
    alert = staff_alert_raise(kind=StaffAlertKind.UNHEALTHY, title="Health check failing: cache")
    url = reverse("admin:operations")

    staff_web.post(url, {"action": "cancel", "id": job.pk})
    staff_web.post(url, {"action": "run_now", "id": scheduled.pk})
    staff_web.post(url, {"action": "resolve", "id": alert.pk})

    job.refresh_from_db()
    scheduled.refresh_from_db()
    alert.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert scheduled.next_run_at <= timezone.now()
    assert LogEntry.objects.get_for_object(scheduled).filter(actor=staff_user).exists()
    assert alert.resolved_by == staff_user
    assert LogEntry.objects.get_for_object(alert).filter(actor=staff_user).exists()


def test_bad_posts_answer_with_a_message_not_an_error(staff_web):
    url = reverse("admin:operations")

    nothing = staff_web.post(url, {"action": "retry", "id": "abc"}, follow=True)
    unknown = staff_web.post(url, {"action": "explode", "id": "1"}, follow=True)
    missing = staff_web.post(url, {"action": "retry", "id": "999999"})

    assert "Nothing was selected." in nothing.content.decode()
    assert "Unknown action." in unknown.content.decode()
    assert missing.status_code == HTTPStatus.NOT_FOUND


def test_a_staff_user_without_rights_can_neither_look_nor_act(client, user):
    viewer = UserFactory(is_staff=True)
    client.force_login(viewer)
    failed = _failed_import(user)
    url = reverse("admin:operations")

    looked = client.get(url)
    acted = client.post(url, {"action": "retry", "id": failed.pk})
    viewer.user_permissions.add(Permission.objects.get(codename="view_backgroundjob"))
    viewer = type(viewer).objects.get(pk=viewer.pk)  # a fresh permission cache
    client.force_login(viewer)
    looked_with_view = client.get(url)
    acted_with_view = client.post(url, {"action": "retry", "id": failed.pk})

    assert looked.status_code == acted.status_code == HTTPStatus.FORBIDDEN
    assert looked_with_view.status_code == HTTPStatus.OK
    assert acted_with_view.status_code == HTTPStatus.FORBIDDEN
    assert "Retry</button>" not in looked_with_view.content.decode()
    assert BackgroundJob.objects.count() == 1


def test_operations_page_queries_do_not_grow_with_rows(staff_web, user):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert staff_web.get(reverse("admin:operations")).status_code == HTTPStatus.OK
        return len(queries)

    _failed_import(user)
    health_sample_record()
    count()  # the first request of a session also touches the session itself
    few = count()
    for _ in range(5):
        _failed_import(UserFactory())
        job_create(user=UserFactory(), job_type="import", params={})
        health_sample_record()

    assert count() == few


def test_health_sample_list_in_the_admin_opens_with_the_chart(staff_web):
    _all_alive()
    health_sample_record()

    response = staff_web.get(reverse("admin:audit_healthsample_changelist"))

    assert response.status_code == HTTPStatus.OK
    assert "Last 24 hours" in response.content.decode()
    assert "1 sample from" in response.content.decode()


def test_admin_banner_is_absent_without_open_alerts(staff_web):
    html = staff_web.get(reverse("admin:index")).content.decode()

    assert "open staff alert" not in html
    assert reverse("admin:operations") in html  # the link in the user links
