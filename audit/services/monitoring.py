"""Health samples and staff alerts: what the operations page and the admin show staff.

`health_sample_record` runs every 5 minutes (the `record-health` schedule): it stores the
detailed health report's numbers, prunes samples past retention, and raises (or refreshes)
an open "unhealthy" alert while the deployment is unhealthy. `staff_alert_raise` is how any
check tells staff something is wrong: one open alert per kind, an email to ADMINS when it
opens, never a second copy while it stays open.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import mail_admins
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.health import health_details
from audit.models import HealthSample, StaffAlert, StaffAlertKind
from audit.services.config import config_get
from trading_lab.exceptions import ApplicationError

logger = logging.getLogger(__name__)

CHART_HOURS = 24


def health_sample_record(*, now: datetime | None = None) -> HealthSample:
    """Store one health reading; raise the unhealthy alert when a check fails."""
    now = now or timezone.now()
    report = health_details(now=now)
    checks = report["checks"]
    jobs = report["jobs"]
    sample = HealthSample.objects.create(
        recorded_at=now,
        healthy=report["status"] == "ok",
        database_latency_ms=checks["database"].get("latency_ms"),
        worker_age_seconds=checks["worker"].get("heartbeat_age_seconds"),
        scheduler_age_seconds=checks["scheduler"].get("heartbeat_age_seconds"),
        queue_depth=checks["queue"].get("depth"),
        failed_jobs_last_hour=jobs["failed_last_hour"],
        failed_runs_last_hour=jobs["scheduled_runs_failed_last_hour"],
        open_circuits=sum(1 for p in report["providers"] if p["circuit"] != "closed"),
        checks=checks,
    )
    health_samples_prune(now=now)
    if not sample.healthy:
        failing = sorted(name for name, check in checks.items() if check.get("ok") is False)
        staff_alert_raise(
            kind=StaffAlertKind.UNHEALTHY,
            title=f"Health check failing: {', '.join(failing)}",
            details=f"Sample of {now:%Y-%m-%d %H:%M:%S %Z}: {checks}",
            now=now,
        )
    return sample


def health_samples_prune(*, now: datetime | None = None) -> int:
    """Delete samples older than `retention.health_samples_days`; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=config_get("retention.health_samples_days"))
    deleted, _ = HealthSample.objects.filter(recorded_at__lt=cutoff).delete()
    return deleted


@dataclass(frozen=True)
class HealthChart:
    """The last 24 hours of samples laid out for an SVG line chart (no JavaScript needed)."""

    samples: list[HealthSample]
    latency_points: str  # SVG polyline points, in a 0..width by 0..height box
    unhealthy_marks: list[str]  # x positions of unhealthy samples
    max_latency_ms: float
    width: int
    height: int
    start: datetime
    end: datetime

    @property
    def healthy_share(self) -> float | None:
        if not self.samples:
            return None
        return sum(1 for s in self.samples if s.healthy) / len(self.samples)


def health_chart(
    *, now: datetime | None = None, width: int = 720, height: int = 160
) -> HealthChart:
    now = now or timezone.now()
    start = now - timedelta(hours=CHART_HOURS)
    samples = list(
        HealthSample.objects.filter(recorded_at__gte=start, recorded_at__lte=now).order_by(
            "recorded_at"
        )
    )
    span = (now - start).total_seconds()
    latencies = [s.database_latency_ms for s in samples if s.database_latency_ms is not None]
    top = max(latencies, default=0.0) or 1.0
    points = []
    marks = []
    for sample in samples:
        x = (sample.recorded_at - start).total_seconds() / span * width
        if sample.database_latency_ms is not None:
            y = height - (sample.database_latency_ms / top) * (height - 4) - 2
            points.append(f"{x:.1f},{y:.1f}")
        if not sample.healthy:
            marks.append(f"{x:.1f}")  # text: never localised in the SVG
    return HealthChart(
        samples=samples,
        latency_points=" ".join(points),
        unhealthy_marks=marks,
        max_latency_ms=round(top, 2),
        width=width,
        height=height,
        start=start,
        end=now,
    )


def staff_alert_raise(
    *, kind: str, title: str, details: str = "", now: datetime | None = None
) -> StaffAlert:
    """Open an alert of `kind`, or refresh the open one; email ADMINS when it opens."""
    if kind not in StaffAlertKind.values:
        raise ValueError(f"Unknown staff alert kind {kind!r}.")
    now = now or timezone.now()
    title = title[:200]
    for _ in range(2):
        try:
            with transaction.atomic():
                alert = (
                    StaffAlert.objects.select_for_update()
                    .filter(kind=kind, resolved_at__isnull=True)
                    .first()
                )
                if alert is not None:
                    alert.occurrences += 1
                    alert.last_seen_at = now
                    alert.title = title
                    alert.details = details
                    fields = ["occurrences", "last_seen_at", "title", "details", "updated_at"]
                    alert.save(update_fields=fields)
                    return alert
                alert = StaffAlert.objects.create(
                    kind=kind, title=title, details=details, last_seen_at=now
                )
        except IntegrityError:
            # Another process opened the same kind between our read and insert: refresh it.
            continue
        logger.error("Staff alert opened: %s", title, extra={"alert_kind": kind})
        _alert_mail(alert)
        return alert
    raise RuntimeError(f"Could not open or refresh the {kind} alert.")


def _alert_mail(alert: StaffAlert) -> None:
    def send() -> None:
        try:
            mail_admins(f"[alert] {alert.title}", alert.details or alert.title)
        except Exception:
            # A broken mail server must not hide the alert: it stays open in the admin.
            logger.exception("Could not email the staff alert %s.", alert.pk)

    transaction.on_commit(send)


def staff_alert_resolve(
    *, alert: StaffAlert, user: Any, request: HttpRequest | None = None
) -> StaffAlert:
    """Close an open alert; the next failure of its check opens a new one."""
    with transaction.atomic():
        alert = StaffAlert.objects.select_for_update().get(pk=alert.pk)
        if alert.resolved_at is not None:
            raise ApplicationError("This alert is already resolved.")
        alert.resolved_at = timezone.now()
        alert.resolved_by = user if getattr(user, "is_authenticated", False) else None
        alert.save(update_fields=["resolved_at", "resolved_by", "updated_at"])
    return alert


def staff_alerts_open() -> list[StaffAlert]:
    return list(StaffAlert.objects.filter(resolved_at__isnull=True).order_by("-last_seen_at"))
