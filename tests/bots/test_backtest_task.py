"""The backtest job: bars loaded as columns, the engine's results stored as they are, progress on
the job, failures and cancels ending the backtest with a readable reason."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from audit.models import BackgroundJob, JobStatus
from audit.services.jobs import JobCancelled, job_progress
from bots.engine import backtest_run, parse_dca_config
from bots.models import Backtest, BacktestStatus
from bots.services import backtest_execute
from bots.services.backtests import UNEXPECTED_FAILURE, backtest_bars, backtest_run_task
from portfolio.models import PriceBar
from tests.bots.backtest_builders import (
    SPEC_CONFIG,
    START,
    finished_backtest,
    priced_instrument,
    queued_backtest,
)
from trading_lab.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

WORKED_CHECK = [
    ("base", "100"),
    ("safety_1", "99"),
    ("safety_2", "97.5"),
    ("safety_3", "95.25"),
    ("take_profit", "98.088380"),
]


def _wave(days: int) -> list[tuple[str, str, str, str]]:
    """A saw-tooth of daily bars that keeps opening and closing deals."""
    bars = []
    for day in range(days):
        close = Decimal(100) + Decimal((day % 9) - 4) * Decimal("0.9")
        bars.append((str(close + 1), str(close + 2), str(close - 2), str(close)))
    return bars


def test_the_spec_worked_check_through_a_daily_backtest(user):
    backtest = finished_backtest(user, priced_instrument())

    first_deal = [(o["kind"], Decimal(o["price"])) for o in backtest.orders[:5]]
    assert [kind for kind, _ in first_deal] == [kind for kind, _ in WORKED_CHECK]
    assert [price.quantize(Decimal("0.000001")) for _, price in first_deal] == [
        Decimal(price) for _, price in WORKED_CHECK
    ]
    assert Decimal(backtest.orders[3]["quantity"]) == Decimal(800) / Decimal("95.25") // Decimal(
        "1e-12"
    ) * Decimal("1e-12")
    assert Decimal(backtest.deals[0]["pnl"]).quantize(Decimal("0.01")) == Decimal("22.50")


def test_stored_results_are_the_engines_on_the_same_bars(user):
    instrument = priced_instrument(bars=_wave(120))
    backtest = finished_backtest(
        user,
        instrument,
        end=START + timedelta(days=200),
        fee_rate=Decimal("0.001"),
        slippage_bps=Decimal(5),
    )
    bars = [
        (datetime.combine(day, datetime.min.time(), tzinfo=UTC), o, h, low, c)
        for day, o, h, low, c in PriceBar.objects.filter(instrument=instrument)
        .order_by("date")
        .values_list("date", "open", "high", "low", "close")
    ]

    expected = backtest_run(
        config=parse_dca_config(data=SPEC_CONFIG),
        bars=bars,
        initial_balance=backtest.initial_balance,
        fee_rate=backtest.fee_rate,
        slippage_bps=backtest.slippage_bps,
    ).as_json()

    assert backtest.status == BacktestStatus.SUCCEEDED
    assert backtest.metrics == expected["metrics"]
    assert backtest.orders == expected["orders"]
    assert backtest.deals == expected["deals"]
    assert backtest.equity_curve == expected["equity_curve"]
    assert backtest.metrics["deals_closed"] > 5
    assert backtest.bars == 120


def test_missing_open_high_low_read_as_the_close(user):
    instrument = priced_instrument()
    PriceBar.objects.filter(instrument=instrument, date=START).update(
        open=None, high=None, low=None, close=Decimal(100)
    )
    backtest = queued_backtest(user, instrument)

    bars = backtest_bars(backtest=backtest)

    assert (bars.opens[0], bars.highs[0], bars.lows[0], bars.closes[0]) == (Decimal(100),) * 4
    assert bars.times[0] == START


def test_progress_is_reported_in_order_up_to_100(user):
    backtest = queued_backtest(user, priced_instrument(bars=_wave(300)), end=START + timedelta(999))
    seen: list[int] = []

    backtest_execute(backtest=backtest, progress=lambda percent, message="": seen.append(percent))

    assert seen == sorted(seen)
    assert seen[0] < 10
    assert seen[-1] == 95
    assert len(seen) > 20


def test_the_job_ends_succeeded_at_100_with_a_summary(user):
    backtest = queued_backtest(user, priced_instrument())

    backtest_run_task.call(job_id=backtest.job_id)

    job = BackgroundJob.objects.get(pk=backtest.job_id)
    assert (job.status, job.progress) == (JobStatus.SUCCEEDED, 100)
    assert job.result == {
        "backtest_id": backtest.pk,
        "bars": 8,
        "orders": 7,
        "deals": 2,
        "total_return": Backtest.objects.get(pk=backtest.pk).metrics["total_return"],
    }
    backtest.refresh_from_db()
    assert backtest.started_at <= backtest.finished_at


def test_an_engine_refusal_fails_backtest_and_job_with_a_readable_error(user):
    backtest = queued_backtest(user, priced_instrument())
    # Stored bars changed after the request was checked: now one breaks the bar rules.
    Backtest.objects.filter(pk=backtest.pk).update(
        config={**SPEC_CONFIG, "base_order_size": "100000"}
    )

    with pytest.raises(ApplicationError):
        backtest_run_task.call(job_id=backtest.job_id)

    backtest.refresh_from_db()
    job = BackgroundJob.objects.get(pk=backtest.job_id)
    assert backtest.status == BacktestStatus.FAILED
    assert backtest.error.startswith("initial_balance: The bot needs")
    assert (job.status, job.message) == (JobStatus.FAILED, backtest.error)


def test_an_unexpected_error_fails_it_without_internals(user, monkeypatch):
    backtest = queued_backtest(user, priced_instrument())

    def explode(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("bots.services.backtests.backtest_run", explode)
    with pytest.raises(RuntimeError):
        backtest_run_task.call(job_id=backtest.job_id)

    backtest.refresh_from_db()
    assert (backtest.status, backtest.error) == (BacktestStatus.FAILED, UNEXPECTED_FAILURE)


def test_a_cancel_requested_while_running_ends_it_cancelled(user):
    backtest = queued_backtest(user, priced_instrument(bars=_wave(50)), end=START + timedelta(99))
    BackgroundJob.objects.filter(pk=backtest.job_id).update(status=JobStatus.RUNNING)
    job = BackgroundJob.objects.get(pk=backtest.job_id)

    def progress(percent: int, message: str = "") -> None:
        if percent > 10:
            BackgroundJob.objects.filter(pk=job.pk).update(cancel_requested_at=datetime.now(UTC))
        job_progress(job_id=job.pk, percent=percent, message=message)

    with pytest.raises(JobCancelled):
        backtest_execute(backtest=backtest, progress=progress)

    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.CANCELLED
    assert backtest.orders == []
