"""Portfolio routes of API v1 (no trailing slashes, SPEC §6)."""

from django.urls import path

from portfolio import alert_apis, apis, import_apis

urlpatterns = [
    path("portfolios", apis.PortfolioListApi.as_view(), name="api-portfolios"),
    path("portfolios/<int:id>", apis.PortfolioDetailApi.as_view(), name="api-portfolio-detail"),
    path(
        "portfolios/<int:id>/holdings",
        apis.PortfolioHoldingsApi.as_view(),
        name="api-portfolio-holdings",
    ),
    path(
        "portfolios/<int:id>/performance",
        apis.PortfolioPerformanceApi.as_view(),
        name="api-portfolio-performance",
    ),
    path(
        "portfolios/<int:id>/series",
        apis.PortfolioSeriesApi.as_view(),
        name="api-portfolio-series",
    ),
    path("transactions", apis.TransactionListApi.as_view(), name="api-transactions"),
    path(
        "transactions/import",
        import_apis.TransactionImportApi.as_view(),
        name="api-transactions-import",
    ),
    path(
        "transactions/export",
        import_apis.TransactionExportApi.as_view(),
        name="api-transactions-export",
    ),
    path(
        "transactions/<int:id>",
        apis.TransactionDetailApi.as_view(),
        name="api-transaction-detail",
    ),
    path("instruments", apis.InstrumentListApi.as_view(), name="api-instruments"),
    path(
        "instruments/<int:id>/prices",
        apis.InstrumentPricesApi.as_view(),
        name="api-instrument-prices",
    ),
    path("watchlist", alert_apis.WatchlistApi.as_view(), name="api-watchlist"),
    path(
        "watchlist/<str:symbol>",
        alert_apis.WatchlistItemApi.as_view(),
        name="api-watchlist-item",
    ),
    path("alerts", alert_apis.PriceAlertListApi.as_view(), name="api-alerts"),
    path("alerts/<int:id>", alert_apis.PriceAlertDetailApi.as_view(), name="api-alert-detail"),
    path(
        "alerts/<int:id>/events",
        alert_apis.PriceAlertEventsApi.as_view(),
        name="api-alert-events",
    ),
    path("alerts/<int:id>/rearm", alert_apis.PriceAlertRearmApi.as_view(), name="api-alert-rearm"),
    path("notifications", alert_apis.NotificationListApi.as_view(), name="api-notifications"),
    path(
        "notifications/<int:id>/read",
        alert_apis.NotificationReadApi.as_view(),
        name="api-notification-read",
    ),
    path("dividends", alert_apis.DividendListApi.as_view(), name="api-dividends"),
    path("dividends/<int:id>", alert_apis.DividendDetailApi.as_view(), name="api-dividend-detail"),
    path(
        "dividends/<int:id>/confirm",
        alert_apis.DividendConfirmApi.as_view(),
        name="api-dividend-confirm",
    ),
    path(
        "dividends/<int:id>/reject",
        alert_apis.DividendRejectApi.as_view(),
        name="api-dividend-reject",
    ),
]
