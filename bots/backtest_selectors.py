"""Reads of backtests and signal validations (kept apart from bots/selectors.py, which the paper
and bot areas grow at the same time)."""

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from bots.models import Backtest, SignalValidation

# The heavy result columns a list never needs.
BACKTEST_HEAVY_FIELDS = ("equity_curve", "orders", "deals")
COMPARE_MAX = 4


def backtest_list(*, user, heavy: bool = False) -> QuerySet[Backtest]:
    """The user's backtests, newest first; without the result lists unless `heavy`."""
    queryset = Backtest.objects.for_user(user).select_related("instrument", "job")
    return queryset if heavy else queryset.defer(*BACKTEST_HEAVY_FIELDS)


def backtest_compare_list(*, user, ids: Iterable[int]) -> list[Backtest]:
    """The user's backtests among `ids` (at most COMPARE_MAX), in the order asked for."""
    wanted = list(dict.fromkeys(ids))[:COMPARE_MAX]
    found = {
        backtest.pk: backtest
        for backtest in backtest_list(user=user).defer("orders", "deals").filter(pk__in=wanted)
    }
    return [found[pk] for pk in wanted if pk in found]


def signal_validation_list(
    *, user, model_type: str | None = None, signal_type: str | None = None
) -> QuerySet[SignalValidation]:
    """The user's signal validations, newest first, optionally of one model or signal type."""
    queryset = SignalValidation.objects.for_user(user)
    if model_type:
        queryset = queryset.filter(model_type=model_type)
    if signal_type:
        queryset = queryset.filter(signal_type=signal_type)
    return queryset


def signal_validation_chart(*, validations: Iterable[SignalValidation]) -> dict[str, Any]:
    """Accuracy and F1 over time (oldest first) for a line chart, with a text summary."""
    rows = sorted(validations, key=lambda row: (row.created_at, row.pk))
    labels = [row.created_at.date().isoformat() for row in rows]
    series = [
        {"label": "Accuracy", "values": [str(row.accuracy) for row in rows]},
        {"label": "F1", "values": [str(row.f1) for row in rows]},
    ]
    summary = ""
    if rows:
        first, last = rows[0], rows[-1]
        summary = (
            f"{len(rows)} validation runs from {labels[0]} to {labels[-1]}: accuracy went from "
            f"{first.accuracy:.3f} to {last.accuracy:.3f}, F1 from {first.f1:.3f} to "
            f"{last.f1:.3f}."
        )
    return {"labels": labels, "series": series, "summary": summary, "percent": True}
