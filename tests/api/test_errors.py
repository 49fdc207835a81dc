"""The SPEC §6 error body from the one exception handler, for every status the API gives."""

from http import HTTPStatus

import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.test import APIClient

from accounts.models import Preferences
from audit.models import ActivityAction, ActivityLog
from trading_lab.api.exceptions import exception_handler
from trading_lab.exceptions import ApplicationError


def handle(exc: Exception):
    return exception_handler(exc, {})


@pytest.mark.parametrize(
    ("exc", "errors"),
    [
        (
            exceptions.ValidationError({"config": {"take_profit_pct": ["Too high."]}}),
            {"config.take_profit_pct": ["Too high."]},
        ),
        (
            exceptions.ValidationError({"orders": [{}, {"price": ["Must be positive."]}]}),
            {"orders.1.price": ["Must be positive."]},
        ),
        (
            exceptions.ValidationError({"modes": {0: ["Unknown."]}, "name": ["Required."]}),
            {"modes.0": ["Unknown."], "name": ["Required."]},
        ),
        (
            exceptions.ValidationError({"non_field_errors": ["Dates overlap."]}),
            {"non_field_errors": ["Dates overlap."]},
        ),
        (
            exceptions.ValidationError({"config": {"non_field_errors": ["Expected an object."]}}),
            {"config": ["Expected an object."]},
        ),
        (exceptions.ValidationError(["Plain message."]), {"non_field_errors": ["Plain message."]}),
        (
            DjangoValidationError({"__all__": ["Both set."], "primary_mode": ["Not enabled."]}),
            {"non_field_errors": ["Both set."], "primary_mode": ["Not enabled."]},
        ),
        (
            DjangoValidationError("Whole object wrong."),
            {"non_field_errors": ["Whole object wrong."]},
        ),
        (
            ApplicationError("Invalid input.", {"legs": [{"qty": ["Too small."]}]}),
            {"legs.0.qty": ["Too small."]},
        ),
        (ApplicationError("Sell exceeds holding."), {}),
    ],
)
def test_validation_errors_become_400_with_flat_dotted_field_errors(exc, errors):
    response = handle(exc)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.data["errors"] == errors
    assert isinstance(response.data["detail"], str)
    assert response.data["detail"]


@pytest.mark.parametrize(
    ("exc", "detail"),
    [
        (DjangoValidationError("Whole object wrong."), "Whole object wrong."),
        (exceptions.ValidationError({"name": ["Required."]}), "Invalid input."),
        (
            ApplicationError("Sell exceeds holding.", {"quantity": ["Too much."]}),
            "Sell exceeds holding.",
        ),
    ],
)
def test_error_detail_summarises_or_repeats_the_single_message(exc, detail):
    assert handle(exc).data["detail"] == detail


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (Http404("No PersonalApiToken matches the given query."), HTTPStatus.NOT_FOUND),
        (PermissionDenied(), HTTPStatus.FORBIDDEN),
        (exceptions.NotAuthenticated(), HTTPStatus.UNAUTHORIZED),
        (exceptions.MethodNotAllowed("PUT"), HTTPStatus.METHOD_NOT_ALLOWED),
        (exceptions.Throttled(wait=7), HTTPStatus.TOO_MANY_REQUESTS),
    ],
)
def test_django_and_drf_errors_get_the_error_body_and_status(exc, status):
    response = handle(exc)

    assert response.status_code == status
    assert set(response.data) == {"detail", "errors"}
    assert response.data["errors"] == {}


def test_a_404_never_names_the_model_or_query():
    response = handle(Http404("No PersonalApiToken matches the given query."))

    assert "PersonalApiToken" not in response.data["detail"]


def test_throttled_answer_keeps_its_retry_after_header():
    assert handle(exceptions.Throttled(wait=7))["Retry-After"] == "7"


def test_an_unexpected_exception_is_left_to_django():
    assert handle(RuntimeError("bug")) is None


def _client(kind: str, user) -> APIClient:
    client = APIClient(enforce_csrf_checks=kind == "session, CSRF enforced")
    if kind != "anonymous":
        client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "method", "path", "status"),
    [
        ("anonymous", "get", "/api/v1/profile", HTTPStatus.UNAUTHORIZED),
        ("session, CSRF enforced", "post", "/api/v1/tokens", HTTPStatus.FORBIDDEN),
        ("session", "get", "/api/v1/no-such-thing", HTTPStatus.NOT_FOUND),
        ("session", "get", "/api/v1/tokens/987654", HTTPStatus.NOT_FOUND),
        ("session", "delete", "/api/v1/profile", HTTPStatus.METHOD_NOT_ALLOWED),
        ("session", "post", "/api/v1/activity", HTTPStatus.METHOD_NOT_ALLOWED),
    ],
)
def test_real_routes_answer_each_error_status_in_the_spec_format(user, kind, method, path, status):
    response = getattr(_client(kind, user), method)(path, {}, format="json")

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail", "errors"}
    assert response.json()["errors"] == {}


def test_a_django_validation_error_from_a_service_is_400_with_the_field_and_writes_nothing(
    session_client, user
):
    before = Preferences.objects.get(user=user)

    response = session_client.patch(
        "/api/v1/preferences", {"primary_mode": "options"}, format="json"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == ["primary_mode"]
    after = Preferences.objects.get(user=user)
    assert (after.primary_mode, after.updated_at) == (before.primary_mode, before.updated_at)
    assert not ActivityLog.objects.filter(action=ActivityAction.PREFERENCES_UPDATED).exists()


def test_an_application_error_from_a_service_is_400_with_the_field(
    session_client, make_token, user
):
    make_token(user, name="laptop")

    response = session_client.post("/api/v1/tokens", {"name": "laptop"}, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid input.",
        "errors": {"name": ["You already have a token with this name."]},
    }


def test_malformed_json_is_a_400_in_the_error_format(session_client):
    response = session_client.generic(
        "PATCH", "/api/v1/profile", "{not json", content_type="application/json"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert set(response.json()) == {"detail", "errors"}
