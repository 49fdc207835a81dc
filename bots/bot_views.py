"""Bot pages (SPEC §7): the list, the create/edit form with a live ladder preview, the detail page
with controls, the open deal's ladder, orders, runs, the tick log and the equity chart.

Thin views over bots.services.bots and bots.bot_selectors; bots are looked up through the caller's
own rows, so another user's id answers 404.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.views.generic import TemplateView

from accounts.views import PageMixin
from audit.user_history import object_history
from bots.bot_forms import CONFIG_FIELDS, BotForm
from bots.bot_selectors import (
    bot_chart_run,
    bot_equity_chart,
    bot_last_price,
    bot_list,
    bot_open_deal,
    bot_orders,
    bot_runs,
    bot_ticks,
)
from bots.models import Bot, BotStatus
from bots.services import (
    BotStateError,
    bot_create,
    bot_delete,
    bot_pause,
    bot_resume,
    bot_start,
    bot_stop,
    bot_update,
    paper_account_default,
)
from bots.services.runner import bot_open_run
from trading_lab.exceptions import ApplicationError

RECENT = 50


class BotPageMixin(PageMixin):
    nav = "trading"


class OwnBotMixin(BotPageMixin):
    """A page about one of the caller's bots (`pk` in the URL)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.bot = get_object_or_404(bot_list(user=request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["bot"] = self.bot
        return context


class BotListView(BotPageMixin, TemplateView):
    template_name = "bots/bot_list.html"
    http_method_names = ["get", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        rows = []
        for bot in bot_list(user=self.request.user):
            run = bot_open_run(bot) or bot_runs(bot=bot).first()
            rows.append({"bot": bot, "run": run})
        context["rows"] = rows
        return context


def _form_initial(bot: Bot) -> dict[str, Any]:
    initial = {
        "name": bot.name,
        "account": bot.account_id,
        "instrument": bot.instrument_id,
        "interval": bot.interval,
    }
    initial.update({name: bot.config.get(name) for name in CONFIG_FIELDS})
    return initial


class BotFormMixin(BotPageMixin):
    template_name = "bots/bot_form.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", self.make_form())
        context["config_fields"] = [context["form"][name] for name in CONFIG_FIELDS]
        return context

    def make_form(self, data: Any = None) -> BotForm:
        raise NotImplementedError

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.make_form(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                bot = self.save(request, data, form.config())
            except (ValidationError, ApplicationError) as error:
                if isinstance(error, ApplicationError):
                    form.add_service_errors(error)
                else:
                    form.add_error(None, "; ".join(error.messages))
            else:
                return HttpResponseRedirect(reverse("bot_detail", args=[bot.pk]))
        return self.render_to_response(self.get_context_data(form=form))


class BotCreateView(BotFormMixin, TemplateView):
    def make_form(self, data: Any = None) -> BotForm:
        initial = {"account": paper_account_default(user=self.request.user).pk}
        return BotForm(data, user=self.request.user, initial=initial)

    def save(self, request: HttpRequest, data: dict[str, Any], config: dict[str, Any]) -> Bot:
        bot = bot_create(
            user=request.user,
            name=data["name"],
            account=data["account"],
            instrument=data["instrument"],
            interval=data["interval"],
            config=config,
            request=request,
        )
        messages.success(request, f"The bot “{bot.name}” was created. Start it when ready.")
        return bot


class BotEditView(OwnBotMixin, BotFormMixin, TemplateView):
    def make_form(self, data: Any = None) -> BotForm:
        return BotForm(data, user=self.request.user, initial=_form_initial(self.bot))

    def save(self, request: HttpRequest, data: dict[str, Any], config: dict[str, Any]) -> Bot:
        fields = {name: data[name] for name in ("name", "account", "instrument", "interval")}
        bot = bot_update(bot=self.bot, data={**fields, "config": config}, request=request)
        messages.success(request, f"The bot “{bot.name}” was saved.")
        return bot


class BotDetailView(OwnBotMixin, TemplateView):
    template_name = "bots/bot_detail.html"
    http_method_names = ["get", "head", "options"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        bot = self.bot
        price = bot_last_price(bot=bot)
        run = bot_open_run(bot)
        chart_run = bot_chart_run(bot=bot)
        chart = bot_equity_chart(run=chart_run, currency=bot.instrument.currency)
        context.update(
            price=price,
            run=run,
            chart_run=chart_run,
            deal=bot_open_deal(bot=bot, price=price),
            orders=bot_orders(bot=bot)[:RECENT],
            runs=bot_runs(bot=bot)[:RECENT],
            ticks=bot_ticks(bot=bot)[:RECENT],
            equity_chart={k: chart[k] for k in ("labels", "values", "currency")},
            equity_summary=chart["summary"],
            equity_points=chart.get("points", []),
            can_start=bot.status == BotStatus.STOPPED,
            can_pause=bot.status == BotStatus.RUNNING,
            can_resume=bot.status == BotStatus.PAUSED,
            can_stop=bot.status != BotStatus.STOPPED,
            history=object_history(
                user=self.request.user, instance=bot, page=self.request.GET.get("history_page")
            ),
        )
        return context


class BotDeleteView(OwnBotMixin, TemplateView):
    template_name = "bots/bot_delete.html"
    http_method_names = ["get", "post", "head", "options"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        name = self.bot.name
        try:
            bot_delete(bot=self.bot, request=request)
        except ApplicationError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(reverse("bot_detail", args=[self.bot.pk]))
        messages.success(request, f"The bot “{name}” was deleted.")
        return HttpResponseRedirect(reverse("bot_list"))


def _action_view(service, done: str) -> type[TemplateView]:
    class BotActionView(OwnBotMixin, TemplateView):
        http_method_names = ["post", "options"]

        def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                service(bot=self.bot, request=request)
            except BotStateError as error:
                messages.error(request, error.message)
            except ApplicationError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, f"The bot “{self.bot.name}” {done}.")
            return HttpResponseRedirect(reverse("bot_detail", args=[self.bot.pk]))

    return BotActionView


urlpatterns = [
    path("bots/", BotListView.as_view(), name="bot_list"),
    path("bots/new/", BotCreateView.as_view(), name="bot_create"),
    path("bots/<int:pk>/", BotDetailView.as_view(), name="bot_detail"),
    path("bots/<int:pk>/edit/", BotEditView.as_view(), name="bot_edit"),
    path("bots/<int:pk>/delete/", BotDeleteView.as_view(), name="bot_delete"),
    path(
        "bots/<int:pk>/start/",
        _action_view(bot_start, "was started; its first tick is due now").as_view(),
        name="bot_start",
    ),
    path("bots/<int:pk>/pause/", _action_view(bot_pause, "was paused").as_view(), name="bot_pause"),
    path(
        "bots/<int:pk>/resume/",
        _action_view(bot_resume, "was resumed").as_view(),
        name="bot_resume",
    ),
    path(
        "bots/<int:pk>/stop/",
        _action_view(bot_stop, "was stopped; its run is closed").as_view(),
        name="bot_stop",
    ),
]
