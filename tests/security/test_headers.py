"""Security headers on every kind of answer the app gives in production mode (DEBUG=False).

The answers come from one production-mode process (the `production` fixture): pages, the JSON
API with its errors, Django's error pages, the admin, static files, the health check and the
API docs. Each kind is asserted on its own, so a view or middleware that drops a header for
one kind of answer shows up by name.
"""

import re
from decimal import Decimal
from http import HTTPStatus

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import URLResolver, get_resolver, reverse

from accounts.brokers.services import broker_credential_create
from accounts.models import Broker, BrokerCredential, BrokerSession, PersonalApiToken
from accounts.services import token_create
from bots.models import Order
from bots.services import OrderInput, bot_create, order_place
from tests.bots.owned import DCA_CONFIG
from tests.bots.paper_helpers import funded_account, priced_instrument
from trading_lab.api.mixins import NoStoreMixin

ONE_YEAR = 365 * 24 * 60 * 60

EXPECTED_STATUS = {
    "page": HTTPStatus.OK,
    "sign-in page": HTTPStatus.OK,
    "MFA page": HTTPStatus.OK,
    "API JSON": HTTPStatus.OK,
    "API 401": HTTPStatus.UNAUTHORIZED,
    "API 401 for Basic auth": HTTPStatus.UNAUTHORIZED,
    "API 403": HTTPStatus.FORBIDDEN,
    "API 404": HTTPStatus.NOT_FOUND,
    "page 404": HTTPStatus.NOT_FOUND,
    "page 403 (CSRF)": HTTPStatus.FORBIDDEN,
    "admin": HTTPStatus.OK,
    "admin, signed out": HTTPStatus.FOUND,
    "admin, not staff": HTTPStatus.FOUND,
    "static": HTTPStatus.OK,
    "healthz": None,  # 200 or 503: no worker or scheduler runs in the probe
    "API docs": HTTPStatus.OK,
    "API schema": HTTPStatus.OK,
}
KINDS = list(EXPECTED_STATUS)
# WhiteNoise answers static files before the CSP middleware runs; a stylesheet or script is
# not a document, so a policy on it would govern nothing.
DOCUMENT_KINDS = [kind for kind in KINDS if kind != "static"]


def csp_directives(header: str) -> dict[str, list[str]]:
    """The policy as {directive: [source, ...]}; a repeated directive would be a bug."""
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if not words:
            continue
        name = words[0].lower()
        assert name not in directives, f"{name} appears twice in {header!r}"
        directives[name] = words[1:]
    return directives


def test_the_probe_saw_every_kind_of_answer_with_its_expected_status(production):
    statuses = {kind: seen["status"] for kind, seen in production["answers"].items()}

    assert set(statuses) == set(EXPECTED_STATUS)
    for kind, expected in EXPECTED_STATUS.items():
        if expected is None:
            assert statuses[kind] in {HTTPStatus.OK, HTTPStatus.SERVICE_UNAVAILABLE}, kind
        else:
            assert statuses[kind] == expected, (kind, production["answers"][kind]["body"][:500])


@pytest.mark.parametrize("kind", KINDS)
def test_every_answer_is_sent_with_hsts_for_at_least_a_year(production, kind):
    header = production["answers"][kind]["headers"]["strict-transport-security"]

    parts = [part.strip().lower() for part in header.split(";")]
    max_age = next(int(part.split("=", 1)[1]) for part in parts if part.startswith("max-age="))
    assert max_age >= ONE_YEAR
    assert "includesubdomains" in parts


@pytest.mark.parametrize("kind", KINDS)
def test_every_answer_forbids_sniffing_and_sets_referrer_and_opener_policies(production, kind):
    headers = production["answers"][kind]["headers"]

    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"


@pytest.mark.parametrize("kind", DOCUMENT_KINDS)
def test_every_document_answer_carries_a_csp_without_inline_or_eval(production, kind):
    headers = production["answers"][kind]["headers"]

    policy = csp_directives(headers["content-security-policy"])

    assert policy["default-src"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        sources = policy.get(directive, policy["default-src"])
        assert "'unsafe-inline'" not in sources, directive
        assert "'unsafe-eval'" not in sources, directive
        # A scheme or wildcard source would let any host serve code.
        assert not {"*", "data:", "http:", "https:", "blob:"} & set(sources), directive
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert headers["x-frame-options"] == "DENY"


def test_the_api_docs_allow_only_the_swagger_ui_styles_by_hash_and_no_inline_script(production):
    docs = production["answers"]["API docs"]
    policy = csp_directives(docs["headers"]["content-security-policy"])

    assert policy["script-src"] == ["'self'"]
    extra_styles = [source for source in policy["style-src"] if source != "'self'"]
    assert extra_styles
    assert all(source.startswith("'sha256-") for source in extra_styles)
    assert "<script>" not in docs["body"]


def test_static_files_are_served_as_what_they_are(production):
    static = production["answers"]["static"]

    assert static["headers"]["content-type"].startswith("text/css")
    assert static["headers"]["x-content-type-options"] == "nosniff"


def test_plain_http_is_redirected_to_https_except_the_health_check(production):
    page, healthz = production["plain_page"], production["plain_healthz"]

    assert page["status"] == HTTPStatus.MOVED_PERMANENTLY
    assert page["headers"]["location"].startswith("https://")
    # Load balancers probe inside the network over plain HTTP.
    assert healthz["status"] in {HTTPStatus.OK, HTTPStatus.SERVICE_UNAVAILABLE}
    # HSTS only means something over HTTPS; browsers ignore it on plain HTTP.
    assert "strict-transport-security" not in healthz["headers"]


def test_the_session_and_csrf_cookies_are_secure_http_only_and_same_site(production):
    cookies = production["cookies"]

    assert production["sign_in"]["status"] == HTTPStatus.FOUND
    assert cookies["sessionid"] == {"secure": "True", "httponly": "True", "samesite": "Lax"}
    assert cookies["csrftoken"]["secure"] == "True"


# ------------------------------------------------------------------------------------------
# `Cache-Control: no-store` on credential and order answers (in-process: the same middleware
# and views run whatever DEBUG is).

CREDENTIAL_ROUTES = {
    "api-tokens",
    "api-token-detail",
    "api-token-revoke",
    "api-broker-credentials",
    "api-broker-credential-detail",
    "api-broker-credential-connect",
    "api-broker-credential-disconnect",
    "api-me",
    "api-me-export",
}
ORDER_ROUTES = {"api-orders", "api-order-detail", "api-order-cancel", "api-bot-orders"}
NO_STORE_ROUTES = CREDENTIAL_ROUTES | ORDER_ROUTES
# What marks a route as one of those, so a new one is caught even before someone lists it.
SENSITIVE_PATH = re.compile(
    r"token|credential|secret|password|session|mfa|recovery|order|(^|/)me(/|$)"
)
SENSITIVE_MODELS = {PersonalApiToken, BrokerCredential, BrokerSession, Order}
METHODS = ("get", "post", "put", "patch", "delete")


def _api_routes(resolver=None, prefix: str = "") -> list[tuple[str, str, type]]:
    """(route, name, view class) of every /api/v1/ route, walking the URL resolver."""
    resolver = resolver or get_resolver()
    routes = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes.extend(_api_routes(pattern, route))
        elif route.startswith("api/v1/") and hasattr(pattern.callback, "cls"):
            routes.append((route.removeprefix("api/v1/"), pattern.name, pattern.callback.cls))
    return routes


def _model_of(view: type) -> type | None:
    serializer = getattr(view, "serializer_class", None)
    meta = getattr(serializer, "Meta", None)
    return getattr(view, "model", None) or getattr(meta, "model", None)


def test_every_api_route_about_credentials_or_orders_is_held_to_no_store():
    routes = _api_routes()

    found = {
        name
        for route, name, view in routes
        if SENSITIVE_PATH.search(route) or _model_of(view) in SENSITIVE_MODELS
    }

    assert found == NO_STORE_ROUTES


@pytest.mark.parametrize("name", sorted(NO_STORE_ROUTES))
def test_each_credential_or_order_view_says_no_store_itself(name):
    # The view's own mixin covers every answer, anonymous and error ones included, whatever
    # middleware runs in front of it.
    view = next(view for _, route_name, view in _api_routes() if route_name == name)

    assert issubclass(view, NoStoreMixin)


@pytest.fixture
def owned(user, password):
    """One of each row the credential and order routes name, owned by `user`."""
    instrument = priced_instrument()
    account = funded_account(user)
    token, _ = token_create(user=user, name="kept")
    credential = broker_credential_create(user=user, broker=Broker.PAPER, label="practice")
    order = order_place(
        user=user,
        account=account,
        data=OrderInput(
            instrument=instrument,
            side="buy",
            order_type="limit",
            quantity=Decimal(1),
            limit_price=Decimal(50),
        ),
    )
    bot = bot_create(
        user=user,
        name="DCA",
        account=account,
        instrument=instrument,
        interval="1h",
        config=DCA_CONFIG,
    )
    order_body = {
        "account": account.pk,
        "symbol": instrument.symbol,
        "exchange": instrument.exchange,
        "side": "buy",
        "type": "market",
        "quantity": "1",
    }
    return {
        "ids": {
            "token": token.pk,
            "broker-credential": credential.pk,
            "order": order.pk,
            "bot": bot.pk,
        },
        "bodies": {
            ("api-tokens", "post"): {"name": "new"},
            ("api-broker-credentials", "post"): {"broker": "paper", "label": "second"},
            ("api-broker-credential-detail", "put"): {"label": "renamed"},
            ("api-broker-credential-detail", "patch"): {"label": "renamed"},
            ("api-orders", "post"): order_body,
            ("api-me", "delete"): {"password": password},
        },
    }


def _calls() -> list[tuple[str, str]]:
    return [
        (name, method)
        for _, name, view in _api_routes()
        if name in NO_STORE_ROUTES
        for method in METHODS
        if hasattr(view, method)
    ]


def _url(name: str, ids: dict[str, int]) -> str:
    if name in {"api-tokens", "api-broker-credentials", "api-orders", "api-me", "api-me-export"}:
        return reverse(name)
    kind = next(kind for kind in ("token", "broker-credential", "bot", "order") if kind in name)
    return reverse(name, kwargs={"id": ids[kind]})


@pytest.mark.parametrize(("name", "method"), _calls())
def test_every_credential_and_order_answer_is_never_stored(session_client, owned, name, method):
    body = owned["bodies"].get((name, method))

    response = getattr(session_client, method)(_url(name, owned["ids"]), body, format="json")

    assert response.status_code < HTTPStatus.BAD_REQUEST, response.content
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(("name", "method"), _calls())
def test_anonymous_and_refused_answers_on_those_routes_are_never_stored_either(
    api_client, owned, name, method
):
    response = getattr(api_client, method)(_url(name, owned["ids"]), format="json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "no-store" in response["Cache-Control"]


def test_a_bearer_token_read_of_orders_is_never_stored(token_client, owned):
    response = token_client.get(reverse("api-orders"))

    assert response.status_code == HTTPStatus.OK
    assert "no-store" in response["Cache-Control"]


PAGES_WITHOUT_TOTP = ["mfa_index", "mfa_activate_totp"]
PAGES_WITH_TOTP = [
    "mfa_index",
    "mfa_view_recovery_codes",
    "mfa_generate_recovery_codes",
    "mfa_download_recovery_codes",
    "mfa_deactivate_totp",
]
SIGNED_IN_PAGES = [
    "profile_security",
    "profile_brokers",
    "usersessions_list",
    "account_change_password",
    "account_email",
    "account_reauthenticate",
    "paper",
]


@pytest.fixture
def reauthenticated(sign_in_by_form, user, password):
    """Signed in through allauth's form and just re-authenticated: MFA pages open directly."""
    browser = sign_in_by_form(user, password)
    response = browser.post(reverse("account_reauthenticate"), {"password": password})
    assert response.status_code == HTTPStatus.FOUND
    return browser


def _assert_page_never_stored(response) -> None:
    assert response.status_code == HTTPStatus.OK
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("url_name", SIGNED_IN_PAGES + PAGES_WITHOUT_TOTP)
def test_credential_session_and_order_pages_are_never_stored(reauthenticated, url_name):
    _assert_page_never_stored(reauthenticated.get(reverse(url_name)))


@pytest.mark.parametrize("url_name", PAGES_WITH_TOTP)
def test_totp_and_recovery_code_pages_are_never_stored(reauthenticated, user, url_name):
    TOTP.activate(user, generate_totp_secret())
    RecoveryCodes.activate(user)

    _assert_page_never_stored(reauthenticated.get(reverse(url_name)))


def test_broker_edit_and_paper_account_pages_are_never_stored(reauthenticated, user):
    credential = broker_credential_create(user=user, broker=Broker.PAPER, label="practice")
    account = funded_account(user)

    edit = reauthenticated.get(reverse("profile_broker_edit", args=[credential.pk]))
    paper = reauthenticated.get(reverse("paper_account", args=[account.pk]))

    _assert_page_never_stored(edit)
    _assert_page_never_stored(paper)


@pytest.mark.parametrize("url_name", ["account_login", "account_signup", "account_reset_password"])
def test_anonymous_account_pages_are_never_stored(db, client, url_name):
    _assert_page_never_stored(client.get(reverse(url_name)))


def test_a_signed_in_api_read_is_never_stored_even_without_its_own_header(session_client):
    response = session_client.get(reverse("api-portfolios"))

    assert response.status_code == HTTPStatus.OK
    assert "no-store" in response["Cache-Control"]


def test_an_answer_that_sets_its_own_cache_control_keeps_it(session_client):
    response = session_client.get(reverse("healthz"))

    assert response["Cache-Control"] == "no-store"
