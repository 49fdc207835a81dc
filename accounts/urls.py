"""Trader pages of the accounts area: the dashboard and the profile tabs."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("profile/", views.ProfileAccountView.as_view(), name="profile"),
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
