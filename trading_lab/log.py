"""Logging with the request id on every line, as plain text or JSON lines (production).

`RequestIdMiddleware` puts the request's id in a context variable for the request's duration;
`RequestIdFilter` copies it onto each log record, so a line logged anywhere while serving a
request carries the same id as the response's `X-Request-ID` and the request's audit rows.
Outside a request (worker, scheduler, commands) the id is "-".
"""

import logging
from contextvars import ContextVar

NO_REQUEST = "-"

request_id_var: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (never filters anything out)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True
