"""Market-data providers behind one interface, each call through a budget and a breaker."""

from portfolio.providers.base import (
    Bar,
    MarketDataProvider,
    ProviderError,
    ProviderUnavailableError,
)
from portfolio.providers.guard import (
    BudgetExceededError,
    CircuitOpenError,
    provider_call,
    provider_state_reset,
)
from portfolio.providers.registry import provider_get, provider_names, provider_register
from portfolio.providers.synthetic import SyntheticProvider

provider_register(SyntheticProvider())

__all__ = [
    "Bar",
    "BudgetExceededError",
    "CircuitOpenError",
    "MarketDataProvider",
    "ProviderError",
    "ProviderUnavailableError",
    "SyntheticProvider",
    "provider_call",
    "provider_get",
    "provider_names",
    "provider_register",
    "provider_state_reset",
]
