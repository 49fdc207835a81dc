"""Activity log, background jobs, the scheduler's rows and heartbeats (SPEC §3 audit)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from trading_lab.models import OwnedModel, OwnedQuerySet, TimeStampedModel

GENESIS_HASH = "0" * 64


class ActivityStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class ActivityAction(models.TextChoices):
    """What a user did. Later areas add their actions here (the column has no DB choices)."""

    SIGNUP = "signup", "Sign-up"
    SIGN_IN = "sign_in", "Sign-in"
    SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
    SIGN_OUT = "sign_out", "Sign-out"
    PASSWORD_CHANGE = "password_change", "Password change"
    PASSWORD_RESET = "password_reset", "Password reset"
    EMAIL_CHANGE = "email_change", "Email change"
    MFA_CHANGE = "mfa_change", "MFA change"
    SESSION_ENDED = "session_ended", "Session ended"
    TOKEN_CREATED = "token_created", "API token created"
    TOKEN_REVOKED = "token_revoked", "API token revoked"
    PROFILE_UPDATED = "profile_updated", "Profile updated"
    PREFERENCES_UPDATED = "preferences_updated", "Preferences updated"
    JOB_CANCELLED = "job_cancelled", "Job cancelled"
    JOB_RETRIED = "job_retried", "Job retried"
    PORTFOLIO_CREATED = "portfolio_created", "Portfolio created"
    PORTFOLIO_UPDATED = "portfolio_updated", "Portfolio updated"
    PORTFOLIO_DELETED = "portfolio_deleted", "Portfolio deleted"
    TRANSACTION_CREATED = "transaction_created", "Transaction created"
    TRANSACTION_UPDATED = "transaction_updated", "Transaction updated"
    TRANSACTION_DELETED = "transaction_deleted", "Transaction deleted"
    TRANSACTIONS_IMPORTED = "transactions_imported", "Transactions imported"
    EXPORT = "export", "Export"
    PRICES_IMPORTED = "prices_imported", "Prices imported"
    FX_RATES_IMPORTED = "fx_rates_imported", "FX rates imported"
    WATCHLIST_UPDATED = "watchlist_updated", "Watchlist updated"
    ALERT_CREATED = "alert_created", "Price alert created"
    ALERT_UPDATED = "alert_updated", "Price alert updated"
    ALERT_DELETED = "alert_deleted", "Price alert deleted"
    ALERT_REARMED = "alert_rearmed", "Price alert re-armed"
    NOTIFICATION_READ = "notification_read", "Notification read"
    DIVIDEND_CREATED = "dividend_created", "Dividend created"
    DIVIDEND_UPDATED = "dividend_updated", "Dividend updated"
    DIVIDEND_DELETED = "dividend_deleted", "Dividend deleted"
    DIVIDEND_CONFIRMED = "dividend_confirmed", "Dividend confirmed"
    DIVIDEND_REJECTED = "dividend_rejected", "Dividend rejected"
    DIVIDENDS_PROPOSED = "dividends_proposed", "Dividends proposed"
    PAPER_ACCOUNT_CREATED = "paper_account_created", "Paper account created"
    PAPER_ACCOUNT_RESET = "paper_account_reset", "Paper account reset"
    ORDER_PLACED = "order_placed", "Order placed"
    ORDER_CANCELLED = "order_cancelled", "Order cancelled"
    BOT_CREATED = "bot_created", "Bot created"
    BOT_UPDATED = "bot_updated", "Bot updated"
    BOT_DELETED = "bot_deleted", "Bot deleted"
    BOT_STARTED = "bot_started", "Bot started"
    BOT_PAUSED = "bot_paused", "Bot paused"
    BOT_RESUMED = "bot_resumed", "Bot resumed"
    BOT_STOPPED = "bot_stopped", "Bot stopped"
    BACKTEST_CREATED = "backtest_created", "Backtest started"
    BACKTEST_DELETED = "backtest_deleted", "Backtest deleted"
    SIGNAL_VALIDATION_RECORDED = "signal_validation_recorded", "Signal validation recorded"
    CONFIG_UPDATED = "config_updated", "System configuration changed"
    CREDENTIAL_ADDED = "credential_added", "Broker credential added"
    CREDENTIAL_UPDATED = "credential_updated", "Broker credential updated"
    CREDENTIAL_DELETED = "credential_deleted", "Broker credential deleted"
    BROKER_CONNECTED = "broker_connected", "Broker connected"
    BROKER_DISCONNECTED = "broker_disconnected", "Broker disconnected"
    INSIGHT_DISMISSED = "insight_dismissed", "Insight dismissed"
    INSIGHT_RESTORED = "insight_restored", "Insight restored"
    LOCAL_DATA_IMPORTED = "local_data_imported", "Browser data imported"
    ACCOUNT_DELETED = "account_deleted", "Account deleted"


class AppendOnlyError(Exception):
    """Activity rows are never edited or deleted through the ORM (retention archives first)."""


class ActivityLogQuerySet(OwnedQuerySet):
    """Bulk changes would slip past the model's guard, so they are refused as well.

    Django's deletion collector clears `user` when an account goes through the base manager,
    not this one, so that still works; pruning deletes the same deliberate way.
    """

    def update(self, **kwargs):
        raise AppendOnlyError("Activity log rows cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Activity log rows are removed only by prune_activity.")


class ActivityLog(OwnedModel):
    """One thing a user did, chained to the row before it by SHA-256.

    `row_hash` covers `prev_hash` and every recorded field except the `user` link, so deleting
    an account (which clears `user`) keeps the chain valid while `user_ref` stays as the only,
    pseudonymous, trace of who it was.
    """

    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    # Set by the service before hashing (auto_now_add would overwrite the hashed value).
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="activity",
    )
    user_ref = models.UUIDField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        max_length=8, choices=ActivityStatus.choices, default=ActivityStatus.SUCCESS
    )
    description = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64, editable=False)
    row_hash = models.CharField(max_length=64, unique=True, editable=False)

    objects = ActivityLogQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        verbose_name = "activity log entry"
        verbose_name_plural = "activity log"
        indexes = [models.Index(fields=["user", "-created_at"], name="audit_activity_user_time")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ActivityStatus.values),
                name="audit_activity_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Activity log rows cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Activity log rows are removed only by prune_activity.")


class ActivityChainHead(models.Model):
    """The single row that serialises appends and remembers the chain's two ends.

    Appending locks this row (SELECT ... FOR UPDATE), so concurrent writers chain one after
    another. `anchor_*` is where verification starts: the genesis, or the last row a prune
    archived.
    """

    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    anchor_seq = models.PositiveBigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="audit_chainhead_singleton"),
        ]

    def __str__(self) -> str:
        return f"Activity chain at #{self.last_seq}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class BackgroundJob(OwnedModel):
    """A long task's visible state: what it is, how far it got, and how it ended."""

    FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="jobs",
        help_text="Whose request started it; empty for system jobs.",
    )
    job_type = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=255, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    task_result_id = models.CharField(max_length=64, blank=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A running job is only asked to stop: it stops at its next progress check, so its final
    # status says what really happened (work that finished first still ends succeeded).
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=100),
                name="audit_job_progress_0_100",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=JobStatus.values), name="audit_job_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_type} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class ScheduledJob(TimeStampedModel):
    """A task the scheduler enqueues every `interval_seconds` while enabled (staff edit these)."""

    name = models.CharField(max_length=100, unique=True)
    task = models.CharField(
        max_length=200, help_text="Dotted path of a django-tasks task, e.g. audit.tasks.heartbeat."
    )
    kwargs = models.JSONField(default=dict, blank=True)
    interval_seconds = models.PositiveIntegerField()
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(interval_seconds__gt=0),
                name="audit_scheduledjob_interval_gt_0",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ExecutionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SchedulerExecution(TimeStampedModel):
    """One due run of a scheduled job; (job, scheduled_for) is unique so a tick runs once."""

    job = models.ForeignKey(ScheduledJob, on_delete=models.CASCADE, related_name="executions")
    scheduled_for = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ExecutionStatus.choices, default=ExecutionStatus.QUEUED
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration = models.DurationField(null=True, blank=True)
    success = models.BooleanField(null=True)
    error_details = models.TextField(blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    skipped_runs = models.PositiveIntegerField(
        default=0, help_text="Slots missed before this tick (the scheduler was down); not replayed."
    )

    class Meta:
        ordering = ["-scheduled_for"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "scheduled_for"], name="audit_execution_job_tick_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ExecutionStatus.values),
                name="audit_execution_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job} at {self.scheduled_for:%Y-%m-%d %H:%M:%S}"


class HeartbeatKind(models.TextChoices):
    WORKER = "worker", "Worker"
    SCHEDULER = "scheduler", "Scheduler"


class Heartbeat(models.Model):
    """The last sign of life of one worker or scheduler process."""

    kind = models.CharField(max_length=16, choices=HeartbeatKind.choices)
    instance = models.CharField(max_length=200, help_text="host:pid")
    beat_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "instance"], name="audit_heartbeat_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.instance}"


class SystemConfigEntry(TimeStampedModel):
    """A staff-set value of one system setting (audit.config.DEFINITIONS holds the defaults)."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField(help_text="Decimals as strings; validated by its definition.")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["key"]
        verbose_name = "system setting"

    def __str__(self) -> str:
        return f"{self.key} = {self.value}"


class SystemConfigVersion(models.Model):
    """The single row whose number rises by one with every configuration change."""

    version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pk=1), name="audit_systemconfigversion_single_row"
            )
        ]

    def __str__(self) -> str:
        return f"configuration version {self.version}"


class ApiCategory(models.TextChoices):
    """What an API request does, for throttling and the usage count."""

    READS = "reads", "Reads"
    WRITES = "writes", "Writes"
    IMPORTS = "imports", "Imports"
    ORDERS = "orders", "Order placement"


class ApiUsage(models.Model):
    """How many API requests of a category a user made on a day (UTC), counted as they pass."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_usage"
    )
    day = models.DateField()
    category = models.CharField(max_length=10, choices=ApiCategory.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "user", "category"]
        verbose_name = "API usage"
        verbose_name_plural = "API usage"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "day", "category"], name="audit_apiusage_user_day_category"
            ),
            models.CheckConstraint(
                condition=models.Q(category__in=ApiCategory.values),
                name="audit_apiusage_category_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.day} {self.category}: {self.count}"


class HealthSample(models.Model):
    """One reading of the deployment's health, recorded by the `record-health` schedule.

    The columns are what the admin charts (24 hours of them); `checks` keeps the whole report.
    """

    recorded_at = models.DateTimeField(db_index=True)
    healthy = models.BooleanField()
    database_latency_ms = models.FloatField(null=True, blank=True)
    worker_age_seconds = models.FloatField(null=True, blank=True)
    scheduler_age_seconds = models.FloatField(null=True, blank=True)
    queue_depth = models.PositiveIntegerField(null=True, blank=True)
    failed_jobs_last_hour = models.PositiveIntegerField(default=0)
    failed_runs_last_hour = models.PositiveIntegerField(default=0)
    open_circuits = models.PositiveIntegerField(default=0)
    checks = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-recorded_at"]
        get_latest_by = "recorded_at"

    def __str__(self) -> str:
        return f"{'healthy' if self.healthy else 'unhealthy'} at {self.recorded_at:%Y-%m-%d %H:%M}"


class StaffAlertKind(models.TextChoices):
    AUDIT_CHAIN_BROKEN = "audit_chain_broken", "Activity log chain broken"
    UNHEALTHY = "unhealthy", "Deployment unhealthy"


class StaffAlert(TimeStampedModel):
    """Something staff must look at; open until a staff member resolves it.

    At most one open alert per kind: a check that keeps failing updates the open alert (its
    `occurrences` and `last_seen_at`) rather than piling up copies.
    """

    kind = models.CharField(max_length=32, choices=StaffAlertKind.choices)
    title = models.CharField(max_length=200)
    details = models.TextField(blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(resolved_at__isnull=True),
                name="audit_staffalert_one_open_per_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=StaffAlertKind.values),
                name="audit_staffalert_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
