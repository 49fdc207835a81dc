"""Portfolio routes of API v1 (no trailing slashes, SPEC §6)."""

from django.urls import path

from portfolio import apis, import_apis

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
]
