"""Bulk inserts through PostgreSQL's `COPY`, for the writes of thousands of rows at once.

`COPY` moves rows without building an INSERT statement and its parameters, which for a
100,000-row import costs more than the database's own work. Ids come from the table's sequence
first, so rows written afterwards (history entries) can name them. Only for PostgreSQL: callers
keep the ORM's `bulk_create` for other databases (`copy_supported`).

A `COPY` overlaps other work: `copy_rows` hands the rows to psycopg's writer thread, so the
client's Python (making the rows, then `meanwhile`) and the server's inserts (indexes) run on
two cores at once. `constraints_check` does the same for the foreign-key checks that PostgreSQL
defers to the commit: they run on the server while the client goes on with `meanwhile`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db import connections
from psycopg.copy import QueuedLibpqWriter

T = TypeVar("T")


class ConnectionBusyError(RuntimeError):
    """A query was sent while the connection was still busy with a `COPY`."""


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


def _refuse_query(execute, sql, params, many, context):
    # psycopg holds the connection's (non-reentrant) lock for the whole COPY: a query from the
    # thread that runs it would wait for itself forever. Refuse it with a clear error instead.
    raise ConnectionBusyError(
        "This connection is busy with a COPY: work run meanwhile must not query the database."
    )


def copy_rows(
    *,
    using: str,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    meanwhile: Callable[[], T] | None = None,
) -> T | None:
    """Write `rows` (values in `columns` order, as psycopg adapts them) with one `COPY`.

    The rows go to the server from psycopg's writer thread (`QueuedLibpqWriter`): while the
    server takes them, this thread goes on making the next ones (`rows` may be a generator that
    makes each row as it is needed), then runs `meanwhile()`, whose result is returned.
    Neither may query the database: they get `ConnectionBusyError`. If either raises, the
    `COPY` is cancelled and the exception goes on.
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        # `cursor.cursor` is psycopg's own cursor under Django's wrapper: COPY has no DB-API form.
        raw = cursor.cursor
        with (
            raw.copy(
                f"COPY {quote(table)} ({names}) FROM STDIN", writer=QueuedLibpqWriter(raw)
            ) as copy,
            connection.execute_wrapper(_refuse_query),
        ):
            write_row = copy.write_row
            for row in rows:
                write_row(row)
            return None if meanwhile is None else meanwhile()


def constraints_check(
    *, using: str, tables: Sequence[str], meanwhile: Callable[[], T] | None = None
) -> T | None:
    """Run the deferred foreign-key checks of the rows written so far into `tables` now, on the
    server, while `meanwhile()` runs here; return its result.

    Django makes foreign keys `DEFERRABLE INITIALLY DEFERRED` on PostgreSQL, so the checks of
    100,000 new rows would otherwise run in the commit, with the client waiting. The statements
    go out in psycopg's pipeline mode, which sends them without waiting for their end; their
    outcome (a violation is an `IntegrityError`) is read once `meanwhile` is done. The
    constraints are deferred again afterwards. For use inside a transaction (outside one,
    nothing waits for a commit). `meanwhile` must not query the database
    (`ConnectionBusyError`). On other databases `meanwhile` just runs.
    """
    if not copy_supported(using):
        return None if meanwhile is None else meanwhile()
    connection = connections[using]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND condeferrable "
            "AND condeferred AND conrelid = ANY(%s::regclass[]) ORDER BY conname",
            [[quote(table) for table in tables]],
        )
        names = ", ".join(quote(name) for (name,) in cursor.fetchall())
        if not names:
            return None if meanwhile is None else meanwhile()
        raw = cursor.cursor
        with (
            connection.wrap_database_errors,
            raw.connection.pipeline(),
            connection.execute_wrapper(_refuse_query),
        ):
            raw.execute(f"SET CONSTRAINTS {names} IMMEDIATE")
            raw.execute(f"SET CONSTRAINTS {names} DEFERRED")
            return None if meanwhile is None else meanwhile()
