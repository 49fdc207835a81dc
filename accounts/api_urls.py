"""Accounts routes of API v1 (no trailing slashes, SPEC §6)."""

from django.urls import path

from accounts import apis, data_rights_apis, insights_apis

urlpatterns = [
    path("profile", apis.ProfileApi.as_view(), name="api-profile"),
    path("preferences", apis.PreferencesApi.as_view(), name="api-preferences"),
    path("tokens", apis.TokenListApi.as_view(), name="api-tokens"),
    path("tokens/<int:id>", apis.TokenDetailApi.as_view(), name="api-token-detail"),
    path("tokens/<int:id>/revoke", apis.TokenRevokeApi.as_view(), name="api-token-revoke"),
    path(
        "broker-credentials", apis.BrokerCredentialListApi.as_view(), name="api-broker-credentials"
    ),
    path(
        "broker-credentials/<int:id>",
        apis.BrokerCredentialDetailApi.as_view(),
        name="api-broker-credential-detail",
    ),
    path(
        "broker-credentials/<int:id>/connect",
        apis.BrokerCredentialConnectApi.as_view(),
        name="api-broker-credential-connect",
    ),
    path(
        "broker-credentials/<int:id>/disconnect",
        apis.BrokerCredentialDisconnectApi.as_view(),
        name="api-broker-credential-disconnect",
    ),
]

# Dismissed insights and the old front end's localStorage import (accounts.insights_apis).
urlpatterns += [
    path(
        "preferences/import-local",
        insights_apis.PreferencesImportLocalApi.as_view(),
        name="api-preferences-import-local",
    ),
    path(
        "insights/dismissed",
        insights_apis.DismissedInsightListApi.as_view(),
        name="api-insights-dismissed",
    ),
    path(
        "insights/<str:insight_id>/dismiss",
        insights_apis.InsightDismissApi.as_view(),
        name="api-insight-dismiss",
    ),
]

# Data rights: download everything, delete the account (accounts.data_rights_apis).
urlpatterns += [
    path("me", data_rights_apis.MeApi.as_view(), name="api-me"),
    path("me/export", data_rights_apis.MeExportApi.as_view(), name="api-me-export"),
]
