"""Writes of the audit area, one module per use case, re-exported here."""

from audit.services.activity import (
    ChainProblem,
    ChainReport,
    activity_chain_verify,
    activity_record,
    activity_records_failure,
    activity_row_hash,
)
from audit.services.jobs import (
    JobCancelled,
    JobRun,
    job_cancel,
    job_claim,
    job_create,
    job_enqueue,
    job_fail,
    job_progress,
    job_run,
    job_succeed,
    job_task,
)
from audit.services.scheduler import (
    heartbeat_record,
    scheduled_execution_run,
    scheduled_jobs_ensure_defaults,
    scheduled_task_resolve,
    scheduler_pass,
    scheduler_tick_due,
    task_results_prune,
)

__all__ = [
    "ChainProblem",
    "ChainReport",
    "JobCancelled",
    "JobRun",
    "activity_chain_verify",
    "activity_record",
    "activity_records_failure",
    "activity_row_hash",
    "heartbeat_record",
    "job_cancel",
    "job_claim",
    "job_create",
    "job_enqueue",
    "job_fail",
    "job_progress",
    "job_run",
    "job_succeed",
    "job_task",
    "scheduled_execution_run",
    "scheduled_jobs_ensure_defaults",
    "scheduled_task_resolve",
    "scheduler_pass",
    "scheduler_tick_due",
    "task_results_prune",
]
