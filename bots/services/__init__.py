"""Services of the bots area: writes go through here (STYLE: services hold the rules)."""

from bots.services.backtests import (
    backtest_cancel,
    backtest_create,
    backtest_delete,
    backtest_execute,
)
from bots.services.book import (
    LockedBook,
    book_lock,
    book_save,
    client_order_id_new,
    paper_account_default,
)
from bots.services.bots import (
    BotStateError,
    bot_create,
    bot_delete,
    bot_pause,
    bot_preview,
    bot_resume,
    bot_start,
    bot_stop,
    bot_update,
)
from bots.services.paper import (
    OrderInput,
    limit_orders_match,
    order_cancel,
    order_place,
    paper_account_create,
    paper_account_reset,
)
from bots.services.runner import bot_tick_run, bot_ticks_enqueue_due
from bots.services.signal_validations import signal_validation_record

__all__ = [
    "BotStateError",
    "LockedBook",
    "OrderInput",
    "backtest_cancel",
    "backtest_create",
    "backtest_delete",
    "backtest_execute",
    "book_lock",
    "book_save",
    "bot_create",
    "bot_delete",
    "bot_pause",
    "bot_preview",
    "bot_resume",
    "bot_start",
    "bot_stop",
    "bot_tick_run",
    "bot_ticks_enqueue_due",
    "bot_update",
    "client_order_id_new",
    "limit_orders_match",
    "order_cancel",
    "order_place",
    "paper_account_create",
    "paper_account_default",
    "paper_account_reset",
    "signal_validation_record",
]
