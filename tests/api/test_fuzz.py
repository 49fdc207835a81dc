"""Schemathesis fuzzes every operation of /api/schema/ as a signed-in user who owns data.

No answer is a 5xx; every answer has a documented status, content type and body shape; every 4xx
JSON body is the SPEC §6 error. The schema is the document `/api/schema/` serves, generated in
process, and the requests go through the project's WSGI application in the test's transaction.
Each example runs in a savepoint rolled back after it: every example meets the same seeded world,
so destructive operations (`DELETE /api/v1/me`, revoking the token in use) are fuzzed like any
other, and per-user throttles (counted in the database cache) never fill up.
"""

import json
from contextlib import ExitStack, contextmanager

import pytest
import responses
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.fuzz_world import World, world_build
from trading_lab.wsgi import application

STAFF_PREFIX = "/api/v1/admin/"
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAX_EXAMPLES = 12


def _served_schema() -> dict:
    """The document `/api/schema/` answers (the same generator, rendered the same way)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(_served_schema(), config=CONFIG)
schema.app = application


@schemathesis.check
def spec_error_body(ctx, response, case) -> None:
    """SPEC §6: a 4xx JSON answer is `{"detail": "...", "errors": {"field": ["message"]}}`."""
    if not 400 <= response.status_code < 500:
        return
    content_type = response.headers.get("Content-Type", [""])[0]
    if not content_type.startswith("application/json"):
        return
    body = response.json()
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    assert set(body) == {"detail", "errors"}, f"error body keys {sorted(body)}"
    assert isinstance(body["detail"], str), "detail is not a string"
    assert body["detail"], "detail is empty"
    assert isinstance(body["errors"], dict), "errors is not an object"
    for field, messages in body["errors"].items():
        assert isinstance(messages, list), f"errors.{field} is not a list"
        assert all(isinstance(m, str) for m in messages), f"errors.{field} holds a non-string"


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    spec_error_body,
]


@contextmanager
def _in_test_transaction():
    """Requests through the WSGI handler keep the test's connection, as Django's test client
    does: `close_old_connections` would close it mid-transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@contextmanager
def _rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def worlds(django_db_setup, django_db_blocker) -> dict[str, World]:
    """A trader's and a staff member's worlds, built once for the module in a transaction
    rolled back at its end (each example is a savepoint inside it)."""
    with ExitStack() as stack:
        stack.enter_context(django_db_blocker.unblock())
        stack.enter_context(override_settings(PASSWORD_HASHERS=FAST_HASHERS))
        # Broker connects must not reach the network: an unregistered URL raises ConnectionError.
        stack.enter_context(responses.RequestsMock(assert_all_requests_are_fired=False))
        stack.enter_context(_in_test_transaction())
        stack.enter_context(_rolled_back())
        yield {"trader": world_build(), "staff": world_build(is_staff=True)}


def _run(case, world: World) -> None:
    world.aim(case)
    with _rolled_back():
        response = case.call(headers=world.headers)
    case.validate_response(response, checks=CHECKS, headers=world.headers)


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


@schema.exclude(path_regex=f"^{STAFF_PREFIX}").parametrize()
@FUZZ_SETTINGS
def test_every_operation_as_a_trader(case, worlds):
    _run(case, worlds["trader"])


@schema.include(path_regex=f"^{STAFF_PREFIX}").parametrize()
@FUZZ_SETTINGS
def test_staff_operations_as_staff(case, worlds):
    _run(case, worlds["staff"])
