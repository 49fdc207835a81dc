"""Backtest and signal validation pages (SPEC §7): form, progress, results, comparison.

Thin views over `bots.services` and `bots.backtest_selectors`; every row is looked up through
the caller's own queryset, so another user's backtest answers 404.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.views.generic import TemplateView, View

from accounts.forms import add_service_errors
from accounts.views import PageMixin
from bots.backtest_forms import CONFIG_FIELDS, BacktestForm, SignalValidationFilterForm
from bots.backtest_selectors import (
    COMPARE_MAX,
    backtest_compare_list,
    backtest_list,
    signal_validation_chart,
    signal_validation_list,
)
from bots.models import Backtest
from bots.services import backtest_cancel, backtest_create, backtest_delete
from portfolio.services import instrument_find
from trading_lab.exceptions import ApplicationError

ORDERS_PER_PAGE = 25
BACKTESTS_PER_PAGE = 20
VALIDATIONS_PER_PAGE = 25
# Metrics as the results page shows them: (key, label, how to show it).
METRICS: tuple[tuple[str, str, str], ...] = (
    ("total_return", "Total return", "percent"),
    ("cagr", "CAGR", "percent"),
    ("max_drawdown", "Max drawdown", "percent"),
    ("sharpe", "Sharpe", "number"),
    ("volatility", "Volatility", "percent"),
    ("win_rate", "Win rate", "percent"),
    ("final_equity", "Final equity", "money"),
    ("net_pnl", "Net P&L", "money"),
    ("realized_pnl", "Realized P&L", "money"),
    ("unrealized_pnl", "Unrealized P&L", "money"),
    ("fees", "Fees", "money"),
    ("deals_closed", "Deals closed", "count"),
    ("deals_won", "Deals won", "count"),
    ("stop_losses", "Stop losses", "count"),
    ("orders", "Orders", "count"),
    ("rejected_orders", "Refused orders", "count"),
)
# An equity chart needs no more points than a screen has pixels.
CHART_POINTS_MAX = 1000


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def metric_rows(backtests: list[Backtest]) -> list[dict[str, Any]]:
    """One row per metric with each backtest's value (Decimal, or None when undefined)."""
    return [
        {
            "key": key,
            "label": label,
            "kind": kind,
            "values": [_decimal(backtest.metrics.get(key)) for backtest in backtests],
        }
        for key, label, kind in METRICS
    ]


def _thin(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(points) <= CHART_POINTS_MAX:
        return points
    step = -(-len(points) // CHART_POINTS_MAX)
    return [*points[:-1:step], points[-1]]


def equity_chart(backtest: Backtest) -> dict[str, Any]:
    """The equity curve for the line chart, with a sentence that says what it shows."""
    points = _thin(backtest.equity_curve)
    chart = {
        "labels": [point["time"][:10] for point in points],
        "values": [point["equity"] for point in points],
        "currency": backtest.instrument.currency,
        "summary": "",
    }
    if points:
        low = min(points, key=lambda point: Decimal(point["equity"]))
        high = max(points, key=lambda point: Decimal(point["equity"]))
        chart["summary"] = (
            f"Equity from {Decimal(points[0]['equity']):,.2f} on {chart['labels'][0]} to "
            f"{Decimal(points[-1]['equity']):,.2f} on {chart['labels'][-1]}; lowest "
            f"{Decimal(low['equity']):,.2f} on {low['time'][:10]}, highest "
            f"{Decimal(high['equity']):,.2f} on {high['time'][:10]}."
        )
    return chart


def compare_chart(backtests: list[Backtest]) -> dict[str, Any]:
    """Every backtest's equity curve on one time axis (gaps where one has no point)."""
    curves = [{p["time"][:10]: p["equity"] for p in _thin(b.equity_curve)} for b in backtests]
    labels = sorted(set().union(*curves)) if curves else []
    series = [
        {
            "label": f"#{b.pk} {b.name or b.instrument.symbol}",
            "values": [curve.get(day) for day in labels],
        }
        for b, curve in zip(backtests, curves, strict=True)
    ]
    summary = " ".join(
        f"#{b.pk} ends at {Decimal(b.equity_curve[-1]['equity']):,.2f}."
        for b in backtests
        if b.equity_curve
    )
    return {"labels": labels, "series": series, "summary": summary, "percent": False}


def _order_row(order: dict[str, Any]) -> dict[str, Any]:
    # Daily bars fill at midnight UTC: the date says it all; intraday times keep the minute.
    when = order["time"][:16].replace("T", " ")
    return {
        **order,
        "when": when.removesuffix(" 00:00"),
        "price": Decimal(order["price"]),
        "fee": Decimal(order["fee"]),
    }


class BacktestPageMixin(PageMixin):
    nav = "trading"


class BacktestListView(BacktestPageMixin, TemplateView):
    """The caller's backtests (select some to compare) and the form to run a new one."""

    template_name = "bots/backtest_list.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", BacktestForm(initial=BacktestForm.initial_values()))
        page = Paginator(backtest_list(user=self.request.user), BACKTESTS_PER_PAGE).get_page(
            self.request.GET.get("page")
        )
        backtests = list(page.object_list)
        for backtest in backtests:
            backtest.total_return = _decimal(backtest.metrics.get("total_return"))
            backtest.max_drawdown = _decimal(backtest.metrics.get("max_drawdown"))
        context.update(page_obj=page, backtests=backtests, compare_max=COMPARE_MAX)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = BacktestForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            instrument = instrument_find(
                user=request.user, symbol=data["symbol"], exchange=data["exchange"] or ""
            )
            if instrument is None:
                form.add_error("symbol", "Unknown symbol: no listed or own instrument has it.")
            else:
                try:
                    backtest = backtest_create(
                        user=request.user,
                        instrument=instrument,
                        interval=data["interval"],
                        start=data["start"],
                        end=data["end"],
                        initial_balance=data["initial_balance"],
                        fee_rate=data["fee_rate"],
                        slippage_bps=data["slippage_bps"],
                        config=form.config(),
                        name=data["name"],
                        request=request,
                    )
                except (ApplicationError, ValidationError) as error:
                    if isinstance(error, ApplicationError) and error.extra:
                        error.extra = form.service_errors(error.extra)
                    add_service_errors(form, error)
                else:
                    messages.success(request, "The backtest is queued; results appear here.")
                    return HttpResponseRedirect(reverse("backtest_detail", args=[backtest.pk]))
        return self.render_to_response(self.get_context_data(form=form))


class BacktestDetailView(BacktestPageMixin, TemplateView):
    """Progress while it runs; then metrics, the equity curve, orders (paginated) and exports."""

    template_name = "bots/backtest_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        backtest = get_object_or_404(
            backtest_list(user=self.request.user, heavy=True), pk=kwargs["pk"]
        )
        orders = Paginator(backtest.orders, ORDERS_PER_PAGE).get_page(self.request.GET.get("page"))
        context.update(
            backtest=backtest,
            job=backtest.job,
            metrics=[{**row, "value": row["values"][0]} for row in metric_rows([backtest])],
            chart=equity_chart(backtest),
            # In the form's order: PostgreSQL's jsonb keeps its own key order.
            config=sorted(
                backtest.config.items(),
                key=lambda item: (
                    CONFIG_FIELDS.index(item[0]) if item[0] in CONFIG_FIELDS else len(CONFIG_FIELDS)
                ),
            ),
            page_obj=orders,
            orders=[_order_row(order) for order in orders.object_list],
            formats=("csv", "json", "xlsx"),
        )
        return context


class BacktestCancelView(BacktestPageMixin, View):
    """POST: stop a queued or running backtest."""

    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        backtest = get_object_or_404(backtest_list(user=request.user), pk=pk)
        try:
            backtest_cancel(backtest=backtest, user=request.user, request=request)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "The backtest was asked to stop.")
        return HttpResponseRedirect(reverse("backtest_detail", args=[backtest.pk]))


class BacktestDeleteView(BacktestPageMixin, TemplateView):
    """Confirm, then delete a backtest with its results."""

    template_name = "bots/backtest_delete.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["backtest"] = get_object_or_404(
            backtest_list(user=self.request.user), pk=kwargs["pk"]
        )
        return context

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        backtest = get_object_or_404(backtest_list(user=request.user), pk=pk)
        backtest_delete(backtest=backtest, request=request)
        messages.success(request, f"The backtest “{backtest}” was deleted.")
        return HttpResponseRedirect(reverse("backtest_list"))


class BacktestCompareView(BacktestPageMixin, TemplateView):
    """Two to four backtests side by side: metrics in columns, equity curves on one chart."""

    template_name = "bots/backtest_compare.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ids = [int(value) for value in request.GET.getlist("ids") if value.isdigit()]
        self.backtests = backtest_compare_list(user=request.user, ids=ids)
        if len(self.backtests) < 2:
            messages.warning(request, f"Select two to {COMPARE_MAX} backtests to compare.")
            return HttpResponseRedirect(reverse("backtest_list"))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            backtests=self.backtests,
            metrics=metric_rows(self.backtests),
            chart=compare_chart(self.backtests),
        )
        return context


class SignalValidationListView(BacktestPageMixin, TemplateView):
    """The caller's signal validation runs: accuracy and F1 over time, and the table."""

    template_name = "bots/signal_validations.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = SignalValidationFilterForm(self.request.GET or None)
        filters = form.cleaned_data if form.is_valid() else {}
        rows = signal_validation_list(
            user=self.request.user,
            model_type=filters.get("model_type") or None,
            signal_type=filters.get("signal_type") or None,
        )
        page = Paginator(rows, VALIDATIONS_PER_PAGE).get_page(self.request.GET.get("page"))
        context.update(
            form=form,
            page_obj=page,
            validations=page.object_list,
            chart=signal_validation_chart(validations=rows[:500]),
        )
        return context


urlpatterns = [
    path("backtests/", BacktestListView.as_view(), name="backtest_list"),
    path("backtests/compare/", BacktestCompareView.as_view(), name="backtest_compare"),
    path("backtests/<int:pk>/", BacktestDetailView.as_view(), name="backtest_detail"),
    path("backtests/<int:pk>/cancel/", BacktestCancelView.as_view(), name="backtest_cancel"),
    path("backtests/<int:pk>/delete/", BacktestDeleteView.as_view(), name="backtest_delete"),
    path("signal-validations/", SignalValidationListView.as_view(), name="signal_validation_list"),
]
