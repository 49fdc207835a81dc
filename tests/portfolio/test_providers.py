"""Market-data providers: the circuit breaker, the call budget, the synthetic walk and refresh."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from audit.models import BackgroundJob, JobStatus
from audit.services.jobs import job_create
from audit.services.scheduler import scheduled_task_resolve
from portfolio.app_settings import app_settings
from portfolio.models import AssetClass, CircuitState, Instrument, PriceBar, ProviderState
from portfolio.providers import (
    BudgetExceededError,
    CircuitOpenError,
    MarketDataProvider,
    ProviderError,
    SyntheticProvider,
    provider_call,
    provider_get,
    provider_state_reset,
    registry,
)
from portfolio.providers.guard import provider_admit
from portfolio.services.market import price_bar_violations
from portfolio.tasks import refresh_prices
from trading_lab.exceptions import ApplicationError

LIMITS = {
    "calls_per_window": 3,
    "window_seconds": 60,
    "failure_threshold": 2,
    "cooldown_seconds": 300,
}


@pytest.fixture(autouse=True)
def provider_limits(settings):
    settings.PORTFOLIO_PROVIDERS = {"flaky": LIMITS, "budgeted": LIMITS}


class Calls:
    """A provider call that records each time it really runs; fails while `failing` is set."""

    def __init__(self, *, failing: bool = False) -> None:
        self.count = 0
        self.failing = failing

    def __call__(self) -> str:
        self.count += 1
        if self.failing:
            raise ConnectionError("upstream timed out")
        return "bars"


def state(name: str) -> ProviderState:
    return ProviderState.objects.get(provider=name)


def age(name: str, **fields: timedelta) -> None:
    """Move the row's timestamps into the past, as if that much time had gone by."""
    row = state(name)
    ProviderState.objects.filter(pk=row.pk).update(
        **{field: getattr(row, field) - delta for field, delta in fields.items()}
    )


def fail(name: str, calls: Calls) -> None:
    with pytest.raises(ProviderError):
        provider_call(name=name, call=calls)


@pytest.mark.django_db
def test_the_breaker_opens_after_consecutive_failures_and_refuses_calls_while_open():
    calls = Calls(failing=True)
    fail("flaky", calls)
    assert state("flaky").circuit == CircuitState.CLOSED

    fail("flaky", calls)

    assert (state("flaky").circuit, state("flaky").consecutive_failures) == (CircuitState.OPEN, 2)
    assert state("flaky").last_error == "ConnectionError: upstream timed out"
    with pytest.raises(CircuitOpenError, match="paused after 2 failures"):
        provider_call(name="flaky", call=calls)
    assert calls.count == 2


@pytest.mark.django_db
def test_a_success_between_failures_resets_the_count():
    calls = Calls(failing=True)
    fail("flaky", calls)
    provider_call(name="flaky", call=Calls())
    fail("flaky", calls)

    assert (state("flaky").circuit, state("flaky").consecutive_failures) == (CircuitState.CLOSED, 1)


@pytest.mark.django_db
def test_after_the_cooldown_the_breaker_half_opens_and_a_success_closes_it():
    calls = Calls(failing=True)
    fail("flaky", calls)
    fail("flaky", calls)
    age("flaky", opened_at=timedelta(seconds=LIMITS["cooldown_seconds"]))
    seen_during_call = []

    def trial() -> str:
        seen_during_call.append(state("flaky").circuit)
        return "bars"

    assert provider_call(name="flaky", call=trial) == "bars"

    assert seen_during_call == [CircuitState.HALF_OPEN]
    row = state("flaky")
    assert (row.circuit, row.consecutive_failures, row.opened_at) == (CircuitState.CLOSED, 0, None)


@pytest.mark.django_db
def test_a_failed_trial_call_opens_the_breaker_again_for_a_new_cooldown():
    calls = Calls(failing=True)
    fail("flaky", calls)
    fail("flaky", calls)
    age("flaky", opened_at=timedelta(seconds=LIMITS["cooldown_seconds"]))
    before = timezone.now()

    fail("flaky", calls)

    row = state("flaky")
    assert row.circuit == CircuitState.OPEN
    assert row.opened_at >= before
    with pytest.raises(CircuitOpenError):
        provider_call(name="flaky", call=calls)
    assert calls.count == 3


@pytest.mark.django_db
def test_the_budget_refuses_calls_past_the_limit_without_calling():
    calls = Calls()
    for _ in range(LIMITS["calls_per_window"]):
        provider_call(name="budgeted", call=calls)

    with pytest.raises(BudgetExceededError, match="has used its 3 calls"):
        provider_call(name="budgeted", call=calls)

    assert calls.count == 3
    assert state("budgeted").calls_in_window == 3


@pytest.mark.django_db
def test_the_budget_resets_when_the_window_has_passed():
    calls = Calls()
    for _ in range(LIMITS["calls_per_window"]):
        provider_call(name="budgeted", call=calls)
    age("budgeted", window_started_at=timedelta(seconds=LIMITS["window_seconds"]))

    provider_call(name="budgeted", call=calls)

    assert (calls.count, state("budgeted").calls_in_window) == (4, 1)


@pytest.mark.django_db
def test_reset_closes_the_breaker_and_refills_the_budget():
    calls = Calls(failing=True)
    fail("flaky", calls)
    fail("flaky", calls)

    provider_state_reset(name="flaky")

    row = state("flaky")
    assert (row.circuit, row.consecutive_failures, row.calls_in_window) == (
        CircuitState.CLOSED,
        0,
        0,
    )
    assert provider_call(name="flaky", call=Calls()) == "bars"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_in_separate_connections_share_one_budget():
    admitted, refused = [], []
    lock = threading.Lock()

    def caller() -> None:
        try:
            for _ in range(3):
                try:
                    provider_admit(name="budgeted")
                except BudgetExceededError:
                    outcome = refused
                else:
                    outcome = admitted
                with lock:
                    outcome.append(1)
        finally:
            connection.close()

    ProviderState.objects.create(provider="budgeted")
    threads = [threading.Thread(target=caller) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (len(admitted), len(refused)) == (LIMITS["calls_per_window"], 18 - 3)
    assert state("budgeted").calls_in_window == LIMITS["calls_per_window"]


def instrument(symbol: str = "DEMO", asset_class: str = AssetClass.EQUITY) -> Instrument:
    return Instrument(symbol=symbol, exchange="XDEM", currency="USD", asset_class=asset_class)


def test_synthetic_bars_are_the_same_for_the_same_seed_whatever_the_window():
    provider = SyntheticProvider(seed="s1")
    whole = provider.fetch_daily(
        instrument=instrument(), start=date(2024, 1, 1), end=date(2024, 3, 31)
    )
    part = SyntheticProvider(seed="s1").fetch_daily(
        instrument=instrument(), start=date(2024, 2, 1), end=date(2024, 2, 29)
    )

    assert part == [bar for bar in whole if date(2024, 2, 1) <= bar.date <= date(2024, 2, 29)]
    assert len(part) == 21  # weekdays of February 2024


def test_synthetic_bars_differ_by_seed_and_by_instrument():
    window = {"start": date(2024, 1, 1), "end": date(2024, 1, 31)}
    one = SyntheticProvider(seed="s1").fetch_daily(instrument=instrument("A"), **window)
    other_seed = SyntheticProvider(seed="s2").fetch_daily(instrument=instrument("A"), **window)
    other_symbol = SyntheticProvider(seed="s1").fetch_daily(instrument=instrument("B"), **window)

    assert [b.close for b in one] != [b.close for b in other_seed]
    assert [b.close for b in one] != [b.close for b in other_symbol]


def test_synthetic_crypto_trades_every_day_and_equities_on_weekdays():
    window = {"start": date(2024, 1, 1), "end": date(2024, 1, 14)}
    provider = SyntheticProvider(seed="s1")

    crypto = provider.fetch_daily(instrument=instrument("BTC", AssetClass.CRYPTO), **window)
    equity = provider.fetch_daily(instrument=instrument("EQ"), **window)

    assert len(crypto) == 14
    assert all(bar.date.weekday() < 5 for bar in equity)
    assert len(equity) == 10


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.text(max_size=12),
    symbol=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6),
    asset_class=st.sampled_from([AssetClass.EQUITY, AssetClass.CRYPTO, AssetClass.ETF]),
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2025, 12, 31)),
    days=st.integers(min_value=0, max_value=120),
)
def test_synthetic_bars_satisfy_every_price_bar_check_rule(seed, symbol, asset_class, start, days):
    bars = SyntheticProvider(seed=seed).fetch_daily(
        instrument=instrument(symbol, asset_class), start=start, end=start + timedelta(days=days)
    )

    for bar in bars:
        values = {name: getattr(bar, name) for name in bar.__dataclass_fields__}
        assert price_bar_violations(values) == [], bar
        assert all(isinstance(values[name], Decimal) for name in ("open", "high", "low", "close"))
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high


def test_an_unknown_provider_name_is_an_error_naming_the_known_ones():
    with pytest.raises(
        ApplicationError, match=r'No market-data provider is called "nope" \(known: .*synthetic'
    ):
        provider_get("nope")


class BrokenProvider(MarketDataProvider):
    name = "broken-test"

    def fetch_daily(self, *, instrument, start, end):
        raise ConnectionError("no route to host")


IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def shared_instruments(db) -> list[Instrument]:
    return [
        Instrument.objects.create(symbol="AAA", currency="USD"),
        Instrument.objects.create(symbol="BBB", currency="EUR"),
    ]


@pytest.mark.django_db
def test_refresh_prices_imports_synthetic_bars_through_the_price_import(
    shared_instruments, settings
):
    settings.PORTFOLIO_REFRESH_LOOKBACK_DAYS = 13
    job = job_create(user=None, job_type="refresh_prices", params={"end": "2024-01-14"})

    refresh_prices.call(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["created"] == 20  # two instruments, ten weekdays each
    assert job.result["failed"] == []
    assert PriceBar.objects.filter(instrument__symbol="AAA").count() == 10
    assert all(i.is_synthetic for i in Instrument.objects.all())
    for bar in PriceBar.objects.all():
        values = {name: getattr(bar, name) for name in ("open", "high", "low", "close")}
        assert bar.low <= min(values["open"], values["close"]) <= bar.high


@pytest.mark.django_db
def test_refresh_prices_again_starts_after_the_last_bar_and_adds_nothing_twice(
    shared_instruments, settings
):
    settings.PORTFOLIO_REFRESH_LOOKBACK_DAYS = 13
    first = job_create(user=None, job_type="refresh_prices", params={"end": "2024-01-14"})
    refresh_prices.call(job_id=first.pk)
    second = job_create(user=None, job_type="refresh_prices", params={"end": "2024-01-16"})

    refresh_prices.call(job_id=second.pk)

    second.refresh_from_db()
    assert second.result["created"] == 4  # Monday 15th and Tuesday 16th, two instruments
    assert second.result["unchanged"] == 0


@pytest.mark.django_db
def test_refresh_prices_stops_when_the_breaker_opens_and_says_what_it_skipped(
    shared_instruments, settings, monkeypatch
):
    # Registered for this test only: the registry is module state.
    monkeypatch.setitem(registry._providers, BrokenProvider.name, BrokenProvider())
    settings.PORTFOLIO_PROVIDERS = {"broken-test": {**LIMITS, "failure_threshold": 1}}
    Instrument.objects.create(symbol="CCC", currency="USD")
    job = job_create(
        user=None,
        job_type="refresh_prices",
        params={"provider": "broken-test", "end": "2024-01-14"},
    )

    refresh_prices.call(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert [f["instrument"] for f in job.result["failed"]] == ["AAA", "BBB"]
    assert "no route to host" in job.result["failed"][0]["error"]
    assert "paused after 1 failures" in job.result["failed"][1]["error"]
    assert job.result["skipped"] == ["CCC"]
    assert state("broken-test").circuit == CircuitState.OPEN
    assert not PriceBar.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [{"calls_per_window": 0}, {"cooldown_seconds": "300"}, {"calls_per_minute": 5}],
    ids=["zero", "text", "unknown-key"],
)
def test_a_bad_provider_setting_is_refused_naming_the_provider(settings, overrides):
    settings.PORTFOLIO_PROVIDERS = {"synthetic": overrides}

    with pytest.raises(ImproperlyConfigured, match=r"PORTFOLIO_PROVIDERS\['synthetic'\]"):
        app_settings.provider_limits("synthetic")


@pytest.mark.django_db
def test_a_scheduled_job_can_name_the_refresh_and_it_queues_one_job(
    settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    settings.PORTFOLIO_REFRESH_LOOKBACK_DAYS = 3
    Instrument.objects.create(symbol="AAA", currency="USD")
    call = scheduled_task_resolve(path="portfolio.tasks.refresh_prices_enqueue", kwargs={})

    with django_capture_on_commit_callbacks(execute=True):
        job_id = call()

    job = BackgroundJob.objects.get(pk=job_id)
    assert (job.job_type, job.status) == ("refresh_prices", JobStatus.SUCCEEDED)
    assert PriceBar.objects.filter(instrument__symbol="AAA").exists()
