"""Writes of the portfolio area, one module per use case, re-exported here."""

from portfolio.services.imports import ImportReport, transactions_import
from portfolio.services.ledger import (
    TransactionInput,
    fx_rate_lookup,
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

__all__ = [
    "ImportReport",
    "ImportResult",
    "TransactionInput",
    "fx_rate_lookup",
    "fx_rates_import",
    "instrument_resolve",
    "ledger_recompute",
    "portfolio_create",
    "portfolio_delete",
    "portfolio_update",
    "price_bars_import",
    "snapshots_rebuild_for_instruments",
    "transaction_create",
    "transaction_delete",
    "transaction_update",
    "transactions_bulk_create",
    "transactions_import",
]
