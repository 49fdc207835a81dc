"""Audit routes of API v1 (no trailing slashes, SPEC §6)."""

from django.urls import path

from audit import apis, staff_apis

urlpatterns = [
    path("activity", apis.ActivityListApi.as_view(), name="api-activity"),
    path("jobs", apis.JobListApi.as_view(), name="api-jobs"),
    path("jobs/<int:id>", apis.JobDetailApi.as_view(), name="api-job-detail"),
    # Staff only (SPEC §6): every user's rows, by design.
    path("admin/audit", staff_apis.StaffHistoryListApi.as_view(), name="api-staff-audit"),
    path("admin/jobs", staff_apis.StaffJobListApi.as_view(), name="api-staff-jobs"),
    path("admin/health", staff_apis.StaffHealthApi.as_view(), name="api-staff-health"),
    path("admin/config", staff_apis.StaffConfigApi.as_view(), name="api-staff-config"),
]
