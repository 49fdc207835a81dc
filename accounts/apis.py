"""JSON API of the accounts area: profile, preferences and personal API tokens (SPEC §6)."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import preferences_get, profile_get, token_list
from accounts.serializers import (
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
