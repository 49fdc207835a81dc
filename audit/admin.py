"""Staff tools for audit and operations: activity log, jobs, the scheduler and heartbeats.

The activity log and the scheduler's run records are read-only here: they are evidence.
Scheduled jobs are what staff tune (interval, enabled, next run).
"""

import json
from typing import Any

from auditlog.admin import LogEntryAdmin as AuditlogLogEntryAdmin
from auditlog.models import LogEntry
from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from audit.config import DEFINITIONS
from audit.models import (
    ActivityAction,
    ActivityLog,
    ApiUsage,
    BackgroundJob,
    HealthSample,
    Heartbeat,
    JobStatus,
    ScheduledJob,
    SchedulerExecution,
    StaffAlert,
    SystemConfigEntry,
    SystemConfigVersion,
)
from audit.services.config import config_update
from audit.services.jobs import job_cancel, job_is_retryable, job_retry
from audit.services.monitoring import health_chart, staff_alert_resolve
from audit.services.scheduler import scheduled_job_run_now, scheduled_task_resolve
from trading_lab.exceptions import ApplicationError


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only the application writes: staff may look, never add, edit or delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def pretty_json(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


class ActionFilter(admin.SimpleListFilter):
    # From the enum: a DISTINCT over the whole log to list the actions would be slow.
    title = "action"
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return ActivityAction.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(ActivityLog)
class ActivityLogAdmin(ReadOnlyAdmin):
    list_display = ("seq", "created_at", "user", "action", "status", "ip_address", "description")
    list_filter = (ActionFilter, "status", "created_at")
    search_fields = ("user__email", "description", "ip_address")
    list_select_related = ("user",)
    show_full_result_count = False
    ordering = ("-seq",)
    fields = (
        "seq",
        "created_at",
        "user",
        "user_ref",
        "action",
        "status",
        "description",
        "details_pretty",
        "ip_address",
        "user_agent",
        "request_id",
        "prev_hash",
        "row_hash",
    )
    readonly_fields = fields

    @admin.display(description="details")
    def details_pretty(self, obj: ActivityLog) -> str:
        return pretty_json(obj.details)


@admin.register(BackgroundJob)
class BackgroundJobAdmin(admin.ModelAdmin):
    """Jobs are written by their tasks; staff read them and may cancel one."""

    list_display = (
        "id",
        "job_type",
        "status",
        "progress",
        "user",
        "created_at",
        "started_at",
        "finished_at",
    )
    list_filter = ("status", "job_type", "created_at")
    search_fields = ("job_type", "message", "user__email")
    list_select_related = ("user",)
    show_full_result_count = False
    fields = (
        "job_type",
        "status",
        "progress",
        "message",
        "user",
        "params_pretty",
        "result_pretty",
        "error",
        "task_result_id",
        "created_at",
        "started_at",
        "finished_at",
        "cancel_requested_at",
    )
    readonly_fields = fields
    actions = ("cancel_selected", "retry_selected")

    @admin.display(description="params")
    def params_pretty(self, obj: BackgroundJob) -> str:
        return pretty_json(obj.params)

    @admin.display(description="result")
    def result_pretty(self, obj: BackgroundJob) -> str:
        return pretty_json(obj.result)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: BackgroundJob | None = None):
        return False

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("audit.change_backgroundjob")

    @admin.action(description="Cancel selected jobs", permissions=["cancel"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        asked = finished = 0
        for job in queryset.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]):
            try:
                job_cancel(job=job, user=request.user, request=request)
            except ApplicationError:
                finished += 1  # it ended between the list and the click
            else:
                asked += 1
        finished += queryset.exclude(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).count()
        if asked:
            self.message_user(
                request,
                ngettext(
                    "Cancelled (or asked to stop) %d job.",
                    "Cancelled (or asked to stop) %d jobs.",
                    asked,
                )
                % asked,
                messages.SUCCESS,
            )
        if finished:
            self.message_user(
                request,
                ngettext("%d job had already finished.", "%d jobs had already finished.", finished)
                % finished,
                messages.WARNING,
            )

    @admin.action(description="Retry selected failed or cancelled jobs", permissions=["cancel"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        retried = []
        skipped = 0
        for job in queryset:
            if not job_is_retryable(job):
                skipped += 1
                continue
            retried.append(job_retry(job=job, user=request.user, request=request).pk)
        if retried:
            self.message_user(
                request,
                f"Queued again as job{'s' if len(retried) > 1 else ''} "
                + ", ".join(f"#{pk}" for pk in retried)
                + ".",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%d job was skipped: only failed or cancelled imports and price refreshes "
                    "can be retried.",
                    "%d jobs were skipped: only failed or cancelled imports and price refreshes "
                    "can be retried.",
                    skipped,
                )
                % skipped,
                messages.WARNING,
            )


class ScheduledJobForm(forms.ModelForm):
    class Meta:
        model = ScheduledJob
        fields = ("name", "task", "kwargs", "interval_seconds", "enabled", "next_run_at")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "task" in cleaned and "kwargs" in cleaned:
            try:
                scheduled_task_resolve(path=cleaned["task"], kwargs=cleaned["kwargs"])
            except ApplicationError as exc:
                for field, errors in exc.extra.items():
                    for error in errors:
                        self.add_error(field, error)
        return cleaned


@admin.register(ScheduledJob)
class ScheduledJobAdmin(admin.ModelAdmin):
    form = ScheduledJobForm
    list_display = ("name", "task", "interval_seconds", "enabled", "next_run_at", "last_run_at")
    list_editable = ("interval_seconds", "enabled")
    list_filter = ("enabled",)
    search_fields = ("name", "task", "description")
    fields = (
        "name",
        "task",
        "kwargs",
        "interval_seconds",
        "enabled",
        "next_run_at",
        "last_run_at",
        "description",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("last_run_at", "description", "created_at", "updated_at")
    actions = ("run_now",)

    @admin.action(
        description="Run selected jobs at the next scheduler pass", permissions=["change"]
    )
    def run_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        now = timezone.now()
        count = 0
        for job in queryset:
            scheduled_job_run_now(job=job, now=now)
            count += 1
        self.message_user(
            request,
            ngettext(
                "%d job will run at the scheduler's next pass.",
                "%d jobs will run at the scheduler's next pass.",
                count,
            )
            % count,
            messages.SUCCESS,
        )


@admin.register(SchedulerExecution)
class SchedulerExecutionAdmin(ReadOnlyAdmin):
    list_display = (
        "job",
        "scheduled_for",
        "status",
        "success",
        "duration",
        "started_at",
        "skipped_runs",
    )
    list_filter = ("status", "success", "job", "scheduled_for")
    search_fields = ("job__name", "error_details")
    list_select_related = ("job",)
    show_full_result_count = False
    date_hierarchy = "scheduled_for"


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("kind", "instance", "beat_at", "age")
    list_filter = ("kind",)
    search_fields = ("instance",)
    ordering = ("kind", "-beat_at")

    @admin.display(description="age")
    def age(self, obj: Heartbeat) -> str:
        seconds = int((timezone.now() - obj.beat_at).total_seconds())
        return f"{seconds} s"


# auditlog's own admin searches `actor__first_name`, which our User does not have.
admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class LogEntryAdmin(AuditlogLogEntryAdmin):
    """Model history, read-only (auditlog's admin), searchable by the actor's email."""

    search_fields = ("object_repr", "changes", "actor__email")
    show_full_result_count = False

    def has_delete_permission(self, request: HttpRequest, obj: LogEntry | None = None) -> bool:
        return False


class SystemConfigEntryForm(forms.ModelForm):
    """A setting chosen from the definitions, its value checked against that definition."""

    key = forms.ChoiceField(choices=[(key, key) for key in sorted(DEFINITIONS)])
    value = forms.CharField(help_text="A number; each setting's bounds are listed below.")

    class Meta:
        model = SystemConfigEntry
        fields = ("key", "value")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        key, raw = cleaned.get("key"), cleaned.get("value")
        if key and raw is not None:
            definition = DEFINITIONS[key]
            try:
                cleaned["value"] = definition.stored(definition.parse(raw))
            except ValueError as exc:
                self.add_error("value", str(exc))
        return cleaned


@admin.register(SystemConfigEntry)
class SystemConfigEntryAdmin(admin.ModelAdmin):
    """Staff-set system settings; saving goes through the service (version, activity log)."""

    form = SystemConfigEntryForm
    list_display = ("key", "value", "default", "updated_by", "updated_at")
    search_fields = ("key",)
    readonly_fields = ("definition_help", "updated_by", "updated_at")
    list_select_related = ("updated_by",)

    @admin.display(description="default")
    def default(self, obj: SystemConfigEntry) -> str:
        definition = DEFINITIONS.get(obj.key)
        return str(definition.default()) if definition else "(no longer defined)"

    @admin.display(description="what it is")
    def definition_help(self, obj: SystemConfigEntry | None) -> str:
        lines = [
            f"{d.key}: {d.help} ({d.minimum} to {d.maximum}; default {d.default()})"
            for d in (DEFINITIONS[key] for key in sorted(DEFINITIONS))
        ]
        items = format_html_join("", "<li>{}</li>", ((line,) for line in lines))
        return format_html("<ul>{}</ul>", items)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The key of a stored setting never changes; a different setting is a new row.
        return (*self.readonly_fields, "key") if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: SystemConfigEntry, form, change) -> None:
        config_update(changes={obj.key: obj.value}, user=request.user, request=request)
        saved = SystemConfigEntry.objects.get(key=obj.key)
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at

    def delete_model(self, request: HttpRequest, obj: SystemConfigEntry) -> None:
        config_update(changes={obj.key: None}, user=request.user, request=request)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        config_update(
            changes=dict.fromkeys(queryset.values_list("key", flat=True)),
            user=request.user,
            request=request,
        )


@admin.register(SystemConfigVersion)
class SystemConfigVersionAdmin(ReadOnlyAdmin):
    list_display = ("version", "updated_at")


@admin.register(ApiUsage)
class ApiUsageAdmin(ReadOnlyAdmin):
    """Each user's API requests per day and category (counted as they pass the throttles)."""

    list_display = ("day", "user", "category", "count")
    list_filter = ("category", "day")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    date_hierarchy = "day"
    show_full_result_count = False


@admin.register(HealthSample)
class HealthSampleAdmin(ReadOnlyAdmin):
    """Health readings of the record-health schedule; the list opens with a 24-hour chart."""

    list_display = (
        "recorded_at",
        "healthy",
        "database_latency_ms",
        "worker_age_seconds",
        "scheduler_age_seconds",
        "queue_depth",
        "failed_jobs_last_hour",
        "failed_runs_last_hour",
        "open_circuits",
    )
    list_filter = ("healthy", "recorded_at")
    date_hierarchy = "recorded_at"
    show_full_result_count = False
    fields = (*list_display, "checks_pretty")
    readonly_fields = fields

    @admin.display(description="checks")
    def checks_pretty(self, obj: HealthSample) -> str:
        return pretty_json(obj.checks)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        return super().changelist_view(
            request, extra_context={**(extra_context or {}), "chart": health_chart()}
        )


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return (("open", "Open"), ("resolved", "Resolved"))

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(StaffAlert)
class StaffAlertAdmin(admin.ModelAdmin):
    """Alerts raised by checks (a broken activity chain, failing health); staff resolve them."""

    list_display = ("title", "kind", "occurrences", "created_at", "last_seen_at", "resolved_at")
    list_filter = (OpenFilter, "kind")
    search_fields = ("title", "details")
    fields = (
        "kind",
        "title",
        "details",
        "occurrences",
        "created_at",
        "last_seen_at",
        "resolved_at",
        "resolved_by",
    )
    readonly_fields = fields
    actions = ("resolve_selected",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: StaffAlert | None = None) -> bool:
        return False

    @admin.action(description="Resolve selected alerts", permissions=["change"])
    def resolve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for alert in queryset.filter(resolved_at__isnull=True):
            staff_alert_resolve(alert=alert, user=request.user, request=request)
            count += 1
        self.message_user(
            request,
            ngettext("%d alert resolved.", "%d alerts resolved.", count) % count,
            messages.SUCCESS,
        )
