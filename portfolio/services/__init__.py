"""Writes of the portfolio area, one module per use case, re-exported here."""

from portfolio.services.alerts import (
    notification_mark_read,
    price_alert_create,
    price_alert_delete,
    price_alert_rearm,
    price_alert_update,
    price_alerts_check,
)
from portfolio.services.dividends import (
    dividend_confirm,
    dividend_create,
    dividend_delete,
    dividend_reject,
    dividend_update,
    dividends_propose,
)
from portfolio.services.imports import ImportReport, transactions_import
from portfolio.services.ledger import (
    TransactionInput,
    fx_rate_lookup,
    instrument_find,
    instrument_resolve,
    ledger_recompute,
    portfolio_create,
    portfolio_delete,
    portfolio_update,
    snapshots_rebuild_for_instruments,
    transaction_create,
    transaction_delete,
    transaction_update,
    transactions_bulk_create,
)
from portfolio.services.market import ImportResult, fx_rates_import, price_bars_import
from portfolio.services.watchlist import (
    WatchlistEntry,
    watchlist_item_add,
    watchlist_item_delete,
    watchlist_replace,
)

__all__ = [
    "ImportReport",
    "ImportResult",
    "TransactionInput",
    "WatchlistEntry",
    "dividend_confirm",
    "dividend_create",
    "dividend_delete",
    "dividend_reject",
    "dividend_update",
    "dividends_propose",
    "fx_rate_lookup",
    "fx_rates_import",
    "instrument_find",
    "instrument_resolve",
    "ledger_recompute",
    "notification_mark_read",
    "portfolio_create",
    "portfolio_delete",
    "portfolio_update",
    "price_alert_create",
    "price_alert_delete",
    "price_alert_rearm",
    "price_alert_update",
    "price_alerts_check",
    "price_bars_import",
    "snapshots_rebuild_for_instruments",
    "transaction_create",
    "transaction_delete",
    "transaction_update",
    "transactions_bulk_create",
    "transactions_import",
    "watchlist_item_add",
    "watchlist_item_delete",
    "watchlist_replace",
]
