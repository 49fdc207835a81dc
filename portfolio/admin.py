"""Staff tools for the portfolio area: reference data, portfolios, their ledger and providers.

Holdings and snapshots are derived from the ledger, so they are read-only here; the ledger
itself is too, because an edit that skipped the ledger services would leave holdings stale
(staff repair a ledger through "Rebuild holdings and snapshots"). Price and FX CSVs are
uploaded through the same all-or-nothing import services as the commands.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import ngettext

from audit.admin import ReadOnlyAdmin
from portfolio.csv_utils import CsvFileError
from portfolio.models import (
    AlertEvent,
    Dividend,
    FxRate,
    Holding,
    Instrument,
    LedgerTotals,
    Notification,
    Portfolio,
    PortfolioSnapshot,
    PriceAlert,
    PriceBar,
    ProviderState,
    Split,
    Transaction,
    WatchlistItem,
)
from portfolio.providers import provider_state_reset
from portfolio.services.alerts import price_alert_rearm
from portfolio.services.dividends import dividend_confirm, dividend_reject
from portfolio.services.ledger import ledger_recompute, snapshots_rebuild_for_instruments
from portfolio.services.market import (
    ImportResult,
    fx_rates_import_csv,
    price_bars_import_csv,
)
from trading_lab.exceptions import ApplicationError

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class CsvUploadForm(forms.Form):
    file = forms.FileField(help_text="A CSV file with a header row, UTF-8.")
    dry_run = forms.BooleanField(
        required=False,
        initial=True,
        label="Dry run",
        help_text="Check the file and show what would change; write nothing.",
    )

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
                "use manage.py for files this size."
            )
        return upload.read()


class CsvUploadMixin:
    """An "Upload CSV" page on a changelist, importing through a market-data service."""

    change_list_template = "admin/portfolio/change_list_upload.html"
    upload_noun = ""
    upload_columns = ""

    def run_upload(self, content: bytes, *, dry_run: bool, request: HttpRequest) -> ImportResult:
        raise NotImplementedError

    def get_urls(self) -> list:
        opts = self.model._meta
        upload = path(
            "upload/",
            self.admin_site.admin_view(self.upload_view),
            name=f"{opts.app_label}_{opts.model_name}_upload",
        )
        return [upload, *super().get_urls()]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        opts = self.model._meta
        result = None
        form = CsvUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            dry_run = form.cleaned_data["dry_run"]
            try:
                result = self.run_upload(
                    form.cleaned_data["file"], dry_run=dry_run, request=request
                )
            except CsvFileError as exc:
                form.add_error("file", exc.message)
                for issue in exc.issues:
                    form.add_error("file", str(issue))
            except ApplicationError as exc:
                form.add_error("file", exc.message)
            else:
                if not dry_run:
                    self.message_user(request, result.summary(self.upload_noun), messages.SUCCESS)
                    return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "title": f"Upload {self.upload_noun}",
            "form": form,
            "result": result,
            "summary": result.summary(self.upload_noun) if result else "",
            "columns": self.upload_columns,
        }
        return TemplateResponse(request, "admin/portfolio/csv_upload.html", context)


class OwnershipFilter(admin.SimpleListFilter):
    title = "ownership"
    parameter_name = "ownership"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("shared", "Shared"), ("private", "Private")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "shared":
            return queryset.filter(owner__isnull=True)
        if self.value() == "private":
            return queryset.filter(owner__isnull=False)
        return queryset


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = (
        "symbol",
        "exchange",
        "name",
        "currency",
        "asset_class",
        "owner",
        "is_synthetic",
    )
    list_filter = (OwnershipFilter, "asset_class", "currency", "is_synthetic")
    search_fields = ("symbol", "name", "exchange", "owner__email")
    list_select_related = ("owner",)
    autocomplete_fields = ("owner",)
    readonly_fields = ("created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Instrument | None = None) -> tuple:
        # Prices and trades are in the instrument's currency: changing it would reprice them.
        return (*self.readonly_fields, "currency") if obj is not None else self.readonly_fields


@admin.register(PriceBar)
class PriceBarAdmin(CsvUploadMixin, admin.ModelAdmin):
    list_display = ("instrument", "date", "open", "high", "low", "close", "volume", "synthetic")
    list_filter = ("instrument__is_synthetic", "instrument__asset_class", "date")
    search_fields = ("instrument__symbol", "instrument__name")
    list_select_related = ("instrument",)
    autocomplete_fields = ("instrument",)
    show_full_result_count = False
    ordering = ("-date",)
    readonly_fields = ("created_at", "updated_at")
    upload_noun = "price bars"
    upload_columns = (
        "symbol, exchange, date, open, high, low, close, adjusted close, volume, dividend, "
        "split coefficient (only symbol, date and close are required); currency, name and "
        "asset_class create the shared instruments a file names"
    )

    @admin.display(boolean=True, description="synthetic")
    def synthetic(self, obj: PriceBar) -> bool:
        return obj.instrument.is_synthetic

    def run_upload(self, content: bytes, *, dry_run: bool, request: HttpRequest) -> ImportResult:
        return price_bars_import_csv(
            content=content,
            source="admin",
            dry_run=dry_run,
            user=request.user,
            request=request,
        )


@admin.register(FxRate)
class FxRateAdmin(CsvUploadMixin, admin.ModelAdmin):
    list_display = ("base", "quote", "date", "rate")
    list_filter = ("base", "quote", "date")
    search_fields = ("base", "quote")
    show_full_result_count = False
    ordering = ("base", "quote", "-date")
    readonly_fields = ("created_at", "updated_at")
    upload_noun = "FX rates"
    upload_columns = "base, quote, date, rate (1 base = rate quote)"

    def run_upload(self, content: bytes, *, dry_run: bool, request: HttpRequest) -> ImportResult:
        return fx_rates_import_csv(
            content=content, dry_run=dry_run, user=request.user, request=request
        )


@admin.register(Split)
class SplitAdmin(admin.ModelAdmin):
    list_display = ("instrument", "date", "numerator", "denominator")
    list_filter = ("date",)
    search_fields = ("instrument__symbol", "instrument__name")
    list_select_related = ("instrument",)
    autocomplete_fields = ("instrument",)
    readonly_fields = ("created_at", "updated_at")

    def save_model(self, request: HttpRequest, obj: Split, form: Any, change: bool) -> None:
        before = list(Split.objects.filter(pk=obj.pk).values_list("instrument_id", "date"))
        super().save_model(request, obj, form, change)
        self._rebuild(request, [*before, (obj.instrument_id, obj.date)])

    def delete_model(self, request: HttpRequest, obj: Split) -> None:
        affected = [(obj.instrument_id, obj.date)]
        super().delete_model(request, obj)
        self._rebuild(request, affected)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        affected = list(queryset.values_list("instrument_id", "date"))
        super().delete_queryset(request, queryset)
        self._rebuild(request, affected)

    def _rebuild(self, request: HttpRequest, affected: list[tuple[int, Any]]) -> None:
        # A split changes the holdings of every ledger with the instrument from its date on.
        count = snapshots_rebuild_for_instruments(
            instrument_ids=sorted({instrument_id for instrument_id, _ in affected}),
            since=min(day for _, day in affected),
        )
        self._report(request, count)

    def _report(self, request: HttpRequest, count: int) -> None:
        message = ngettext(
            "Recomputed %(count)d portfolio holding the instrument.",
            "Recomputed %(count)d portfolios holding the instrument.",
            count,
        ) % {"count": count}
        self.message_user(request, message, messages.INFO)


class HoldingInline(admin.TabularInline):
    model = Holding
    extra = 0
    can_delete = False
    fields = ("instrument", "quantity", "average_cost", "cost_basis_base", "realized_pnl_base")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Portfolio)
class PortfolioAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "base_currency", "created_at")
    list_filter = ("base_currency",)
    search_fields = ("name", "user__email")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")
    inlines = (HoldingInline,)
    actions = ("rebuild_selected",)

    def get_readonly_fields(self, request: HttpRequest, obj: Portfolio | None = None) -> tuple:
        # Every stored figure is in the base currency; changing it means a new portfolio.
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, "user", "base_currency")

    @admin.action(description="Rebuild holdings and snapshots", permissions=["change"])
    def rebuild_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        failed = []
        rebuilt = 0
        for portfolio in queryset.order_by("pk"):
            try:
                ledger_recompute(portfolio=portfolio)
            except ApplicationError as exc:
                failed.append(f"{portfolio} ({portfolio.user}): {exc.message}")
            else:
                rebuilt += 1
        if rebuilt:
            message = ngettext(
                "Rebuilt holdings and snapshots of %(count)d portfolio.",
                "Rebuilt holdings and snapshots of %(count)d portfolios.",
                rebuilt,
            ) % {"count": rebuilt}
            self.message_user(request, message, messages.SUCCESS)
        for problem in failed:
            self.message_user(request, f"Not rebuilt: {problem}", messages.ERROR)


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = (
        "date",
        "portfolio",
        "type",
        "instrument",
        "quantity",
        "price",
        "fee",
        "currency",
        "fx_rate",
    )
    list_filter = ("type", "date", "currency")
    search_fields = ("instrument__symbol", "portfolio__name", "portfolio__user__email")
    list_select_related = ("portfolio", "portfolio__user", "instrument")
    show_full_result_count = False
    ordering = ("-date", "-id")


@admin.register(Holding)
class HoldingAdmin(ReadOnlyAdmin):
    list_display = (
        "portfolio",
        "instrument",
        "quantity",
        "average_cost",
        "cost_basis_base",
        "realized_pnl_base",
    )
    search_fields = ("instrument__symbol", "portfolio__name", "portfolio__user__email")
    list_filter = ("instrument__asset_class",)
    list_select_related = ("portfolio", "instrument")


@admin.register(LedgerTotals)
class LedgerTotalsAdmin(ReadOnlyAdmin):
    list_display = (
        "portfolio",
        "as_of",
        "cash",
        "fees",
        "dividends",
        "interest",
        "net_external_flow",
    )
    search_fields = ("portfolio__name", "portfolio__user__email")
    list_select_related = ("portfolio",)


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("portfolio", "date", "value", "cost_basis", "cash", "net_flow")
    search_fields = ("portfolio__name", "portfolio__user__email")
    list_filter = ("date",)
    list_select_related = ("portfolio",)
    show_full_result_count = False
    ordering = ("-date",)


@admin.register(ProviderState)
class ProviderStateAdmin(ReadOnlyAdmin):
    list_display = (
        "provider",
        "circuit",
        "consecutive_failures",
        "calls_in_window",
        "window_started_at",
        "opened_at",
    )
    list_filter = ("circuit",)
    search_fields = ("provider", "last_error")
    actions = ("reset_selected",)

    def has_reset_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("portfolio.change_providerstate")

    @admin.action(description="Close the breaker and refill the budget", permissions=["reset"])
    def reset_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        names = list(queryset.values_list("provider", flat=True))
        for name in names:
            provider_state_reset(name=name)
        message = ngettext(
            "Reset %(count)d provider.", "Reset %(count)d providers.", len(names)
        ) % {"count": len(names)}
        self.message_user(request, message, messages.SUCCESS)


# --- watchlist, alerts, notifications, dividends ---------------------------------------------


class ServiceOnlyAdmin(admin.ModelAdmin):
    """Rows written through services: staff look, and act through the admin actions only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def _report(self, request: HttpRequest, done: int, failed: list[str], verb: str) -> None:
        if done:
            self.message_user(request, f"{verb} {done}.", messages.SUCCESS)
        if failed:
            self.message_user(request, "Not done: " + "; ".join(failed), messages.ERROR)


@admin.register(WatchlistItem)
class WatchlistItemAdmin(ReadOnlyAdmin):
    list_display = ("symbol", "exchange", "user", "target_price", "created_at")
    search_fields = ("symbol", "user__email")
    list_select_related = ("user",)


@admin.register(PriceAlert)
class PriceAlertAdmin(ServiceOnlyAdmin):
    list_display = ("instrument", "user", "condition", "target", "active", "triggered_at")
    list_filter = ("active", "condition")
    search_fields = ("instrument__symbol", "user__email")
    list_select_related = ("instrument", "user")
    actions = ("rearm_selected",)

    @admin.action(description="Re-arm the selected alerts", permissions=["change"])
    def rearm_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        alerts = list(queryset.order_by("pk"))
        for alert in alerts:
            price_alert_rearm(alert=alert)
        self._report(request, len(alerts), [], "Re-armed")


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ("alert", "price", "price_date", "triggered_at")
    search_fields = ("alert__instrument__symbol", "alert__user__email")
    list_select_related = ("alert", "alert__instrument")
    show_full_result_count = False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("title", "user", "kind", "created_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("title", "user__email")
    list_select_related = ("user",)
    show_full_result_count = False


@admin.register(Dividend)
class DividendAdmin(ServiceOnlyAdmin):
    list_display = (
        "instrument",
        "portfolio",
        "ex_date",
        "pay_date",
        "amount_per_share",
        "shares",
        "total",
        "status",
        "source",
    )
    list_filter = ("status", "kind", "source")
    search_fields = ("instrument__symbol", "portfolio__name", "portfolio__user__email")
    list_select_related = ("instrument", "portfolio", "portfolio__user")
    actions = ("confirm_selected", "reject_selected")

    @admin.action(description="Confirm into the ledger", permissions=["change"])
    def confirm_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, dividend_confirm, "Confirmed")

    @admin.action(description="Reject", permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, dividend_reject, "Rejected")

    def _apply(self, request: HttpRequest, queryset: QuerySet, service, verb: str) -> None:
        done, failed = 0, []
        for dividend in queryset.order_by("pk"):
            try:
                service(dividend=dividend)
            except ApplicationError as exc:
                failed.append(f"{dividend}: {exc.message}")
            else:
                done += 1
        self._report(request, done, failed, verb)
