"""Trader pages of the portfolio area (SPEC §7)."""

from django.urls import path

from portfolio import dividend_views, market_views, views

urlpatterns = [
    path("portfolios/", views.PortfolioListView.as_view(), name="portfolio_list"),
    path("portfolios/<int:pk>/", views.PortfolioDetailView.as_view(), name="portfolio_detail"),
    path("portfolios/<int:pk>/edit", views.PortfolioEditView.as_view(), name="portfolio_edit"),
    path(
        "portfolios/<int:pk>/delete", views.PortfolioDeleteView.as_view(), name="portfolio_delete"
    ),
    path(
        "portfolios/<int:pk>/transactions/",
        views.TransactionListView.as_view(),
        name="portfolio_transactions",
    ),
    path(
        "portfolios/<int:pk>/transactions/new",
        views.TransactionAddView.as_view(),
        name="transaction_add",
    ),
    path(
        "portfolios/<int:pk>/import", views.PortfolioImportView.as_view(), name="portfolio_import"
    ),
    path(
        "transactions/<int:pk>/edit", views.TransactionEditView.as_view(), name="transaction_edit"
    ),
    path(
        "transactions/<int:pk>/delete",
        views.TransactionDeleteView.as_view(),
        name="transaction_delete",
    ),
]

# Watchlist, price alerts, notifications and dividends (portfolio.market_views, dividend_views).
urlpatterns += [
    path("watchlist/", market_views.WatchlistView.as_view(), name="watchlist"),
    path(
        "watchlist/<int:pk>/delete",
        market_views.WatchlistDeleteView.as_view(),
        name="watchlist_delete",
    ),
    path("alerts/", market_views.AlertListView.as_view(), name="alert_list"),
    path("alerts/<int:pk>/", market_views.AlertDetailView.as_view(), name="alert_detail"),
    path("alerts/<int:pk>/edit", market_views.AlertEditView.as_view(), name="alert_edit"),
    path("alerts/<int:pk>/delete", market_views.AlertDeleteView.as_view(), name="alert_delete"),
    path("alerts/<int:pk>/rearm", market_views.AlertRearmView.as_view(), name="alert_rearm"),
    path("notifications/", market_views.NotificationListView.as_view(), name="notification_list"),
    path(
        "notifications/<int:pk>/read",
        market_views.NotificationReadView.as_view(),
        name="notification_read",
    ),
    path(
        "notifications/read-all",
        market_views.NotificationsReadAllView.as_view(),
        name="notifications_read_all",
    ),
    path("dividends/", dividend_views.DividendListView.as_view(), name="dividend_list"),
    path(
        "portfolios/<int:pk>/dividends/new",
        dividend_views.DividendAddView.as_view(),
        name="dividend_add",
    ),
    path(
        "portfolios/<int:pk>/dividends/propose",
        dividend_views.DividendProposeView.as_view(),
        name="dividends_propose",
    ),
    path(
        "dividends/<int:pk>/edit", dividend_views.DividendEditView.as_view(), name="dividend_edit"
    ),
    path(
        "dividends/<int:pk>/delete",
        dividend_views.DividendDeleteView.as_view(),
        name="dividend_delete",
    ),
    path(
        "dividends/<int:pk>/confirm",
        dividend_views.DividendConfirmView.as_view(),
        name="dividend_confirm",
    ),
    path(
        "dividends/<int:pk>/reject",
        dividend_views.DividendRejectView.as_view(),
        name="dividend_reject",
    ),
]
