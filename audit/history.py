"""Model history (django-auditlog): which models it covers and which fields it never records.

Every model of every project app is registered by discovery, so a model a later issue adds
gets history without anyone remembering to list it; leaving one out takes an entry in
`EXCLUDED_MODELS` with its reason. Secrets are left out of every log entry entirely (not
masked: even half a secret helps an attacker): each encrypted field is found by its type, and
plain-text secrets (hashes) by name.
"""

from pathlib import Path

from auditlog.registry import auditlog
from django.apps import AppConfig, apps
from django.conf import settings
from django.db import models
from encrypted_fields.fields import EncryptedFieldMixin

# Models of project apps that get no history, each with why.
EXCLUDED_MODELS: dict[str, str] = {
    # The activity log is itself an append-only record, chained by SHA-256; history of it
    # would duplicate every row, and the only change it ever sees (the user link cleared when
    # an account is deleted) must leave no trace of who the user was.
    "audit.ActivityLog": "an append-only log itself",
    # Rewritten on every activity row: the chain's bookkeeping, verified by verify_audit.
    "audit.ActivityChainHead": "bookkeeping of the activity chain, changes with every row",
    # One row per process, rewritten every few seconds: liveness, not a change anyone makes.
    "audit.Heartbeat": "liveness pings, rewritten every few seconds",
    # The scheduler's own record of each run (a log); staff edits are to ScheduledJob.
    "audit.SchedulerExecution": "a run log written by the scheduler",
    # A job's own columns (status, progress, times, error) are its history; the worker moves
    # them with conditional UPDATEs (so two workers never claim one job), which signals never
    # see, so a registration would record creation only and look complete when it is not.
    "audit.BackgroundJob": "its status columns are its record; updated by conditional UPDATEs",
    # A snapshot is a cached valuation of one day, rewritten in bulk from the changed day onward
    # on every ledger write (hundreds of rows for a backdated one); the change behind it is in
    # the transaction's own history, and verify_ledger proves the cache matches the ledger.
    "portfolio.PortfolioSnapshot": "a derived daily cache, rewritten in bulk from the ledger",
    # Call counters and breaker state, moved by locked conditional updates on every provider call.
    "portfolio.ProviderState": "call counters and breaker state, changed on every provider call",
    # Request counters, incremented by every API call.
    "audit.ApiUsage": "request counters, incremented by every API call",
    # A reading of health every few minutes: measurements written once, never changed.
    "audit.HealthSample": "health readings, written once every few minutes by a schedule",
    # A counter that rises with every configuration change; the entries have history.
    "audit.SystemConfigVersion": "a counter of configuration changes",
    # One row per scheduled tick, written once by the runner: the tick row is itself the log.
    "bots.BotTick": "a run log of bot ticks, one row per tick",
    # Sampled equity of a bot run: derived from its orders and prices.
    "bots.BotEquityPoint": "a derived equity curve sample",
    # The stored first answer of an idempotent request; the order it created has its own history.
    "bots.IdempotencyRecord": "a cached response, the order behind it has its own history",
}

# Plain-text secret fields, excluded by name wherever they occur. Encrypted fields need no
# entry here: they are found by their type.
SECRET_FIELD_NAMES = frozenset(
    {
        "password",  # the user's password hash
        "token_hash",  # a personal API token's SHA-256: enough to look the token up
        "session_key",
        "secret",
        "token",
        "token_secret",
        "api_key",
        "api_secret",
        "passphrase",
        "access_token",
        "refresh_token",
    }
)

# Fields that change on every use, not on any decision: recording them would bury real
# changes. Sign-ins and token use are in the activity log instead.
NOISE_FIELD_NAMES = frozenset({"updated_at", "last_login", "last_used_at"})

# Fields of project models left out of history, with why. The row keeps its history; these
# columns are derived output or bookkeeping rewritten by machines, not anyone's decision.
PROJECT_EXCLUDED_FIELDS: dict[str, frozenset[str]] = {
    # A finished backtest's results: written once by its job, and a year of minute bars makes
    # megabytes of orders; status, times and parameters keep their history.
    "bots.Backtest": frozenset({"metrics", "equity_curve", "orders", "deals"}),
    # Rewritten by every tick of a running bot; its orders, deals and ticks record what happened.
    "bots.Bot": frozenset({"state", "next_run_at", "last_tick_at"}),
}

# Third-party models whose history staff need, with the fields that must not be recorded.
# Both can be changed in the admin, where allauth's signals (and so the activity log) do not
# see the change: history is then the only trace of who removed a user's second factor or
# added an address that a password reset could be sent to.
THIRD_PARTY_MODELS: dict[str, frozenset[str]] = {
    # `data` holds the TOTP secret and the recovery-code seed (encrypted, still secret).
    "mfa.Authenticator": frozenset({"data"}),
    "account.EmailAddress": frozenset(),
}


def project_app_configs() -> list[AppConfig]:
    """The installed apps whose code is this project's (not an installed package)."""
    base_dir = Path(settings.BASE_DIR).resolve()
    return [config for config in apps.get_app_configs() if _is_project_path(config.path, base_dir)]


def _is_project_path(path: str, base_dir: Path) -> bool:
    resolved = Path(path).resolve()
    installed = {"site-packages", "dist-packages"}
    return resolved.is_relative_to(base_dir) and installed.isdisjoint(resolved.parts)


def history_models() -> list[type[models.Model]]:
    """Every model of the project's apps except the listed exclusions, plus THIRD_PARTY_MODELS."""
    found = [
        model
        for config in project_app_configs()
        for model in config.get_models()
        if model._meta.label not in EXCLUDED_MODELS
    ]
    found += [apps.get_model(label) for label in THIRD_PARTY_MODELS if _model_installed(label)]
    return found


def _model_installed(label: str) -> bool:
    try:
        apps.get_model(label)
    except LookupError:
        return False
    return True


def excluded_fields(model: type[models.Model]) -> list[str]:
    """The fields of `model` that history must not record: secrets, noise, listed exclusions."""
    label = model._meta.label
    extra = THIRD_PARTY_MODELS.get(label, frozenset()) | PROJECT_EXCLUDED_FIELDS.get(
        label, frozenset()
    )
    return sorted(
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedFieldMixin)
        or field.name in SECRET_FIELD_NAMES
        or field.name in NOISE_FIELD_NAMES
        or field.name in extra
    )


def _m2m_fields(model: type[models.Model]) -> set[str]:
    # Group and permission grants are privilege changes: record them too.
    return {field.name for field in model._meta.many_to_many}


def history_register() -> None:
    """Register every history model with auditlog; called once from AuditConfig.ready()."""
    for model in history_models():
        auditlog.register(
            model, exclude_fields=excluded_fields(model), m2m_fields=_m2m_fields(model)
        )
