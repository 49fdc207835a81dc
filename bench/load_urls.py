"""The app's URLs plus the load benchmark's baselines (bench/load_settings.py).

`/bench/bare` is the baseline a paginated API list is compared with. The others are the rungs of
the benchmark's ladder: each adds one layer of what an API request goes through, so that the
throughput each layer costs is measured on the same server in the same run.
"""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import PersonalTokenAuthentication
from trading_lab.urls import urlpatterns as app_urlpatterns

EMPTY_PAGE = {"count": 0, "next": None, "previous": None, "results": []}


def bare(request: HttpRequest) -> JsonResponse:
    """An empty page in the API's list shape: Django and the middleware, no auth, no query."""
    return JsonResponse(EMPTY_PAGE)


def bare_query(request: HttpRequest) -> JsonResponse:
    """The bare view plus one round trip to the database (`SELECT 1`)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return JsonResponse(EMPTY_PAGE)


class DrfApiView(APIView):
    """The same answer through DRF with everything every API request gets: the API's own
    authentication, permission and throttle settings (throttles and the daily usage count)."""

    def get(self, request: Request) -> Response:
        return Response(EMPTY_PAGE)


class DrfView(DrfApiView):
    """Through DRF with nothing checked: request wrapping, negotiation, rendering."""

    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)
    throttle_classes = ()


class DrfTokenView(DrfView):
    """And the API's Bearer-token authentication, signed in required."""

    authentication_classes = (PersonalTokenAuthentication,)
    permission_classes = (permissions.IsAuthenticated,)


urlpatterns = [
    path("bench/bare", bare),
    path("bench/bare-query", bare_query),
    path("bench/drf", DrfView.as_view()),
    path("bench/drf-token", DrfTokenView.as_view()),
    path("bench/drf-api", DrfApiView.as_view()),
    *app_urlpatterns,
]
