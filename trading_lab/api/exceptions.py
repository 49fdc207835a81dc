"""One exception handler: every API error is `{"detail": ..., "errors": {field: [msg]}}`."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from trading_lab.exceptions import ApplicationError

NON_FIELD = "non_field_errors"


def _flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error structure into `{"field.sub": ["message"]}`."""
    out: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key in (NON_FIELD, "__all__"):
                # An error of a whole nested object belongs to the field holding it.
                name = prefix or NON_FIELD
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in _flatten(value, name).items():
                out.setdefault(field, []).extend(messages)
    elif isinstance(errors, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in errors):
            out[prefix or NON_FIELD] = [str(item) for item in errors]
        else:
            for index, item in enumerate(errors):
                # DRF reports a valid item of a many=True list as `{}`: nothing to add.
                for field, messages in _flatten(item, f"{prefix}.{index}").items():
                    out.setdefault(field, []).extend(messages)
    else:
        out[prefix or NON_FIELD] = [str(errors)]
    return out


def _summary(errors: dict[str, list[str]]) -> str:
    if list(errors) == [NON_FIELD]:
        return errors[NON_FIELD][0]
    return "Invalid input."


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Map DRF, Django and service errors to the SPEC §6 error body, keeping DRF's headers."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, ApplicationError):
        # Whatever the service wrote before refusing must not survive under ATOMIC_REQUESTS.
        set_rollback()
        return Response(
            {"detail": exc.message, "errors": _flatten(exc.extra) if exc.extra else {}},
            status=status.HTTP_400_BAD_REQUEST,
        )
    elif isinstance(exc, Http404):
        # Not yours and not there read the same: never echo which model or id was asked for.
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        response.data = {"detail": _summary(errors), "errors": errors}
    else:
        detail = getattr(exc, "detail", None)
        response.data = {"detail": str(detail) if detail is not None else str(exc), "errors": {}}
    return response
