"""Audit routes of API v1 (no trailing slashes, SPEC §6)."""

from django.urls import path

from audit import apis, history_apis, staff_apis

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

# The owner's model history of one row (issue 6): the data of the pages' History panels.
urlpatterns += [
    path(
        "portfolios/<int:id>/history",
        history_apis.PortfolioHistoryApi.as_view(),
        name="api-portfolio-history",
    ),
    path(
        "transactions/<int:id>/history",
        history_apis.TransactionHistoryApi.as_view(),
        name="api-transaction-history",
    ),
    path("bots/<int:id>/history", history_apis.BotHistoryApi.as_view(), name="api-bot-history"),
]
