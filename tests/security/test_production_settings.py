"""Production settings: no debug, no Basic auth, no dummy social sign-in, the admin and the
API docs as meant. Production-mode facts come from a fresh process (`production` fixture and
`manage.py check --deploy`); what the settings module alone decides is also checked in-process.
"""

import base64
import secrets
from http import HTTPStatus

import pytest
from django.urls import reverse

from tests.security.conftest import production_env, run_python
from trading_lab.checks import check_social_providers

DEBUG_APPS = ("debug_toolbar", "silk", "django_browser_reload", "nplusone")


def test_production_mode_runs_without_debug(production):
    assert production["settings"]["DEBUG"] is False


def test_no_debug_tool_is_installed_in_production(production):
    apps, middleware = (
        production["settings"]["INSTALLED_APPS"],
        production["settings"]["MIDDLEWARE"],
    )

    assert not [app for app in apps if app.split(".")[0] in DEBUG_APPS]
    assert not [entry for entry in middleware if "debug" in entry.lower()]


def test_the_api_takes_bearer_tokens_and_sessions_only_and_answers_json_only(production):
    assert production["settings"]["AUTHENTICATION_CLASSES"] == [
        "accounts.authentication.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ]
    assert production["settings"]["RENDERER_CLASSES"] == ["rest_framework.renderers.JSONRenderer"]


def test_basic_auth_with_the_right_password_gets_401_in_production(production):
    answer = production["answers"]["API 401 for Basic auth"]

    assert answer["status"] == HTTPStatus.UNAUTHORIZED
    assert answer["headers"]["www-authenticate"] == "Bearer"
    assert '"detail"' in answer["body"]
    assert '"errors"' in answer["body"]


def test_basic_auth_with_the_right_password_gets_401(api_client, user, password):
    pair = base64.b64encode(f"{user.email}:{password}".encode()).decode()

    response = api_client.get(reverse("api-profile"), HTTP_AUTHORIZATION=f"Basic {pair}")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"
    assert set(response.json()) == {"detail", "errors"}


@pytest.mark.parametrize("kind", ["admin, signed out", "admin, not staff"])
def test_the_admin_sends_everyone_but_staff_to_sign_in(production, kind):
    answer = production["answers"][kind]

    assert answer["status"] == HTTPStatus.FOUND
    assert "login" in answer["headers"]["location"]
    assert "Trading Lab admin" not in answer["body"]


def test_the_admin_opens_for_staff(production):
    assert "Trading Lab admin" in production["answers"]["admin"]["body"]


def test_swagger_ui_loads_its_code_from_this_server(production):
    docs, schema = production["answers"]["API docs"], production["answers"]["API schema"]

    assert docs["status"] == HTTPStatus.OK
    assert "swagger-ui" in docs["body"]
    assert "cdn" not in docs["body"].lower()
    assert schema["status"] == HTTPStatus.OK
    assert "openapi" in schema["body"]


@pytest.mark.parametrize("kind", ["page 404", "page 403 (CSRF)", "API 404"])
def test_error_answers_show_no_debug_page(production, kind):
    body = production["answers"][kind]["body"]

    assert "Traceback" not in body
    assert "URLconf" not in body
    assert "DEBUG = True" not in body


def test_no_social_provider_is_on_unless_configured(production):
    assert production["settings"]["SOCIALACCOUNT_PROVIDERS"] == []


# ------------------------------------------------------------------------------------------
# Social sign-in: a dummy OAuth client is refused by `check --deploy` (trading_lab.E003).

REAL_GOOGLE_ID = "123456789012-a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.apps.googleusercontent.com"


def _real_secret() -> str:
    return "GOCSPX-" + secrets.token_urlsafe(21)


@pytest.mark.parametrize(
    ("provider", "client_id", "secret", "named"),
    [
        ("GOOGLE", "dummy", None, "GOOGLE_CLIENT_ID"),
        ("MICROSOFT", "your-client-id", None, "MICROSOFT_CLIENT_ID"),
        ("YAHOO", "changeme", None, "YAHOO_CLIENT_ID"),
        ("GOOGLE", REAL_GOOGLE_ID, "placeholder-secret", "GOOGLE_CLIENT_SECRET"),
    ],
)
def test_check_deploy_refuses_a_placeholder_oauth_client(
    tmp_path, provider, client_id, secret, named
):
    secret = secret or _real_secret()
    env = production_env(
        tmp_path,
        **{f"{provider}_CLIENT_ID": client_id, f"{provider}_CLIENT_SECRET": secret},
    )

    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "trading_lab.E003" in result.stderr
    assert named in result.stderr
    assert secret not in result.stderr + result.stdout


def test_check_deploy_accepts_a_real_looking_oauth_client(tmp_path):
    env = production_env(
        tmp_path, GOOGLE_CLIENT_ID=REAL_GOOGLE_ID, GOOGLE_CLIENT_SECRET=_real_secret()
    )

    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert "E003" not in result.stderr


@pytest.mark.parametrize(
    ("client_id", "refused"),
    [
        ("dummy", True),
        ("DUMMY-CLIENT-ID", True),
        ("your_client_id_here", True),
        ("xxxxxxxxxxxxxxxx", True),
        ("<client-id>", True),
        ("test-client-id-123", True),
        ("abc123", True),  # too short to be anyone's OAuth client id
        (REAL_GOOGLE_ID, False),
        ("6731de76-14a6-49ae-97bc-6eba6914391e", False),  # a Microsoft application id
    ],
)
def test_the_social_provider_check_tells_placeholders_from_real_ids(settings, client_id, refused):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "google": {"APPS": [{"client_id": client_id, "secret": _real_secret()}]}
    }

    errors = check_social_providers()

    assert [error.id for error in errors] == (["trading_lab.E003"] if refused else [])
