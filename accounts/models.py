"""Users, profile and preferences, API tokens, broker credentials (SPEC §3 accounts)."""

import hashlib
import uuid
import zoneinfo
from decimal import Decimal

import pycountry
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from trading_lab.decimals import MONEY
from trading_lab.encryption import EncryptedTextField
from trading_lab.models import OwnedModel, OwnedQuerySet


def validate_country(value: str) -> None:
    if value and pycountry.countries.get(alpha_2=value) is None:
        raise ValidationError(f"“{value}” is not an ISO 3166-1 alpha-2 country code.")


def validate_currency(value: str) -> None:
    if pycountry.currencies.get(alpha_3=value) is None:
        raise ValidationError(f"“{value}” is not an ISO 4217 currency code.")


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not an IANA time zone.")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str) -> "User":
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with their email address (unique, case-insensitive)."""

    email = models.EmailField("email address", max_length=254, unique=True)
    # The pseudonymous id audit rows carry; it outlives the account (SPEC §3 data rights).
    audit_ref = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    @property
    def display_name(self) -> str:
        profile = getattr(self, "profile", None)
        return (profile.display_name if profile else "") or self.email


class RiskTolerance(models.TextChoices):
    CONSERVATIVE = "conservative", "Conservative"
    MODERATE = "moderate", "Moderate"
    AGGRESSIVE = "aggressive", "Aggressive"


class InvestmentHorizon(models.TextChoices):
    SHORT = "short", "Short"
    MEDIUM = "medium", "Medium"
    LONG = "long", "Long"


class TradingStyle(models.TextChoices):
    INTRADAY = "intraday", "Intraday"
    SWING = "swing", "Swing"
    POSITIONAL = "positional", "Positional"
    LONG_TERM = "long_term", "Long term"


class Profile(OwnedModel):
    """Who the trader is and how they invest; one per user, created with the user."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, validators=[validate_country])
    base_currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    risk_tolerance = models.CharField(
        max_length=16, choices=RiskTolerance.choices, default=RiskTolerance.MODERATE
    )
    investment_horizon = models.CharField(
        max_length=16, choices=InvestmentHorizon.choices, default=InvestmentHorizon.MEDIUM
    )
    trading_style = models.CharField(
        max_length=16, choices=TradingStyle.choices, default=TradingStyle.SWING
    )
    initial_capital = models.DecimalField(
        **MONEY, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(initial_capital__gte=0),
                name="accounts_profile_initial_capital_gte_0",
            ),
            models.CheckConstraint(
                condition=models.Q(risk_tolerance__in=RiskTolerance.values),
                name="accounts_profile_risk_tolerance_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(investment_horizon__in=InvestmentHorizon.values),
                name="accounts_profile_investment_horizon_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(trading_style__in=TradingStyle.values),
                name="accounts_profile_trading_style_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class Theme(models.TextChoices):
    LIGHT = "light", "Light"
    DARK = "dark", "Dark"
    SYSTEM = "system", "System"


class Universe(models.TextChoices):
    NIFTY50 = "NIFTY50", "NIFTY 50"
    NIFTY100 = "NIFTY100", "NIFTY 100"
    NIFTY500 = "NIFTY500", "NIFTY 500"
    SP500 = "SP500", "S&P 500"
    NASDAQ100 = "NASDAQ100", "NASDAQ 100"


class MarketRegion(models.TextChoices):
    INDIA = "india", "India"
    US = "us", "US"
    GLOBAL = "global", "Global"


class TradingMode(models.TextChoices):
    INTRADAY = "intraday", "Intraday"
    SWING = "swing", "Swing"
    OPTIONS = "options", "Options"
    FUTURES = "futures", "Futures"


def default_trading_modes() -> dict[str, bool]:
    return dict.fromkeys(TradingMode.values, False)


def validate_trading_modes(value: object) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Trading modes must be an object of mode: true/false.")
    unknown = sorted(set(value) - set(TradingMode.values))
    if unknown:
        raise ValidationError(f"Unknown trading mode(s): {', '.join(unknown)}.")
    if not all(isinstance(flag, bool) for flag in value.values()):
        raise ValidationError("Each trading mode must be true or false.")


def validate_auxiliary_modes(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(mode, str) for mode in value):
        raise ValidationError("Auxiliary modes must be a list of mode names.")
    unknown = sorted(set(value) - set(TradingMode.values))
    if unknown:
        raise ValidationError(f"Unknown trading mode(s): {', '.join(unknown)}.")
    if len(set(value)) != len(value):
        raise ValidationError("Auxiliary modes must not repeat.")


class Preferences(OwnedModel):
    """How the app behaves for a user: theme, notifications, universe, trading modes."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="preferences")
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.SYSTEM)
    notify_alert_triggered = models.BooleanField(default=True)
    notify_bot_order_filled = models.BooleanField(default=True)
    notify_weekly_summary = models.BooleanField(default=False)
    disclosure_accepted_at = models.DateTimeField(null=True, blank=True)
    universe = models.CharField(max_length=16, choices=Universe.choices, default=Universe.SP500)
    market_region = models.CharField(
        max_length=8, choices=MarketRegion.choices, default=MarketRegion.US
    )
    risk_profile = models.CharField(
        max_length=16, choices=RiskTolerance.choices, default=RiskTolerance.MODERATE
    )
    trading_modes = models.JSONField(
        default=default_trading_modes, validators=[validate_trading_modes]
    )
    primary_mode = models.CharField(max_length=16, choices=TradingMode.choices, blank=True)
    auxiliary_modes = models.JSONField(
        default=list, blank=True, validators=[validate_auxiliary_modes]
    )

    class Meta:
        verbose_name_plural = "preferences"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(theme__in=Theme.values), name="accounts_preferences_theme_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(universe__in=Universe.values),
                name="accounts_preferences_universe_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(market_region__in=MarketRegion.values),
                name="accounts_preferences_market_region_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(risk_profile__in=RiskTolerance.values),
                name="accounts_preferences_risk_profile_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(primary_mode__in=["", *TradingMode.values]),
                name="accounts_preferences_primary_mode_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Preferences of {self.user}"

    def clean(self) -> None:
        super().clean()
        modes = self.trading_modes if isinstance(self.trading_modes, dict) else {}
        if self.primary_mode and not modes.get(self.primary_mode):
            raise ValidationError(
                {"primary_mode": "The primary mode must be one of the enabled trading modes."}
            )
        if self.primary_mode and self.primary_mode in (self.auxiliary_modes or []):
            raise ValidationError(
                {"auxiliary_modes": "The primary mode cannot also be an auxiliary mode."}
            )


class PersonalApiTokenQuerySet(OwnedQuerySet):
    def usable(self) -> "PersonalApiTokenQuerySet":
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class PersonalApiToken(OwnedModel):
    """A Bearer token for client programs. Only its SHA-256 hash is stored; shown once."""

    PREFIX = "tl_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # The first characters of the token, to tell tokens apart in lists without the secret.
    token_prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = PersonalApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"], name="accounts_token_user_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    @staticmethod
    def hash_token(raw: str) -> str:
        # Tokens are 256-bit random values, so a fast hash is enough: nothing to brute-force.
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )


class Broker(models.TextChoices):
    ZERODHA_KITE = "zerodha_kite", "Zerodha Kite"
    ICICI_BREEZE = "icici_breeze", "ICICI Breeze"
    BINANCE = "binance", "Binance"
    COINBASE = "coinbase", "Coinbase"
    KRAKEN = "kraken", "Kraken"
    PAPER = "paper", "Paper trading"


class CredentialStatus(models.TextChoices):
    DISCONNECTED = "disconnected", "Disconnected"
    CONNECTED = "connected", "Connected"
    EXPIRED = "expired", "Expired"
    ERROR = "error", "Error"


MASK = "••••••••"
# Below this length the last four characters would give away too much of the secret.
MASK_MIN_LENGTH = 12


def masked(value: str | None) -> str:
    """A secret as it may be shown: bullets and the last 4 characters, or "" when unset."""
    if not value:
        return ""
    if len(value) < MASK_MIN_LENGTH:
        return MASK
    return MASK + value[-4:]


class BrokerCredential(OwnedModel):
    """A user's keys for one broker account; the secrets are Fernet tokens in the database.

    The encrypted fields are `editable=False` so no ModelForm (the admin's included) ever gets
    a field for them: services assign them, pages and the admin show only the masked values.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="broker_credentials")
    broker = models.CharField(max_length=16, choices=Broker.choices)
    label = models.CharField(max_length=100)
    api_key = EncryptedTextField(null=True, blank=True, editable=False)
    api_secret = EncryptedTextField(null=True, blank=True, editable=False)
    passphrase = EncryptedTextField(null=True, blank=True, editable=False)
    status = models.CharField(
        max_length=16, choices=CredentialStatus.choices, default=CredentialStatus.DISCONNECTED
    )
    last_connected_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["broker", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "broker", "label"], name="accounts_credential_user_broker_label"
            ),
            models.CheckConstraint(
                condition=models.Q(broker__in=Broker.values),
                name="accounts_credential_broker_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=CredentialStatus.values),
                name="accounts_credential_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_broker_display()}: {self.label}"

    @property
    def api_key_masked(self) -> str:
        return masked(self.api_key)

    @property
    def api_secret_masked(self) -> str:
        return masked(self.api_secret)

    @property
    def passphrase_masked(self) -> str:
        return masked(self.passphrase)


class BrokerSession(OwnedModel):
    """The tokens one broker connect produced; at most one session per credential is active."""

    owner_path = "credential__user"

    credential = models.ForeignKey(
        BrokerCredential, on_delete=models.CASCADE, related_name="sessions"
    )
    access_token = EncryptedTextField(null=True, blank=True, editable=False)
    refresh_token = EncryptedTextField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["credential"],
                condition=models.Q(active=True),
                name="accounts_brokersession_one_active",
            ),
        ]

    def __str__(self) -> str:
        state = "active" if self.active else "inactive"
        return f"Session of {self.credential} ({state})"

    @property
    def access_token_masked(self) -> str:
        return masked(self.access_token)

    @property
    def refresh_token_masked(self) -> str:
        return masked(self.refresh_token)


INSIGHT_ID_MAX_LENGTH = 100
INSIGHT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class DismissedInsight(OwnedModel):
    """An insight card the user closed; it stays hidden until they bring it back."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="dismissed_insights")
    insight_id = models.CharField(
        max_length=INSIGHT_ID_MAX_LENGTH,
        validators=[
            RegexValidator(
                INSIGHT_ID_PATTERN,
                "An insight id is letters, digits, “_”, “.”, “:” and “-”, starting with a "
                "letter or digit.",
            )
        ],
    )
    dismissed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-dismissed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "insight_id"], name="accounts_dismissedinsight_user_insight"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.insight_id} dismissed by {self.user}"
