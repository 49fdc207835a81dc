"""The activity log as a CSV download (the Activity tab's export)."""

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from audit.models import ActivityAction
from audit.selectors import activity_list
from audit.services.activity import activity_record, activity_records_failure
from trading_lab.exports import ExportFile, ExportFormat, export_file

ACTIVITY_FIELDS = (
    "time",
    "action",
    "status",
    "description",
    "ip_address",
    "user_agent",
    "request_id",
)


@activity_records_failure(ActivityAction.EXPORT, "The activity export")
def activity_export(
    *, user: Any, filters: dict[str, Any], tz, request: HttpRequest | None = None
) -> ExportFile:
    """The user's activity rows matching `filters` (as `activity_list` takes them), newest first.

    Times are written in the user's time zone `tz`, with their offset. The export itself is
    recorded, after the rows are read, so it is not part of the file it produces.
    """
    labels = dict(ActivityAction.choices)
    rows = [
        {
            "time": row.created_at.astimezone(tz).isoformat(),
            "action": labels.get(row.action, row.action),
            "status": row.status,
            "description": row.description,
            "ip_address": row.ip_address,
            "user_agent": row.user_agent,
            "request_id": row.request_id,
        }
        for row in activity_list(user=user, **filters).iterator(chunk_size=2000)
    ]
    table = ("Activity", ACTIVITY_FIELDS, rows)
    export = export_file(
        fmt=ExportFormat.CSV,
        filename=f"activity-{timezone.localdate().isoformat()}.csv",
        csv_sheet=table,
        document={"activity": rows},
        sheets=[table],
    )
    activity_record(
        user=user,
        action=ActivityAction.EXPORT,
        description=f"Exported the activity log as CSV ({len(rows)} rows).",
        details={"kind": "activity", "format": "csv", "rows": len(rows)},
        request=request,
    )
    return export
