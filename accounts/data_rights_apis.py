"""JSON API of data rights: `GET /api/v1/me/export` and `DELETE /api/v1/me` (SPEC §6)."""

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import PersonalTokenAuthentication
from accounts.data_rights import (
    ReauthenticationRequiredError,
    TooManyAttemptsError,
    account_delete,
    account_export,
    reauthentication_check,
)
from audit.models import BackgroundJob
from audit.serializers import JobSerializer
from trading_lab.api.mixins import NoStoreMixin


class AccountDeleteSerializer(serializers.Serializer):
    """The proof of who is asking, unless the browser session re-authenticated just now."""

    password = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, write_only=True
    )
    code = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="A current authenticator-app or recovery code, when two-factor is on.",
    )


def export_filename() -> str:
    return f"trading-lab-export-{timezone.localdate().isoformat()}.json"


@extend_schema(tags=["data"])
class MeExportApi(NoStoreMixin, APIView):
    """Everything the signed-in user owns as one JSON document (credentials masked).

    A large account (or `?background=true`) gets 202 and a job instead; its `result` is the
    document once it has succeeded (`GET /api/v1/jobs/{id}`).
    """

    @extend_schema(
        operation_id="me_export",
        parameters=[
            OpenApiParameter(
                "background",
                OpenApiTypes.BOOL,
                description="Make the export in the background even for a small account.",
            )
        ],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The export document."),
            202: OpenApiResponse(JobSerializer, description="A large account: running as a job."),
        },
    )
    def get(self, request: Request) -> Response:
        background = request.query_params.get("background", "").lower() in ("1", "true", "yes")
        made = account_export(user=request.user, background=background, request=request._request)
        if isinstance(made, BackgroundJob):
            return Response(
                JobSerializer(made).data,
                status=status.HTTP_202_ACCEPTED,
                headers={"Location": reverse("api-job-detail", kwargs={"id": made.pk})},
            )
        return Response(
            made, headers={"Content-Disposition": f'attachment; filename="{export_filename()}"'}
        )


@extend_schema(tags=["data"])
class MeApi(NoStoreMixin, APIView):
    """Delete the signed-in user's account and everything they own, after re-authentication.

    A browser session that confirmed its password at /accounts/reauthenticate/ in the last
    few minutes may send no body; otherwise send `password` (and `code` when two-factor is
    on). A personal token alone is never enough.
    """

    @extend_schema(
        operation_id="me_destroy",
        request=AccountDeleteSerializer,
        responses={
            204: OpenApiResponse(description="Deleted; every session and token has ended."),
            400: OpenApiResponse(description="Wrong password or code."),
            403: OpenApiResponse(description="Re-authentication required."),
            429: OpenApiResponse(description="Too many wrong attempts."),
        },
    )
    def delete(self, request: Request) -> Response:
        serializer = AccountDeleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        by_token = isinstance(request.successful_authenticator, PersonalTokenAuthentication)
        try:
            reauthentication_check(
                request=request._request,
                user=request.user,
                by_token=by_token,
                **serializer.validated_data,
            )
        except ReauthenticationRequiredError as error:
            return Response(
                {"detail": error.message, "errors": error.extra},
                status=status.HTTP_403_FORBIDDEN,
            )
        except TooManyAttemptsError as error:
            return Response(
                {"detail": error.message, "errors": {}},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        account_delete(user=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
