"""Bearer personal tokens and sessions authenticate; nothing else does (SPEC §6)."""

import base64
from datetime import timedelta
from http import HTTPStatus

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import PersonalApiToken, Profile
from accounts.services import token_revoke
from tests.factories import PASSWORD


def test_a_valid_bearer_token_authenticates_as_its_owner(user, make_token, bearer_client):
    _, raw = make_token(user)

    response = bearer_client(raw).get("/api/v1/profile")

    assert response.status_code == HTTPStatus.OK
    assert Profile.objects.get(user=user).display_name == response.json()["display_name"]


def test_a_session_authenticates_api_requests(session_client):
    assert session_client.get("/api/v1/profile").status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="no header"),
        pytest.param("Bearer tl_not-a-real-token", id="unknown token"),
        pytest.param("Bearer", id="keyword without token"),
        pytest.param("Bearer two parts", id="token with a space"),
        pytest.param("basic-with-password", id="Basic with the right password"),
        pytest.param("Token {raw}", id="right token, wrong keyword"),
        pytest.param("{raw}", id="right token, no keyword"),
    ],
)
def test_missing_or_bad_credentials_answer_401_with_a_bearer_challenge(user, make_token, header):
    _, raw = make_token(user)
    client = APIClient()
    if header == "basic-with-password":
        pair = base64.b64encode(f"{user.email}:{PASSWORD}".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {pair}")
    elif header is not None:
        client.credentials(HTTP_AUTHORIZATION=header.format(raw=raw))

    response = client.get("/api/v1/profile")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"
    assert set(response.json()) == {"detail", "errors"}


def _expire(token: PersonalApiToken) -> None:
    PersonalApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def _revoke(token: PersonalApiToken) -> None:
    token_revoke(token=token)


def _deactivate_owner(token: PersonalApiToken) -> None:
    token.user.is_active = False
    token.user.save(update_fields=["is_active"])


@pytest.mark.parametrize("spoil", [_expire, _revoke, _deactivate_owner])
def test_a_token_that_expired_was_revoked_or_whose_owner_is_inactive_answers_401(
    user, make_token, spoil, bearer_client
):
    token, raw = make_token(user)
    client = bearer_client(raw)
    assert client.get("/api/v1/profile").status_code == HTTPStatus.OK

    spoil(token)

    response = client.get("/api/v1/profile")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_bad_token_is_refused_even_beside_a_valid_session(user):
    client = APIClient()
    client.force_login(user)
    client.credentials(HTTP_AUTHORIZATION="Bearer tl_not-a-real-token")

    assert client.get("/api/v1/profile").status_code == HTTPStatus.UNAUTHORIZED


def test_using_a_token_records_when_it_was_last_used(user, make_token, bearer_client):
    token, raw = make_token(user)
    assert token.last_used_at is None
    before = timezone.now()

    bearer_client(raw).get("/api/v1/profile")

    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.last_used_at >= before


def test_a_stale_last_used_time_is_refreshed_on_the_next_use(user, make_token, bearer_client):
    token, raw = make_token(user)
    stale = timezone.now() - timedelta(days=3)
    PersonalApiToken.objects.filter(pk=token.pk).update(last_used_at=stale)

    bearer_client(raw).get("/api/v1/profile")

    token.refresh_from_db()
    assert token.last_used_at > stale


def test_changes_made_with_a_token_are_attributed_to_its_owner_in_model_history(
    user, make_token, bearer_client
):
    _, raw = make_token(user)

    response = bearer_client(raw).patch(
        "/api/v1/profile", {"display_name": "Ada"}, format="json", REMOTE_ADDR="198.51.100.9"
    )

    assert response.status_code == HTTPStatus.OK
    entry = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Profile),
        object_pk=str(user.profile.pk),
    ).latest("timestamp")
    assert entry.actor == user
    assert entry.remote_addr == "198.51.100.9"
