"""The app's URLs plus `/bench/bare`, the load benchmark's baseline (bench/load_settings.py)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from trading_lab.urls import urlpatterns as app_urlpatterns


def bare(request: HttpRequest) -> JsonResponse:
    """An empty page in the API's list shape: Django and the middleware, no auth, no query."""
    return JsonResponse({"count": 0, "next": None, "previous": None, "results": []})


urlpatterns = [path("bench/bare", bare), *app_urlpatterns]
