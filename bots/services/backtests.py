"""Backtests: a DCA config run over an instrument's stored price bars as a background job.

`backtest_create` validates everything it can up front (config, period, capital, that bars
exist) so a refusal is a 400 with field errors, then queues a job. The worker's task
(`backtest_run_task`) loads the bars as columns, runs `bots.engine.backtest_run` with progress
on the job, and stores the metrics, equity curve, orders and deals on the Backtest row.

Stored prices are daily `PriceBar`s, so `1d` is the only interval stored data supports; other
intervals are refused with a message saying so (docs/backtests.md).
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Min
from django.http import HttpRequest
from django.utils import timezone
from django_tasks import task

from audit.models import ActivityAction, BackgroundJob, JobStatus
from audit.services import activity_record, activity_records_failure
from audit.services.jobs import JobCancelled, JobRun, job_cancel, job_create, job_enqueue, job_task
from bots.engine import (
    BarColumns,
    EngineValidationError,
    backtest_run,
    ensure_capital,
    parse_dca_config,
)
from bots.models import Backtest, BacktestStatus, BotInterval, BotType
from portfolio.models import Instrument, PriceBar
from trading_lab.exceptions import ApplicationError

JOB_TYPE = "backtest"
INVALID = "Invalid input."
SUPPORTED_INTERVALS = (BotInterval.D1,)
FINISHED = (BacktestStatus.SUCCEEDED, BacktestStatus.FAILED, BacktestStatus.CANCELLED)
UNEXPECTED_FAILURE = "The backtest failed unexpectedly; staff can see the error on its job."
# The engine's progress (0..100) maps onto this span of the job's bar; loading and storing
# take the rest.
ENGINE_SPAN = (5, 95)
RESULT_FIELDS = ["status", "bars", "metrics", "equity_curve", "orders", "deals", "error"]


@dataclass(frozen=True)
class BacktestInput:
    """A backtest as a caller asks for it (what `backtest_create` validates)."""

    instrument: Instrument
    start: date
    end: date
    initial_balance: Decimal
    fee_rate: Decimal
    slippage_bps: Decimal
    config: dict[str, Any]
    interval: str = BotInterval.D1
    name: str = ""


def _risk_free_rate() -> Decimal:
    return Decimal(str(getattr(settings, "PORTFOLIO_RISK_FREE_RATE", "0") or "0"))


def _errors(data: BacktestInput) -> dict[str, list[str]]:
    """Every problem with the request, by field (`config.<field>` for the DCA settings)."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if data.interval not in BotInterval.values:
        add("interval", f"Choose one of {', '.join(BotInterval.values)}.")
    elif data.interval not in SUPPORTED_INTERVALS:
        add(
            "interval",
            "Stored prices are daily bars, so backtests run on the 1d interval; "
            f"{data.interval} bars are not stored.",
        )
    if data.start > data.end:
        add("end", "The end must be on or after the start.")
    if data.initial_balance <= 0:
        add("initial_balance", "Must be greater than 0.")
    if not 0 <= data.fee_rate < 1:
        add("fee_rate", "A fraction from 0 (no fee) up to, not including, 1: 0.001 is 0.1%.")
    if data.slippage_bps < 0:
        add("slippage_bps", "Must be 0 or more.")
    config = None
    if not isinstance(data.config, dict):
        add("config", "Must be a JSON object of DCA settings.")
    else:
        try:
            config = parse_dca_config(data=data.config)
        except EngineValidationError as exc:
            for field, messages in exc.errors.items():
                errors.setdefault(f"config.{field}", []).extend(messages)
    if config is not None and "initial_balance" not in errors and "fee_rate" not in errors:
        try:
            ensure_capital(
                config=config,
                available=data.initial_balance,
                fee_rate=data.fee_rate,
                field="initial_balance",
            )
        except EngineValidationError as exc:
            for field, messages in exc.errors.items():
                errors.setdefault(field, []).extend(messages)
    if "end" not in errors and not _bars(data.instrument, data.start, data.end).exists():
        add("start", _no_bars_message(data.instrument, data.start, data.end))
    return errors


def _bars(instrument: Instrument, start: date, end: date):
    return PriceBar.objects.filter(instrument=instrument, date__gte=start, date__lte=end)


def _no_bars_message(instrument: Instrument, start: date, end: date) -> str:
    span = PriceBar.objects.filter(instrument=instrument).aggregate(
        first=Min("date"), last=Max("date")
    )
    text = f"{instrument.symbol} has no stored prices from {start} to {end}"
    if span["first"] is None:
        return f"{text}; it has no prices at all."
    return f"{text}; its prices run from {span['first']} to {span['last']}."


@activity_records_failure(ActivityAction.BACKTEST_CREATED, "Starting the backtest")
def backtest_create(
    *,
    user: Any,
    instrument: Instrument,
    start: date,
    end: date,
    initial_balance: Decimal,
    fee_rate: Decimal,
    slippage_bps: Decimal,
    config: dict[str, Any],
    interval: str = BotInterval.D1,
    name: str = "",
    request: HttpRequest | None = None,
    enqueue: bool = True,
) -> Backtest:
    """Validate the request and queue a backtest for `user`, with its background job.

    `instrument` is already resolved among what the user may see. `enqueue=False` leaves the job
    queued without handing it to the task backend (the demo runs it in-process).
    """
    data = BacktestInput(
        instrument=instrument,
        start=start,
        end=end,
        initial_balance=initial_balance,
        fee_rate=fee_rate,
        slippage_bps=slippage_bps,
        config=config,
        interval=interval,
        name=name,
    )
    errors = _errors(data)
    if errors:
        raise ApplicationError(INVALID, errors)
    config = parse_dca_config(data=data.config).as_json()
    with transaction.atomic():
        job = job_create(user=user, job_type=JOB_TYPE)
        backtest = Backtest(
            user=user,
            name=(data.name or "").strip(),
            bot_type=BotType.DCA,
            instrument=data.instrument,
            interval=data.interval,
            start=data.start,
            end=data.end,
            initial_balance=data.initial_balance,
            fee_rate=data.fee_rate,
            slippage_bps=data.slippage_bps,
            config=config,
            status=BacktestStatus.QUEUED,
            job=job,
        )
        try:
            backtest.full_clean()
        except ValidationError as exc:
            raise ApplicationError(INVALID, exc.message_dict) from exc
        backtest.save()
        # The job row says which backtest it runs (jobs have no history: a plain update).
        BackgroundJob.objects.filter(pk=job.pk).update(params={"backtest_id": backtest.pk})
        activity_record(
            user=user,
            action=ActivityAction.BACKTEST_CREATED,
            description=(
                f"Backtest of {data.instrument.symbol} from {data.start} to {data.end} queued."
            ),
            details={
                "backtest_id": backtest.pk,
                "job_id": job.pk,
                "instrument_id": data.instrument.pk,
                "interval": data.interval,
                "start": data.start.isoformat(),
                "end": data.end.isoformat(),
            },
            request=request,
        )
        if enqueue:
            job_enqueue(job=job, task=backtest_run_task)
    backtest.job = BackgroundJob.objects.get(pk=job.pk)
    return backtest


def backtest_cancel(
    *, backtest: Backtest, user: Any, request: HttpRequest | None = None
) -> Backtest:
    """Stop a queued or running backtest: a queued one ends cancelled at once, a running one at
    its next progress report."""
    if backtest.status in FINISHED or backtest.job is None:
        raise ApplicationError(f"This backtest has already finished ({backtest.status}).")
    job = job_cancel(job=backtest.job, user=user, request=request)
    if job.status == JobStatus.CANCELLED:
        _finish(backtest, BacktestStatus.CANCELLED, error="Cancelled before it started.")
    return backtest


def backtest_delete(*, backtest: Backtest, request: HttpRequest | None = None) -> None:
    """Delete a backtest with its results; a job still queued or running is cancelled first."""
    with transaction.atomic():
        job = backtest.job
        if job is not None and not job.is_finished:
            # It may have finished meanwhile: then there is nothing to stop.
            with contextlib.suppress(ApplicationError):
                job_cancel(job=job, request=request)
        activity_record(
            user=backtest.user,
            action=ActivityAction.BACKTEST_DELETED,
            description=f"Backtest “{backtest}” deleted.",
            details={"backtest_id": backtest.pk, "instrument_id": backtest.instrument_id},
            request=request,
        )
        backtest.delete()


# --- running -----------------------------------------------------------------------------------


def backtest_bars(*, backtest: Backtest) -> BarColumns:
    """The backtest's daily bars as columns; a missing open, high or low reads as the close."""
    rows = (
        _bars(backtest.instrument, backtest.start, backtest.end)
        .order_by("date")
        .values_list("date", "open", "high", "low", "close")
    )
    times, opens, highs, lows, closes = [], [], [], [], []
    for day, open_, high, low, close in rows.iterator(chunk_size=5000):
        open_ = close if open_ is None else open_
        times.append(day)
        opens.append(open_)
        highs.append(max(high or close, open_, close))
        lows.append(min(low or close, open_, close))
        closes.append(close)
    return BarColumns(times=times, opens=opens, highs=highs, lows=lows, closes=closes)


def _finish(backtest: Backtest, status: str, *, error: str = "", **results: Any) -> None:
    if not Backtest.objects.filter(pk=backtest.pk).exists():
        return  # deleted while it ran: nothing left to record on
    backtest.status = status
    backtest.error = error
    backtest.finished_at = timezone.now()
    for name, value in results.items():
        setattr(backtest, name, value)
    backtest.save(update_fields=[*RESULT_FIELDS, "finished_at", "updated_at"])


def _engine_message(exc: EngineValidationError) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.errors.items())


def backtest_execute(
    *, backtest: Backtest, progress: Callable[[int, str], None] | None = None
) -> dict[str, Any]:
    """Run a queued backtest now and store its results; returns a short summary.

    A refusal by the engine ends the backtest failed with a readable error (and raises
    ApplicationError, so its job fails with the same text); a cancel ends it cancelled.
    """
    report = progress or (lambda percent, message="": None)
    backtest.status = BacktestStatus.RUNNING
    backtest.started_at = timezone.now()
    backtest.save(update_fields=["status", "started_at", "updated_at"])
    low, high = ENGINE_SPAN
    try:
        report(1, "Loading price bars")
        bars = backtest_bars(backtest=backtest)
        report(low, f"Running over {len(bars)} bars")
        result = backtest_run(
            config=parse_dca_config(data=backtest.config),
            bars=bars,
            initial_balance=backtest.initial_balance,
            fee_rate=backtest.fee_rate,
            slippage_bps=backtest.slippage_bps,
            risk_free_rate=_risk_free_rate(),
            progress=lambda percent: report(
                low + percent * (high - low) // 100, f"Running over {len(bars)} bars"
            ),
        )
        report(high, "Storing results")
    except JobCancelled:
        _finish(backtest, BacktestStatus.CANCELLED, error="Cancelled while running.")
        raise
    except EngineValidationError as exc:
        message = _engine_message(exc)
        _finish(backtest, BacktestStatus.FAILED, error=message)
        raise ApplicationError(message) from exc
    except BaseException:
        _finish(backtest, BacktestStatus.FAILED, error=UNEXPECTED_FAILURE)
        raise
    stored = result.as_json()
    _finish(
        backtest,
        BacktestStatus.SUCCEEDED,
        bars=len(bars),
        metrics=stored["metrics"],
        equity_curve=stored["equity_curve"],
        orders=stored["orders"],
        deals=stored["deals"],
    )
    return {
        "backtest_id": backtest.pk,
        "bars": len(bars),
        "orders": len(stored["orders"]),
        "deals": len(stored["deals"]),
        "total_return": stored["metrics"]["total_return"],
    }


@task
@job_task
def backtest_run_task(run: JobRun) -> dict[str, Any]:
    """The worker's side of a backtest job: run it with progress on the job."""
    backtest = Backtest.objects.select_related("instrument").filter(job_id=run.job.pk).first()
    if backtest is None:
        raise ApplicationError("The backtest of this job was deleted.")
    return backtest_execute(backtest=backtest, progress=run.progress)
