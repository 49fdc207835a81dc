"""Doors: pages at /, the admin at /admin/, the JSON API at /api/v1/, health at /healthz."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from trading_lab.api.views import ApiDocsView

# The admin signs in through allauth's door: the same rate limits, MFA and activity log.
admin.autodiscover()
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("trading_lab.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("audit.urls")),
    path("", include("portfolio.urls")),
    path("", include("bots.urls")),
    path("", include("accounts.urls")),
]
