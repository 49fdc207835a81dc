"""Staff-only JSON API of the audit area: model history, every job, detailed health (SPEC §6).

Staff see every user's rows here by design (SPEC §2); everyone else gets 401 or 403, and the
ownership walker checks that for each route.
"""

from datetime import datetime
from typing import Any

from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.health import health_details
from audit.models import BackgroundJob
from audit.serializers import JobFilterSerializer, JobSerializer
from audit.services.config import config_list, config_update, config_version
from trading_lab.api.mixins import NoStoreMixin
from trading_lab.exceptions import ApplicationError


class HistoryEntrySerializer(serializers.ModelSerializer):
    """One model history entry: who changed which row how, with the changed fields."""

    entity = serializers.SerializerMethodField()
    object_id = serializers.CharField(source="object_pk", help_text="The changed row's key.")
    action = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField()

    class Meta:
        model = LogEntry
        fields = [
            "id",
            "timestamp",
            "entity",
            "object_id",
            "object_repr",
            "action",
            "changes",
            "actor",
            "remote_addr",
            "additional_data",
        ]
        read_only_fields = fields

    def get_entity(self, entry: LogEntry) -> str:
        return f"{entry.content_type.app_label}.{entry.content_type.model}"

    def get_action(self, entry: LogEntry) -> str:
        return LogEntry.Action.choices[entry.action][1].lower()

    def get_actor(self, entry: LogEntry) -> dict[str, Any] | None:
        if entry.actor_id is None:
            return None
        return {"id": entry.actor_id, "email": entry.actor.email if entry.actor else None}


class HistoryFilterSerializer(serializers.Serializer):
    """Query parameters of the history list; all optional and combined with AND."""

    entity = serializers.CharField(
        required=False, help_text="A model as `app.model`, e.g. `portfolio.transaction`."
    )
    id = serializers.CharField(required=False, help_text="The changed row's primary key.")
    user = serializers.CharField(
        required=False, help_text="Who made the change: a user id or email address."
    )
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)

    def validate_entity(self, value: str) -> ContentType:
        app_label, _, model = value.lower().partition(".")
        try:
            model_class = apps.get_model(app_label, model)
        except (LookupError, ValueError) as exc:
            raise serializers.ValidationError(f"No model named {value!r}.") from exc
        return ContentType.objects.get_for_model(model_class)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "id" in attrs and "entity" not in attrs:
            raise serializers.ValidationError({"id": ["Give `entity` too."]})
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and until <= since:
            raise serializers.ValidationError({"until": ["Must be later than `since`."]})
        return attrs


def history_list(
    *,
    entity: ContentType | None = None,
    id: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[LogEntry]:
    """Every model history entry, newest first, narrowed by the filters."""
    entries = LogEntry.objects.select_related("content_type", "actor")
    if entity is not None:
        entries = entries.filter(content_type=entity)
    if id is not None:
        entries = entries.filter(object_pk=id)
    if user:
        by_user = Q(actor__email__iexact=user)
        if user.isdigit():
            by_user |= Q(actor_id=int(user))
        entries = entries.filter(by_user)
    if since is not None:
        entries = entries.filter(timestamp__gte=since)
    if until is not None:
        entries = entries.filter(timestamp__lt=until)
    return entries.order_by("-timestamp", "-pk")


@extend_schema(tags=["staff"], parameters=[HistoryFilterSerializer])
class StaffHistoryListApi(NoStoreMixin, generics.ListAPIView):
    """Model history of every row (staff only): `?entity=app.model&id=&user=&since=&until=`."""

    permission_classes = [IsAdminUser]
    serializer_class = HistoryEntrySerializer

    def get_queryset(self):
        filters = HistoryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return history_list(**filters.validated_data)


class StaffJobSerializer(JobSerializer):
    """A job with whose request started it."""

    user = serializers.EmailField(source="user.email", default=None, read_only=True)

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "user", "params"]
        read_only_fields = fields


class StaffJobFilterSerializer(JobFilterSerializer):
    user = serializers.CharField(required=False, help_text="A user id or email address.")


@extend_schema(tags=["staff"], parameters=[StaffJobFilterSerializer])
class StaffJobListApi(NoStoreMixin, generics.ListAPIView):
    """Every user's background jobs and the system's (staff only), newest first."""

    permission_classes = [IsAdminUser]
    serializer_class = StaffJobSerializer

    def get_queryset(self):
        filters = StaffJobFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        jobs = BackgroundJob.objects.select_related("user")
        data = filters.validated_data
        if data.get("status"):
            jobs = jobs.filter(status=data["status"])
        if data.get("job_type"):
            jobs = jobs.filter(job_type=data["job_type"])
        if data.get("user"):
            who = data["user"]
            by_user = Q(user__email__iexact=who)
            if who.isdigit():
                by_user |= Q(user_id=int(who))
            jobs = jobs.filter(by_user)
        return jobs.order_by("-created_at", "-pk")


@extend_schema(
    tags=["staff"],
    responses=inline_serializer(
        "StaffHealth",
        {
            "status": serializers.ChoiceField(choices=["ok", "fail"]),
            "checks": serializers.DictField(),
            "processes": serializers.ListField(child=serializers.DictField()),
            "jobs": serializers.DictField(child=serializers.IntegerField()),
            "providers": serializers.ListField(child=serializers.DictField()),
        },
    ),
)
class StaffHealthApi(NoStoreMixin, APIView):
    """Detailed health for staff: the public checks, each process, failures, providers."""

    permission_classes = [IsAdminUser]

    def get(self, request: Request) -> Response:
        return Response(health_details())


def _config_answer() -> dict[str, Any]:
    return {
        "version": config_version(),
        "settings": [
            {
                "key": item.definition.key,
                "value": item.definition.stored(item.value),
                "default": item.definition.stored(item.default),
                "overridden": item.overridden,
                "type": "integer" if item.definition.kind is int else "decimal",
                "minimum": item.definition.stored(item.definition.minimum),
                "maximum": item.definition.stored(item.definition.maximum),
                "help": item.definition.help,
            }
            for item in config_list()
        ],
    }


CONFIG_ANSWER = inline_serializer(
    "StaffConfig",
    {
        "version": serializers.IntegerField(),
        "settings": serializers.ListField(child=serializers.DictField()),
    },
)


class StaffConfigApi(NoStoreMixin, APIView):
    """System configuration (staff only): every setting with its value, default and bounds.

    PATCH (or PUT) takes `{"key": value, ...}`; `null` returns a setting to its default. All
    values are checked first: one bad value refuses the whole change (400, errors by key).
    """

    permission_classes = [IsAdminUser]

    @extend_schema(tags=["staff"], responses=CONFIG_ANSWER)
    def get(self, request: Request) -> Response:
        return Response(_config_answer())

    @extend_schema(
        tags=["staff"],
        request=inline_serializer("StaffConfigChange", {"key": serializers.CharField()}),
        responses=CONFIG_ANSWER,
    )
    def patch(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ApplicationError(
                "Send an object of settings.", {"non_field_errors": ["Expected an object."]}
            )
        config_update(changes=dict(request.data), user=request.user, request=request)
        return Response(_config_answer())

    @extend_schema(
        tags=["staff"],
        request=inline_serializer("StaffConfigReplace", {"key": serializers.CharField()}),
        responses=CONFIG_ANSWER,
    )
    def put(self, request: Request) -> Response:
        return self.patch(request)
