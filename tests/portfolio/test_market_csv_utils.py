"""The shared CSV reader: encodings, header aliases, typed cells and line/column errors."""

from datetime import date
from decimal import Decimal

import pytest

from portfolio.csv_utils import CsvFileError, CsvIssues, csv_read, header_key

ALIASES = {"symbol": ("ticker",), "close": ("price",), "adjusted_close": ("adj close",)}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Adjusted Close", "adjustedclose"),
        ("adjusted_close", "adjustedclose"),
        (" ADJUSTED-close ", "adjustedclose"),
        ("Symbol", "symbol"),
    ],
)
def test_header_key_ignores_case_and_separators(header, expected):
    assert header_key(header) == expected


@pytest.mark.parametrize(
    "content",
    [
        b"Ticker,Price\nAAPL,1.5\n",
        b"\xef\xbb\xbfticker,price\nAAPL,1.5\n",  # UTF-8 with a byte-order mark
        b"SYMBOL;CLOSE\r\nAAPL;1.5\r\n",  # semicolons and CRLF, as some spreadsheets save
    ],
    ids=["aliases", "bom", "semicolons-crlf"],
)
def test_headers_map_through_aliases_whatever_the_encoding_details(content):
    table = csv_read(content, aliases=ALIASES, required=["symbol", "close"])

    assert table.columns == ("symbol", "close")
    assert [(row.line, dict(row.values)) for row in table.rows] == [
        (2, {"symbol": "AAPL", "close": "1.5"})
    ]


def test_unknown_headers_are_ignored_and_listed():
    table = csv_read(b"symbol,close,colour\nA,1,red\n", aliases=ALIASES)

    assert table.ignored_headers == ("colour",)
    assert dict(table.rows[0].values) == {"symbol": "A", "close": "1"}


def test_blank_lines_are_skipped_and_line_numbers_stay_those_of_the_file():
    table = csv_read(b"symbol,close\n\nA,1\n\nB,2\n", aliases=ALIASES)

    assert [row.line for row in table.rows] == [3, 5]


def test_a_quoted_cell_spanning_lines_keeps_the_next_rows_line_numbers_true():
    table = csv_read(b'symbol,close\n"A\nB",1\nC,2\n', aliases=ALIASES)

    assert [(row.line, row.get("symbol")) for row in table.rows] == [(2, "A\nB"), (4, "C")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfes\x00y\x00", ["line 1: the file is not UTF-8 text"]),
        (b"", ["the file is empty; it needs a header row."]),
        (b"symbol\nA\n", ['line 1, column "close": this required column is missing.']),
        (
            b"symbol,ticker,close\nA,B,1\n",
            ['line 1, column "ticker": names the same column as "symbol".'],
        ),
        (b"symbol,close\nA,1,extra\n", ["line 2: has 3 cells but the header has 2."]),
    ],
    ids=["not-utf8", "empty", "missing-required", "duplicate-column", "too-many-cells"],
)
def test_a_malformed_file_is_refused_with_a_message_naming_line_and_column(content, expected):
    with pytest.raises(CsvFileError) as caught:
        csv_read(content, aliases=ALIASES, required=["symbol", "close"])

    messages = caught.value.extra["file"]
    assert len(messages) == len(expected)
    for message, start in zip(messages, expected, strict=True):
        assert message.startswith(start)


def test_cell_readers_return_typed_values_and_collect_every_problem():
    table = csv_read(
        b"symbol,date,close\nA,2024-01-02,1.25\nB,02/01/2024,abc\n,2024-01-03T10:00:00,NaN\n",
        aliases={"symbol": (), "date": (), "close": ()},
    )
    issues = CsvIssues()

    read = [
        (
            issues.text(row, "symbol", required=True),
            issues.date(row, "date", required=True),
            issues.decimal(row, "close", required=True),
        )
        for row in table.rows
    ]

    assert read == [
        ("A", date(2024, 1, 2), Decimal("1.25")),
        ("B", None, None),
        ("", date(2024, 1, 3), None),
    ]
    with pytest.raises(CsvFileError) as caught:
        issues.raise_if_any()
    assert caught.value.extra == {
        "file": [
            'line 3, column "date": "02/01/2024" is not a date; use YYYY-MM-DD.',
            'line 3, column "close": "abc" is not a number.',
            'line 4, column "symbol": a value is required.',
            'line 4, column "close": "NaN" is not a number.',
        ]
    }
    assert caught.value.message == "The file has 4 problems; nothing was imported."
