"""Trading Lab settings, read from the environment (django-environ) and an optional `.env`.

Every setting read here is listed with its default in `.env.example`. With DEBUG off (production
mode) the secrets and hosts have no defaults: a missing one stops start-up with its name.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

# Development-only values: used only while DEBUG is on, never in production mode.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
_DEV_FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQta2V5LW5vdC1mb3ItcHJvZCE="

_missing = [
    name
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS")
    if not DEBUG and not env.str(name, default="")
]
if _missing:
    raise ImproperlyConfigured(
        "Production mode (DEBUG=False) needs these settings in the environment or .env: "
        + ", ".join(_missing)
    )

SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY)
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Fernet keys for encrypted fields, newest first; older keys stay only to read old rows
# until `manage.py reencrypt` has re-saved them (docs/encryption.md).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[_DEV_FIELD_ENCRYPTION_KEY])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# How many reverse proxies in front of the app append to X-Forwarded-For. 0 means the client
# address is REMOTE_ADDR; the header is never trusted beyond this count.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

INSTALLED_APPS = [
    "trading_lab.admin_site.AdminConfig",  # django.contrib.admin with the operations page
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.mfa",
    "allauth.usersessions",
    "auditlog",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "accounts",
    "audit",
    "portfolio",
    "bots",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "trading_lab.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "trading_lab.middleware.NeverCacheMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "trading_lab.middleware.AuditContextMiddleware",
]

ROOT_URLCONF = "trading_lab.urls"
WSGI_APPLICATION = "trading_lab.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "accounts.context_processors.ui",
            ],
        },
    },
]

# Database: SQLite under var/ by default; DATABASE_URL selects PostgreSQL (psycopg 3).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so two writers queue up
    # instead of one failing halfway; WAL lets readers run beside the writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def cache_config(url: str) -> dict:
    """A cache URL's settings. django-environ lower-cases the query of a Django RedisCache URL
    (its client options are lower case), so `?key_prefix=` and `?timeout=` land where Django
    never reads them; they are moved to their upper-case names here."""
    config = environ.Env.cache_url_config(url)
    for option in ("TIMEOUT", "KEY_PREFIX", "VERSION", "KEY_FUNCTION"):
        if option.lower() in config:
            config[option] = config.pop(option.lower())
    return config


CACHES = {"default": cache_config(env.str("CACHE_URL", default="dbcache://django_cache"))}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=24 * 60 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# django-allauth: email is the login; social providers only when configured.
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
# Our subclasses record a refused attempt in the activity log (accounts/forms.py).
ACCOUNT_FORMS = {"change_password": "accounts.forms.ChangePasswordForm"}
MFA_FORMS = {"activate_totp": "accounts.forms.ActivateTOTPForm"}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_REAUTHENTICATION_TIMEOUT = env.int("ACCOUNT_REAUTHENTICATION_TIMEOUT", default=300)
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "confirm_email": "1/3m/key",
    "reauthenticate": "10/m/user",
}
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Trading Lab"
USERSESSIONS_TRACK_ACTIVITY = True
USERSESSIONS_ADAPTER = "accounts.adapters.UserSessionsAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS = {}
_SOCIAL_PROVIDERS = {
    "google": {"SCOPE": ["profile", "email"], "AUTH_PARAMS": {"access_type": "online"}},
    # Microsoft accounts can carry addresses nobody verified: never sign in by email match.
    "microsoft": {"EMAIL_AUTHENTICATION": False, "VERIFIED_EMAIL": False},
    "yahoo": {},
}
for _provider, _extra in _SOCIAL_PROVIDERS.items():
    _client_id = env.str(f"{_provider.upper()}_CLIENT_ID", default="")
    _secret = env.str(f"{_provider.upper()}_CLIENT_SECRET", default="")
    if _client_id and _secret:
        INSTALLED_APPS.append(f"allauth.socialaccount.providers.{_provider}")
        SOCIALACCOUNT_PROVIDERS[_provider] = {
            "APPS": [{"client_id": _client_id, "secret": _secret}],
            "OAUTH_PKCE_ENABLED": True,
            **_extra,
        }

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Trading Lab <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "trading_lab" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# Development serves from the finders, so a missing STATIC_ROOT is expected, not a warning.
WHITENOISE_AUTOREFRESH = DEBUG

# Django REST framework: session auth for pages, Bearer personal tokens for clients.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "trading_lab.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "trading_lab.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "trading_lab.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        # The global user or anon rate and the category rates (reads, writes, imports,
        # orders; per user and per address, in the system configuration), in one pass.
        "trading_lab.api.throttling.ApiRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER", default="1000/hour"),
        "anon": env.str("API_THROTTLE_ANON", default="100/hour"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trading Lab API",
    "DESCRIPTION": "JSON API v1 of Trading Lab: portfolios, paper trading, bots and backtests.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # One name per shared choice set, so generated clients get one enum type for each.
    "ENUM_NAME_OVERRIDES": {
        "RiskToleranceEnum": "accounts.models.RiskTolerance",
        "TradingModeEnum": "accounts.models.TradingMode",
        "ActivityActionEnum": "audit.models.ActivityAction",
        "ActivityStatusEnum": "audit.models.ActivityStatus",
        "JobStatusEnum": "audit.models.JobStatus",
        "DividendKindEnum": "portfolio.models.DividendKind",
        "NotificationKindEnum": "portfolio.models.NotificationKind",
        "OrderStatusEnum": "bots.models.OrderStatus",
        "OrderTypeEnum": "bots.models.OrderType",
        "OrderSideEnum": "bots.models.OrderSide",
        "BotStatusEnum": "bots.models.BotStatus",
        "DealStatusEnum": "bots.models.DealStatus",
        "BotTickStatusEnum": "bots.models.TickStatus",
        # Orders have a `type` too: the transaction's gets its own name.
        "TransactionTypeEnum": "portfolio.models.TransactionType",
        "CredentialStatusEnum": "accounts.models.CredentialStatus",
    },
    # Swagger UI must not send the schema to swagger.io's online validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# Background work: django-tasks with the database backend (`manage.py db_worker`).
TASKS = {
    "default": {
        "BACKEND": env.str("TASK_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
SCHEDULER_POLL_SECONDS = env.float("SCHEDULER_POLL_SECONDS", default=5.0)
HEARTBEAT_STALE_AFTER = timedelta(seconds=env.int("HEARTBEAT_STALE_SECONDS", default=120))
# A running job or scheduled run that has reported nothing for this long lost its worker (killed,
# machine gone): `reclaim-stale-work` marks it failed, and a late report from it stops it.
WORK_STALE_AFTER = timedelta(seconds=env.int("WORK_STALE_SECONDS", default=900))

# django-auditlog: secrets never reach a log entry (registrations in audit/history.py).
AUDITLOG_DISABLE_REMOTE_ADDR = False
AUDITLOG_STORE_JSON_CHANGES = True
ACTIVITY_RETENTION_DAYS = env.int("ACTIVITY_RETENTION_DAYS", default=90)
# Days the model history (django-auditlog) keeps entries; `prune-history` flushes older ones.
HISTORY_RETENTION_DAYS = env.int("HISTORY_RETENTION_DAYS", default=365)
# Backups (`manage.py backup`, daily): where they go and how many daily and weekly copies stay.
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(VAR_DIR / "backups")))
BACKUP_KEEP_DAILY = env.int("BACKUP_KEEP_DAILY", default=7)
BACKUP_KEEP_WEEKLY = env.int("BACKUP_KEEP_WEEKLY", default=4)
# Where `prune_activity` writes the gzip JSON-lines archives of the rows it removes.
ACTIVITY_ARCHIVE_DIR = Path(env.str("ACTIVITY_ARCHIVE_DIR", default=str(VAR_DIR / "archive")))

# Annual risk-free rate for the Sharpe ratio (SPEC §4), a decimal fraction: "0.02" is 2 %.
PORTFOLIO_RISK_FREE_RATE = env.str("PORTFOLIO_RISK_FREE_RATE", default="0")

# Security headers. Content Security Policy without inline scripts (django-csp 4).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe health over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT else None
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Plain lines in development, JSON lines in production (one object a line, for log shippers);
# every line carries the request id (trading_lab/log.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "trading_lab.log.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
