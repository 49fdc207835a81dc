"""Paper trading pages (SPEC §7): balances, positions, an order ticket, open and recent orders.

Thin views over bots.services.paper and bots.selectors. Accounts and orders are looked up
through the caller's own rows, so another user's id answers 404.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.views.generic import TemplateView

from accounts.forms import add_service_errors
from accounts.views import PageMixin
from bots.idempotency import IdempotencyConflict, idempotent_call
from bots.models import OPEN_ORDER_STATUSES, Order, PaperAccount
from bots.paper_forms import OrderTicketForm, PaperAccountForm
from bots.selectors import (
    order_list,
    paper_account_list,
    paper_balance_list,
    paper_instrument_find,
    paper_position_list,
    position_market_value,
    position_unrealized_pnl,
)
from bots.services import (
    OrderInput,
    order_cancel,
    order_place,
    paper_account_create,
    paper_account_default,
    paper_account_reset,
)
from trading_lab.exceptions import ApplicationError

RECENT_ORDERS = 20
TICKET_SCOPE = "orders.ticket"


def _account_url(account: PaperAccount) -> str:
    return reverse("paper_account", args=[account.pk])


class PaperPageMixin(PageMixin):
    nav = "trading"


class PaperView(PaperPageMixin, TemplateView):
    """One paper account (the default one at /paper/): its book, the ticket, its orders."""

    template_name = "bots/paper.html"
    http_method_names = ["get", "head", "options"]

    def get_account(self) -> PaperAccount:
        if "pk" in self.kwargs:
            return get_object_or_404(
                paper_account_list(user=self.request.user), pk=self.kwargs["pk"]
            )
        return paper_account_default(user=self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        account = kwargs.get("account") or self.get_account()
        positions = [
            {
                "position": row,
                "value": position_market_value(row),
                "unrealized": position_unrealized_pnl(row),
            }
            for row in paper_position_list(user=user, account=account)
        ]
        orders = order_list(user=user, account=account)
        context.update(
            account=account,
            accounts=paper_account_list(user=user),
            balances=paper_balance_list(user=user, account=account),
            positions=positions,
            open_orders=orders.filter(status__in=OPEN_ORDER_STATUSES),
            recent_orders=orders[:RECENT_ORDERS],
        )
        context.setdefault("ticket", OrderTicketForm())
        return context


class PaperAccountPageMixin(PaperPageMixin):
    """A page about one of the caller's paper accounts (`pk` in the URL)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.account = get_object_or_404(paper_account_list(user=request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)


class OrderPlaceView(PaperAccountPageMixin, PaperView):
    """The ticket's POST: place the order (once per ticket), or show the ticket's errors."""

    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = OrderTicketForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            instrument = paper_instrument_find(
                user=request.user, symbol=data["symbol"], exchange=data["exchange"]
            )
            if instrument is None:
                form.add_error("symbol", "Unknown symbol; check the symbol and exchange.")
            else:
                try:
                    answer = idempotent_call(
                        user=request.user,
                        scope=TICKET_SCOPE,
                        key=data["idempotency_key"],
                        body={
                            "account": self.account.pk,
                            **{k: v for k, v in data.items() if k != "idempotency_key"},
                        },
                        run=lambda: self._place(request, instrument, data),
                    )
                except (ValidationError, ApplicationError) as error:
                    add_service_errors(form, error)
                except IdempotencyConflict:
                    form.add_error(None, "This ticket was already used; reload the page.")
                else:
                    self._report(request, answer.body, replayed=answer.replayed)
                    return HttpResponseRedirect(_account_url(self.account))
        context = self.get_context_data(account=self.account, ticket=form)
        return self.render_to_response(context)

    def _place(self, request: HttpRequest, instrument: Any, data: dict[str, Any]):
        order = order_place(
            user=request.user,
            account=self.account,
            data=OrderInput(
                instrument=instrument,
                side=data["side"],
                order_type=data["type"],
                quantity=data["quantity"],
                limit_price=data["limit_price"],
            ),
            request=request,
        )
        return 201, {"id": order.pk, "status": order.status, "reason": order.reject_reason}

    def _report(self, request: HttpRequest, body: dict[str, Any], *, replayed: bool) -> None:
        if replayed:
            messages.info(request, "That ticket was already sent; no second order was placed.")
        elif body["status"] == "rejected":
            messages.error(request, f"The order was rejected: {body['reason']}")
        elif body["status"] == "filled":
            messages.success(request, "The order was filled.")
        else:
            messages.success(request, "The limit order is open; its funds are locked.")


class OrderCancelView(PaperPageMixin, TemplateView):
    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order: Order = get_object_or_404(order_list(user=request.user), pk=kwargs["pk"])
        try:
            order_cancel(order=order, request=request)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "The order was cancelled and its funds released.")
        return HttpResponseRedirect(_account_url(order.account))


class PaperAccountCreateView(PaperPageMixin, TemplateView):
    template_name = "bots/paper_account_form.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", PaperAccountForm())
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = PaperAccountForm(request.POST)
        if form.is_valid():
            try:
                account = paper_account_create(
                    user=request.user, **form.cleaned_data, request=request
                )
            except (ValidationError, ApplicationError) as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"The paper account “{account.name}” was created.")
                return HttpResponseRedirect(_account_url(account))
        return self.render_to_response(self.get_context_data(form=form))


class PaperAccountResetView(PaperAccountPageMixin, TemplateView):
    template_name = "bots/paper_reset.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            account=self.account,
            open_orders=order_list(user=self.request.user, account=self.account)
            .filter(status__in=OPEN_ORDER_STATUSES)
            .count(),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            cancelled = paper_account_reset(account=self.account, request=request)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            note = f" {cancelled} open order(s) were cancelled." if cancelled else ""
            messages.success(request, f"The account was reset to its starting balance.{note}")
        return HttpResponseRedirect(_account_url(self.account))


urlpatterns = [
    path("paper/", PaperView.as_view(), name="paper"),
    path("paper/accounts/new", PaperAccountCreateView.as_view(), name="paper_account_create"),
    path("paper/accounts/<int:pk>/", PaperView.as_view(), name="paper_account"),
    path("paper/accounts/<int:pk>/orders", OrderPlaceView.as_view(), name="paper_order_place"),
    path(
        "paper/accounts/<int:pk>/reset",
        PaperAccountResetView.as_view(),
        name="paper_account_reset",
    ),
    path("paper/orders/<int:pk>/cancel", OrderCancelView.as_view(), name="paper_order_cancel"),
]
