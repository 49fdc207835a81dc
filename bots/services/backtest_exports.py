"""A finished backtest as a download: CSV (its orders), JSON (everything), XLSX (one sheet each).

The writers are the portfolio exports' (same CSV-injection guard, same write-only workbook), so
every download of the app behaves alike. Each export lands in the activity log.
"""

import contextlib
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from audit.models import ActivityAction
from audit.services import activity_record, activity_records_failure
from bots.models import Backtest, BacktestStatus
from trading_lab.exceptions import ApplicationError
from trading_lab.exports import ExportFile, export_file, export_format_check

ORDER_FIELDS = ("time", "deal", "side", "kind", "price", "quantity", "fee")
DEAL_FIELDS = (
    "number",
    "opened_at",
    "closed_at",
    "exit_kind",
    "safety_orders_filled",
    "quantity",
    "quote_spent",
    "proceeds",
    "fees",
    "pnl",
)
EQUITY_FIELDS = ("time", "equity")
PARAMETER_FIELDS = (
    "id",
    "name",
    "symbol",
    "exchange",
    "currency",
    "interval",
    "start",
    "end",
    "initial_balance",
    "fee_rate",
    "slippage_bps",
    "bars",
)
TEXT_COLUMNS = frozenset({"time", "opened_at", "closed_at", "side", "kind", "exit_kind", "name"})


def backtest_parameters(backtest: Backtest) -> dict[str, Any]:
    """What was tested: instrument, period, balance and costs (the config comes separately)."""
    instrument = backtest.instrument
    return {
        "id": backtest.pk,
        "name": backtest.name,
        "symbol": instrument.symbol,
        "exchange": instrument.exchange,
        "currency": instrument.currency,
        "interval": backtest.interval,
        "start": backtest.start,
        "end": backtest.end,
        "initial_balance": backtest.initial_balance,
        "fee_rate": backtest.fee_rate,
        "slippage_bps": backtest.slippage_bps,
        "bars": backtest.bars,
    }


def _numeric(row: dict[str, Any]) -> dict[str, Any]:
    """Stored JSON keeps Decimals as strings; a spreadsheet wants numbers in number columns."""
    out = {}
    for key, value in row.items():
        if isinstance(value, str) and key not in TEXT_COLUMNS:
            with contextlib.suppress(InvalidOperation):
                number = Decimal(value)
                value = number if number.is_finite() else value
        out[key] = value
    return out


def _check(backtest: Backtest, fmt: str) -> None:
    export_format_check(fmt)
    if backtest.status != BacktestStatus.SUCCEEDED:
        raise ApplicationError(
            f"Only a finished backtest has results to export; this one is {backtest.status}."
        )


@activity_records_failure(ActivityAction.EXPORT, "The backtest export")
def backtest_export(
    *, backtest: Backtest, fmt: str, request: HttpRequest | None = None
) -> ExportFile:
    """A succeeded backtest as `fmt`: CSV is the order list; JSON and XLSX hold parameters,
    config, metrics, orders, deals and the equity curve."""
    _check(backtest, fmt)
    parameters = backtest_parameters(backtest)
    summary = [
        *({"name": key, "value": value} for key, value in parameters.items()),
        *({"name": f"config.{k}", "value": v} for k, v in backtest.config.items()),
        *({"name": f"metrics.{k}", "value": v} for k, v in backtest.metrics.items()),
    ]
    stamp = timezone.localdate().isoformat()
    # The XLSX sheets are generators: only an XLSX export converts every row to numbers.
    export = export_file(
        fmt=fmt,
        filename=f"backtest-{backtest.pk}-{backtest.instrument.symbol.lower()}-{stamp}.{fmt}",
        csv_sheet=("Orders", ORDER_FIELDS, backtest.orders),
        document={
            **parameters,
            "config": backtest.config,
            "metrics": backtest.metrics,
            "orders": backtest.orders,
            "deals": backtest.deals,
            "equity_curve": backtest.equity_curve,
        },
        sheets=[
            ("Summary", ("name", "value"), (_numeric(row) for row in summary)),
            ("Orders", ORDER_FIELDS, (_numeric(row) for row in backtest.orders)),
            ("Deals", DEAL_FIELDS, (_numeric(row) for row in backtest.deals)),
            ("Equity curve", EQUITY_FIELDS, (_numeric(row) for row in backtest.equity_curve)),
        ],
    )
    activity_record(
        user=backtest.user,
        action=ActivityAction.EXPORT,
        description=f"Exported backtest “{backtest}” as {fmt.upper()}."[:500],
        details={
            "kind": "backtest",
            "format": fmt,
            "backtest_id": backtest.pk,
            "rows": len(backtest.orders),
        },
        request=request,
    )
    return export
