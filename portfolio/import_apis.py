"""Import and export routes of the transactions API (SPEC §6).

`POST /api/v1/transactions/import` takes a file (multipart) or a JSON body and answers the
import report (200 for a dry run, 201 once written), 202 with the job for a big file, or 400
with every row's errors. `GET /api/v1/transactions/export` answers a download.
"""

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import ApiCategory
from audit.serializers import JobSerializer
from portfolio.models import Portfolio
from portfolio.serializers import TransactionFilterSerializer, not_in_future
from portfolio.services.exports import (
    ExportFormat,
    ExportKind,
    holdings_export,
    performance_export,
    transactions_export,
)
from portfolio.services.imports import (
    IMPORT_MAX_BYTES,
    import_content_from_body,
    transactions_import,
)
from trading_lab.api.fields import OwnedPrimaryKeyRelatedField
from trading_lab.exceptions import ApplicationError


class ImportRequestSerializer(serializers.Serializer):
    """Where to import and how; the rows come as `file` or in the JSON body."""

    portfolio = OwnedPrimaryKeyRelatedField(
        queryset=Portfolio.objects.all(), help_text="One of your portfolios."
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="Check and preview only; nothing is written."
    )
    file = serializers.FileField(
        required=False, help_text="A CSV with a header row, or a JSON export (Ghostfolio's too)."
    )


class ImportBodySerializer(ImportRequestSerializer):
    """The JSON form: rows in `transactions` (SPEC field names) or Ghostfolio `activities`."""

    transactions = serializers.ListField(child=serializers.DictField(), required=False)
    activities = serializers.ListField(child=serializers.DictField(), required=False)


ImportReportSerializer = inline_serializer(
    "ImportReport",
    {
        "format": serializers.CharField(),
        "dry_run": serializers.BooleanField(),
        "total_rows": serializers.IntegerField(),
        "to_add_count": serializers.IntegerField(),
        "duplicate_count": serializers.IntegerField(),
        "error_count": serializers.IntegerField(),
        "created": serializers.IntegerField(),
        "to_add": serializers.ListField(child=serializers.DictField()),
        "duplicates": serializers.ListField(child=serializers.DictField()),
        "errors": inline_serializer(
            "ImportIssue",
            {
                "row": serializers.IntegerField(),
                "field": serializers.CharField(),
                "message": serializers.CharField(),
            },
            many=True,
        ),
    },
)


class TransactionImportApi(APIView):
    """Import transactions from CSV or JSON into one of your portfolios (all or nothing)."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]
    throttle_category = ApiCategory.IMPORTS

    @extend_schema(
        tags=["transactions"],
        request={
            "multipart/form-data": ImportRequestSerializer,
            "application/json": ImportBodySerializer,
        },
        responses={
            200: OpenApiResponse(ImportReportSerializer, description="Dry run, or nothing new."),
            201: OpenApiResponse(ImportReportSerializer, description="Imported."),
            202: OpenApiResponse(JobSerializer, description="A big file: running as a job."),
        },
    )
    def post(self, request: Request) -> Response:
        is_json = request.content_type.startswith("application/json")
        body = (ImportBodySerializer if is_json else ImportRequestSerializer)(
            data=request.data, context={"request": request}
        )
        body.is_valid(raise_exception=True)
        data = body.validated_data
        upload = data.get("file")
        if upload is not None:
            if upload.size > IMPORT_MAX_BYTES:
                message = f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB."
                raise ApplicationError(message, {"file": [message]})
            content, filename = upload.read(), upload.name or "upload"
        elif is_json:
            content, filename = import_content_from_body(request.data), "body.json"
        else:
            message = "Attach the file to import."
            raise ApplicationError(message, {"file": [message]})
        report = transactions_import(
            user=request.user,
            portfolio=data["portfolio"],
            content=content,
            filename=filename,
            dry_run=data["dry_run"],
            request=request,
        )
        if report.job is not None:
            return Response(JobSerializer(report.job).data, status=status.HTTP_202_ACCEPTED)
        if not report.dry_run and not report.ok:
            raise report.error()
        answer = status.HTTP_201_CREATED if report.created else status.HTTP_200_OK
        return Response(report.as_dict(), status=answer)


class ExportQuerySerializer(TransactionFilterSerializer):
    """What to export, in which format; transaction filters apply to `kind=transactions`."""

    format = serializers.ChoiceField(choices=ExportFormat.ALL, default=ExportFormat.CSV)
    kind = serializers.ChoiceField(choices=ExportKind.ALL, default=ExportKind.TRANSACTIONS)
    as_of = serializers.DateField(
        required=False,
        validators=[not_in_future],
        help_text="Performance on this day, not in the future (today).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs["kind"] != ExportKind.TRANSACTIONS and attrs.get("portfolio") is None:
            raise serializers.ValidationError(
                {"portfolio": [f"Choose the portfolio whose {attrs['kind']} to export."]}
            )
        return attrs


class _FormatIsTheFile(DefaultContentNegotiation):
    """`?format=` names the download's format here, not an API renderer: always answer JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class TransactionExportApi(APIView):
    """Download your transactions, or a portfolio's holdings or performance, as a file."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FormatIsTheFile

    @extend_schema(
        tags=["transactions"],
        parameters=[ExportQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/json"): OpenApiTypes.OBJECT,
            (
                200,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ): OpenApiTypes.BINARY,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        query = ExportQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        fmt, kind = data.pop("format"), data.pop("kind")
        portfolio, as_of = data.pop("portfolio", None), data.pop("as_of", None)
        if kind == ExportKind.HOLDINGS:
            export = holdings_export(
                user=request.user, fmt=fmt, portfolio=portfolio, request=request
            )
        elif kind == ExportKind.PERFORMANCE:
            export = performance_export(
                user=request.user, fmt=fmt, portfolio=portfolio, as_of=as_of, request=request
            )
        else:
            export = transactions_export(
                user=request.user, fmt=fmt, portfolio=portfolio, filters=data, request=request
            )
        response = HttpResponse(export.content, content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        return response
