"""Trader pages of the accounts area: the dashboard and the profile tabs."""

from django.urls import path

from accounts import data_rights_views, views

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("profile/", views.ProfileAccountView.as_view(), name="profile"),
    path("profile/brokers", views.ProfileBrokersView.as_view(), name="profile_brokers"),
    path(
        "profile/brokers/callback",
        views.BrokerCallbackView.as_view(),
        name="profile_broker_callback",
    ),
    path(
        "profile/brokers/<int:pk>/edit",
        views.BrokerCredentialEditView.as_view(),
        name="profile_broker_edit",
    ),
    path(
        "profile/brokers/<int:pk>/connect",
        views.BrokerConnectView.as_view(),
        name="profile_broker_connect",
    ),
    path(
        "profile/brokers/<int:pk>/disconnect",
        views.BrokerDisconnectView.as_view(),
        name="profile_broker_disconnect",
    ),
    path(
        "profile/brokers/<int:pk>/delete",
        views.BrokerCredentialDeleteView.as_view(),
        name="profile_broker_delete",
    ),
    path("profile/stats", views.ProfileStatsView.as_view(), name="profile_stats"),
    path("profile/preferences", views.ProfilePreferencesView.as_view(), name="profile_preferences"),
    path("profile/security", views.ProfileSecurityView.as_view(), name="profile_security"),
    path("profile/activity", views.ProfileActivityView.as_view(), name="profile_activity"),
    path(
        "profile/activity.csv",
        views.ProfileActivityExportView.as_view(),
        name="profile_activity_export",
    ),
    path("profile/tokens/new", views.TokenCreateView.as_view(), name="profile_token_create"),
    path(
        "profile/tokens/<int:pk>/revoke",
        views.TokenRevokeView.as_view(),
        name="profile_token_revoke",
    ),
    path(
        "profile/sessions/<int:pk>/end",
        views.SessionEndView.as_view(),
        name="profile_session_end",
    ),
]

# Data rights on the Security tab (accounts.data_rights_views).
urlpatterns += [
    path(
        "profile/export",
        data_rights_views.AccountExportView.as_view(),
        name="profile_export",
    ),
    path(
        "profile/export/<int:pk>",
        data_rights_views.AccountExportDownloadView.as_view(),
        name="profile_export_download",
    ),
    path(
        "profile/delete",
        data_rights_views.AccountDeleteView.as_view(),
        name="profile_delete",
    ),
]
