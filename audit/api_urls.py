"""Audit routes of API v1 (no trailing slashes, SPEC §6)."""

from django.urls import path

from audit import apis

urlpatterns = [
    path("activity", apis.ActivityListApi.as_view(), name="api-activity"),
    path("jobs", apis.JobListApi.as_view(), name="api-jobs"),
    path("jobs/<int:id>", apis.JobDetailApi.as_view(), name="api-job-detail"),
]
