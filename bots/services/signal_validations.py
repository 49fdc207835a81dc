"""Signal validation runs: records client programs post about their signal models (SPEC §3).

The lab stores, lists and charts them; it never computes them. Scores are fractions 0..1.
"""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from audit.models import ActivityAction
from audit.services import activity_record
from bots.models import SignalValidation
from trading_lab.exceptions import ApplicationError

INVALID = "Invalid input."
SCORES = ("accuracy", "precision", "recall", "f1")


def signal_validation_record(
    *,
    user: Any,
    model_type: str,
    signal_type: str,
    accuracy: Decimal,
    precision: Decimal,
    recall: Decimal,
    f1: Decimal,
    sample_size: int,
    parameters: dict[str, Any] | None = None,
    notes: str = "",
    request: HttpRequest | None = None,
) -> SignalValidation:
    """Store one validation run of `user`'s signal model (scores 0..1, sample size >= 1)."""
    parameters = {} if parameters is None else parameters
    errors: dict[str, list[str]] = {}
    if not isinstance(parameters, dict):
        errors["parameters"] = ["Must be a JSON object."]
    if sample_size < 1:
        errors["sample_size"] = ["A validation needs at least one sample."]
    for name, value in zip(SCORES, (accuracy, precision, recall, f1), strict=True):
        if not Decimal(0) <= value <= Decimal(1):
            errors[name] = ["A fraction from 0 to 1 (0.61 is 61%)."]
    if errors:
        raise ApplicationError(INVALID, errors)
    record = SignalValidation(
        user=user,
        model_type=(model_type or "").strip(),
        signal_type=(signal_type or "").strip(),
        accuracy=accuracy,
        precision=precision,
        recall=recall,
        f1=f1,
        sample_size=sample_size,
        parameters=parameters,
        notes=notes or "",
    )
    try:
        record.full_clean()
    except ValidationError as exc:
        raise ApplicationError(INVALID, exc.message_dict) from exc
    with transaction.atomic():
        record.save()
        activity_record(
            user=user,
            action=ActivityAction.SIGNAL_VALIDATION_RECORDED,
            description=(
                f"Signal validation of {record.model_type} / {record.signal_type} recorded "
                f"(n={record.sample_size})."
            )[:500],
            details={
                "signal_validation_id": record.pk,
                "model_type": record.model_type,
                "signal_type": record.signal_type,
                "sample_size": record.sample_size,
            },
            request=request,
        )
    return record
