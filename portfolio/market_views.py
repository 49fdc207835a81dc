"""Watchlist, price alert and notification pages (SPEC §7).

Thin views over portfolio.services and portfolio.market_selectors. Every row is looked up
through the caller's own queryset, so another user's item, alert or notification answers 404.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F, Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import Resolver404, resolve, reverse
from django.views.generic import ListView, TemplateView, View

from accounts.forms import add_service_errors
from accounts.views import PageMixin
from portfolio.market_forms import PriceAlertForm, WatchlistAddForm
from portfolio.market_selectors import (
    alert_event_list,
    notification_list,
    price_alert_list,
    watchlist_rows,
)
from portfolio.models import Instrument, Notification, PriceAlert, WatchlistItem
from portfolio.services import (
    WatchlistEntry,
    instrument_find,
    notification_mark_read,
    notifications_mark_all_read,
    price_alert_create,
    price_alert_delete,
    price_alert_rearm,
    price_alert_update,
    watchlist_item_add,
    watchlist_item_delete,
)
from trading_lab.exceptions import ApplicationError

NAV = "markets"


def _label(symbol: str, exchange: str) -> str:
    return f"{symbol}.{exchange}" if exchange else symbol


def _instrument(form: Any, user: Any) -> Instrument | None:
    """The instrument a valid form names among those `user` sees; else a field error, None."""
    data = form.cleaned_data
    found = instrument_find(user=user, symbol=data["symbol"], exchange=data["exchange"])
    if found is None and not data["exchange"]:
        # No exchange given: a symbol listed on one exchange only needs none.
        listed = list(
            Instrument.objects.visible_to(user)
            .filter(symbol__iexact=data["symbol"])
            # A shared instrument first, as instrument_find prefers it.
            .order_by(F("owner_id").asc(nulls_first=True), "exchange")[:10]
        )
        if len({i.exchange for i in listed}) > 1:
            exchanges = ", ".join(sorted({i.exchange or "none" for i in listed}))
            form.add_error(
                "exchange",
                f"{data['symbol']} is listed on several exchanges ({exchanges}): give one.",
            )
            return None
        found = listed[0] if listed else None
    if found is None:
        form.add_error(
            "symbol",
            f"Unknown instrument {_label(data['symbol'], data['exchange'])}: check the symbol "
            "and exchange, or add the asset through a transaction first.",
        )
    return found


def _on_symbol(error: ApplicationError | ValidationError) -> ApplicationError | ValidationError:
    """The services name the instrument `instrument`; the forms call it `symbol`."""
    if isinstance(error, ApplicationError) and error.extra:
        error.extra = {("symbol" if k == "instrument" else k): v for k, v in error.extra.items()}
    return error


class OwnedRowMixin(PageMixin):
    """A page about one of the caller's rows (`pk` in the URL); anyone else's is a 404."""

    nav = NAV

    def rows(self) -> QuerySet:
        raise NotImplementedError

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.object: Model = get_object_or_404(self.rows(), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["object"] = self.object
        return context


class PostOnlyMixin(OwnedRowMixin):
    """A button's action (POST) on one row; it has no page of its own."""

    http_method_names = ["post", "options"]


# ---- Watchlist ------------------------------------------------------------------------------


class WatchlistView(PageMixin, TemplateView):
    """The caller's watchlist with last closes and day changes, and a form to add a symbol."""

    template_name = "portfolio/watchlist.html"
    nav = NAV
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", WatchlistAddForm())
        context["rows"] = watchlist_rows(user=self.request.user)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = WatchlistAddForm(request.POST)
        instrument = _instrument(form, request.user) if form.is_valid() else None
        if instrument is not None:
            label = str(instrument)
            listed = WatchlistItem.objects.for_user(request.user).filter(
                symbol=instrument.symbol.upper(), exchange=instrument.exchange.upper()
            )
            if listed.exists():
                form.add_error("symbol", f"{label} is already on your watchlist.")
            else:
                try:
                    watchlist_item_add(
                        user=request.user,
                        entry=WatchlistEntry(
                            symbol=instrument.symbol,
                            exchange=instrument.exchange,
                            notes=form.cleaned_data["notes"],
                            target_price=form.cleaned_data["target_price"],
                        ),
                        request=request,
                    )
                except (ValidationError, ApplicationError) as error:
                    add_service_errors(form, error)
                else:
                    messages.success(request, f"{label} was added to your watchlist.")
                    return HttpResponseRedirect(reverse("watchlist"))
        return self.render_to_response(self.get_context_data(form=form))


class WatchlistDeleteView(OwnedRowMixin, TemplateView):
    template_name = "portfolio/watchlist_delete.html"
    http_method_names = ["get", "post", "head", "options"]

    def rows(self) -> QuerySet:
        return WatchlistItem.objects.for_user(self.request.user)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        label = str(self.object)
        watchlist_item_delete(item=self.object, request=request)
        messages.success(request, f"{label} was removed from your watchlist.")
        return HttpResponseRedirect(reverse("watchlist"))


# ---- Price alerts ---------------------------------------------------------------------------


def _alert_data(form: PriceAlertForm, instrument: Instrument) -> dict[str, Any]:
    return {
        "instrument": instrument,
        "condition": form.cleaned_data["condition"],
        "target": form.cleaned_data["target"],
        "notes": form.cleaned_data["notes"],
    }


class AlertListView(PageMixin, TemplateView):
    """The caller's price alerts with their state, and a form to create one."""

    template_name = "portfolio/alerts.html"
    nav = NAV
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        initial = {
            "symbol": self.request.GET.get("symbol", ""),
            "exchange": self.request.GET.get("exchange", ""),
        }
        context.setdefault("form", PriceAlertForm(initial=initial))
        context["alerts"] = price_alert_list(user=self.request.user)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = PriceAlertForm(request.POST)
        instrument = _instrument(form, request.user) if form.is_valid() else None
        if instrument is not None:
            try:
                alert = price_alert_create(
                    user=request.user, **_alert_data(form, instrument), request=request
                )
            except (ValidationError, ApplicationError) as error:
                add_service_errors(form, _on_symbol(error))
            else:
                messages.success(request, f"The alert on {alert.instrument} is active.")
                return HttpResponseRedirect(reverse("alert_list"))
        return self.render_to_response(self.get_context_data(form=form))


class AlertRowMixin(OwnedRowMixin):
    def rows(self) -> QuerySet:
        return PriceAlert.objects.for_user(self.request.user).select_related("instrument")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["alert"] = self.object
        return context


class AlertDetailView(AlertRowMixin, TemplateView):
    """One alert and every time it fired."""

    template_name = "portfolio/alert_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["events"] = alert_event_list(user=self.request.user, alert=self.object)
        return context


class AlertEditView(AlertRowMixin, TemplateView):
    template_name = "portfolio/alert_form.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", PriceAlertForm(initial=PriceAlertForm.initial_from(self.object)))
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = PriceAlertForm(request.POST)
        instrument = _instrument(form, request.user) if form.is_valid() else None
        if instrument is not None:
            try:
                price_alert_update(
                    alert=self.object, data=_alert_data(form, instrument), request=request
                )
            except (ValidationError, ApplicationError) as error:
                add_service_errors(form, _on_symbol(error))
            else:
                messages.success(request, "The alert was saved.")
                return HttpResponseRedirect(reverse("alert_detail", args=[self.object.pk]))
        return self.render_to_response(self.get_context_data(form=form))


class AlertDeleteView(AlertRowMixin, TemplateView):
    template_name = "portfolio/alert_delete.html"
    http_method_names = ["get", "post", "head", "options"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        price_alert_delete(alert=self.object, request=request)
        messages.success(request, f"The alert on {self.object.instrument} was deleted.")
        return HttpResponseRedirect(reverse("alert_list"))


class AlertRearmView(PostOnlyMixin, AlertRowMixin, View):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        alert = price_alert_rearm(alert=self.object, request=request)
        messages.success(
            request, f"The alert on {alert.instrument} is active again: the next close decides."
        )
        return HttpResponseRedirect(reverse("alert_detail", args=[alert.pk]))


# ---- Notifications --------------------------------------------------------------------------


def _page_link(notification: Notification) -> str:
    """Where a notification leads on the pages: its alert's page for an alert event."""
    if not notification.link:
        return ""
    try:
        match = resolve(notification.link)
    except Resolver404:
        return ""
    if match.url_name == "api-alert-events":
        return reverse("alert_detail", args=[match.kwargs["id"]])
    return ""


class NotificationListView(PageMixin, ListView):
    template_name = "portfolio/notifications.html"
    nav = NAV
    paginate_by = 25
    context_object_name = "notifications"

    def get_queryset(self) -> QuerySet[Notification]:
        return notification_list(user=self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        for notification in context["notifications"]:
            notification.page_link = _page_link(notification)
        return context


class NotificationReadView(PostOnlyMixin, View):
    def rows(self) -> QuerySet:
        return Notification.objects.for_user(self.request.user)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        notification = notification_mark_read(notification=self.object, request=request)
        link = _page_link(notification) if "open" in request.POST else ""
        return HttpResponseRedirect(link or reverse("notification_list"))


class NotificationsReadAllView(PageMixin, View):
    nav = NAV
    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        count = notifications_mark_all_read(user=request.user, request=request)
        messages.success(
            request,
            f"Marked {count} notification{'s' if count != 1 else ''} read."
            if count
            else "Nothing was unread.",
        )
        return HttpResponseRedirect(reverse("notification_list"))
