"""Providers by name: built-ins register here; deployments add theirs the same way."""

from portfolio.providers.base import MarketDataProvider
from trading_lab.exceptions import ApplicationError

_providers: dict[str, MarketDataProvider] = {}


def provider_register(provider: MarketDataProvider) -> MarketDataProvider:
    """Make `provider` available under its name (a second registration replaces the first)."""
    if not provider.name:
        raise ValueError("A market-data provider needs a name.")
    _providers[provider.name] = provider
    return provider


def provider_get(name: str) -> MarketDataProvider:
    """The provider called `name`; ApplicationError naming the known ones otherwise."""
    try:
        return _providers[name]
    except KeyError:
        known = ", ".join(sorted(_providers)) or "none"
        message = f'No market-data provider is called "{name}" (known: {known}).'
        raise ApplicationError(message, {"provider": [message]}) from None


def provider_names() -> list[str]:
    return sorted(_providers)
