"""Every provider call goes through a call budget and a circuit breaker (SPEC §3).

Their state is the provider's ProviderState row, read and written under `select_for_update`
so any number of web and worker processes share one budget and one breaker. The row lock is
held only to decide and to record, never while the provider is being called.

Breaker: closed -> open after `failure_threshold` consecutive failures; open refuses calls
until `cooldown_seconds` have passed, then half-open lets calls through as trials: a success
closes it, a failure opens it again for another cool-down.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from portfolio.app_settings import app_settings
from portfolio.models import CircuitState, ProviderState
from portfolio.providers.base import ProviderError, ProviderUnavailableError

T = TypeVar("T")
ERROR_MAX = 2000


class CircuitOpenError(ProviderUnavailableError):
    """The breaker is open: recent calls failed, and the cool-down has not passed."""


class BudgetExceededError(ProviderUnavailableError):
    """The provider's call budget for the current window is spent."""


def _locked_state(name: str) -> ProviderState:
    ProviderState.objects.get_or_create(provider=name)
    return ProviderState.objects.select_for_update().get(provider=name)


def provider_admit(*, name: str) -> ProviderState:
    """Take one call from the budget if the breaker allows it; raise why not otherwise."""
    limits = app_settings.provider_limits(name)
    now = timezone.now()
    with transaction.atomic():
        state = _locked_state(name)
        changed: dict = {}
        if state.circuit == CircuitState.OPEN:
            reopen_at = state.opened_at + timedelta(seconds=limits["cooldown_seconds"])
            if now < reopen_at:
                raise CircuitOpenError(
                    f'Provider "{name}" is paused after {state.consecutive_failures} failures '
                    f"in a row; next try after {reopen_at:%Y-%m-%d %H:%M:%S} UTC."
                )
            changed["circuit"] = CircuitState.HALF_OPEN
        window = timedelta(seconds=limits["window_seconds"])
        if state.window_started_at is None or now >= state.window_started_at + window:
            changed.update(window_started_at=now, calls_in_window=0)
        calls = changed.get("calls_in_window", state.calls_in_window)
        if calls >= limits["calls_per_window"]:
            ends = state.window_started_at + window
            raise BudgetExceededError(
                f'Provider "{name}" has used its {limits["calls_per_window"]} calls for this '
                f"window; more after {ends:%Y-%m-%d %H:%M:%S} UTC."
            )
        changed["calls_in_window"] = calls + 1
        # A queryset update: these counters change on every call, which is no model history.
        ProviderState.objects.filter(pk=state.pk).update(**changed, updated_at=now)
        state.refresh_from_db()
    return state


def provider_record_success(*, name: str) -> None:
    """A call succeeded: the breaker closes and the failure count starts again."""
    with transaction.atomic():
        state = _locked_state(name)
        ProviderState.objects.filter(pk=state.pk).update(
            circuit=CircuitState.CLOSED,
            consecutive_failures=0,
            opened_at=None,
            updated_at=timezone.now(),
        )


def provider_record_failure(*, name: str, error: str) -> ProviderState:
    """A call failed: count it, and open the breaker at the threshold or after a trial call."""
    limits = app_settings.provider_limits(name)
    now = timezone.now()
    with transaction.atomic():
        state = _locked_state(name)
        failures = state.consecutive_failures + 1
        changed: dict = {"consecutive_failures": failures, "last_error": error[:ERROR_MAX]}
        if state.circuit == CircuitState.HALF_OPEN or failures >= limits["failure_threshold"]:
            changed.update(circuit=CircuitState.OPEN, opened_at=now)
        ProviderState.objects.filter(pk=state.pk).update(**changed, updated_at=now)
        state.refresh_from_db()
    return state


def provider_call(*, name: str, call: Callable[[], T]) -> T:
    """Run `call` (one request to provider `name`) through its budget and breaker.

    Raises CircuitOpenError or BudgetExceededError without calling, and ProviderError when the
    call fails (the failure is counted first).
    """
    provider_admit(name=name)
    try:
        result = call()
    except Exception as exc:
        error = str(exc) if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}"
        provider_record_failure(name=name, error=error)
        raise ProviderError(f'Provider "{name}" failed: {error}') from exc
    provider_record_success(name=name)
    return result


def provider_state_reset(*, name: str) -> None:
    """Close the breaker and refill the budget now (staff, after fixing the provider)."""
    with transaction.atomic():
        state = _locked_state(name)
        state.circuit = CircuitState.CLOSED
        state.consecutive_failures = 0
        state.opened_at = None
        state.window_started_at = None
        state.calls_in_window = 0
        state.last_error = ""
        state.save()
