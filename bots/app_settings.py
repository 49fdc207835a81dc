"""Settings of the bots app, read lazily so tests and deployments can override them.

Trading defaults live in the system configuration (audit/config.py), which staff change at run
time; their defaults come from the `BOTS_*` Django settings.
"""

from decimal import Decimal

from django.conf import settings

from audit.services.config import config_get, config_get_many
from bots.engine import ExecutionCosts


class AppSettings:
    @property
    def default_paper_balance(self) -> Decimal:
        """What a user's default paper account starts with (SPEC: 10,000 USD)."""
        return config_get("trading.default_paper_balance")

    @property
    def default_paper_currency(self) -> str:
        return str(getattr(settings, "BOTS_DEFAULT_PAPER_CURRENCY", "USD")).upper()

    @property
    def fee_rate(self) -> Decimal:
        """Fee on each paper fill, a fraction of notional (0.001 = 0.1%)."""
        return config_get("trading.fee_rate")

    @property
    def slippage_bps(self) -> Decimal:
        """How far a paper market order fills against the trader, in basis points."""
        return config_get("trading.slippage_bps")

    def execution_costs(self) -> ExecutionCosts:
        """What a paper fill costs (fee rate, slippage), both settings read in one query."""
        values = config_get_many(["trading.fee_rate", "trading.slippage_bps"])
        return ExecutionCosts(
            fee_rate=values["trading.fee_rate"], slippage_bps=values["trading.slippage_bps"]
        )

    def interval_seconds(self, interval: str) -> int:
        """The tick length of a bot interval; `BOTS_INTERVAL_SECONDS` may shorten it (tests)."""
        from bots.models import INTERVAL_SECONDS

        overrides = getattr(settings, "BOTS_INTERVAL_SECONDS", None) or {}
        return int(overrides.get(interval, INTERVAL_SECONDS[interval]))


app_settings = AppSettings()
