"""JSON API v1: each area adds its routes in its own `api_urls.py`."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("audit.api_urls")),
]
