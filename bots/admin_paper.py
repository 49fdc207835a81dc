"""Staff tools of paper trading: accounts, their book, the order log and idempotency records.

Everything here is written by `bots.services.paper` (balances and positions are the engine's
book, orders its log), so it is read-only: an edit that skipped the services would break the
book's invariants. Staff reset an account through the "Reset" action, which uses the service.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin import ReadOnlyAdmin
from bots.models import IdempotencyRecord, Order, PaperAccount, PaperBalance, PaperPosition
from bots.services import paper_account_reset
from trading_lab.exceptions import ApplicationError


class PaperBalanceInline(admin.TabularInline):
    model = PaperBalance
    fields = ("currency", "free", "locked")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(PaperAccount)
class PaperAccountAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "user",
        "quote_currency",
        "starting_balance",
        "is_default",
        "created_at",
    )
    list_filter = ("quote_currency", "is_default")
    search_fields = ("name", "user__email")
    list_select_related = ("user",)
    inlines = (PaperBalanceInline,)
    actions = ("reset_selected",)

    @admin.action(description="Reset to the starting balance (cancels open orders)")
    def reset_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        done, refused = 0, []
        for account in queryset.select_related("user").order_by("pk"):
            try:
                paper_account_reset(account=account, request=request)
            except ApplicationError as exc:
                refused.append(f"{account} ({account.user}): {exc.message}")
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} account(s) reset.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)


@admin.register(PaperBalance)
class PaperBalanceAdmin(ReadOnlyAdmin):
    list_display = ("account", "currency", "free", "locked", "updated_at")
    list_filter = ("currency",)
    search_fields = ("account__name", "account__user__email")
    list_select_related = ("account",)


@admin.register(PaperPosition)
class PaperPositionAdmin(ReadOnlyAdmin):
    list_display = (
        "account",
        "instrument",
        "quantity",
        "locked",
        "cost_basis",
        "realized_pnl",
        "updated_at",
    )
    search_fields = ("instrument__symbol", "account__name", "account__user__email")
    list_select_related = ("account", "instrument")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "client_order_id",
        "user",
        "account",
        "instrument",
        "side",
        "order_type",
        "quantity",
        "limit_price",
        "status",
        "average_fill_price",
        "fee",
        "bot",
    )
    list_filter = ("status", "side", "order_type")
    search_fields = ("client_order_id", "user__email", "instrument__symbol")
    list_select_related = ("user", "account", "instrument", "bot")
    show_full_result_count = False
    ordering = ("-created_at", "-id")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "scope", "key", "response_status")
    list_filter = ("scope", "response_status")
    search_fields = ("key", "user__email")
    list_select_related = ("user",)
    show_full_result_count = False
