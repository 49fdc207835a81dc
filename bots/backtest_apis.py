"""Backtest and signal validation routes of API v1 (SPEC §6).

`POST /api/v1/backtests` answers 202 with the job that runs it (`backtest_id` names the
backtest; `Location` points at it). Every lookup starts from the caller's own rows, so another
user's id answers 404.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.serializers import JobSerializer
from bots.backtest_selectors import backtest_list, signal_validation_list
from bots.backtest_serializers import (
    BacktestCreateSerializer,
    BacktestDetailSerializer,
    BacktestExportQuerySerializer,
    BacktestSerializer,
    SignalValidationFilterSerializer,
    SignalValidationSerializer,
)
from bots.models import Backtest, SignalValidation
from bots.services import (
    backtest_cancel,
    backtest_create,
    backtest_delete,
    signal_validation_record,
)
from bots.services.backtest_exports import backtest_export
from portfolio.services import instrument_find
from trading_lab.api.params import DELETED_RESPONSE, query_params
from trading_lab.exceptions import ApplicationError

BacktestQueuedSerializer = inline_serializer(
    "BacktestQueued",
    {
        **JobSerializer().get_fields(),
        "backtest_id": serializers.IntegerField(help_text="The backtest this job runs."),
    },
)


def _queued(backtest: Backtest) -> dict:
    return {**JobSerializer(backtest.job).data, "backtest_id": backtest.pk}


@extend_schema(tags=["backtests"])
class BacktestListApi(generics.ListAPIView):
    """Your backtests, newest first (without their order lists); POST runs a new one."""

    serializer_class = BacktestSerializer

    def get_queryset(self):
        return backtest_list(user=self.request.user)

    @extend_schema(
        operation_id="backtests_create",
        request=BacktestCreateSerializer,
        responses={202: OpenApiResponse(BacktestQueuedSerializer, description="Queued as a job.")},
    )
    def post(self, request: Request) -> Response:
        body = BacktestCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        symbol, exchange = data.pop("symbol"), data.pop("exchange")
        instrument = instrument_find(user=request.user, symbol=symbol, exchange=exchange)
        if instrument is None:
            label = f"{symbol}.{exchange}" if exchange else symbol
            message = f"Unknown symbol {label}."
            raise ApplicationError("Invalid input.", {"symbol": [message]})
        backtest = backtest_create(
            user=request.user, instrument=instrument, request=request._request, **data
        )
        return Response(
            _queued(backtest),
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("api-backtest-detail", kwargs={"id": backtest.pk})},
        )


@extend_schema(tags=["backtests"])
@extend_schema_view(
    delete=extend_schema(
        responses={204: DELETED_RESPONSE}, description="Deletes it (a running one is stopped)."
    )
)
class BacktestDetailApi(generics.RetrieveDestroyAPIView):
    """One of your backtests with its metrics, equity curve, orders and deals."""

    serializer_class = BacktestDetailSerializer
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return backtest_list(user=self.request.user, heavy=True)

    def perform_destroy(self, instance: Backtest) -> None:
        backtest_delete(backtest=instance, request=self.request._request)


@extend_schema(tags=["backtests"])
class BacktestCancelApi(APIView):
    """Stop a queued or running backtest (a running one stops at its next progress report)."""

    @extend_schema(request=None, responses={200: BacktestSerializer})
    def post(self, request: Request, id: int) -> Response:
        backtest = get_object_or_404(backtest_list(user=request.user), pk=id)
        backtest = backtest_cancel(backtest=backtest, user=request.user, request=request._request)
        backtest.refresh_from_db()
        return Response(BacktestSerializer(backtest).data)


class _FormatIsTheFile(DefaultContentNegotiation):
    """`?format=` names the download's format here, not an API renderer: always answer JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema(tags=["backtests"])
class BacktestExportApi(APIView):
    """Download a finished backtest: CSV (orders), JSON or XLSX (everything)."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FormatIsTheFile

    @extend_schema(
        parameters=[BacktestExportQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/json"): OpenApiTypes.OBJECT,
            (
                200,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ): OpenApiTypes.BINARY,
        },
    )
    def get(self, request: Request, id: int) -> HttpResponse:
        backtest = get_object_or_404(backtest_list(user=request.user, heavy=True), pk=id)
        fmt = query_params(BacktestExportQuerySerializer, request)["format"]
        export = backtest_export(backtest=backtest, fmt=fmt, request=request._request)
        response = HttpResponse(export.content, content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        return response


@extend_schema(tags=["signal validations"], parameters=[SignalValidationFilterSerializer])
class SignalValidationListApi(generics.ListAPIView):
    """Your signal models' validation runs, newest first; POST records one."""

    serializer_class = SignalValidationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SignalValidation.objects.none()
        filters = query_params(SignalValidationFilterSerializer, self.request)
        return signal_validation_list(user=self.request.user, **filters)

    @extend_schema(
        operation_id="signal_validations_create",
        request=SignalValidationSerializer,
        responses={201: SignalValidationSerializer},
    )
    def post(self, request: Request) -> Response:
        body = SignalValidationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        record = signal_validation_record(
            user=request.user, request=request._request, **body.validated_data
        )
        return Response(
            SignalValidationSerializer(record).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-signal-validation-detail", kwargs={"id": record.pk})},
        )


@extend_schema(tags=["signal validations"])
class SignalValidationDetailApi(generics.RetrieveAPIView):
    """One validation run."""

    serializer_class = SignalValidationSerializer
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return signal_validation_list(user=self.request.user)


urlpatterns = [
    path("backtests", BacktestListApi.as_view(), name="api-backtests"),
    path("backtests/<int:id>", BacktestDetailApi.as_view(), name="api-backtest-detail"),
    path("backtests/<int:id>/cancel", BacktestCancelApi.as_view(), name="api-backtest-cancel"),
    path("backtests/<int:id>/export", BacktestExportApi.as_view(), name="api-backtest-export"),
    path("signal-validations", SignalValidationListApi.as_view(), name="api-signal-validations"),
    path(
        "signal-validations/<int:id>",
        SignalValidationDetailApi.as_view(),
        name="api-signal-validation-detail",
    ),
]
