"""Staff tools of bots: bots with actions that pause or stop them through the services, and the
read-only record of what they did (runs, deals, ticks, equity samples).

Everything here is written by `bots.services.bots` and the runner, so it is read-only: a bot's
settings and status change only through the services, which keep its run, deal and paper book
consistent (a stop closes the open deal at market and the run with its metrics).
"""

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin import ReadOnlyAdmin, pretty_json
from bots.models import Bot, BotEquityPoint, BotRun, BotTick, Deal
from bots.services import bot_pause, bot_resume, bot_stop
from trading_lab.exceptions import ApplicationError


class BotRunInline(admin.TabularInline):
    model = BotRun
    fields = ("started_at", "ended_at", "status", "total_trades", "total_pnl", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-started_at",)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Bot)
class BotAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "user",
        "instrument",
        "interval",
        "status",
        "next_run_at",
        "last_tick_at",
        "required_capital",
    )
    list_filter = ("status", "interval", "bot_type")
    search_fields = ("name", "user__email", "instrument__symbol")
    list_select_related = ("user", "instrument")
    readonly_fields = ("config_display", "state_display")
    exclude = ("config", "state")
    inlines = (BotRunInline,)
    actions = ("pause_selected", "resume_selected", "stop_selected")

    @admin.display(description="Config")
    def config_display(self, bot: Bot) -> str:
        return pretty_json(bot.config)

    @admin.display(description="Strategy state")
    def state_display(self, bot: Bot) -> str:
        return pretty_json(bot.state)

    def _apply(
        self, request: HttpRequest, queryset: QuerySet, service: Callable, done: str
    ) -> None:
        count, refused = 0, []
        for bot in queryset.order_by("pk"):
            try:
                service(bot=bot, request=request)
            except ApplicationError as exc:
                refused.append(f"{bot} ({bot.user}): {exc.message}")
            else:
                count += 1
        if count:
            self.message_user(request, f"{count} bot(s) {done}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Pause selected bots")
    def pause_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, bot_pause, "paused")

    @admin.action(description="Resume selected paused bots")
    def resume_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, bot_resume, "resumed")

    @admin.action(description="Stop selected bots (closes open deals at market)")
    def stop_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, bot_stop, "stopped")


@admin.register(BotRun)
class BotRunAdmin(ReadOnlyAdmin):
    list_display = (
        "bot",
        "status",
        "started_at",
        "ended_at",
        "allocated_capital",
        "total_trades",
        "total_pnl",
        "max_drawdown",
        "sharpe_ratio",
    )
    list_filter = ("status",)
    search_fields = ("bot__name", "bot__user__email")
    list_select_related = ("bot",)
    ordering = ("-started_at", "-id")


@admin.register(Deal)
class DealAdmin(ReadOnlyAdmin):
    list_display = (
        "bot",
        "number",
        "status",
        "opened_at",
        "closed_at",
        "exit_kind",
        "safety_orders_filled",
        "quote_spent",
        "fees",
        "pnl",
    )
    list_filter = ("status", "exit_kind")
    search_fields = ("bot__name", "bot__user__email")
    list_select_related = ("bot",)
    show_full_result_count = False
    ordering = ("-opened_at", "-id")


@admin.register(BotTick)
class BotTickAdmin(ReadOnlyAdmin):
    list_display = (
        "bot",
        "scheduled_at",
        "executed_at",
        "status",
        "price",
        "orders_placed",
        "missed",
    )
    list_filter = ("status",)
    search_fields = ("bot__name", "bot__user__email", "message")
    list_select_related = ("bot",)
    show_full_result_count = False
    ordering = ("-scheduled_at", "-id")


@admin.register(BotEquityPoint)
class BotEquityPointAdmin(ReadOnlyAdmin):
    list_display = ("run", "time", "equity")
    search_fields = ("run__bot__name", "run__bot__user__email")
    list_select_related = ("run__bot",)
    show_full_result_count = False
    ordering = ("-time", "-id")
