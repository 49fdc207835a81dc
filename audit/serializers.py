"""API shapes of the audit area: the activity log and background jobs."""

from typing import Any

from rest_framework import serializers

from audit.models import ActivityAction, ActivityLog, ActivityStatus, BackgroundJob, JobStatus


class ActivitySerializer(serializers.ModelSerializer):
    """One thing the user did: sign-ins, token and profile changes, exports..."""

    class Meta:
        model = ActivityLog
        fields = [
            "id",
            "created_at",
            "action",
            "status",
            "description",
            "details",
            "ip_address",
            "user_agent",
        ]
        read_only_fields = fields


class ActivityFilterSerializer(serializers.Serializer):
    """Query parameters of the activity list."""

    action = serializers.ChoiceField(choices=ActivityAction.choices, required=False)
    status = serializers.ChoiceField(choices=ActivityStatus.choices, required=False)
    since = serializers.DateTimeField(
        required=False, help_text="Only rows at or after this time (ISO 8601; a date is midnight)."
    )
    until = serializers.DateTimeField(
        required=False, help_text="Only rows before this time (ISO 8601; a date is midnight)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and until <= since:
            raise serializers.ValidationError({"until": ["Must be later than `since`."]})
        return attrs


class JobSerializer(serializers.ModelSerializer):
    """A long task's state: progress while it runs, then its result or error."""

    class Meta:
        model = BackgroundJob
        fields = [
            "id",
            "job_type",
            "status",
            "progress",
            "message",
            "result",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields


class JobFilterSerializer(serializers.Serializer):
    """Query parameters of the job list."""

    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)
    job_type = serializers.CharField(max_length=64, required=False)
