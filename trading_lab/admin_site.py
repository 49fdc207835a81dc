"""The project's admin site: Django's, plus the operations page staff start from.

Installed through `AdminConfig.default_site` (Django's documented way to replace the default
site), so `admin.site` and every `@admin.register` keep working unchanged.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig
from django.urls import URLPattern, URLResolver, path


class TradingLabAdminSite(admin.AdminSite):
    site_header = "Trading Lab administration"
    site_title = "Trading Lab admin"
    index_title = "Operations"

    def get_urls(self) -> list[URLPattern | URLResolver]:
        from audit.admin_operations import operations_view

        return [
            path("operations/", self.admin_view(operations_view), name="operations"),
            *super().get_urls(),
        ]


class AdminConfig(DjangoAdminConfig):
    default_site = "trading_lab.admin_site.TradingLabAdminSite"
