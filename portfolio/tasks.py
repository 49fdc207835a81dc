"""Tasks of the portfolio area, run by the task worker; they parse arguments and call services."""

from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from django.db.models import Max
from django.utils import timezone
from django_tasks import task

from audit.models import BackgroundJob
from audit.services.jobs import JobRun, job_create, job_enqueue, job_task
from portfolio.app_settings import app_settings
from portfolio.csv_utils import CsvFileError
from portfolio.models import Instrument, Portfolio
from portfolio.providers import (
    ProviderError,
    ProviderUnavailableError,
    provider_call,
    provider_get,
)
from portfolio.services.dividends import dividends_propose
from portfolio.services.market import PriceBarRow, price_bars_import
from trading_lab.exceptions import ApplicationError


def _instruments(params: dict[str, Any], *, synthetic: bool) -> list[Instrument]:
    shared = Instrument.objects.filter(owner__isnull=True)
    if params.get("instrument_ids"):
        shared = shared.filter(pk__in=params["instrument_ids"])
    elif not synthetic:
        # A real provider only knows listed instruments; demo ones stay on the synthetic walk.
        shared = shared.filter(is_synthetic=False)
    return list(shared.annotate(last_bar=Max("prices__date")).order_by("symbol", "exchange"))


@task
@job_task
def refresh_prices(run: JobRun) -> dict[str, Any]:
    """Fetch new daily bars for shared instruments from a provider and import them.

    Params: `provider` (default setting), `instrument_ids` (default: every shared instrument),
    `end` (ISO date, default today). Each instrument is fetched from the day after its last bar
    (or the look-back setting) and imported on its own, so one failure loses no other's bars.
    """
    provider = provider_get(run.params.get("provider") or app_settings.default_provider)
    end = date.fromisoformat(run.params["end"]) if run.params.get("end") else timezone.now().date()
    instruments = _instruments(run.params, synthetic=provider.synthetic)
    lookback = timedelta(days=app_settings.refresh_lookback_days)
    totals = {"created": 0, "updated": 0, "unchanged": 0}
    failed: list[dict[str, str]] = []
    skipped: list[str] = []
    for index, instrument in enumerate(instruments):
        run.progress(
            index * 100 // len(instruments), f"{instrument} ({index + 1}/{len(instruments)})"
        )
        start = instrument.last_bar + timedelta(days=1) if instrument.last_bar else end - lookback
        if start > end:
            continue
        try:
            bars = provider_call(
                name=provider.name,
                call=lambda i=instrument, s=start: provider.fetch_daily(
                    instrument=i, start=s, end=end
                ),
            )
        except ProviderUnavailableError as exc:
            # Open breaker or spent budget: later instruments would be refused the same way.
            skipped = [str(i) for i in instruments[index + 1 :]]
            failed.append({"instrument": str(instrument), "error": str(exc)})
            break
        except ProviderError as exc:
            failed.append({"instrument": str(instrument), "error": str(exc)})
            continue
        rows = [
            PriceBarRow(
                symbol=instrument.symbol,
                exchange=instrument.exchange,
                line=number,
                **asdict(bar),
            )
            for number, bar in enumerate(bars, start=1)
        ]
        try:
            result = price_bars_import(rows=rows, source=provider.name)
        except CsvFileError as exc:
            failed.append({"instrument": str(instrument), "error": "; ".join(map(str, exc.issues))})
            continue
        if provider.synthetic and not instrument.is_synthetic:
            instrument.is_synthetic = True
            instrument.save(update_fields=["is_synthetic", "updated_at"])
        for key in totals:
            totals[key] += getattr(result, key)
    return {
        "provider": provider.name,
        "instruments": len(instruments),
        **totals,
        "failed": failed,
        "skipped": skipped,
    }


def refresh_prices_enqueue(provider: str = "") -> int:
    """Queue a `refresh_prices` job (what a ScheduledJob names); returns the job's id."""
    job: BackgroundJob = job_create(
        user=None, job_type="refresh_prices", params={"provider": provider} if provider else {}
    )
    job_enqueue(job=job, task=refresh_prices)
    return job.pk


@task
def propose_dividends() -> dict[str, Any]:
    """Propose pending dividends from price-bar dividend data for every portfolio that may get one.

    Each portfolio is its own transaction, proposed as its owner's; `dividends_propose` skips an
    (instrument, ex date) that already has a dividend in any status, so a daily run is
    idempotent and a rejected proposal stays rejected.
    """
    candidates = (
        Portfolio.objects.filter(transactions__instrument__prices__dividend__gt=0)
        .distinct()
        .order_by("pk")
    )
    proposed = 0
    failed: list[dict[str, Any]] = []
    for portfolio in candidates:
        try:
            proposed += len(dividends_propose(portfolio=portfolio))
        except ApplicationError as exc:
            # One portfolio's problem (say, a ledger the engine refuses) must not stop the rest.
            failed.append({"portfolio": portfolio.pk, "error": exc.message})
    return {"portfolios": len(candidates), "proposed": proposed, "failed": failed}
