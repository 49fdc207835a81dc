"""JSON API of the accounts area: profile, preferences, API tokens, broker credentials (SPEC §6)."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import PersonalTokenAuthentication
from accounts.brokers.reauthentication import secrets_change_allowed
from accounts.brokers.selectors import broker_credential_list
from accounts.brokers.services import (
    SECRET_FIELDS,
    broker_connect,
    broker_credential_create,
    broker_credential_delete,
    broker_credential_update,
    broker_disconnect,
)
from accounts.models import BrokerCredential
from accounts.selectors import preferences_get, profile_get, token_list
from accounts.serializers import (
    BrokerConnectSerializer,
    BrokerCredentialCreateSerializer,
    BrokerCredentialSerializer,
    BrokerCredentialUpdateSerializer,
    PreferencesSerializer,
    ProfileSerializer,
    TokenCreatedSerializer,
    TokenCreateSerializer,
    TokenSerializer,
)
from accounts.services import preferences_update, profile_update, token_create, token_revoke
from trading_lab.api.mixins import NoStoreMixin


@extend_schema(tags=["profile"])
class ProfileApi(APIView):
    """The signed-in trader's profile."""

    @extend_schema(operation_id="profile_retrieve", responses=ProfileSerializer)
    def get(self, request: Request) -> Response:
        return Response(ProfileSerializer(profile_get(user=request.user)).data)

    @extend_schema(
        operation_id="profile_update", request=ProfileSerializer, responses=ProfileSerializer
    )
    def put(self, request: Request) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        operation_id="profile_partial_update",
        request=ProfileSerializer,
        responses=ProfileSerializer,
    )
    def patch(self, request: Request) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        current = profile_get(user=request.user)
        serializer = ProfileSerializer(current, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        profile = profile_update(
            user=request.user, data=serializer.validated_data, request=request._request
        )
        return Response(ProfileSerializer(profile).data)


@extend_schema(tags=["preferences"])
class PreferencesApi(APIView):
    """The signed-in trader's preferences."""

    @extend_schema(operation_id="preferences_retrieve", responses=PreferencesSerializer)
    def get(self, request: Request) -> Response:
        return Response(PreferencesSerializer(preferences_get(user=request.user)).data)

    @extend_schema(
        operation_id="preferences_update",
        request=PreferencesSerializer,
        responses=PreferencesSerializer,
    )
    def put(self, request: Request) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        operation_id="preferences_partial_update",
        request=PreferencesSerializer,
        responses=PreferencesSerializer,
    )
    def patch(self, request: Request) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        current = preferences_get(user=request.user)
        serializer = PreferencesSerializer(current, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        preferences = preferences_update(
            user=request.user, data=serializer.validated_data, request=request._request
        )
        return Response(PreferencesSerializer(preferences).data)


@extend_schema(tags=["tokens"])
class TokenListApi(NoStoreMixin, generics.ListAPIView):
    """The signed-in user's personal API tokens; creating one shows its secret once."""

    serializer_class = TokenSerializer

    def get_queryset(self):
        return token_list(user=self.request.user)

    @extend_schema(
        operation_id="tokens_create",
        request=TokenCreateSerializer,
        responses={
            201: OpenApiResponse(
                TokenCreatedSerializer,
                description="The new token, with its secret in `token`: the only time it is shown.",
            )
        },
    )
    def post(self, request: Request) -> Response:
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = token_create(
            user=request.user, **serializer.validated_data, request=request._request
        )
        return Response(
            {**TokenSerializer(token).data, "token": raw},
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-token-detail", kwargs={"id": token.pk})},
        )


@extend_schema(tags=["tokens"])
class TokenDetailApi(NoStoreMixin, APIView):
    """One of the signed-in user's tokens; DELETE revokes it (the row stays, for the record)."""

    @extend_schema(operation_id="tokens_retrieve", responses=TokenSerializer)
    def get(self, request: Request, id: int) -> Response:
        token = get_object_or_404(token_list(user=request.user), pk=id)
        return Response(TokenSerializer(token).data)

    @extend_schema(
        operation_id="tokens_destroy",
        responses={204: OpenApiResponse(description="Revoked; it no longer authenticates.")},
    )
    def delete(self, request: Request, id: int) -> Response:
        token = get_object_or_404(token_list(user=request.user), pk=id)
        token_revoke(token=token, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["tokens"])
class TokenRevokeApi(NoStoreMixin, APIView):
    """Revoke a token at once; revoking a revoked token changes nothing."""

    @extend_schema(
        operation_id="tokens_revoke",
        request=None,
        responses={200: OpenApiResponse(TokenSerializer, description="The revoked token.")},
    )
    def post(self, request: Request, id: int) -> Response:
        token = get_object_or_404(token_list(user=request.user), pk=id)
        token = token_revoke(token=token, request=request._request)
        return Response(TokenSerializer(token).data)


# ---------------------------------------------------------------------------------------------
# Broker credentials (SPEC §6 credentials)


class ReauthenticationRequired(exceptions.PermissionDenied):
    default_detail = (
        "Adding or replacing a broker key needs a recent password confirmation: confirm it at "
        "/accounts/reauthenticate/ in this browser session, then send the request again. "
        "Personal API tokens cannot add or replace keys."
    )
    default_code = "reauthentication_required"


def _require_secrets_change_allowed(request: Request, data: dict) -> None:
    """Refuse (403) a body carrying a secret unless the caller may add or replace keys."""
    if not any(data.get(name) for name in SECRET_FIELDS):
        return
    by_token = isinstance(request.successful_authenticator, PersonalTokenAuthentication)
    if not secrets_change_allowed(request._request, by_token=by_token):
        raise ReauthenticationRequired()


_REAUTH_RESPONSE = OpenApiResponse(
    description="The body carries a secret and the caller has not recently re-authenticated "
    "(or is a personal token)."
)


@extend_schema(tags=["broker-credentials"])
class BrokerCredentialListApi(NoStoreMixin, generics.ListAPIView):
    """Your broker credentials, secrets masked; POST adds one (disconnected until connected)."""

    serializer_class = BrokerCredentialSerializer

    def get_queryset(self):
        return broker_credential_list(user=self.request.user)

    @extend_schema(
        operation_id="broker_credentials_create",
        request=BrokerCredentialCreateSerializer,
        responses={201: BrokerCredentialSerializer, 403: _REAUTH_RESPONSE},
    )
    def post(self, request: Request) -> Response:
        serializer = BrokerCredentialCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _require_secrets_change_allowed(request, serializer.validated_data)
        credential = broker_credential_create(
            user=request.user, **serializer.validated_data, request=request._request
        )
        return Response(
            BrokerCredentialSerializer(credential).data,
            status=status.HTTP_201_CREATED,
            headers={
                "Location": reverse("api-broker-credential-detail", kwargs={"id": credential.pk})
            },
        )


class _OwnCredential(NoStoreMixin, APIView):
    def _get(self, request: Request, id: int) -> BrokerCredential:
        return get_object_or_404(broker_credential_list(user=request.user), pk=id)


@extend_schema(tags=["broker-credentials"])
class BrokerCredentialDetailApi(_OwnCredential):
    """One of your broker credentials. DELETE removes it with its sessions."""

    @extend_schema(operation_id="broker_credentials_retrieve", responses=BrokerCredentialSerializer)
    def get(self, request: Request, id: int) -> Response:
        return Response(BrokerCredentialSerializer(self._get(request, id)).data)

    @extend_schema(
        operation_id="broker_credentials_update",
        request=BrokerCredentialUpdateSerializer,
        responses={200: BrokerCredentialSerializer, 403: _REAUTH_RESPONSE},
    )
    def put(self, request: Request, id: int) -> Response:
        return self._update(request, id, partial=False)

    @extend_schema(
        operation_id="broker_credentials_partial_update",
        request=BrokerCredentialUpdateSerializer(partial=True),
        responses={200: BrokerCredentialSerializer, 403: _REAUTH_RESPONSE},
    )
    def patch(self, request: Request, id: int) -> Response:
        return self._update(request, id, partial=True)

    @extend_schema(
        operation_id="broker_credentials_destroy",
        responses={204: OpenApiResponse(description="Deleted, with its sessions.")},
    )
    def delete(self, request: Request, id: int) -> Response:
        broker_credential_delete(credential=self._get(request, id), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, id: int, *, partial: bool) -> Response:
        credential = self._get(request, id)
        serializer = BrokerCredentialUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        _require_secrets_change_allowed(request, serializer.validated_data)
        updated = broker_credential_update(
            credential=credential, data=serializer.validated_data, request=request._request
        )
        return Response(BrokerCredentialSerializer(updated).data)


@extend_schema(tags=["broker-credentials"])
class BrokerCredentialConnectApi(_OwnCredential):
    """Connect through the broker's adapter. A refusal answers 400 with the broker's reason,
    which is also kept on the credential (`status` "error", `last_error`)."""

    @extend_schema(
        operation_id="broker_credentials_connect",
        request=None,
        responses={
            200: OpenApiResponse(
                BrokerConnectSerializer,
                description="Connected, or `login_url` to open to finish on the broker's site.",
            ),
            400: OpenApiResponse(description="The broker refused or could not be reached."),
        },
    )
    def post(self, request: Request, id: int) -> Response:
        outcome = broker_connect(credential=self._get(request, id), request=request._request)
        if outcome.error:
            return Response(
                {
                    "detail": f"Could not connect: {outcome.error}",
                    "errors": {"non_field_errors": [outcome.error]},
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        data = BrokerCredentialSerializer(outcome.credential).data
        return Response({**data, "login_url": outcome.login_url})


@extend_schema(tags=["broker-credentials"])
class BrokerCredentialDisconnectApi(_OwnCredential):
    """End the credential's session; disconnecting a disconnected credential changes nothing."""

    @extend_schema(
        operation_id="broker_credentials_disconnect",
        request=None,
        responses=BrokerCredentialSerializer,
    )
    def post(self, request: Request, id: int) -> Response:
        credential = broker_disconnect(credential=self._get(request, id), request=request._request)
        return Response(BrokerCredentialSerializer(credential).data)
