"""Bulk inserts through PostgreSQL's `COPY`, for the writes of thousands of rows at once.

`COPY` moves rows without building an INSERT statement and its parameters, which for a
100,000-row import costs more than the database's own work. Ids come from the table's sequence
first, so rows written afterwards (history entries) can name them. Only for PostgreSQL: callers
keep the ORM's `bulk_create` for other databases (`copy_supported`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections


def copy_supported(using: str) -> bool:
    """Whether the database behind `using` takes `COPY ... FROM STDIN` (PostgreSQL)."""
    return connections[using].vendor == "postgresql"


def sequence_take(*, using: str, table: str, count: int, column: str = "id") -> list[int]:
    """`count` new values of the sequence behind `table.column`, ascending."""
    with connections[using].cursor() as cursor:
        # The sequence's name first: inside the series it would be looked up once per value.
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
        (sequence,) = cursor.fetchone()
        # One row of text rather than `count` rows: reading 100,000 one-value rows costs more
        # than taking the values.
        cursor.execute(
            "SELECT string_agg(nextval(%s::regclass)::text, ',') FROM generate_series(1, %s)",
            [sequence, count],
        )
        (values,) = cursor.fetchone()
        return sorted(map(int, values.split(","))) if values else []


def copy_rows(
    *, using: str, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Write `rows` (values in `columns` order, as psycopg adapts them) with one `COPY`."""
    connection = connections[using]
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    # `cursor.cursor` is psycopg's own cursor under Django's wrapper: COPY has no DB-API form.
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy,
    ):
        write_row = copy.write_row
        for row in rows:
            write_row(row)
