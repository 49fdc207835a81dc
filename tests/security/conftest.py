"""The security gate's fixtures: the app in production mode, and browsers signed in by form.

Settings load once per process, so everything about production mode (DEBUG=False) is seen in a
fresh Python process with a complete production environment: `production` runs one probe
script there (migrate, collectstatic into a scratch folder, then a request of every kind of
answer through the test client) and hands back what it saw as JSON.
"""

import json
import secrets
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.test import Client
from django.urls import reverse

BASE_DIR = Path(settings.BASE_DIR)


def production_env(folder: Path, **extra: str) -> dict[str, str]:
    """A complete, valid production configuration with fresh secrets and its own database.

    Every variable a developer's `.env` could otherwise supply is set here (an empty value
    counts as missing), so the outcome does not depend on the machine.
    """
    return {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "False",
        "DJANGO_SETTINGS_MODULE": "trading_lab.settings",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "tradinglab.example.com,testserver",
        "EMAIL_URL": "smtp+tls://mailer:mail-password@smtp.example.com:587",
        "DATABASE_URL": f"sqlite:///{folder / 'production.sqlite3'}",
        "CACHE_URL": "locmemcache://",
        "TRUSTED_PROXY_COUNT": "0",
        "GOOGLE_CLIENT_ID": "",
        "GOOGLE_CLIENT_SECRET": "",
        "MICROSOFT_CLIENT_ID": "",
        "MICROSOFT_CLIENT_SECRET": "",
        "YAHOO_CLIENT_ID": "",
        "YAHOO_CLIENT_SECRET": "",
        **extra,
    }


def run_python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run the project's Python in the repository with exactly `env`."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


PASSWORD = "Production-Probe-Password-7"

# Runs in the production-mode process. Prints one JSON object on its last line.
PROBE_SCRIPT = """
import base64
import json
import sys

from django.conf import settings

# Collected files go to a scratch folder, not the repository's staticfiles/.
settings.STATIC_ROOT = sys.argv[1]
PASSWORD = sys.argv[2]

import django

django.setup()

from django.contrib.auth import get_user_model
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
call_command("collectstatic", "--noinput", verbosity=0)
User = get_user_model()
trader = User.objects.create_user("trader@example.com", PASSWORD)
staff = User.objects.create_superuser("staff@example.com", PASSWORD)

anonymous = Client()
signed_in = Client()
signed_in.force_login(trader)
staff_client = Client()
staff_client.force_login(staff)
strict_csrf = Client(enforce_csrf_checks=True)
pair = base64.b64encode(f"trader@example.com:{PASSWORD}".encode()).decode()
basic = f"Basic {pair}"

answers = {
    "page": signed_in.get("/", secure=True),
    "sign-in page": anonymous.get("/accounts/login/", secure=True),
    "MFA page": signed_in.get("/accounts/2fa/", secure=True),
    "API JSON": signed_in.get("/api/v1/profile", secure=True),
    "API 401": anonymous.get("/api/v1/profile", secure=True),
    "API 401 for Basic auth": anonymous.get(
        "/api/v1/profile", secure=True, HTTP_AUTHORIZATION=basic
    ),
    "API 403": signed_in.get("/api/v1/admin/config", secure=True),
    "API 404": signed_in.get("/api/v1/no-such-route", secure=True),
    "page 404": signed_in.get("/no-such-page/", secure=True),
    "page 403 (CSRF)": strict_csrf.post(
        "/accounts/login/", {"login": "trader@example.com", "password": PASSWORD}, secure=True
    ),
    "admin": staff_client.get("/admin/", secure=True),
    "admin, signed out": anonymous.get("/admin/", secure=True),
    "admin, not staff": signed_in.get("/admin/", secure=True),
    "static": anonymous.get(staticfiles_storage.url("app/app.css"), secure=True),
    "healthz": anonymous.get("/healthz", secure=True),
    "API docs": signed_in.get("/api/docs/", secure=True),
    "API schema": signed_in.get("/api/schema/", secure=True),
}
signing_in = Client()
sign_in = signing_in.post(
    "/accounts/login/", {"login": "trader@example.com", "password": PASSWORD}, secure=True
)


def seen(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return {
        "status": response.status_code,
        "headers": {name.lower(): value for name, value in response.headers.items()},
        "body": body.decode(errors="replace")[:20000],
    }


print(json.dumps({
    "answers": {kind: seen(response) for kind, response in answers.items()},
    "plain_page": seen(anonymous.get("/accounts/login/")),
    "plain_healthz": seen(anonymous.get("/healthz")),
    "sign_in": seen(sign_in),
    "cookies": {
        name: {key: str(morsel[key]) for key in ("secure", "httponly", "samesite")}
        for name, morsel in signing_in.cookies.items()
    },
    "settings": {
        "DEBUG": settings.DEBUG,
        "INSTALLED_APPS": list(settings.INSTALLED_APPS),
        "MIDDLEWARE": list(settings.MIDDLEWARE),
        "AUTHENTICATION_CLASSES": settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"],
        "RENDERER_CLASSES": settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"],
        "SOCIALACCOUNT_PROVIDERS": sorted(settings.SOCIALACCOUNT_PROVIDERS),
        "SESSION_COOKIE_AGE": settings.SESSION_COOKIE_AGE,
    },
}))
"""


@pytest.fixture(scope="session")
def production(tmp_path_factory) -> dict[str, Any]:
    """What the app answered, in production mode, to one request of every kind."""
    folder = tmp_path_factory.mktemp("production")
    result = run_python(
        production_env(folder), "-c", PROBE_SCRIPT, str(folder / "static"), PASSWORD
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def sign_in_by_form():
    """A separate browser signed in through allauth's form (which opens a user session)."""

    def sign_in(user, password: str, user_agent: str = "Browser/1.0") -> Client:
        browser = Client(HTTP_USER_AGENT=user_agent)
        response = browser.post(
            reverse("account_login"), {"login": user.email, "password": password}
        )
        assert response.status_code == HTTPStatus.FOUND, response.content
        return browser

    return sign_in


@pytest.fixture
def api_rates(monkeypatch):
    """Lower the global API rates for one test (DRF reads them once, at import)."""
    from trading_lab.api import throttling

    def set_rates(*, user: str = "1000/min", anon: str = "1000/min") -> None:
        rates = {"user": user, "anon": anon}
        monkeypatch.setattr(throttling.ApiRateThrottle, "THROTTLE_RATES", rates)

    return set_rates
