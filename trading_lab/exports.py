"""File exports every area shares: CSV, JSON and XLSX writers with one set of rules.

- Decimals are written in plain notation (no exponent), dates and times in ISO 8601.
- CSV text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) is
  prefixed with an apostrophe (CSV injection); our importers strip it again.
- XLSX text cells are always text, never formulas; the workbook is written in write-only mode,
  so a big export streams rows instead of holding a full object model.
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

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from trading_lab.exceptions import ApplicationError


class ExportFormat:
    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"
    ALL = (CSV, JSON, XLSX)


CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = re.compile(r"^[=+\-@\t\r]")

Sheet = tuple[str, Sequence[str], Iterable[dict[str, Any]]]


@dataclass(frozen=True)
class ExportFile:
    """A finished export: bytes, a download name and a media type."""

    content: bytes
    filename: str
    content_type: str


def export_format_check(fmt: str) -> None:
    """Refuse a format we do not write, as a field error on `format`."""
    if fmt not in ExportFormat.ALL:
        message = f"Choose one of {', '.join(ExportFormat.ALL)}."
        raise ApplicationError(message, {"format": [message]})


def plain_decimal(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 1E+1 → "10", 1.500 → "1.5"."""
    normalized = value.normalize()
    return format(normalized if normalized != 0 else Decimal(0), "f")


def json_value(value: Any) -> Any:
    """A JSON-safe form of the values exports hold (Decimals as strings, dates as ISO)."""
    if isinstance(value, Decimal):
        return plain_decimal(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_text(value: Any) -> str:
    """One CSV cell: empty for None, formula starts neutralised, the rest as JSON values."""
    if value is None:
        return ""
    if isinstance(value, str):
        return f"'{value}" if _FORMULA_START.match(value) else value
    return str(json_value(value))


def csv_bytes(fields: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    """A UTF-8 CSV with a header row of `fields` and one line per row (CRLF, as RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([csv_text(row.get(name)) for name in fields])
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook with one sheet per (title, fields, rows)."""
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


def json_bytes(document: dict[str, Any]) -> bytes:
    """An indented UTF-8 JSON document."""
    return json.dumps(document, default=json_value, ensure_ascii=False, indent=2).encode("utf-8")


def export_file(
    *,
    fmt: str,
    filename: str,
    csv_sheet: Sheet,
    document: dict[str, Any],
    sheets: Sequence[Sheet],
) -> ExportFile:
    """The one export of `fmt`: the CSV table, the JSON document or the XLSX workbook."""
    export_format_check(fmt)
    if fmt == ExportFormat.CSV:
        _, fields, rows = csv_sheet
        content = csv_bytes(fields, rows)
    elif fmt == ExportFormat.JSON:
        content = json_bytes(document)
    else:
        content = xlsx_bytes(sheets)
    return ExportFile(content=content, filename=filename, content_type=CONTENT_TYPES[fmt])
