"""Reading CSV uploads: decoding, header aliases, typed cells and errors a person can act on.

Shared by every CSV import (prices, FX rates, transactions). Nothing here knows a model: a
caller names its columns and their aliases, reads typed values through `CsvIssues`, and gets
every problem of the file at once as `line N, column "x": message`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter

from trading_lab.exceptions import ApplicationError

# Spaces, underscores and hyphens are ignored in headers: "Adjusted Close", "adjusted_close"
# and "adjusted-close" are the same column.
_SEPARATORS = re.compile(r"[\s_\-]+")


def header_key(header: str) -> str:
    """The comparable form of a header: case and separators ignored."""
    return _SEPARATORS.sub("", header.strip().lower())


@dataclass(frozen=True)
class CsvIssue:
    """One problem of an uploaded file; `line` is the 1-based line of the file, 0 for the file."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.line and self.column:
            return f'line {self.line}, column "{self.column}": {self.message}'
        if self.line:
            return f"line {self.line}: {self.message}"
        if self.column:
            return f'column "{self.column}": {self.message}'
        return self.message


class CsvFileError(ApplicationError):
    """A file that cannot be imported; `issues` lists every problem found, in file order."""

    def __init__(self, issues: list[CsvIssue], *, field_name: str = "file") -> None:
        self.issues = sorted(issues, key=lambda issue: issue.line)
        count = len(self.issues)
        noun = "problem" if count == 1 else "problems"
        message = f"The file has {count} {noun}; nothing was imported."
        super().__init__(message, {field_name: [str(issue) for issue in self.issues]})


@dataclass(frozen=True)
class CsvRow:
    """A data row: its line in the file and its cells by canonical column name (stripped)."""

    line: int
    values: Mapping[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass(frozen=True)
class CsvTable:
    columns: tuple[str, ...]
    rows: list[CsvRow]
    ignored_headers: tuple[str, ...] = ()


def csv_decode(content: bytes) -> str:
    """The text of an uploaded file: UTF-8, with or without a byte-order mark."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise CsvFileError(
            [
                CsvIssue(
                    line=line,
                    column="",
                    message="the file is not UTF-8 text; save it as CSV UTF-8 and upload again.",
                )
            ]
        ) from exc


def _delimiter(header_line: str) -> str:
    # Spreadsheets in comma-decimal locales save with semicolons.
    if header_line.count(";") > header_line.count(","):
        return ";"
    return ","


def csv_read(
    content: bytes,
    *,
    aliases: Mapping[str, Iterable[str]],
    required: Iterable[str] = (),
) -> CsvTable:
    """Parse `content` with a header row mapped through `aliases` ({column: [alias, ...]}).

    The column's own name is always an alias of itself. Unknown headers are ignored (listed in
    `ignored_headers`); missing required columns, a header named twice, rows with more cells
    than headers and an empty file are errors, all reported together.
    """
    text = csv_decode(content)
    lookup: dict[str, str] = {}
    for column, names in aliases.items():
        for name in (column, *names):
            lookup[header_key(name)] = column

    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    issues: list[CsvIssue] = []
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise CsvFileError(
                [CsvIssue(line=0, column="", message="the file is empty; it needs a header row.")]
            )
        header_line = reader.line_num
        positions: dict[str, int] = {}
        ignored: list[str] = []
        for index, raw in enumerate(header):
            column = lookup.get(header_key(raw))
            if column is None:
                if raw.strip():
                    ignored.append(raw.strip())
                continue
            if column in positions:
                issues.append(
                    CsvIssue(
                        line=header_line,
                        column=raw.strip(),
                        message=f'names the same column as "{header[positions[column]].strip()}".',
                    )
                )
                continue
            positions[column] = index
        issues.extend(
            CsvIssue(line=header_line, column=column, message="this required column is missing.")
            for column in required
            if column not in positions
        )
        if issues:
            raise CsvFileError(issues)

        rows: list[CsvRow] = []
        line = header_line
        columns = tuple(positions)
        # A row with every mapped cell takes them in one C-level step.
        take = itemgetter(*positions.values()) if len(positions) > 1 else None
        complete = max(positions.values(), default=0) + 1
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not "".join(cells).strip():  # blank, or only blank cells
                continue
            if len(cells) > len(header):
                issues.append(
                    CsvIssue(
                        line=start,
                        column="",
                        message=f"has {len(cells)} cells but the header has {len(header)}.",
                    )
                )
                continue
            if take is not None and len(cells) >= complete:
                values = dict(zip(columns, map(str.strip, take(cells)), strict=True))
            else:
                values = {
                    column: cells[index].strip()
                    for column, index in positions.items()
                    if index < len(cells)
                }
            rows.append(CsvRow(line=start, values=values))
    except csv.Error as exc:
        issues.append(
            CsvIssue(line=reader.line_num, column="", message=f"is not valid CSV: {exc}.")
        )
    if issues:
        raise CsvFileError(issues)
    return CsvTable(columns=tuple(positions), rows=rows, ignored_headers=tuple(ignored))


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        # An ISO timestamp (what many exports write) names its date first.
        return datetime.fromisoformat(value).date()


@dataclass
class CsvIssues:
    """Collects the problems of a file while its cells are read into typed values.

    Each reader returns None (and records an issue) for a bad or missing required cell, so a
    caller reads every row, then calls `raise_if_any()` once.
    """

    issues: list[CsvIssue] = field(default_factory=list)

    def add(self, *, line: int, column: str, message: str) -> None:
        self.issues.append(CsvIssue(line=line, column=column, message=message))

    def text(self, row: CsvRow, column: str, *, required: bool = False) -> str:
        value = row.get(column)
        if required and not value:
            self.add(line=row.line, column=column, message="a value is required.")
        return value

    def decimal(self, row: CsvRow, column: str, *, required: bool = False) -> Decimal | None:
        value = row.get(column)
        if not value:
            if required:
                self.add(line=row.line, column=column, message="a number is required.")
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            self.add(line=row.line, column=column, message=f'"{value}" is not a number.')
            return None
        return number

    def date(self, row: CsvRow, column: str, *, required: bool = False) -> date | None:
        value = row.get(column)
        if not value:
            if required:
                self.add(line=row.line, column=column, message="a date is required.")
            return None
        try:
            return _parse_date(value)
        except ValueError:
            self.add(
                line=row.line,
                column=column,
                message=f'"{value}" is not a date; use YYYY-MM-DD.',
            )
            return None

    def raise_if_any(self, *, field_name: str = "file") -> None:
        if self.issues:
            raise CsvFileError(self.issues, field_name=field_name)
