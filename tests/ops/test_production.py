"""Production mode (DEBUG=False), each case in a fresh process: settings load once per process.

Every variable the settings would otherwise take from a developer's `.env` is set explicitly
(an empty value counts as missing), so the outcome does not depend on the machine.
"""

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

from trading_lab import settings as project_settings

BASE_DIR = Path(settings.BASE_DIR)
REQUIRED = ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS")


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    """A complete, valid production configuration with fresh secrets."""
    return {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "tradinglab.example.com,testserver",
        "EMAIL_URL": "smtp+tls://mailer:mail-password@smtp.example.com:587",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
    }


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_without_a_single_warning(production_env):
    result = manage(production_env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr + result.stdout


def _refusal(result: subprocess.CompletedProcess) -> str:
    """The one line a refused start-up prints first; then a hint, and no traceback."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("ImproperlyConfigured: Production mode (DEBUG=False) needs"), lines
    assert lines[1:] == [
        "For development, set DEBUG=true (the Makefile does); for production, see .env.example "
        "and docs/deploy.md."
    ]
    return lines[0]


@pytest.mark.parametrize("missing", REQUIRED)
def test_start_up_without_a_required_setting_fails_naming_it(production_env, missing):
    production_env[missing] = ""

    line = _refusal(manage(production_env, "check"))

    assert [name for name in REQUIRED if name in line] == [missing]


@pytest.mark.parametrize("command", [("check",), ("makemigrations", "--check"), ("migrate",)])
def test_start_up_with_all_required_settings_missing_names_all_three(production_env, command):
    for name in REQUIRED:
        del production_env[name]

    line = _refusal(manage(production_env, *command))

    assert all(name in line for name in REQUIRED), line


def test_a_settings_module_given_on_the_command_line_is_loaded_by_django(production_env):
    production_env["SECRET_KEY"] = ""

    result = manage(production_env, "check", "--settings", "trading_lab.settings")

    # Django's own handling: its traceback, ending in the same refusal.
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    assert "SECRET_KEY" in last_line


@pytest.mark.parametrize(
    ("variable", "value", "check_id"),
    [
        ("FIELD_ENCRYPTION_KEYS", "not-a-fernet-key", "accounts.E002"),
        ("FIELD_ENCRYPTION_KEYS", project_settings._DEV_FIELD_ENCRYPTION_KEY, "trading_lab.E002"),
        ("SECRET_KEY", project_settings._DEV_SECRET_KEY, "trading_lab.E001"),
        ("EMAIL_URL", "consolemail://", "trading_lab.W001"),
    ],
)
def test_check_deploy_refuses_values_unfit_for_production(
    production_env, variable, value, check_id
):
    production_env[variable] = value

    result = manage(production_env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert check_id in result.stderr
    if variable != "EMAIL_URL":
        assert value not in result.stderr  # a key, even a wrong one, is never printed


HEADERS_SCRIPT = """
import json
import django
django.setup()
from django.core.management import call_command
from django.test import Client
# The API's throttles read their rates from the system configuration, which lives in the database.
call_command("migrate", verbosity=0)
client = Client()
secure = client.get("/api/schema/", secure=True)
plain = client.get("/api/schema/")
print(json.dumps({
    "headers": dict(secure.headers),
    "plain_status": plain.status_code,
    "plain_location": plain.headers.get("Location", ""),
}))
"""


def test_production_responses_carry_the_security_headers(production_env):
    production_env["DJANGO_SETTINGS_MODULE"] = "trading_lab.settings"
    # The API's throttle counts in the cache; an in-memory one needs no migrated database.
    production_env["CACHE_URL"] = "locmemcache://"

    result = subprocess.run(
        [sys.executable, "-c", HEADERS_SCRIPT],
        cwd=BASE_DIR,
        env=production_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    headers = {name.lower(): value for name, value in seen["headers"].items()}
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in headers["content-security-policy"].split(";")
        if directive.strip()
    )
    assert policy["script-src"] == "'self'"
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert seen["plain_status"] == 301
    assert seen["plain_location"].startswith("https://")


def test_a_redis_cache_urls_key_prefix_and_timeout_reach_django():
    # django-environ leaves them lower case for Django's RedisCache, where Django ignores them.
    from trading_lab.settings import cache_config

    config = cache_config("redis://127.0.0.1:6379/2?key_prefix=web&timeout=60")

    assert config["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert config["LOCATION"] == "redis://127.0.0.1:6379/2"
    assert config["KEY_PREFIX"] == "web"
    assert config["TIMEOUT"] == 60
    assert "key_prefix" not in config
    assert "timeout" not in config
