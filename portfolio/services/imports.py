"""Transaction import: CSV with the SPEC §6 header aliases, our own JSON export, and Ghostfolio's
activity JSON (docs/portfolio-import-export.md).

Every row is checked first and every problem is reported with its row and field. The write is
one database transaction (any error: nothing is written) and idempotent: a row carries an
external id (its own, or one derived from its content), and ids already in the portfolio are
duplicates, not additions. Big files run as a background job.
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_tasks import task

from accounts.models import validate_currency
from audit.models import ActivityAction, ActivityStatus, BackgroundJob
from audit.services.activity import activity_record
from audit.services.jobs import JobRun, job_create, job_enqueue, job_task
from portfolio.app_settings import app_settings
from portfolio.csv_utils import CsvFileError, csv_decode, csv_read, header_key
from portfolio.models import (
    INSTRUMENT_TYPES,
    AssetClass,
    Instrument,
    Portfolio,
    Transaction,
    TransactionType,
)
from portfolio.services.ledger import (
    PRECHECKABLE,
    TransactionInput,
    column_passes,
    instrument_resolve,
    transactions_bulk_create,
)
from trading_lab.exceptions import ApplicationError
from trading_lab.gc_pause import gc_paused

IMPORT_MAX_BYTES = 25 * 1024 * 1024
JOB_TYPE = "transactions_import"
# A report keeps at most this many rows of each list in a job result or an API answer.
REPORT_ROWS_MAX = 2000
ERRORS_IN_MESSAGE = 50
# Above this many external ids the duplicate check reads all of the portfolio's ids at once.
EXISTING_IDS_SCAN = 2000

# Column → accepted header names (case, spaces, "_" and "-" ignored). SPEC §6 lists the first
# ones; "buy/sell", "currencyprimary" and "ibcommission" are Interactive Brokers' flex-query
# names, which Ghostfolio also reads, and `fx_rate` / `data_source` round-trip our own export.
CSV_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "tradedate"),
    "type": ("type", "action", "buy/sell"),
    "symbol": ("symbol", "ticker", "code"),
    "exchange": ("exchange",),
    "quantity": ("quantity", "qty", "shares", "units"),
    "price": ("price", "unitprice", "tradeprice"),
    "fee": ("fee", "commission", "ibcommission"),
    "currency": ("currency", "ccy", "currencyprimary"),
    "fx_rate": ("fx_rate", "fxrate"),
    "notes": ("notes", "note", "comment"),
    "external_id": ("external_id", "id"),
    "data_source": ("data_source", "datasource"),
}
CSV_REQUIRED = ("date", "type", "price")
# Interactive Brokers reports commissions as negative amounts.
NEGATIVE_FEE_HEADERS = frozenset({header_key("ibcommission")})

# Ghostfolio's data sources; an activity naming another one is refused like Ghostfolio does.
GHOSTFOLIO_DATA_SOURCES = frozenset(
    {
        "ALPHA_VANTAGE",
        "COINGECKO",
        "EOD_HISTORICAL_DATA",
        "FINANCIAL_MODELING_PREP",
        "GHOSTFOLIO",
        "GOOGLE_SHEETS",
        "MANUAL",
        "RAPID_API",
        "YAHOO",
    }
)
GHOSTFOLIO_UNREPRESENTABLE = {
    "ITEM": "a Ghostfolio ITEM (a valuable without a market) has no Trading Lab transaction "
    "type; record it as a BUY of a private instrument instead.",
    "LIABILITY": "a Ghostfolio LIABILITY (a debt) has no Trading Lab transaction type.",
}
# Quotes in a currency's minor unit (pence, cents): (ISO currency, units per major unit).
MINOR_CURRENCIES = {
    "GBp": ("GBP", Decimal(100)),
    "GBX": ("GBP", Decimal(100)),
    "ZAc": ("ZAR", Decimal(100)),
    "ILA": ("ILS", Decimal(100)),
    "USX": ("USD", Decimal(100)),
}
TYPES = tuple(TransactionType.values)
CASH_TYPES = frozenset(TYPES) - frozenset(INSTRUMENT_TYPES)
# The Transaction columns whose own limits (digits, length) an imported value must keep: the
# field and the type of its values.
_LIMITED_COLUMNS = {
    name: (
        Transaction._meta.get_field(name),
        Decimal if name not in ("notes", "external_id") else str,
    )
    for name in ("quantity", "price", "fee", "fx_rate", "notes", "external_id")
}
SYMBOL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .\-_^=/:&+]*$")
SYMBOL_MAX = Instrument._meta.get_field("symbol").max_length
EXCHANGE_MAX = Instrument._meta.get_field("exchange").max_length
# Day first, as Ghostfolio and most of the world write it; a two-digit year is refused.
DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y")
DATE_HINT = "use YYYY-MM-DD (also accepted: YYYYMMDD, DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY)"
# Our exports put an apostrophe before text a spreadsheet would run as a formula.
FORMULA_GUARD = re.compile(r"^'(?=[=+\-@\t\r])")

Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class ImportIssue:
    """One problem of a row: `row` is the CSV line (the header is 1) or the 1-based JSON item."""

    row: int
    field: str
    message: str
    label: str = "line"
    source: str = ""

    def __str__(self) -> str:
        if not self.row:
            return self.message
        return f"{self.label.capitalize()} {self.row}, {self.source or self.field}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": str(self)}


@dataclass
class ImportRow:
    """A checked row, ready to become a transaction."""

    row: int
    type: str
    date: date
    symbol: str
    exchange: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    currency: str | None
    fx_rate: Decimal | None
    notes: str
    external_id: str
    asset_class: str | None = None
    name: str = ""
    # How the file names each column (`column "Ticker"`), for messages about this row.
    labels: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "type": self.type,
            "date": self.date.isoformat(),
            "symbol": self.symbol,
            "exchange": self.exchange,
            "quantity": _plain(self.quantity),
            "price": _plain(self.price),
            "fee": _plain(self.fee),
            "currency": self.currency,
            "fx_rate": None if self.fx_rate is None else _plain(self.fx_rate),
            "notes": self.notes,
            "external_id": self.external_id,
        }


@dataclass(frozen=True)
class ImportDuplicate:
    """A row left out because its transaction is already there (in the portfolio or the file)."""

    row: int
    external_id: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "external_id": self.external_id, "reason": self.reason}


@dataclass
class ImportReport:
    """What an import found: rows to add, duplicates, errors; `created` after a real run."""

    format: str
    dry_run: bool
    total_rows: int = 0
    to_add: list[ImportRow] = field(default_factory=list)
    duplicates: list[ImportDuplicate] = field(default_factory=list)
    errors: list[ImportIssue] = field(default_factory=list)
    created: int = 0
    job: BackgroundJob | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self, *, limit: int = REPORT_ROWS_MAX) -> dict[str, Any]:
        """The report as JSON-ready data; each list keeps its first `limit` rows."""
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "total_rows": self.total_rows,
            "to_add_count": len(self.to_add),
            "duplicate_count": len(self.duplicates),
            "error_count": len(self.errors),
            "created": self.created,
            "to_add": [row.as_dict() for row in self.to_add[:limit]],
            "duplicates": [row.as_dict() for row in self.duplicates[:limit]],
            "errors": [issue.as_dict() for issue in self.errors[:limit]],
        }

    def error(self) -> ApplicationError:
        """The refusal of a real run: a summary plus `{"rows": {row: {field: [message]}}}`."""
        count = len(self.errors)
        noun = "error" if count == 1 else "errors"
        by_row: dict[str, dict[str, list[str]]] = {}
        for issue in self.errors[:REPORT_ROWS_MAX]:
            by_row.setdefault(str(issue.row), {}).setdefault(issue.field, []).append(str(issue))
        return ApplicationError(
            f"The import has {count} {noun}; nothing was imported.", {"rows": by_row}
        )


class _Rollback(Exception):  # noqa: N818 (control flow, not an error)
    """Leaves the import's atomic block so a dry run or a refused run writes nothing."""


def _plain(value: Decimal) -> str:
    normalized = value.normalize()
    return format(normalized if normalized != 0 else Decimal(0), "f")


# Parsing ----------------------------------------------------------------------------------------


@dataclass
class _RawRow:
    """One record of the file before checking: its place, its cells, and how to name them."""

    row: int
    values: dict[str, Any]
    labels: dict[str, str]
    label: str = "line"
    negative_fee: bool = False
    ghostfolio: bool = False
    profile_name: str = ""


def _file_error(message: str) -> ApplicationError:
    return ApplicationError(message, {"file": [message]})


def _looks_like_json(content: bytes, filename: str) -> bool:
    if filename.lower().endswith(".json"):
        return True
    if filename.lower().endswith(".csv"):
        return False
    return content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def _csv_header(text: str) -> list[str]:
    # The same first-line and delimiter rule as csv_read, so both see the same header.
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    return next(csv.reader([first_line], delimiter=delimiter), [])


def _csv_aliases(header: list[str]) -> dict[str, tuple[str, ...]]:
    """The alias table for this file: a column's own name beats an alias naming the same column.

    Our export writes `id` (the row id) next to `external_id`; `id` only stands for the external
    id when no `external_id` column is there.
    """
    keys = {header_key(cell) for cell in header}
    aliases = dict(CSV_ALIASES)
    for column, names in CSV_ALIASES.items():
        if header_key(column) in keys:
            aliases[column] = (column,)
            continue
        present = [name for name in names if header_key(name) in keys]
        # Several aliases of one column (Date and TradeDate): the first in the table wins.
        if len(present) > 1:
            aliases[column] = (present[0],)
    return aliases


def _unguarded(value: str) -> str:
    return FORMULA_GUARD.sub("", value) if value[:1] == "'" else value


def _csv_rows(content: bytes) -> list[_RawRow]:
    header = _csv_header(csv_decode(content))
    aliases = _csv_aliases(header)
    table = csv_read(content, aliases=aliases, required=CSV_REQUIRED)
    labels = {}
    negative_fee = False
    for cell in header:
        for column, names in aliases.items():
            if header_key(cell) in {header_key(name) for name in (column, *names)}:
                labels[column] = f'column "{cell.strip()}"'
                if column == "fee" and header_key(cell) in NEGATIVE_FEE_HEADERS:
                    negative_fee = True
    # Cells guarded against formula injection start with a quote; a file without one has none.
    guarded = b"'" in content
    return [
        _RawRow(
            row=row.line,
            values={
                key: _unguarded(value) if value[:1] == "'" else value
                for key, value in row.values.items()
            }
            if guarded
            else row.values,
            labels=labels,
            negative_fee=negative_fee,
        )
        for row in table.rows
    ]


_GHOSTFOLIO_KEYS = {
    "date": "date",
    "type": "type",
    "symbol": "symbol",
    "quantity": "quantity",
    "price": "unitPrice",
    "fee": "fee",
    "currency": "currency",
    "notes": "comment",
    "external_id": "id",
    "data_source": "dataSource",
}


def _json_rows(content: bytes) -> tuple[str, list[_RawRow]]:
    try:
        data = json.loads(csv_decode(content), parse_float=Decimal)
    except (json.JSONDecodeError, CsvFileError) as exc:
        raise _file_error(
            "The file is not valid JSON. Upload a CSV with a header row, a Ghostfolio export "
            '({"activities": [...]}) or a Trading Lab export ({"transactions": [...]}).'
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("activities"), list):
        profiles = {
            str(profile.get("symbol")): str(profile.get("name") or "")
            for profile in data.get("assetProfiles") or []
            if isinstance(profile, dict)
        }
        rows = []
        for index, item in enumerate(data["activities"], start=1):
            if not isinstance(item, dict):
                rows.append(_RawRow(row=index, values={"_": item}, labels={}, label="activity"))
                continue
            values = {key: item.get(source) for key, source in _GHOSTFOLIO_KEYS.items()}
            symbol = str(item.get("symbol") or "")
            rows.append(
                _RawRow(
                    row=index,
                    values=values,
                    labels={key: f'"{source}"' for key, source in _GHOSTFOLIO_KEYS.items()},
                    label="activity",
                    ghostfolio=True,
                    profile_name=profiles.get(symbol, ""),
                )
            )
        return "ghostfolio", rows
    if isinstance(data, dict) and isinstance(data.get("transactions"), list):
        rows = []
        for index, item in enumerate(data["transactions"], start=1):
            if not isinstance(item, dict):
                rows.append(_RawRow(row=index, values={"_": item}, labels={}, label="transaction"))
                continue
            values = {
                key: item.get(key) for key in CSV_ALIASES if key in item and key != "data_source"
            }
            rows.append(
                _RawRow(
                    row=index,
                    values=values,
                    labels={key: f'"{key}"' for key in CSV_ALIASES},
                    label="transaction",
                )
            )
        return "json", rows
    raise _file_error(
        'The JSON is neither a Ghostfolio export ({"activities": [...]}) nor a Trading Lab '
        'export ({"transactions": [...]}).'
    )


def _parse(content: bytes, filename: str) -> tuple[str, list[_RawRow]]:
    if not content.strip():
        raise _file_error("The file is empty.")
    if len(content) > IMPORT_MAX_BYTES:
        raise _file_error(
            f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB; split it up."
        )
    if _looks_like_json(content, filename):
        return _json_rows(content)
    return "csv", _csv_rows(content)


# Checking ---------------------------------------------------------------------------------------


class _RowChecker:
    """Turns one raw row into an ImportRow, collecting every problem it has."""

    def __init__(self, raw: _RawRow, *, today: date) -> None:
        self.raw = raw
        self.today = today
        self.issues: list[ImportIssue] = []

    def issue(self, column: str, message: str) -> None:
        self.issues.append(
            ImportIssue(
                row=self.raw.row,
                field=column,
                message=message,
                label=self.raw.label,
                source=self.raw.labels.get(column, ""),
            )
        )

    def text(self, column: str) -> str:
        value = self.raw.values.get(column)
        if type(value) is str:  # every CSV cell: the checks below are for JSON values
            return value.strip()
        if value is None:
            return ""
        if isinstance(value, dict | list):
            self.issue(column, "must be text.")
            return ""
        return str(value).strip()

    def decimal(self, column: str, *, required: bool) -> Decimal | None:
        value = self.raw.values.get(column)
        if type(value) is str and value:  # a CSV cell: the type checks below are for JSON
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                number = None
            if number is not None and number.is_finite():
                return number
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.issue(column, "a number is required.")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            self.issue(column, f"{json.dumps(value, default=str)} is not a number.")
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            hint = " (use a point as the decimal separator)" if "," in str(value) else ""
            self.issue(column, f"“{value}” is not a number{hint}.")
            return None
        return number

    def day(self) -> date | None:
        value = self.raw.values.get("date")
        text = "" if value is None else str(value).strip()
        if not text:
            self.issue("date", "a date is required.")
            return None
        parsed = _parse_date(text, iso_timestamps=True)
        if parsed is None:
            self.issue("date", f"“{text}” is not a date; {DATE_HINT}.")
            return None
        if parsed > self.today:
            self.issue("date", f"{parsed.isoformat()} is in the future.")
            return None
        return parsed

    def kind(self) -> str | None:
        text = self.text("type").upper()
        if not text:
            self.issue("type", "a transaction type is required.")
            return None
        if self.raw.ghostfolio and text in GHOSTFOLIO_UNREPRESENTABLE:
            self.issue("type", GHOSTFOLIO_UNREPRESENTABLE[text])
            return None
        if text not in TYPES:
            shown = self.text("type")
            self.issue(
                "type",
                f"“{shown}” is not a transaction type; use one of {', '.join(TYPES)}.",
            )
            return None
        return text

    def currency(self) -> tuple[str | None, Decimal]:
        """(ISO currency or None, divisor for prices quoted in a minor unit)."""
        text = self.text("currency")
        if not text:
            return None, Decimal(1)
        if text in MINOR_CURRENCIES:
            return MINOR_CURRENCIES[text]
        code = text.upper()
        if not _is_currency(code):
            self.issue("currency", f"“{text}” is not an ISO 4217 currency code.")
            return None, Decimal(1)
        return code, Decimal(1)

    def symbol(self, kind: str | None) -> str:
        text = self.text("symbol")
        if self.raw.ghostfolio and self.raw.profile_name and self.text("data_source") == "MANUAL":
            # Ghostfolio names manual assets by a UUID and keeps the name in `assetProfiles`.
            text = self.raw.profile_name.strip()
        if kind in CASH_TYPES:
            return ""
        if not text:
            if kind is not None:
                self.issue("symbol", f"a symbol is required for a {kind}.")
            return ""
        problem = _symbol_problem(text)
        if problem is not None:
            self.issue("symbol", problem)
            return ""
        return text

    def check(self) -> ImportRow | None:
        if "_" in self.raw.values:
            self.issues.append(
                ImportIssue(
                    row=self.raw.row,
                    field="non_field_errors",
                    message="is not an object with named fields.",
                    label=self.raw.label,
                )
            )
            return None
        data_source = self.text("data_source").upper()
        if data_source and data_source not in GHOSTFOLIO_DATA_SOURCES:
            self.issue(
                "data_source",
                f"“{self.text('data_source')}” is not a data source; use one of "
                f"{', '.join(sorted(GHOSTFOLIO_DATA_SOURCES))}.",
            )
        day = self.day()
        kind = self.kind()
        symbol = self.symbol(kind)
        exchange = "" if kind in CASH_TYPES else self.text("exchange")
        if len(exchange) > EXCHANGE_MAX:
            self.issue("exchange", f"is longer than {EXCHANGE_MAX} characters.")
        currency, minor = self.currency()
        quantity = self.decimal("quantity", required=kind in INSTRUMENT_TYPES)
        price = self.decimal("price", required=kind in INSTRUMENT_TYPES)
        fee = self.decimal("fee", required=False)
        fx_rate = self.decimal("fx_rate", required=False)
        if fee is not None and fee < 0 and self.raw.negative_fee:
            fee = -fee
        fee = fee if fee is not None else Decimal(0)
        if minor != 1:  # a price in pence or cents: in the currency's major unit
            price = price / minor if price is not None else None
            fee = fee / minor
        if fee < 0:
            self.issue("fee", "cannot be negative.")
        if kind in INSTRUMENT_TYPES:
            for column, value in (("quantity", quantity), ("price", price)):
                if value is not None and value <= 0:
                    self.issue(column, f"must be greater than 0 for a {kind}.")
        elif kind is not None:
            quantity, price, fee = self._cash_amount(kind, quantity, price, fee)
        if fx_rate is not None and fx_rate <= 0:
            self.issue("fx_rate", "must be greater than 0.")
        if self.issues or kind is None or day is None or quantity is None or price is None:
            return None
        # The columns' own limits (digits, length) are checked for all rows at once, by
        # `_within_column_limits`, which also gives a row without an external id its own.
        row = ImportRow(
            row=self.raw.row,
            type=kind,
            date=day,
            symbol=symbol,
            exchange=exchange,
            quantity=quantity,
            price=price,
            fee=fee,
            currency=currency,
            fx_rate=fx_rate,
            notes=self.text("notes") or self._profile_note(kind),
            external_id=self.text("external_id"),
            asset_class=AssetClass.OTHER if data_source == "MANUAL" else None,
            name=self.raw.profile_name,
            labels=self.raw.labels,
        )
        return row

    def _profile_note(self, kind: str) -> str:
        # A Ghostfolio fee or interest names its manual "asset" (e.g. Account Opening Fee).
        if kind in CASH_TYPES and self.raw.profile_name:
            return self.raw.profile_name
        return ""

    def _cash_amount(
        self, kind: str, quantity: Decimal | None, price: Decimal | None, fee: Decimal
    ) -> tuple[Decimal | None, Decimal | None, Decimal]:
        """Cash types carry their amount as quantity x price (quantity 1 when not given).

        Ghostfolio writes a FEE activity's amount in `fee` with quantity and price 0; that
        becomes one FEE of that amount.
        """
        quantity = Decimal(1) if quantity is None or (quantity == 0 and price) else quantity
        if kind == TransactionType.FEE and not (quantity and price) and fee > 0:
            return Decimal(1), fee, Decimal(0)
        if price is None:
            self.issue("price", f"an amount (price) is required for a {kind}.")
            return None, None, fee
        if quantity <= 0 or price <= 0:
            column = "quantity" if quantity <= 0 else "price"
            self.issue(column, f"the amount of a {kind} (quantity times price) must be above 0.")
            return None, None, fee
        return quantity, price, fee


@functools.lru_cache(maxsize=4096)  # a file names few symbols, each on many rows
def _symbol_problem(text: str) -> str | None:
    if len(text) > SYMBOL_MAX:
        return f"“{text}” is longer than {SYMBOL_MAX} characters."
    if not SYMBOL_PATTERN.match(text):
        return f"“{text}” is not a symbol; use letters, digits, spaces and . - _ ^ = / : & +."
    return None


@functools.cache
def _is_currency(code: str) -> bool:
    try:
        validate_currency(code)
    except ValidationError:
        return False
    return True


def _parse_date(text: str, *, iso_timestamps: bool) -> date | None:
    if len(text) == 10 and text[4] == "-":
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 (a calendar date)
        except ValueError:
            continue
    if iso_timestamps and "T" in text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        # Ghostfolio writes midnight UTC (or a time); the trade's day is its UTC date.
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.date()
    return None


def _content_id(row: ImportRow) -> str:
    """An external id derived from what the row records, so a re-import matches it.

    Notes are left out: editing a note in the file must not turn the row into a new trade.
    """
    parts = [
        row.type,
        row.date.isoformat(),
        row.symbol.upper(),
        row.exchange.upper(),
        _plain(row.quantity),
        _plain(row.price),
        _plain(row.fee),
        row.currency or "",
        "" if row.fx_rate is None else _plain(row.fx_rate),
    ]
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]
    return f"auto-{digest}"


def _existing_ids(portfolio: Portfolio, ids: Iterable[str]) -> set[str]:
    wanted = set(ids)
    if len(wanted) > EXISTING_IDS_SCAN:
        # A big file: one pass over the portfolio's ids costs less than thousands of IN lists.
        return wanted.intersection(
            Transaction.objects.filter(portfolio=portfolio)
            .exclude(external_id="")
            .values_list("external_id", flat=True)
        )
    ordered = sorted(wanted)
    found: set[str] = set()
    # Chunks keep each IN list under SQLite's variable limit.
    for start in range(0, len(ordered), 500):
        found.update(
            Transaction.objects.filter(
                portfolio=portfolio, external_id__in=ordered[start : start + 500]
            ).values_list("external_id", flat=True)
        )
    return found


def _column_problem(model_field: Any, value: Any) -> str | None:
    """What the Transaction column's own validators (digits, length) say of `value`."""
    try:
        for validator in model_field.validators:
            validator(value)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return None


def _within_column_limits(rows: list[ImportRow], report: ImportReport) -> list[ImportRow]:
    """The rows whose values fit their Transaction columns; each other row's problems go to
    the report, in row order among the others. A row without an external id gets its own.

    A column whose values all fit is checked in a few whole-column steps (`column_passes`);
    only a column with a value that does not is checked value by value, for the messages.
    """
    label = _label(report.format)
    problems: dict[int, list[ImportIssue]] = {}
    for row in rows:  # first, so that every external id is checked
        if not row.external_id:
            row.external_id = _content_id(row)
    for column, (model_field, plain) in _LIMITED_COLUMNS.items():
        values = list(map(attrgetter(column), rows))
        present = [value for value in values if value is not None]  # an fx_rate left to the ledger
        if not present or column_passes(model_field, present, plain):
            continue
        verdicts: dict[Any, str | None] = {}
        for position, value in enumerate(values):
            if value is None:
                continue
            # A Decimal's text keeps its exponent: 1.0 and 1.00 are equal, not the same digits.
            key = str(value) if type(value) is Decimal else value
            if key not in verdicts:
                verdicts[key] = _column_problem(model_field, value)
            if verdicts[key] is not None:
                problems.setdefault(position, []).append(
                    ImportIssue(
                        row=rows[position].row,
                        field=column,
                        message=verdicts[key],
                        label=label,
                        source=rows[position].labels.get(column, ""),
                    )
                )
    if problems:
        for position in sorted(problems):
            report.errors.extend(problems[position])
        # Stable: each row's own problems keep their order.
        report.errors.sort(key=attrgetter("row"))
        rows = [row for position, row in enumerate(rows) if position not in problems]
    return rows


def _check_rows(
    *, portfolio: Portfolio, fmt: str, raw_rows: list[_RawRow], dry_run: bool
) -> ImportReport:
    report = ImportReport(format=fmt, dry_run=dry_run, total_rows=len(raw_rows))
    today = timezone.localdate()
    checked: list[ImportRow] = []
    for raw in raw_rows:
        checker = _RowChecker(raw, today=today)
        row = checker.check()
        report.errors.extend(checker.issues)
        if row is not None:
            checked.append(row)
    checked = _within_column_limits(checked, report)
    existing = _existing_ids(portfolio, (row.external_id for row in checked))
    first_seen: dict[str, int] = {}
    for row in checked:
        if row.external_id in existing:
            report.duplicates.append(
                ImportDuplicate(
                    row=row.row,
                    external_id=row.external_id,
                    reason="already in the portfolio",
                )
            )
        elif row.external_id in first_seen:
            report.duplicates.append(
                ImportDuplicate(
                    row=row.row,
                    external_id=row.external_id,
                    reason=f"the same transaction as row {first_seen[row.external_id]}",
                )
            )
        else:
            first_seen[row.external_id] = row.row
            report.to_add.append(row)
    # The ledger applies same-day rows in the order they are created: keep the file's order
    # within a day, but let a file list its days in any order.
    report.to_add.sort(key=lambda row: row.date)
    return report


# Writing ----------------------------------------------------------------------------------------


def _ledger_issues(error: ApplicationError, rows: list[ImportRow], label: str) -> list[ImportIssue]:
    """Place the ledger's refusal on the rows it names (`{"3": {field: [...]}}` or `"3.field"`)."""
    issues: list[ImportIssue] = []

    def add(index: int | None, column: str, messages: Iterable[Any]) -> None:
        for message in messages:
            if index is not None and 0 <= index < len(rows):
                issues.append(
                    ImportIssue(
                        row=rows[index].row,
                        field=column,
                        message=str(message),
                        label=label,
                        source=rows[index].labels.get(column, ""),
                    )
                )
            else:
                issues.append(ImportIssue(row=0, field=column, message=str(message), label=label))

    for key, value in (error.extra or {}).items():
        head, _, rest = str(key).partition(".")
        index = int(head) if head.isdigit() else None
        if isinstance(value, dict):
            for column, messages in value.items():
                add(index, str(column), messages if isinstance(messages, list) else [messages])
        else:
            column = rest if index is not None else str(key)
            add(index, column or "non_field_errors", value if isinstance(value, list) else [value])
    if not issues:
        issues.append(
            ImportIssue(row=0, field="non_field_errors", message=error.message, label=label)
        )
    return issues


def _resolve_instruments(
    *, user: Any, rows: list[ImportRow], report: ImportReport, label: str
) -> list[TransactionInput]:
    instruments: dict[tuple[str, str], Instrument] = {}
    failed: set[tuple[str, str]] = set()
    inputs: list[TransactionInput] = []
    for row in rows:
        instrument = None
        if row.type in INSTRUMENT_TYPES:
            key = (row.symbol, row.exchange)
            if key in failed:
                continue
            if key not in instruments:
                try:
                    instruments[key] = instrument_resolve(
                        user=user,
                        symbol=row.symbol,
                        exchange=row.exchange,
                        currency=row.currency,
                        name=row.name,
                        asset_class=row.asset_class,
                    )
                except ApplicationError as exc:
                    failed.add(key)
                    messages = exc.extra.get("symbol") or [exc.message]
                    report.errors.append(
                        ImportIssue(
                            row=row.row,
                            field="symbol",
                            message=str(messages[0]),
                            label=label,
                            source=row.labels.get("symbol", ""),
                        )
                    )
                    continue
            instrument = instruments[key]
        inputs.append(
            TransactionInput(
                type=row.type,
                date=row.date,
                quantity=row.quantity,
                price=row.price,
                fee=row.fee,
                instrument=instrument,
                currency=row.currency,
                fx_rate=row.fx_rate,
                notes=row.notes,
                external_id=row.external_id,
            )
        )
    return inputs


def _write(
    *, user: Any, portfolio: Portfolio, report: ImportReport, label: str, request: Any
) -> None:
    """Resolve instruments and create the rows in one transaction; roll back unless all is well.

    A dry run goes through the same steps (the ledger's own checks included) and always rolls
    back, so its preview lists exactly the errors the real run would meet.
    """
    try:
        with transaction.atomic():
            # Serialise imports into one portfolio: the duplicate check must see committed rows.
            Portfolio.objects.select_for_update().filter(pk=portfolio.pk).first()
            fresh = _existing_ids(portfolio, (row.external_id for row in report.to_add))
            if fresh:
                kept = [row for row in report.to_add if row.external_id not in fresh]
                report.duplicates.extend(
                    ImportDuplicate(
                        row=r.row, external_id=r.external_id, reason="already in the portfolio"
                    )
                    for r in report.to_add
                    if r.external_id in fresh
                )
                report.to_add = kept
            inputs = _resolve_instruments(user=user, rows=report.to_add, report=report, label=label)
            if report.errors:
                raise _Rollback
            if inputs:
                try:
                    created = transactions_bulk_create(
                        portfolio=portfolio,
                        inputs=inputs,
                        request=request,
                        # `_within_column_limits` ran these columns' validators.
                        prechecked=PRECHECKABLE,
                    )
                except ApplicationError as exc:
                    report.errors.extend(_ledger_issues(exc, report.to_add, label))
                    raise _Rollback from exc
                report.created = len(created)
            if report.dry_run:
                report.created = 0
                raise _Rollback
    except _Rollback:
        pass


def _label(fmt: str) -> str:
    return {"csv": "line", "ghostfolio": "activity", "json": "transaction"}[fmt]


@gc_paused()
def transactions_import(
    *,
    user: Any,
    portfolio: Portfolio,
    content: bytes,
    filename: str,
    dry_run: bool,
    request: HttpRequest | None = None,
    progress: Progress | None = None,
    background_rows: int | None = None,
    inline: bool = False,
) -> ImportReport:
    """Import a CSV or JSON file of transactions into `portfolio` (already the caller's).

    Files of more than `background_rows` rows (default: `app_settings.import_background_rows`,
    2,000) become a background job unless `inline`; the report then carries `job`. A real run
    with any error writes nothing and says so in the report: check `ok`.
    """
    fmt, raw_rows = _parse(content, filename)
    if background_rows is None:
        background_rows = app_settings.import_background_rows
    if not inline and len(raw_rows) > background_rows:
        report = ImportReport(format=fmt, dry_run=dry_run, total_rows=len(raw_rows))
        report.job = _import_job_start(
            user=user, portfolio=portfolio, content=content, filename=filename, dry_run=dry_run
        )
        return report
    step = progress or (lambda percent, message: None)
    step(10, f"Read {len(raw_rows)} rows.")
    report = _check_rows(portfolio=portfolio, fmt=fmt, raw_rows=raw_rows, dry_run=dry_run)
    step(40, f"Checked {len(raw_rows)} rows.")
    if not report.errors and report.to_add:
        _write(
            user=user,
            portfolio=portfolio,
            report=report,
            label=_label(fmt),
            request=request,
        )
    step(90, "Written." if report.created else "Checked.")
    # A successful write is in the activity log already (transactions_bulk_create records it).
    if not dry_run and not report.created:
        _record_activity(
            user=user, portfolio=portfolio, report=report, filename=filename, request=request
        )
    return report


def _record_activity(
    *, user: Any, portfolio: Portfolio, report: ImportReport, filename: str, request: Any
) -> None:
    details = {
        "portfolio_id": portfolio.pk,
        "filename": filename[:200],
        "format": report.format,
        "rows": report.total_rows,
        "created": report.created,
        "duplicates": len(report.duplicates),
        "errors": len(report.errors),
    }
    if report.ok:
        description = (
            f"Import into {portfolio.name} added nothing: "
            f"{len(report.duplicates)} rows were already there."
        )
        status = ActivityStatus.SUCCESS
    else:
        description = f"Import into {portfolio.name} refused: {len(report.errors)} errors."
        status = ActivityStatus.FAILURE
    activity_record(
        user=user,
        action=ActivityAction.TRANSACTIONS_IMPORTED,
        status=status,
        description=description[:500],
        details=details,
        request=request,
    )


# Background job ---------------------------------------------------------------------------------


def _import_job_start(
    *, user: Any, portfolio: Portfolio, content: bytes, filename: str, dry_run: bool
) -> BackgroundJob:
    # The file travels in the job row: no process keeps state, any worker can run it.
    job = job_create(
        user=user,
        job_type=JOB_TYPE,
        params={
            "portfolio_id": portfolio.pk,
            "filename": filename,
            "dry_run": dry_run,
            "content": base64.b64encode(content).decode("ascii"),
        },
    )
    job_enqueue(job=job, task=transactions_import_task)
    return job


@task
@job_task
def transactions_import_task(run: JobRun) -> dict[str, Any]:
    """Run a big import in the worker; progress on the job, the report as its result."""
    params = run.params
    try:
        portfolio = (
            Portfolio.objects.for_user(run.job.user).filter(pk=params["portfolio_id"]).first()
        )
        if portfolio is None:
            raise ApplicationError("The portfolio of this import no longer exists.")
        report = transactions_import(
            user=run.job.user,
            portfolio=portfolio,
            content=base64.b64decode(params["content"]),
            filename=params["filename"],
            dry_run=params["dry_run"],
            progress=run.progress,
            inline=True,
        )
    finally:
        # The file is the user's financial data: once read, the job row keeps only its name.
        BackgroundJob.objects.filter(pk=run.job.pk).update(
            params={key: value for key, value in params.items() if key != "content"}
        )
    if not report.dry_run and not report.ok:
        lines = [str(issue) for issue in report.errors[:ERRORS_IN_MESSAGE]]
        more = len(report.errors) - len(lines)
        if more > 0:
            lines.append(f"… and {more} more.")
        raise ApplicationError("\n".join([report.error().message, *lines]))
    return report.as_dict()


def import_content_from_body(body: dict[str, Any]) -> bytes:
    """A JSON request body's transactions (`transactions` or Ghostfolio `activities`) as a file."""
    if isinstance(body.get("activities"), list):
        document = {"activities": body["activities"], "assetProfiles": body.get("assetProfiles")}
    elif isinstance(body.get("transactions"), list):
        document = {"transactions": body["transactions"]}
    else:
        message = 'Send a file, or a JSON body with "transactions" or Ghostfolio "activities".'
        raise ApplicationError(message, {"file": [message]})
    return json.dumps(document, default=str).encode()


__all__ = [
    "CSV_ALIASES",
    "ImportDuplicate",
    "ImportIssue",
    "ImportReport",
    "ImportRow",
    "import_content_from_body",
    "transactions_import",
    "transactions_import_task",
]
