"""Tasks of the audit area, run by `manage.py db_worker` (or whichever task backend is set).

Tasks parse their arguments and call services; the scheduler's defaults point at the others.
"""

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone
from django_tasks import task

from audit.models import HeartbeatKind, StaffAlertKind
from audit.services.activity import activity_chain_verify
from audit.services.backups import backup_create
from audit.services.config import config_get
from audit.services.monitoring import health_sample_record, staff_alert_raise
from audit.services.retention import activity_prune
from audit.services.scheduler import (
    heartbeat_record,
    scheduled_execution_run,
    stale_work_reclaim,
    task_results_prune,
)


class AuditChainBrokenError(Exception):
    """The activity log's hash chain does not verify; the message lists every problem."""


@task
def run_scheduled_execution(execution_id: int) -> None:
    """Run one scheduler tick's job; a duplicate delivery of the same tick does nothing."""
    scheduled_execution_run(execution_id=execution_id)


@task
def worker_heartbeat() -> None:
    """Write this worker's heartbeat: it ran, so a worker consumes the queue."""
    heartbeat_record(kind=HeartbeatKind.WORKER)


@task
def verify_audit() -> int:
    """Verify the activity log chain; fail with the problems when it is broken."""
    report = activity_chain_verify()
    if not report.intact:
        problems = "\n".join(problem.message for problem in report.problems)
        count = len(report.problems)
        summary = f"The activity log chain is broken ({count} problem{'s' if count != 1 else ''})"
        # Staff hear of it at once (an open alert in the admin, an email to ADMINS); the run
        # still fails, so the scheduler's log shows it too.
        staff_alert_raise(
            kind=StaffAlertKind.AUDIT_CHAIN_BROKEN,
            title=summary,
            details=problems,
        )
        raise AuditChainBrokenError(f"{summary}:\n{problems}")
    return report.rows


@task
def prune_task_results() -> dict[str, int]:
    """Delete finished task results and stale heartbeats older than their retention."""
    return task_results_prune()


@task
def reclaim_stale_work() -> dict[str, int]:
    """Fail the jobs and scheduled runs whose worker died (silent past WORK_STALE_AFTER)."""
    return stale_work_reclaim()


@task
def prune_activity() -> dict[str, int | str | None]:
    """Archive and delete activity rows past retention (the chain stays verifiable)."""
    report = activity_prune()
    return {
        "rows": report.rows,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "archive": str(report.archive) if report.archive else None,
    }


@task
def prune_history() -> str:
    """Flush model history entries past their retention (system configuration), auditlogflush."""
    before = timezone.localdate() - timedelta(days=config_get("retention.history_days"))
    out = StringIO()
    call_command("auditlogflush", "--yes", "--before-date", before.isoformat(), stdout=out)
    return out.getvalue().strip()


@task
def backup_database() -> str:
    """Write the daily database backup and rotate old ones."""
    return str(backup_create())


@task
def record_health() -> dict[str, object]:
    """Store a health sample (the admin's 24-hour chart); alert staff while unhealthy."""
    sample = health_sample_record()
    return {"healthy": sample.healthy, "sample_id": sample.pk}
