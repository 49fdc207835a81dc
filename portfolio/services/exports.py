"""Exports of a user's transactions, holdings and performance as CSV, JSON and XLSX.

Transactions use the SPEC §6 field names, so a CSV or JSON export imports back into an empty
portfolio as the same ledger (docs/portfolio-import-export.md). Every export is a user action
and lands in the activity log.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import slugify
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from audit.models import ActivityAction
from audit.services.activity import activity_record
from portfolio.engine import Performance
from portfolio.models import Portfolio
from portfolio.selectors import holding_list, portfolio_performance, transaction_list
from trading_lab.exceptions import ApplicationError


class ExportFormat:
    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"
    ALL = (CSV, JSON, XLSX)


class ExportKind:
    TRANSACTIONS = "transactions"
    HOLDINGS = "holdings"
    PERFORMANCE = "performance"
    ALL = (TRANSACTIONS, HOLDINGS, PERFORMANCE)


CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
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
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = re.compile(r"^[=+\-@\t\r]")


@dataclass(frozen=True)
class ExportFile:
    """A finished export: bytes, a download name and a media type."""

    content: bytes
    filename: str
    content_type: str


def _plain(value: Decimal) -> str:
    normalized = value.normalize()
    return format(normalized if normalized != 0 else Decimal(0), "f")


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _plain(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # Neutralised for spreadsheets; the importer strips the apostrophe again.
        return f"'{value}" if _FORMULA_START.match(value) else value
    return str(_json_value(value))


def _csv(fields: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_csv_text(row.get(name)) for name in fields])
    return buffer.getvalue().encode("utf-8")


def _xlsx(sheets: Sequence[tuple[str, Sequence[str], Iterable[dict[str, Any]]]]) -> bytes:
    workbook = Workbook(write_only=True)
    for title, fields, rows in sheets:
        sheet = workbook.create_sheet(title=title)
        sheet.append(list(fields))
        for row in rows:
            cells = []
            for name in fields:
                cell = WriteOnlyCell(sheet, value=row.get(name))
                if isinstance(cell.value, str):
                    # Text is never a formula in our files, whatever it starts with.
                    cell.data_type = "s"
                cells.append(cell)
            sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, default=_json_value, ensure_ascii=False, indent=2).encode("utf-8")


def _filename(portfolio: Portfolio | None, kind: str, fmt: str) -> str:
    scope = (slugify(portfolio.name) or f"portfolio-{portfolio.pk}") if portfolio else "all"
    return f"{scope}-{kind}-{timezone.localdate().isoformat()}.{fmt}"


def _check_format(fmt: str) -> None:
    if fmt not in ExportFormat.ALL:
        message = f"Choose one of {', '.join(ExportFormat.ALL)}."
        raise ApplicationError(message, {"format": [message]})


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


def transactions_export(
    *,
    user: Any,
    fmt: str,
    portfolio: Portfolio | None = None,
    filters: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> ExportFile:
    """The caller's transactions (one portfolio, or all) in ledger order as `fmt`."""
    _check_format(fmt)
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
    if fmt == ExportFormat.CSV:
        content = _csv(TRANSACTION_FIELDS, rows)
    elif fmt == ExportFormat.JSON:
        content = _json({"transactions": rows})
    else:
        content = _xlsx([("Transactions", TRANSACTION_FIELDS, rows)])
    _record(
        user=user,
        kind=ExportKind.TRANSACTIONS,
        fmt=fmt,
        portfolio=portfolio,
        rows=len(rows),
        request=request,
    )
    return ExportFile(
        content=content,
        filename=_filename(portfolio, ExportKind.TRANSACTIONS, fmt),
        content_type=CONTENT_TYPES[fmt],
    )


def holdings_export(
    *, user: Any, fmt: str, portfolio: Portfolio, request: HttpRequest | None = None
) -> ExportFile:
    """A portfolio's holdings (from the ledger) as `fmt`, in instrument and base currency."""
    _check_format(fmt)
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
    if fmt == ExportFormat.CSV:
        content = _csv(HOLDING_FIELDS, rows)
    elif fmt == ExportFormat.JSON:
        content = _json(
            {"portfolio": portfolio.pk, "base_currency": portfolio.base_currency, "holdings": rows}
        )
    else:
        content = _xlsx([("Holdings", HOLDING_FIELDS, rows)])
    _record(
        user=user,
        kind=ExportKind.HOLDINGS,
        fmt=fmt,
        portfolio=portfolio,
        rows=len(rows),
        request=request,
    )
    return ExportFile(
        content=content,
        filename=_filename(portfolio, ExportKind.HOLDINGS, fmt),
        content_type=CONTENT_TYPES[fmt],
    )


def _performance_rows(performance: Performance) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    summary = {name: getattr(performance, name) for name in PERFORMANCE_FIELDS}
    positions = [
        {name: getattr(position, name) for name in POSITION_FIELDS}
        for position in performance.positions
    ]
    return summary, positions


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
    _check_format(fmt)
    performance = portfolio_performance(portfolio=portfolio, as_of=as_of or timezone.localdate())
    summary, positions = _performance_rows(performance)
    if fmt == ExportFormat.CSV:
        total = {
            "symbol": "TOTAL",
            **{name: summary[name] for name in POSITION_FIELDS if name in summary},
        }
        content = _csv(POSITION_FIELDS, [*positions, total])
    elif fmt == ExportFormat.JSON:
        content = _json({**summary, "positions": positions})
    else:
        metrics = [{"metric": name, "value": summary[name]} for name in PERFORMANCE_FIELDS]
        content = _xlsx(
            [
                ("Summary", ("metric", "value"), metrics),
                ("Positions", POSITION_FIELDS, positions),
            ]
        )
    _record(
        user=user,
        kind=ExportKind.PERFORMANCE,
        fmt=fmt,
        portfolio=portfolio,
        rows=len(positions),
        request=request,
    )
    return ExportFile(
        content=content,
        filename=_filename(portfolio, ExportKind.PERFORMANCE, fmt),
        content_type=CONTENT_TYPES[fmt],
    )
