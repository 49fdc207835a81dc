"""JSON API v1: each area adds its routes in its own `api_urls.py`."""

from django.urls import include, path, re_path

from trading_lab.api.views import NotFoundApi

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("audit.api_urls")),
    path("", include("portfolio.api_urls")),
    path("", include("bots.api_urls")),
    # Keep last: an unknown API path answers the JSON error body, not an HTML page.
    re_path(r"^.*$", NotFoundApi.as_view(), name="api-not-found"),
]
