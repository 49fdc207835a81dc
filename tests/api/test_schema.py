"""The OpenAPI document at /api/schema/ and the Swagger UI at /api/docs/, served offline."""

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings
from rest_framework.test import APIClient

OPENAPI = "application/vnd.oai.openapi"


def test_spectacular_validates_the_schema_with_no_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    env = {**os.environ, "DEBUG": "true"}

    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(out),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr
    assert yaml.safe_load(out.read_text())["openapi"].startswith("3.")


@pytest.fixture
def schema(db) -> dict:
    response = APIClient().get("/api/schema/")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith(OPENAPI)
    return yaml.safe_load(response.content)


def test_the_schema_lists_every_foundation_route_without_trailing_slashes(schema):
    assert {
        "/api/v1/profile",
        "/api/v1/preferences",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/tokens/{id}/revoke",
        "/api/v1/activity",
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
    } <= set(schema["paths"])
    assert not [path for path in schema["paths"] if path.endswith("/")]


def _ref_name(content: dict) -> str:
    return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


def test_token_create_documents_201_with_the_one_time_secret(schema):
    create = schema["paths"]["/api/v1/tokens"]["post"]

    created = create["responses"]["201"]["content"]
    component = schema["components"]["schemas"][_ref_name(created)]
    assert "token" in component["properties"]
    assert "200" not in create["responses"]
    listed = schema["components"]["schemas"]["Token"]["properties"]
    assert "token" not in listed
    assert "token_hash" not in listed


def test_revoke_takes_no_body_and_answers_the_token(schema):
    revoke = schema["paths"]["/api/v1/tokens/{id}/revoke"]["post"]

    assert "requestBody" not in revoke
    assert _ref_name(revoke["responses"]["200"]["content"]) == "Token"


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        ("/api/v1/profile", "get", {"401", "403", "429"}),
        ("/api/v1/profile", "patch", {"400", "401", "403", "415", "429"}),
        ("/api/v1/tokens", "post", {"400", "401", "403", "415", "429"}),
        ("/api/v1/tokens/{id}", "delete", {"400", "401", "403", "404", "429"}),
        ("/api/v1/activity", "get", {"400", "401", "403", "404", "429"}),
        ("/api/v1/jobs/{id}", "get", {"401", "403", "404", "429"}),
    ],
)
def test_error_answers_are_documented_with_the_error_body(schema, path, method, codes):
    responses = schema["paths"][path][method]["responses"]

    errors = {code for code in responses if code >= "400"}
    assert errors == codes
    assert {_ref_name(responses[code]["content"]) for code in codes} == {"Error"}
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {"detail", "errors"}


def test_the_bearer_scheme_is_documented_and_basic_is_not(schema):
    schemes = schema["components"]["securitySchemes"]

    assert schemes["personalToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["personalToken"]["description"],
    }
    assert not [s for s in schemes.values() if s.get("scheme") == "basic"]


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and url.startswith("/")


@pytest.mark.django_db
def test_the_docs_page_and_its_assets_come_only_from_this_server():
    client = APIClient()
    page = client.get("/api/docs/")
    parser = _References()
    parser.feed(page.content.decode())

    assert page.status_code == HTTPStatus.OK
    assert parser.urls, "the docs page references no assets"
    assert [url for url in parser.urls if not _is_local(url)] == []
    for url in parser.urls:
        asset = client.get(url)
        assert asset.status_code == HTTPStatus.OK, url
    scripts = [url for url in parser.urls if url.startswith("/api/docs/")]
    assert len(scripts) == 1
    initializer = client.get(scripts[0]).content.decode()
    assert '"/api/schema/"' in initializer
    assert "http://" not in initializer
    assert "https://" not in initializer
    assert '"validatorUrl": null' in initializer


# Run in a process of its own: pytest-playwright's session keeps an event loop running in the
# test process once a browser test has run, and the sync API refuses to start beside it.
_BROWSE = """
import json, sys
from playwright.sync_api import sync_playwright

url, chromium = sys.argv[1], sys.argv[2]
requested, console = [], []
with sync_playwright() as playwright:
    browser = playwright.chromium.launch(
        executable_path=chromium,
        args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
    )
    page = browser.new_page()
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: console.append(message.text))
    page.goto(url)
    page.get_by_text("/api/v1/tokens/{id}/revoke").first.wait_for()
    title = page.locator(".info .title").first.inner_text()
    browser.close()
print(json.dumps({"requested": requested, "console": console, "title": title}))
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_docs_render_in_a_browser_with_no_request_leaving_the_server_and_no_csp_error(
    live_server,
):
    result = subprocess.run(
        [sys.executable, "-c", _BROWSE, f"{live_server.url}/api/docs/", "/usr/bin/chromium"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert "Trading Lab API" in seen["title"]
    assert [url for url in seen["requested"] if not url.startswith(live_server.url)] == []
    assert f"{live_server.url}/api/schema/" in seen["requested"]
    # Nothing the page needs is blocked by the Content-Security-Policy (or failed otherwise).
    assert seen["console"] == []
