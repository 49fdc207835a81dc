"""The one error vocabulary of services (STYLE.md "Errors")."""

from typing import Any


class ApplicationError(Exception):
    """A business rule refused the request; `extra` may hold field errors (`{"field": [msg]}`)."""

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
