"""Trader pages of the portfolio area (SPEC §7)."""

from django.urls import path

from portfolio import views

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
