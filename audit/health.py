"""Health of the deployment: database, cache, worker and scheduler heartbeats, queue depth.

`/healthz` (public) and the staff-only detailed endpoint both build on `health_report()`. What
it returns is safe to show anyone: booleans, ages and counts; never hosts, versions, paths or
error text (failures are logged instead).
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.db import DatabaseCache
from django.db import DatabaseError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.models import DBTaskResult

from audit.models import (
    BackgroundJob,
    ExecutionStatus,
    Heartbeat,
    HeartbeatKind,
    JobStatus,
    SchedulerExecution,
)
from audit.services.scheduler import task_backend_is_database

logger = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_FAIL = "fail"


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    checks: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"status": STATUS_OK if self.healthy else STATUS_FAIL, "checks": self.checks}


def _database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("Health: the database did not answer.", exc_info=True)
        return {"ok": False, "latency_ms": None}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _cache() -> dict[str, Any]:
    key = f"healthz:{get_random_string(16)}"
    token = get_random_string(16)
    backend = caches["default"]
    try:
        if isinstance(backend, DatabaseCache):
            # A failed query must not poison a surrounding transaction (PostgreSQL).
            with transaction.atomic():
                ok = _cache_round_trip(backend, key, token)
        else:
            ok = _cache_round_trip(backend, key, token)
    except Exception:
        # Cache backends raise their own error types (database, Redis, memcached...).
        logger.warning("Health: the cache failed.", exc_info=True)
        ok = False
    return {"ok": ok}


def _cache_round_trip(backend: BaseCache, key: str, token: str) -> bool:
    backend.set(key, token, timeout=10)
    ok = backend.get(key) == token
    backend.delete(key)
    return ok


def _heartbeat(kind: str, now: datetime) -> dict[str, Any]:
    last = Heartbeat.objects.filter(kind=kind).aggregate(last=Max("beat_at"))["last"]
    if last is None:
        return {"ok": False, "heartbeat_age_seconds": None}
    age = max((now - last).total_seconds(), 0.0)
    return {
        "ok": age <= settings.HEARTBEAT_STALE_AFTER.total_seconds(),
        "heartbeat_age_seconds": round(age, 1),
    }


def _queue_depth() -> int | None:
    """Tasks ready to run now; None when the queue is not in this database (a broker)."""
    if not task_backend_is_database():
        return None
    return DBTaskResult.objects.ready().count()


def health_report() -> HealthReport:
    """Check every part the app needs; healthy only when all of them answer in time."""
    database = _database()
    cache_check = _cache()
    if database["ok"]:
        now = timezone.now()
        worker = _heartbeat(HeartbeatKind.WORKER, now)
        scheduler = _heartbeat(HeartbeatKind.SCHEDULER, now)
        depth = _queue_depth()
    else:
        worker = {"ok": False, "heartbeat_age_seconds": None}
        scheduler = {"ok": False, "heartbeat_age_seconds": None}
        depth = None
    checks = {
        "database": database,
        "cache": cache_check,
        "worker": worker,
        "scheduler": scheduler,
        "queue": {"depth": depth},
    }
    healthy = all(checks[name]["ok"] for name in ("database", "cache", "worker", "scheduler"))
    return HealthReport(healthy=healthy, checks=checks)


def health_details(*, now: datetime | None = None) -> dict[str, Any]:
    """The public checks plus what staff need to act: each process, failures, providers."""
    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    report = health_report().as_dict()
    report["processes"] = [
        {
            "kind": beat.kind,
            "instance": beat.instance,
            "heartbeat_age_seconds": round(max((now - beat.beat_at).total_seconds(), 0.0), 1),
        }
        for beat in Heartbeat.objects.order_by("kind", "instance")
    ]
    report["jobs"] = {
        "running": BackgroundJob.objects.filter(status=JobStatus.RUNNING).count(),
        "queued": BackgroundJob.objects.filter(status=JobStatus.QUEUED).count(),
        "failed_last_hour": BackgroundJob.objects.filter(
            status=JobStatus.FAILED, finished_at__gte=hour_ago
        ).count(),
        "scheduled_runs_failed_last_hour": SchedulerExecution.objects.filter(
            status=ExecutionStatus.FAILED, finished_at__gte=hour_ago
        ).count(),
    }
    report["providers"] = _providers()
    return report


def _providers() -> list[dict[str, Any]]:
    # The portfolio app owns market-data providers; the audit app reads their state if present.
    try:
        provider_state = apps.get_model("portfolio", "ProviderState")
    except LookupError:
        return []
    return [
        {
            "provider": state.provider,
            "circuit": state.circuit,
            "consecutive_failures": state.consecutive_failures,
            "calls_in_window": state.calls_in_window,
            "opened_at": state.opened_at,
            "last_error": state.last_error,
        }
        for state in provider_state.objects.order_by("provider")
    ]
