"""Exports of a user's transactions, holdings and performance as CSV, JSON and XLSX.

Transactions use the SPEC §6 field names, so a CSV or JSON export imports back into an empty
portfolio as the same ledger (docs/portfolio-import-export.md). Every export is a user action
and lands in the activity log.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import slugify

from audit.models import ActivityAction
from audit.services.activity import activity_record, activity_records_failure
from portfolio.engine import Performance
from portfolio.models import Portfolio
from portfolio.selectors import holding_list, portfolio_performance, transaction_list

# ExportFormat is re-exported: the portfolio's API and pages name formats through this module.
from trading_lab.exports import (  # noqa: F401
    ExportFile,
    ExportFormat,
    export_file,
    export_format_check,
)


class ExportKind:
    TRANSACTIONS = "transactions"
    HOLDINGS = "holdings"
    PERFORMANCE = "performance"
    ALL = (TRANSACTIONS, HOLDINGS, PERFORMANCE)


TRANSACTION_FIELDS = (
    "id",
    "portfolio",
    "type",
    "symbol",
    "exchange",
    "quantity",
    "price",
    "fee",
    "currency",
    "fx_rate",
    "date",
    "notes",
    "external_id",
)
HOLDING_FIELDS = (
    "portfolio",
    "symbol",
    "exchange",
    "currency",
    "quantity",
    "average_cost",
    "cost_basis",
    "realized_pnl",
    "fees",
    "dividends",
    "average_cost_base",
    "cost_basis_base",
    "realized_pnl_base",
    "fees_base",
    "dividends_base",
)
PERFORMANCE_FIELDS = (
    "as_of",
    "currency",
    "value",
    "cash",
    "cost_basis",
    "realized_pnl",
    "unrealized_pnl",
    "fees",
    "dividends",
    "interest",
    "net_pnl",
    "total_return",
    "twr",
    "mwr",
    "max_drawdown",
    "volatility",
    "sharpe",
)
POSITION_FIELDS = (
    "symbol",
    "exchange",
    "quantity",
    "average_cost",
    "market_price",
    "value",
    "cost_basis",
    "unrealized_pnl",
    "realized_pnl",
    "fees",
    "dividends",
    "weight",
)


def _filename(portfolio: Portfolio | None, kind: str, fmt: str) -> str:
    scope = (slugify(portfolio.name) or f"portfolio-{portfolio.pk}") if portfolio else "all"
    return f"{scope}-{kind}-{timezone.localdate().isoformat()}.{fmt}"


def _record(
    *, user: Any, kind: str, fmt: str, portfolio: Portfolio | None, rows: int, request: Any
) -> None:
    scope = portfolio.name if portfolio else "all portfolios"
    activity_record(
        user=user,
        action=ActivityAction.EXPORT,
        description=f"Exported {kind} of {scope} as {fmt.upper()} ({rows} rows)."[:500],
        details={
            "kind": kind,
            "format": fmt,
            "portfolio_id": portfolio.pk if portfolio else None,
            "rows": rows,
        },
        request=request,
    )


@activity_records_failure(ActivityAction.EXPORT, "The transactions export")
def transactions_export(
    *,
    user: Any,
    fmt: str,
    portfolio: Portfolio | None = None,
    filters: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> ExportFile:
    """The caller's transactions (one portfolio, or all) in ledger order as `fmt`."""
    export_format_check(fmt)
    queryset = transaction_list(user=user, portfolio=portfolio, **(filters or {}))
    queryset = queryset.select_related("instrument", "portfolio").order_by(
        "portfolio_id", "date", "id"
    )
    rows = [
        {
            "id": txn.pk,
            "portfolio": txn.portfolio_id,
            "type": txn.type,
            "symbol": txn.instrument.symbol if txn.instrument else "",
            "exchange": txn.instrument.exchange if txn.instrument else "",
            "quantity": txn.quantity,
            "price": txn.price,
            "fee": txn.fee,
            "currency": txn.currency,
            "fx_rate": txn.fx_rate,
            "date": txn.date,
            "notes": txn.notes,
            "external_id": txn.external_id,
        }
        for txn in queryset.iterator(chunk_size=2000)
    ]
    table = ("Transactions", TRANSACTION_FIELDS, rows)
    export = export_file(
        fmt=fmt,
        filename=_filename(portfolio, ExportKind.TRANSACTIONS, fmt),
        csv_sheet=table,
        document={"transactions": rows},
        sheets=[table],
    )
    _record(
        user=user,
        kind=ExportKind.TRANSACTIONS,
        fmt=fmt,
        portfolio=portfolio,
        rows=len(rows),
        request=request,
    )
    return export


@activity_records_failure(ActivityAction.EXPORT, "The holdings export")
def holdings_export(
    *, user: Any, fmt: str, portfolio: Portfolio, request: HttpRequest | None = None
) -> ExportFile:
    """A portfolio's holdings (from the ledger) as `fmt`, in instrument and base currency."""
    export_format_check(fmt)
    rows = [
        {
            "portfolio": portfolio.pk,
            "symbol": holding.instrument.symbol,
            "exchange": holding.instrument.exchange,
            "currency": holding.instrument.currency,
            **{name: getattr(holding, name) for name in HOLDING_FIELDS[4:]},
        }
        for holding in holding_list(portfolio=portfolio).select_related("instrument")
    ]
    table = ("Holdings", HOLDING_FIELDS, rows)
    export = export_file(
        fmt=fmt,
        filename=_filename(portfolio, ExportKind.HOLDINGS, fmt),
        csv_sheet=table,
        document={
            "portfolio": portfolio.pk,
            "base_currency": portfolio.base_currency,
            "holdings": rows,
        },
        sheets=[table],
    )
    _record(
        user=user,
        kind=ExportKind.HOLDINGS,
        fmt=fmt,
        portfolio=portfolio,
        rows=len(rows),
        request=request,
    )
    return export


def _performance_rows(performance: Performance) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    summary = {name: getattr(performance, name) for name in PERFORMANCE_FIELDS}
    positions = [
        {name: getattr(position, name) for name in POSITION_FIELDS}
        for position in performance.positions
    ]
    return summary, positions


@activity_records_failure(ActivityAction.EXPORT, "The performance export")
def performance_export(
    *,
    user: Any,
    fmt: str,
    portfolio: Portfolio,
    as_of: date | None = None,
    request: HttpRequest | None = None,
) -> ExportFile:
    """A portfolio's performance on `as_of` (default today) as `fmt`.

    JSON is the API's `performance` answer; XLSX has a Summary and a Positions sheet; CSV is
    the positions table followed by a TOTAL row with the portfolio's figures.
    """
    export_format_check(fmt)
    performance = portfolio_performance(portfolio=portfolio, as_of=as_of or timezone.localdate())
    summary, positions = _performance_rows(performance)
    total = {
        "symbol": "TOTAL",
        **{name: summary[name] for name in POSITION_FIELDS if name in summary},
    }
    metrics = [{"metric": name, "value": summary[name]} for name in PERFORMANCE_FIELDS]
    export = export_file(
        fmt=fmt,
        filename=_filename(portfolio, ExportKind.PERFORMANCE, fmt),
        csv_sheet=("Positions", POSITION_FIELDS, [*positions, total]),
        document={**summary, "positions": positions},
        sheets=[
            ("Summary", ("metric", "value"), metrics),
            ("Positions", POSITION_FIELDS, positions),
        ],
    )
    _record(
        user=user,
        kind=ExportKind.PERFORMANCE,
        fmt=fmt,
        portfolio=portfolio,
        rows=len(positions),
        request=request,
    )
    return export
