"""System configuration: typed settings kept in the database, with their defaults in code.

Each setting is defined here once (key, type, bounds, default, help). Staff change a value in
the admin or through `/api/v1/admin/config`; the change is validated against its definition,
raises the configuration's version by one, lands in the model history (django-auditlog) and
in the activity log. A key without a stored value answers its default, which comes from the
Django setting of the same meaning, so a deployment's environment still decides the start.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class ConfigDefinition:
    key: str
    kind: type  # Decimal or int
    default: Callable[[], Any]
    help: str
    minimum: Any = None
    maximum: Any = None

    def parse(self, raw: Any) -> Any:
        """The typed value of `raw` (a JSON value or text), or ValueError with the reason."""
        if isinstance(raw, bool) or raw is None:
            raise ValueError(f"Must be {'a whole number' if self.kind is int else 'a number'}.")
        if self.kind is int:
            try:
                value = int(str(raw).strip())
            except ValueError as exc:
                raise ValueError("Must be a whole number.") from exc
        else:
            try:
                value = Decimal(str(raw).strip())
            except InvalidOperation as exc:
                raise ValueError("Must be a number.") from exc
            if not value.is_finite():
                raise ValueError("Must be a finite number.")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"Must be at least {self.minimum}.")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"Must be at most {self.maximum}.")
        return value

    def stored(self, value: Any) -> Any:
        """How the value is kept in JSON: Decimals as strings, so no digit is lost."""
        return str(value) if self.kind is Decimal else value


def _setting(name: str, fallback: Any) -> Callable[[], Any]:
    return lambda: getattr(settings, name, fallback)


DEFINITIONS: dict[str, ConfigDefinition] = {
    definition.key: definition
    for definition in (
        ConfigDefinition(
            key="trading.fee_rate",
            kind=Decimal,
            default=lambda: Decimal(str(getattr(settings, "BOTS_FEE_RATE", "0.001"))),
            help="Fee on each paper fill, a fraction of notional (0.001 is 0.1%).",
            minimum=Decimal(0),
            maximum=Decimal("0.1"),
        ),
        ConfigDefinition(
            key="trading.slippage_bps",
            kind=Decimal,
            default=lambda: Decimal(str(getattr(settings, "BOTS_SLIPPAGE_BPS", "5"))),
            help="How far a paper market order fills against the trader, in basis points.",
            minimum=Decimal(0),
            maximum=Decimal(1000),
        ),
        ConfigDefinition(
            key="trading.default_paper_balance",
            kind=Decimal,
            default=lambda: Decimal(str(getattr(settings, "BOTS_DEFAULT_PAPER_BALANCE", "10000"))),
            help="What a user's default paper account starts with, in its currency.",
            minimum=Decimal("0.01"),
            maximum=Decimal("1000000000"),
        ),
        ConfigDefinition(
            key="throttle.reads.per_user_hour",
            kind=int,
            default=lambda: 3000,
            help="API reads a signed-in user may make per hour (429 beyond, with Retry-After).",
            minimum=1,
            maximum=10_000_000,
        ),
        ConfigDefinition(
            key="throttle.reads.per_address_hour",
            kind=int,
            default=lambda: 6000,
            help="API reads one client address may make per hour, signed in or not.",
            minimum=1,
            maximum=10_000_000,
        ),
        ConfigDefinition(
            key="throttle.writes.per_user_hour",
            kind=int,
            default=lambda: 600,
            help="API writes a signed-in user may make per hour (429 beyond, with Retry-After).",
            minimum=1,
            maximum=10_000_000,
        ),
        ConfigDefinition(
            key="throttle.writes.per_address_hour",
            kind=int,
            default=lambda: 1200,
            help="API writes one client address may make per hour, signed in or not.",
            minimum=1,
            maximum=10_000_000,
        ),
        ConfigDefinition(
            key="throttle.imports.per_user_hour",
            kind=int,
            default=lambda: 30,
            help="API imports a signed-in user may make per hour (429 beyond, with Retry-After).",
            minimum=1,
            maximum=10_000_000,
        ),
        ConfigDefinition(
            key="throttle.imports.per_address_hour",
            kind=int,
            default=lambda: 60,
            help="API imports one client address may make per hour, signed in or not.",
            minimum=1,
            maximum=10_000_000,
        ),
        ConfigDefinition(
            key="throttle.orders.per_user_hour",
            kind=int,
            default=lambda: 600,
            help="API orders a signed-in user may make per hour (429 beyond, with Retry-After).",
            minimum=1,
            maximum=10_000_000,
        ),
        ConfigDefinition(
            key="throttle.orders.per_address_hour",
            kind=int,
            default=lambda: 1200,
            help="API orders one client address may make per hour, signed in or not.",
            minimum=1,
            maximum=10_000_000,
        ),
        ConfigDefinition(
            key="retention.activity_days",
            kind=int,
            default=_setting("ACTIVITY_RETENTION_DAYS", 90),
            help="Days the activity log keeps rows before prune-activity archives them.",
            minimum=1,
            maximum=36500,
        ),
        ConfigDefinition(
            key="retention.history_days",
            kind=int,
            default=_setting("HISTORY_RETENTION_DAYS", 365),
            help="Days the model history keeps entries before prune-history flushes them.",
            minimum=1,
            maximum=36500,
        ),
        ConfigDefinition(
            key="retention.finished_jobs_days",
            kind=int,
            default=lambda: 7,
            help="Days finished background jobs are kept.",
            minimum=1,
            maximum=3650,
        ),
        ConfigDefinition(
            key="retention.scheduler_runs_days",
            kind=int,
            default=lambda: 30,
            help="Days the scheduler's run log (executions) is kept.",
            minimum=1,
            maximum=3650,
        ),
        ConfigDefinition(
            key="retention.health_samples_days",
            kind=int,
            default=lambda: 30,
            help="Days the health samples (one every 5 minutes) are kept.",
            minimum=1,
            maximum=3650,
        ),
    )
}
