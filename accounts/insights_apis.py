"""JSON API of dismissed insights and of the old front end's localStorage import (SPEC §6)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.insights import dismissed_insight_list, insight_dismiss, insight_restore
from accounts.local_import import local_storage_import
from accounts.models import DismissedInsight


class DismissedInsightSerializer(serializers.ModelSerializer):
    """An insight the user closed, and when."""

    class Meta:
        model = DismissedInsight
        fields = ["insight_id", "dismissed_at"]
        read_only_fields = fields


class LocalImportResultSerializer(serializers.Serializer):
    """What an import read, left out and changed; a re-import changes nothing."""

    imported = serializers.ListField(
        child=serializers.CharField(), help_text="The keys that were read."
    )
    ignored = serializers.ListField(
        child=serializers.CharField(),
        help_text="Keys (and profile fields, as `key.field`) this server does not know.",
    )
    cache_keys = serializers.ListField(
        child=serializers.CharField(),
        help_text="Cached server data (`arise_market`, `arise_news`...): not imported.",
    )
    changed = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="`preferences` and `profile` fields changed, `watchlist_added` symbols, "
        "`insights_dismissed` ids: all empty when nothing changed.",
    )


INSIGHT_ID = OpenApiParameter(
    "insight_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The insight's id: letters, digits, `_`, `.`, `:` and `-` (at most 100).",
)


@extend_schema(tags=["insights"])
class DismissedInsightListApi(generics.ListAPIView):
    """The insights the signed-in user dismissed, most recent first."""

    serializer_class = DismissedInsightSerializer

    def get_queryset(self):
        return dismissed_insight_list(user=self.request.user)


@extend_schema(tags=["insights"], parameters=[INSIGHT_ID])
class InsightDismissApi(APIView):
    """Dismiss an insight (POST) or show it again (DELETE); both are idempotent."""

    @extend_schema(
        operation_id="insights_dismiss",
        request=None,
        responses={
            201: OpenApiResponse(DismissedInsightSerializer, description="Dismissed now."),
            200: OpenApiResponse(
                DismissedInsightSerializer, description="Already dismissed; unchanged."
            ),
        },
    )
    def post(self, request: Request, insight_id: str) -> Response:
        row, created = insight_dismiss(
            user=request.user, insight_id=insight_id, request=request._request
        )
        return Response(
            DismissedInsightSerializer(row).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="insights_undismiss",
        responses={204: OpenApiResponse(description="Shown again (or was not dismissed).")},
    )
    def delete(self, request: Request, insight_id: str) -> Response:
        insight_restore(user=request.user, insight_id=insight_id, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["preferences"])
class PreferencesImportLocalApi(APIView):
    """Move the old browser app's localStorage in: preferences, profile, watchlist, insights.

    The body is the localStorage object as the browser kept it (values are strings, JSON
    strings, JSON in JSON strings, or already-parsed JSON). One bad value answers 400 under
    its key and nothing is saved.
    """

    @extend_schema(
        operation_id="preferences_import_local",
        request={
            "application/json": {
                "type": "object",
                "additionalProperties": True,
                "description": "localStorage: `arise_*` key → stored value.",
            }
        },
        responses={200: LocalImportResultSerializer},
        examples=[
            OpenApiExample(
                "Old front end",
                request_only=True,
                value={
                    "arise_risk": '"aggressive"',
                    "arise_universe": "NIFTY50",
                    "arise_modes": '["intraday","swing"]',
                    "arise_primary_mode": "swing",
                    "arise_watchlist": '["RELIANCE","TCS"]',
                    "arise_dismissed_insights_v1": '["welcome"]',
                    "arise_market": "{}",
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        result = local_storage_import(
            user=request.user, data=request.data, request=request._request
        )
        return Response(
            {
                "imported": result.imported,
                "ignored": result.ignored,
                "cache_keys": result.cache_keys,
                "changed": {
                    "preferences": result.preferences_changed,
                    "profile": result.profile_changed,
                    "watchlist_added": result.watchlist_added,
                    "insights_dismissed": result.insights_dismissed,
                },
            }
        )
