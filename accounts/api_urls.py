"""Accounts routes of API v1 (no trailing slashes, SPEC §6)."""

from django.urls import path

from accounts import apis

urlpatterns = [
    path("profile", apis.ProfileApi.as_view(), name="api-profile"),
    path("preferences", apis.PreferencesApi.as_view(), name="api-preferences"),
    path("tokens", apis.TokenListApi.as_view(), name="api-tokens"),
    path("tokens/<int:id>", apis.TokenDetailApi.as_view(), name="api-token-detail"),
    path("tokens/<int:id>/revoke", apis.TokenRevokeApi.as_view(), name="api-token-revoke"),
]
