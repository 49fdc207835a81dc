"""/api/v1/tokens: list without secrets, create shows the secret once, revoke two ways."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from accounts.models import PersonalApiToken
from audit.models import ActivityAction, ActivityLog

LISTED_FIELDS = {
    "id",
    "name",
    "token_prefix",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
    "is_active",
}


def test_the_list_holds_the_callers_tokens_without_any_secret(
    session_client, user, other_user, make_token
):
    mine, raw = make_token(user, name="laptop")
    make_token(other_user, name="theirs")

    response = session_client.get("/api/v1/tokens")

    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [mine.pk]
    assert set(rows[0]) == LISTED_FIELDS
    assert rows[0]["token_prefix"] == raw[:10]
    assert raw not in response.content.decode()
    assert mine.token_hash not in response.content.decode()


def test_create_answers_201_with_the_raw_token_once_and_it_works(
    session_client, user, bearer_client
):
    expires = (timezone.now() + timedelta(days=30)).isoformat()

    response = session_client.post(
        "/api/v1/tokens", {"name": "ci", "expires_at": expires}, format="json"
    )

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert response["Location"] == f"/api/v1/tokens/{body['id']}"
    assert set(body) == {*LISTED_FIELDS, "token"}
    assert body["is_active"] is True
    token = PersonalApiToken.objects.get(pk=body["id"], user=user)
    assert token.token_hash == PersonalApiToken.hash_token(body["token"])
    assert bearer_client(body["token"]).get("/api/v1/profile").status_code == HTTPStatus.OK
    again = session_client.get(f"/api/v1/tokens/{token.pk}").content.decode()
    listed = session_client.get("/api/v1/tokens").content.decode()
    assert body["token"] not in again
    assert body["token"] not in listed


def test_create_is_recorded_in_the_activity_log_without_the_secret(session_client, user):
    raw = session_client.post("/api/v1/tokens", {"name": "ci"}, format="json").json()["token"]

    row = ActivityLog.objects.get(user=user, action=ActivityAction.TOKEN_CREATED)
    assert raw not in str(row.details)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/tokens"),
        ("post", "/api/v1/tokens"),
        ("get", "/api/v1/tokens/{id}"),
        ("post", "/api/v1/tokens/{id}/revoke"),
    ],
)
def test_token_answers_are_never_stored_by_caches(session_client, user, make_token, method, path):
    token, _ = make_token(user)

    response = getattr(session_client, method)(
        path.format(id=token.pk), {"name": "another"}, format="json"
    )

    assert response.status_code < HTTPStatus.BAD_REQUEST
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "old", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "bad date", "expires_at": "soon"}, "expires_at"),
    ],
)
def test_invalid_create_input_answers_400_and_creates_nothing(session_client, body, field):
    response = session_client.post("/api/v1/tokens", body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == [field]
    assert not PersonalApiToken.objects.exists()


def test_a_body_field_naming_an_owner_is_ignored_on_create(session_client, user, other_user):
    response = session_client.post(
        "/api/v1/tokens", {"name": "mine", "user": other_user.pk}, format="json"
    )

    assert PersonalApiToken.objects.get(pk=response.json()["id"]).user == user


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("delete", "/api/v1/tokens/{id}", HTTPStatus.NO_CONTENT),
        ("post", "/api/v1/tokens/{id}/revoke", HTTPStatus.OK),
    ],
)
def test_revoking_stops_the_token_and_is_recorded(
    session_client, user, make_token, method, path, status, bearer_client
):
    token, raw = make_token(user)

    response = getattr(session_client, method)(path.format(id=token.pk))

    assert response.status_code == status
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert bearer_client(raw).get("/api/v1/profile").status_code == HTTPStatus.UNAUTHORIZED
    assert ActivityLog.objects.filter(user=user, action=ActivityAction.TOKEN_REVOKED).count() == 1


def test_the_revoke_action_answers_the_revoked_token(session_client, user, make_token):
    token, _ = make_token(user)

    body = session_client.post(f"/api/v1/tokens/{token.pk}/revoke").json()

    assert body["id"] == token.pk
    assert body["is_active"] is False
    assert body["revoked_at"] is not None


def test_revoking_twice_keeps_the_first_time_and_records_once(session_client, user, make_token):
    token, _ = make_token(user)
    session_client.post(f"/api/v1/tokens/{token.pk}/revoke")
    first = PersonalApiToken.objects.get(pk=token.pk).revoked_at

    response = session_client.delete(f"/api/v1/tokens/{token.pk}")

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert PersonalApiToken.objects.get(pk=token.pk).revoked_at == first
    assert ActivityLog.objects.filter(user=user, action=ActivityAction.TOKEN_REVOKED).count() == 1


def test_a_token_can_revoke_itself(user, make_token, bearer_client):
    token, raw = make_token(user)
    client = bearer_client(raw)

    assert client.post(f"/api/v1/tokens/{token.pk}/revoke").status_code == HTTPStatus.OK
    assert client.get("/api/v1/profile").status_code == HTTPStatus.UNAUTHORIZED


def test_an_expired_token_is_listed_as_inactive(session_client, user, make_token):
    token, _ = make_token(user)
    PersonalApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    row = session_client.get(f"/api/v1/tokens/{token.pk}").json()

    assert row["is_active"] is False
    assert row["revoked_at"] is None
