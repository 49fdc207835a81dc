"""Staff's main flow in a real browser: an alert on every admin page, the operations page with
its health chart, then run a scheduled job now, retry a failed import and resolve the alert."""

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone
from playwright.sync_api import expect

from audit.models import (
    BackgroundJob,
    HealthSample,
    Heartbeat,
    HeartbeatKind,
    JobStatus,
    ScheduledJob,
    StaffAlert,
    StaffAlertKind,
)
from audit.services.jobs import job_create, job_fail
from audit.services.monitoring import health_sample_record, staff_alert_raise
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def staff(db):
    user = UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def operations_data(db):
    trader = UserFactory(email="trader@example.com")
    now = timezone.now()
    for kind in HeartbeatKind.values:
        Heartbeat.objects.create(kind=kind, instance=f"{kind}:1", beat_at=now)
    for hours in range(23, 0, -1):  # a day of history, two hours of it unhealthy
        HealthSample.objects.create(
            recorded_at=now - timedelta(hours=hours),
            healthy=hours not in (9, 10),
            database_latency_ms=1.5 + (hours % 5) * 0.7,
        )
    health_sample_record()
    staff_alert_raise(
        kind=StaffAlertKind.AUDIT_CHAIN_BROKEN,
        title="The activity log chain is broken (1 problem)",
        details="Row #12 was changed after it was written.",
    )
    job = job_create(
        user=trader,
        job_type="import",
        params={"portfolio_id": 1, "filename": "a.csv", "dry_run": False, "content": ""},
    )
    BackgroundJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    job_fail(job_id=job.pk, error="Row 2, column price: not a number.")
    ScheduledJob.objects.create(
        name="nightly-report",
        task="audit.tasks.worker_heartbeat",
        interval_seconds=86400,
        next_run_at=now + timedelta(hours=5),
    )
    return job


def test_staff_work_through_the_operations_page(
    live_server, staff, operations_data, open_page, screenshot
):
    page = open_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/?next=/admin/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    banner = page.get_by_role("alert")
    expect(banner).to_contain_text("1 open staff alert")
    banner.get_by_role("link", name="see the operations page").click()
    expect(page).to_have_url(re.compile(r"/admin/operations/$"))
    expect(page.get_by_role("img", name=re.compile("Database latency"))).to_be_visible()
    expect(page.get_by_text("Row 2, column price: not a number.")).to_be_visible()
    screenshot(page, "admin-operations")

    row = page.get_by_role("row").filter(has_text="nightly-report")
    row.get_by_role("button", name="Run now").click()
    expect(
        page.get_by_text("nightly-report will run at the scheduler's next pass.")
    ).to_be_visible()

    failed = page.get_by_role("row").filter(has_text=f"import #{operations_data.pk}")
    failed.get_by_role("button", name="Retry").click()
    expect(
        page.get_by_text(re.compile(rf"Job #{operations_data.pk} queued again as #\d+\."))
    ).to_be_visible()

    page.get_by_role("row").filter(has_text="chain is broken").get_by_role(
        "button", name="Resolve"
    ).click()
    expect(page.get_by_text("No open alerts.")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    screenshot(page, "admin-operations-after")

    assert ScheduledJob.objects.get(name="nightly-report").next_run_at <= timezone.now()
    assert BackgroundJob.objects.filter(status=JobStatus.QUEUED, job_type="import").count() == 1
    assert not StaffAlert.objects.filter(resolved_at__isnull=True).exists()
