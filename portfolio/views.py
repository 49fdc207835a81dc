"""Portfolio pages (SPEC §7): list, detail with performance and charts, transactions, import.

Thin views over portfolio.services and portfolio.selectors. Every row is looked up through the
caller's own queryset, so another user's portfolio or transaction answers 404.
"""

import secrets
from base64 import b64decode, b64encode
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction as db_transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.generic import ListView, TemplateView

from accounts.forms import add_service_errors
from accounts.views import PageMixin
from audit.user_history import object_history
from portfolio.forms import (
    ImportConfirmForm,
    ImportUploadForm,
    PortfolioForm,
    TransactionFilterForm,
    TransactionForm,
)
from portfolio.models import Portfolio, Transaction
from portfolio.selectors import (
    portfolio_list,
    portfolio_performance,
    portfolio_performance_rows,
    portfolio_series,
    transaction_list,
)
from portfolio.services import (
    TransactionInput,
    instrument_resolve,
    portfolio_create,
    portfolio_delete,
    portfolio_update,
    transaction_create,
    transaction_delete,
    transaction_update,
    transactions_import,
)
from trading_lab.exceptions import ApplicationError

# Chart ranges of the detail page: key → (label, days back; None for everything).
RANGES = {"1m": ("1M", 31), "6m": ("6M", 183), "1y": ("1Y", 366), "all": ("All", None)}
DEFAULT_RANGE = "6m"
# Session key of the files kept between an import's preview and its confirmation.
IMPORT_SESSION_KEY = "portfolio_import_uploads"


def _renamed(error: ApplicationError | ValidationError) -> ApplicationError | ValidationError:
    """The ledger names the instrument `instrument`; the form calls it `symbol`."""
    if isinstance(error, ApplicationError) and error.extra:
        error.extra = {("symbol" if k == "instrument" else k): v for k, v in error.extra.items()}
    elif isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        error.error_dict = {
            ("symbol" if k == "instrument" else k): v for k, v in error.error_dict.items()
        }
    return error


class PortfolioPageMixin(PageMixin):
    """A page about one of the caller's portfolios (`pk` in the URL)."""

    nav = "portfolios"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.portfolio = get_object_or_404(
            Portfolio.objects.for_user(request.user), pk=kwargs["pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["portfolio"] = self.portfolio
        return context


class PortfolioListView(PageMixin, TemplateView):
    """The caller's portfolios with their value, and a form to create one."""

    template_name = "portfolio/portfolio_list.html"
    nav = "portfolios"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault(
            "form", PortfolioForm(initial={"base_currency": self.profile.base_currency})
        )
        today = timezone.localdate()
        context["rows"] = portfolio_performance_rows(
            portfolios=portfolio_list(user=self.request.user), as_of=today
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = PortfolioForm(request.POST)
        if form.is_valid():
            try:
                portfolio = portfolio_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    base_currency=form.cleaned_data["base_currency"],
                    description=form.cleaned_data["description"],
                    request=request,
                )
            except (ValidationError, ApplicationError) as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"The portfolio “{portfolio.name}” was created.")
                return HttpResponseRedirect(reverse("portfolio_detail", args=[portfolio.pk]))
        return self.render_to_response(self.get_context_data(form=form))


def _series_start(portfolio: Portfolio, user: Any, today: date, days: int | None) -> date:
    if days is not None:
        return today - timedelta(days=days)
    first = transaction_list(user=user, portfolio=portfolio).order_by("date", "id").first()
    return first.date if first else today


def _value_chart(series: list, currency: str) -> dict[str, Any]:
    labels = [row.date.isoformat() for row in series]
    values = [str(row.value) for row in series]
    summary = ""
    if series:
        low = min(series, key=lambda row: row.value)
        high = max(series, key=lambda row: row.value)
        summary = (
            f"Value went from {series[0].value:,.2f} {currency} on {labels[0]} to "
            f"{series[-1].value:,.2f} {currency} on {labels[-1]}; the high was "
            f"{high.value:,.2f} on {high.date.isoformat()}, the low {low.value:,.2f} on "
            f"{low.date.isoformat()}."
        )
    return {"labels": labels, "values": values, "currency": currency, "summary": summary}


def _allocation(performance: Any) -> list[dict[str, Any]]:
    """Open positions and cash with their share of the portfolio value, biggest first."""
    slices = [
        {"label": p.symbol, "value": p.value, "weight": p.weight}
        for p in performance.positions
        if p.quantity > 0 and p.weight is not None
    ]
    if performance.value > 0 and performance.cash > 0:
        slices.append(
            {
                "label": "Cash",
                "value": performance.cash,
                "weight": performance.cash / performance.value,
            }
        )
    return sorted(slices, key=lambda s: s["weight"], reverse=True)


class PortfolioDetailView(PortfolioPageMixin, TemplateView):
    template_name = "portfolio/portfolio_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user, portfolio = self.request.user, self.portfolio
        today = timezone.localdate()
        range_key = self.request.GET.get("range", DEFAULT_RANGE)
        if range_key not in RANGES:
            range_key = DEFAULT_RANGE
        performance, series, problem = None, [], ""
        try:
            performance = portfolio_performance(portfolio=portfolio, as_of=today)
            start = _series_start(portfolio, user, today, RANGES[range_key][1])
            series = portfolio_series(portfolio=portfolio, start=start, end=today)
        except ApplicationError as error:
            problem = error.message
        allocation = _allocation(performance) if performance else []
        context.update(
            performance=performance,
            problem=problem,
            positions=[p for p in performance.positions if p.quantity > 0] if performance else [],
            ranges=[(key, label) for key, (label, _) in RANGES.items()],
            range_key=range_key,
            value_chart=_value_chart(series, portfolio.base_currency),
            allocation=allocation,
            allocation_chart={
                "labels": [s["label"] for s in allocation],
                "values": [str(s["value"]) for s in allocation],
            },
            recent_transactions=transaction_list(user=user, portfolio=portfolio)[:10],
            history=object_history(
                user=user, instance=portfolio, page=self.request.GET.get("history_page")
            ),
        )
        return context


class PortfolioEditView(PortfolioPageMixin, TemplateView):
    template_name = "portfolio/portfolio_form.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault(
            "form",
            PortfolioForm(
                initial={
                    "name": self.portfolio.name,
                    "base_currency": self.portfolio.base_currency,
                    "description": self.portfolio.description,
                }
            ),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Not bound to the instance: a ModelForm writes bad input onto the row it validates.
        form = PortfolioForm(request.POST)
        form.instance.user = request.user
        form.instance.pk = self.portfolio.pk
        if form.is_valid():
            try:
                portfolio_update(portfolio=self.portfolio, data=form.cleaned_data, request=request)
            except (ValidationError, ApplicationError) as error:
                add_service_errors(form, error)
            else:
                messages.success(request, "The portfolio was saved.")
                return HttpResponseRedirect(reverse("portfolio_detail", args=[self.portfolio.pk]))
        return self.render_to_response(self.get_context_data(form=form))


class PortfolioDeleteView(PortfolioPageMixin, TemplateView):
    template_name = "portfolio/portfolio_delete.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["transaction_count"] = transaction_list(
            user=self.request.user, portfolio=self.portfolio
        ).count()
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        name = self.portfolio.name
        portfolio_delete(portfolio=self.portfolio, request=request)
        messages.success(request, f"The portfolio “{name}” and its transactions were deleted.")
        return HttpResponseRedirect(reverse("portfolio_list"))


class TransactionListView(PortfolioPageMixin, ListView):
    template_name = "portfolio/transaction_list.html"
    paginate_by = 25
    context_object_name = "rows"

    def get_queryset(self):
        rows = transaction_list(user=self.request.user, portfolio=self.portfolio)
        self.filter_form = TransactionFilterForm(self.request.GET or None)
        if not self.filter_form.is_bound:
            return rows
        if not self.filter_form.is_valid():
            # Bad filters show their errors and no rows, rather than silently showing all.
            return rows.none()
        return transaction_list(
            user=self.request.user, portfolio=self.portfolio, **self.filter_form.selector_kwargs()
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["filter_form"] = self.filter_form
        return context


def _transaction_input(user: Any, data: dict[str, Any]) -> TransactionInput:
    instrument = None
    if (data.get("symbol") or "").strip():
        instrument = instrument_resolve(
            user=user,
            symbol=data["symbol"],
            exchange=data.get("exchange") or "",
            currency=data.get("currency"),
        )
    return TransactionInput(
        type=data["type"],
        date=data["date"],
        quantity=data["quantity"],
        price=data["price"],
        fee=data["fee"],
        instrument=instrument,
        currency=data.get("currency"),
        fx_rate=data.get("fx_rate"),
        notes=data.get("notes") or "",
    )


class TransactionFormMixin:
    """Add or edit one entry: resolve the instrument and write, all or nothing."""

    template_name = "portfolio/transaction_form.html"
    http_method_names = ["get", "post", "head", "options"]

    def write(self, data: TransactionInput) -> Transaction:
        raise NotImplementedError

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = TransactionForm(request.POST)
        if form.is_valid():
            try:
                # A private instrument made for a refused entry must not outlive it.
                with db_transaction.atomic():
                    self.write(_transaction_input(request.user, form.cleaned_data))
            except (ValidationError, ApplicationError) as error:
                add_service_errors(form, _renamed(error))
            else:
                messages.success(request, self.success_message)
                return HttpResponseRedirect(
                    reverse("portfolio_transactions", args=[self.portfolio.pk])
                )
        return self.render_to_response(self.get_context_data(form=form))


class TransactionAddView(TransactionFormMixin, PortfolioPageMixin, TemplateView):
    success_message = "The transaction was added."

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", TransactionForm(initial={"date": timezone.localdate()}))
        return context

    def write(self, data: TransactionInput) -> Transaction:
        return transaction_create(portfolio=self.portfolio, data=data, request=self.request)


class TransactionPageMixin(PageMixin):
    """A page about one of the caller's transactions (`pk` in the URL)."""

    nav = "portfolios"
    http_method_names = ["get", "post", "head", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.transaction = get_object_or_404(
            Transaction.objects.for_user(request.user).select_related("portfolio", "instrument"),
            pk=kwargs["pk"],
        )
        self.portfolio = self.transaction.portfolio
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(portfolio=self.portfolio, transaction=self.transaction)
        return context


class TransactionEditView(TransactionFormMixin, TransactionPageMixin, TemplateView):
    success_message = "The transaction was saved."

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault(
            "form", TransactionForm(initial=TransactionForm.initial_from(self.transaction))
        )
        context["history"] = object_history(
            user=self.request.user,
            instance=self.transaction,
            page=self.request.GET.get("history_page"),
        )
        return context

    def write(self, data: TransactionInput) -> Transaction:
        return transaction_update(transaction=self.transaction, data=data, request=self.request)


class TransactionDeleteView(TransactionPageMixin, TemplateView):
    template_name = "portfolio/transaction_delete.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            transaction_delete(transaction=self.transaction, request=request)
        except (ValidationError, ApplicationError) as error:
            # Deleting a buy that later sells depend on would oversell: say so, keep the row.
            messages.error(request, getattr(error, "message", None) or "; ".join(error.messages))
            return HttpResponseRedirect(reverse("transaction_delete", args=[self.transaction.pk]))
        messages.success(request, "The transaction was deleted.")
        return HttpResponseRedirect(reverse("portfolio_transactions", args=[self.portfolio.pk]))


class PortfolioImportView(PortfolioPageMixin, TemplateView):
    """Upload → dry-run preview → confirm, which imports the very file that was previewed.

    The file waits in the caller's server-side session under a random key, tied to this
    portfolio and capped in size (IMPORT_PAGE_MAX_BYTES); confirming uses it once, and a new
    preview replaces it.
    """

    template_name = "portfolio/import.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ImportUploadForm())
        return context

    def _kept(self) -> dict[str, dict[str, Any]]:
        return self.request.session.get(IMPORT_SESSION_KEY, {})

    def _keep(self, content: bytes, filename: str) -> str:
        key = secrets.token_urlsafe(16)
        # One pending file per session, so the session row stays within one file's cap:
        # a new preview replaces the last one.
        self.request.session[IMPORT_SESSION_KEY] = {
            key: {
                "portfolio": self.portfolio.pk,
                "filename": filename,
                "content": b64encode(content).decode("ascii"),
            }
        }
        return key

    def _take(self, key: str) -> dict[str, Any] | None:
        kept = self._kept()
        entry = kept.get(key)
        if entry is None or entry["portfolio"] != self.portfolio.pk:
            return None
        del kept[key]
        self.request.session[IMPORT_SESSION_KEY] = kept
        return entry

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "upload" in request.POST:
            return self._confirm(request)
        form = ImportUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        upload = form.cleaned_data["file"]
        content, filename = upload.read(), upload.name or "upload"
        try:
            report = transactions_import(
                user=request.user,
                portfolio=self.portfolio,
                content=content,
                filename=filename,
                dry_run=True,
                request=request,
                inline=True,
            )
        except (ValidationError, ApplicationError) as error:
            add_service_errors(form, _file_errors(error))
            return self.render_to_response(self.get_context_data(form=form))
        key = self._keep(content, filename) if report.ok and report.to_add else ""
        return self.render_to_response(
            self.get_context_data(
                report=report,
                filename=filename,
                confirm_form=ImportConfirmForm(initial={"upload": key}) if key else None,
            )
        )

    def _confirm(self, request: HttpRequest) -> HttpResponse:
        confirm = ImportConfirmForm(request.POST)
        entry = self._take(confirm.data.get("upload", "")) if confirm.is_valid() else None
        if entry is None:
            messages.error(request, "That preview has expired; upload the file again.")
            return HttpResponseRedirect(reverse("portfolio_import", args=[self.portfolio.pk]))
        try:
            report = transactions_import(
                user=request.user,
                portfolio=self.portfolio,
                content=b64decode(entry["content"]),
                filename=entry["filename"],
                dry_run=False,
                request=request,
                inline=True,
            )
        except (ValidationError, ApplicationError) as error:
            messages.error(request, getattr(error, "message", None) or "; ".join(error.messages))
            return HttpResponseRedirect(reverse("portfolio_import", args=[self.portfolio.pk]))
        if not report.ok:
            # The ledger changed since the preview: show what is wrong now, nothing was written.
            return self.render_to_response(
                self.get_context_data(report=report, filename=entry["filename"])
            )
        messages.success(
            request,
            f"Imported {report.created} transaction{'s' if report.created != 1 else ''}"
            f"; {len(report.duplicates)} duplicate{'s' if len(report.duplicates) != 1 else ''}"
            " left out.",
        )
        return HttpResponseRedirect(reverse("portfolio_transactions", args=[self.portfolio.pk]))


def _file_errors(error: ApplicationError | ValidationError) -> ApplicationError | ValidationError:
    """A refusal of the whole file (encoding, header, format) belongs on the file field."""
    if isinstance(error, ApplicationError) and not error.extra:
        return ApplicationError(error.message, {"file": [error.message]})
    return error
