"""Settings of the portfolio app, read lazily so tests and deployments can override them.

`PORTFOLIO_PROVIDERS` maps a provider name to overrides of `PROVIDER_DEFAULTS`, e.g.
`{"synthetic": {"calls_per_window": 10000}}`.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PROVIDER_DEFAULTS: dict[str, Any] = {
    # Call budget: at most this many calls in each window, shared by every process.
    "calls_per_window": 300,
    "window_seconds": 60,
    # Circuit breaker: open after this many consecutive failures, try again after the cool-down.
    "failure_threshold": 5,
    "cooldown_seconds": 300,
}


class AppSettings:
    @property
    def default_provider(self) -> str:
        return getattr(settings, "PORTFOLIO_DEFAULT_PROVIDER", "synthetic")

    @property
    def synthetic_seed(self) -> str:
        """Seed of the synthetic random walk: the same seed gives the same prices everywhere."""
        return str(getattr(settings, "PORTFOLIO_SYNTHETIC_SEED", "trading-lab"))

    @property
    def refresh_lookback_days(self) -> int:
        """How far back a refresh starts for an instrument that has no bars yet."""
        return int(getattr(settings, "PORTFOLIO_REFRESH_LOOKBACK_DAYS", 365))

    @property
    def import_background_rows(self) -> int:
        """Transaction files with more rows than this are imported by a background job."""
        return int(getattr(settings, "PORTFOLIO_IMPORT_BACKGROUND_ROWS", 2000))

    def provider_limits(self, name: str) -> dict[str, int]:
        overrides = getattr(settings, "PORTFOLIO_PROVIDERS", {}).get(name, {})
        unknown = set(overrides) - set(PROVIDER_DEFAULTS)
        limits = {key: overrides.get(key, default) for key, default in PROVIDER_DEFAULTS.items()}
        bad = sorted(key for key, value in limits.items() if type(value) is not int or value < 1)
        if unknown or bad:
            raise ImproperlyConfigured(
                f"PORTFOLIO_PROVIDERS[{name!r}]: unknown keys {sorted(unknown)}, "
                f"not a whole number of at least 1: {bad}."
            )
        return limits


app_settings = AppSettings()
