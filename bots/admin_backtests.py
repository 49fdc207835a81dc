"""Staff tools of backtests and signal validations: read-only results, and a "Stop" action.

A backtest's results are what the engine returned for its job, and a signal validation is a
record a client program posted: staff read them, never edit them. Stopping goes through
`backtest_cancel`, like the trader's own button.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from audit.admin import ReadOnlyAdmin, pretty_json
from bots.models import Backtest, SignalValidation
from bots.services import backtest_cancel
from trading_lab.exceptions import ApplicationError

# A preview of the result lists: enough to see what ran, not a megabyte page.
PREVIEW_ROWS = 20


@admin.register(Backtest)
class BacktestAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "name",
        "user",
        "instrument",
        "interval",
        "start",
        "end",
        "status",
        "bars",
        "total_return",
        "created_at",
    )
    list_filter = ("status", "interval")
    search_fields = ("name", "user__email", "instrument__symbol")
    list_select_related = ("user", "instrument")
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ("stop_selected",)
    fields = (
        "name",
        "user",
        "instrument",
        "bot_type",
        "interval",
        "start",
        "end",
        "initial_balance",
        "fee_rate",
        "slippage_bps",
        "config_view",
        "status",
        "job",
        "bars",
        "error",
        "metrics_view",
        "orders_preview",
        "deals_preview",
        "equity_preview",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The change list never needs the result lists.
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            queryset = queryset.defer("orders", "deals", "equity_curve")
        return queryset

    @admin.display(description="total return")
    def total_return(self, obj: Backtest) -> str:
        return obj.metrics.get("total_return") or "—"

    @admin.display(description="config")
    def config_view(self, obj: Backtest) -> str:
        return pretty_json(obj.config)

    @admin.display(description="metrics")
    def metrics_view(self, obj: Backtest) -> str:
        return pretty_json(obj.metrics)

    def _preview(self, rows: list[Any]) -> str:
        shown = pretty_json(rows[:PREVIEW_ROWS])
        if len(rows) <= PREVIEW_ROWS:
            return shown
        return format_html("{}<p>… and {} more.</p>", shown, len(rows) - PREVIEW_ROWS)

    @admin.display(description="orders")
    def orders_preview(self, obj: Backtest) -> str:
        return self._preview(obj.orders)

    @admin.display(description="deals")
    def deals_preview(self, obj: Backtest) -> str:
        return self._preview(obj.deals)

    @admin.display(description="equity curve")
    def equity_preview(self, obj: Backtest) -> str:
        return self._preview(obj.equity_curve)

    @admin.action(description="Stop selected backtests (queued or running)")
    def stop_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        stopped, refused = 0, []
        for backtest in queryset.select_related("job", "user", "instrument").order_by("pk"):
            try:
                backtest_cancel(backtest=backtest, user=request.user, request=request)
            except ApplicationError as exc:
                refused.append(f"#{backtest.pk}: {exc.message}")
            else:
                stopped += 1
        if stopped:
            self.message_user(request, f"{stopped} backtest(s) asked to stop.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)


@admin.register(SignalValidation)
class SignalValidationAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "user",
        "model_type",
        "signal_type",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "sample_size",
        "created_at",
    )
    list_filter = ("signal_type",)
    search_fields = ("model_type", "signal_type", "user__email")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "user",
        "model_type",
        "signal_type",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "sample_size",
        "parameters_view",
        "notes",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="parameters")
    def parameters_view(self, obj: SignalValidation) -> str:
        return pretty_json(obj.parameters)
