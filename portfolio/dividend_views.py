"""Dividend pages (SPEC §7): the list with income by year and by symbol, add, edit, delete,
confirm, reject, and proposals from price data.

Thin views over portfolio.services. A dividend is added to, and proposed for, a portfolio named
in the URL; every row is looked up through the caller's own queryset, so anyone else's is 404.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import ListView, TemplateView, View

from accounts.forms import add_service_errors
from accounts.views import PageMixin
from portfolio.market_forms import DividendCreateForm, DividendFilterForm, DividendForm
from portfolio.market_selectors import dividend_income, dividend_list
from portfolio.market_views import NAV, OwnedRowMixin, PostOnlyMixin, _instrument, _on_symbol
from portfolio.models import Dividend, DividendStatus, Portfolio
from portfolio.selectors import portfolio_list
from portfolio.services import (
    dividend_confirm,
    dividend_create,
    dividend_delete,
    dividend_reject,
    dividend_update,
    dividends_propose,
)
from trading_lab.exceptions import ApplicationError

OPEN_STATUSES = (DividendStatus.PENDING, DividendStatus.EDITED)


def _refusal(error: ApplicationError | ValidationError) -> str:
    return getattr(error, "message", None) or "; ".join(error.messages)


class DividendListView(PageMixin, ListView):
    """The caller's dividends (filtered by status and portfolio) and the income received."""

    template_name = "portfolio/dividends.html"
    nav = NAV
    paginate_by = 25
    context_object_name = "dividends"

    def get_queryset(self) -> QuerySet[Dividend]:
        self.portfolios = list(portfolio_list(user=self.request.user))
        self.filter_form = DividendFilterForm(self.request.GET or None, portfolios=self.portfolios)
        if not self.filter_form.is_bound:
            return dividend_list(user=self.request.user)
        if not self.filter_form.is_valid():
            return dividend_list(user=self.request.user).none()
        return dividend_list(
            user=self.request.user,
            status=self.filter_form.cleaned_data["status"] or None,
            portfolio_id=self.filter_form.cleaned_data["portfolio"],
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # The income follows the portfolio filter (not the status one: income is what was paid).
        chosen = (
            self.filter_form.cleaned_data.get("portfolio") if self.filter_form.is_valid() else None
        )
        income = dividend_income(user=self.request.user, portfolio_id=chosen)
        context.update(
            filter_form=self.filter_form,
            portfolios=self.portfolios,
            income=income,
            income_chart=income.chart(),
            open_statuses=OPEN_STATUSES,
        )
        return context


class PortfolioRowMixin(OwnedRowMixin):
    def rows(self) -> QuerySet:
        return Portfolio.objects.for_user(self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["portfolio"] = self.object
        return context


class DividendAddView(PortfolioRowMixin, TemplateView):
    """Record a dividend of one of the portfolio's instruments (pending until confirmed)."""

    template_name = "portfolio/dividend_form.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", DividendCreateForm())
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = DividendCreateForm(request.POST)
        instrument = _instrument(form, request.user) if form.is_valid() else None
        if instrument is not None:
            data = dict(form.cleaned_data)
            del data["symbol"], data["exchange"]
            try:
                dividend = dividend_create(
                    portfolio=self.object, instrument=instrument, **data, request=request
                )
            except (ValidationError, ApplicationError) as error:
                add_service_errors(form, _on_symbol(error))
            else:
                messages.success(
                    request,
                    f"The dividend of {dividend.instrument} ex {dividend.ex_date:%Y-%m-%d} was "
                    f"recorded: {dividend.shares.normalize():f} shares held, pending.",
                )
                return HttpResponseRedirect(reverse("dividend_list"))
        return self.render_to_response(self.get_context_data(form=form))


class DividendProposeView(PostOnlyMixin, PortfolioRowMixin, View):
    """Propose pending dividends from price-bar dividend data for one portfolio."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            proposed = dividends_propose(portfolio=self.object, request=request)
        except (ValidationError, ApplicationError) as error:
            messages.error(request, f"Nothing was proposed: {_refusal(error)}")
        else:
            count = len(proposed)
            if count:
                messages.success(
                    request,
                    f"{count} dividend{'s' if count != 1 else ''} proposed for "
                    f"“{self.object.name}” from price data: check and confirm them below.",
                )
            else:
                messages.info(
                    request,
                    f"No new dividend found in the price data for “{self.object.name}”.",
                )
        return HttpResponseRedirect(f"{reverse('dividend_list')}?status=pending")


class DividendRowMixin(OwnedRowMixin):
    def rows(self) -> QuerySet:
        return Dividend.objects.for_user(self.request.user).select_related(
            "instrument", "portfolio"
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(dividend=self.object, portfolio=self.object.portfolio)
        return context


class DividendEditView(DividendRowMixin, TemplateView):
    template_name = "portfolio/dividend_form.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", DividendForm(initial=DividendForm.initial_from(self.object)))
        context["editable"] = self.object.status in OPEN_STATUSES
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = DividendForm(request.POST)
        if form.is_valid():
            try:
                dividend_update(dividend=self.object, data=form.cleaned_data, request=request)
            except (ValidationError, ApplicationError) as error:
                add_service_errors(form, error)
            else:
                messages.success(request, "The dividend was saved.")
                return HttpResponseRedirect(reverse("dividend_list"))
        return self.render_to_response(self.get_context_data(form=form))


class DividendDeleteView(DividendRowMixin, TemplateView):
    template_name = "portfolio/dividend_delete.html"
    http_method_names = ["get", "post", "head", "options"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            dividend_delete(dividend=self.object, request=request)
        except (ValidationError, ApplicationError) as error:
            messages.error(request, _refusal(error))
            return HttpResponseRedirect(reverse("dividend_delete", args=[self.object.pk]))
        messages.success(request, f"The dividend of {self.object.instrument} was deleted.")
        return HttpResponseRedirect(reverse("dividend_list"))


class DividendConfirmView(PostOnlyMixin, DividendRowMixin, View):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            dividend = dividend_confirm(dividend=self.object, request=request)
        except (ValidationError, ApplicationError) as error:
            messages.error(request, f"Not confirmed: {_refusal(error)}")
        else:
            messages.success(
                request,
                f"The dividend of {dividend.instrument} is confirmed: {dividend.total:,.2f} "
                f"{dividend.currency} recorded in “{dividend.portfolio.name}”.",
            )
        return HttpResponseRedirect(reverse("dividend_list"))


class DividendRejectView(PostOnlyMixin, DividendRowMixin, View):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            dividend = dividend_reject(dividend=self.object, request=request)
        except (ValidationError, ApplicationError) as error:
            messages.error(request, f"Not rejected: {_refusal(error)}")
        else:
            messages.success(request, f"The dividend of {dividend.instrument} was rejected.")
        return HttpResponseRedirect(reverse("dividend_list"))
