"""Personal API tokens on the Security tab: created with the raw value shown once, revoked
by POST, and someone else's token is not found."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import PersonalApiToken
from accounts.services import token_create
from audit.models import ActivityAction, ActivityLog
from tests.pages.support import inline_code


def test_create_shows_the_raw_token_once_and_stores_only_its_hash(page_client, user):
    response = page_client.post(
        reverse("profile_token_create"), {"name": "notebook", "expires_in": "30"}
    )

    assert response.status_code == HTTPStatus.OK
    raw = response.context["raw_token"]
    assert raw.startswith(PersonalApiToken.PREFIX)
    assert f'value="{raw}"' in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert inline_code(response.content.decode()) == []
    token = PersonalApiToken.objects.for_user(user).get(name="notebook")
    assert token.token_hash == PersonalApiToken.hash_token(raw)
    assert raw not in {token.token_hash, token.token_prefix}

    later = page_client.get(reverse("profile_security")).content.decode()
    assert raw not in later
    assert token.token_prefix in later


def test_create_without_expiry_makes_a_usable_token_that_never_expires(page_client):
    response = page_client.post(
        reverse("profile_token_create"), {"name": "cli", "expires_in": "never"}
    )
    raw = response.context["raw_token"]

    token = PersonalApiToken.objects.usable().get(token_hash=PersonalApiToken.hash_token(raw))
    assert token.name == "cli"
    assert token.expires_at is None


@pytest.mark.parametrize(("expires_in", "days"), [("30", 30), ("90", 90), ("365", 365)])
def test_create_sets_the_chosen_expiry(page_client, user, expires_in, days):
    before = timezone.now()
    page_client.post(reverse("profile_token_create"), {"name": "t", "expires_in": expires_in})
    after = timezone.now()

    token = PersonalApiToken.objects.for_user(user).get(name="t")
    assert before + timedelta(days=days) <= token.expires_at <= after + timedelta(days=days)


def test_create_records_activity(page_client, user):
    page_client.post(reverse("profile_token_create"), {"name": "audited", "expires_in": "90"})

    row = ActivityLog.objects.for_user(user).get(action=ActivityAction.TOKEN_CREATED)
    assert row.details["name"] == "audited"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "expires_in": "90"}, "name", "This field is required."),
        ({"name": "x" * 101, "expires_in": "90"}, "name", "at most 100 characters"),
        ({"name": "ok", "expires_in": "7"}, "expires_in", "Select a valid choice."),
        ({"name": "taken", "expires_in": "90"}, "name", "You already have a token with this name."),
    ],
)
def test_create_shows_errors_next_to_the_field_and_creates_nothing(
    page_client, user, data, field, message
):
    token_create(user=user, name="taken")

    response = page_client.post(reverse("profile_token_create"), data)

    assert response.status_code == HTTPStatus.OK
    assert "raw_token" not in response.context
    html = response.content.decode()
    assert message in html.split(f'id="id_{field}_error"', 1)[1].split("</div>\n", 1)[0]
    assert PersonalApiToken.objects.for_user(user).count() == 1


def test_create_answers_get_with_method_not_allowed(page_client):
    response = page_client.get(reverse("profile_token_create"))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_revoke_own_token(page_client, user):
    token, _ = token_create(user=user, name="old")

    response = page_client.post(reverse("profile_token_revoke", args=[token.pk]))

    assert response.status_code == HTTPStatus.FOUND
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ActivityLog.objects.for_user(user).filter(action=ActivityAction.TOKEN_REVOKED).exists()


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_revoke_of_another_users_token_is_not_found_and_changes_nothing(
    page_client, other_user, method
):
    token, _ = token_create(user=other_user, name="theirs")

    response = getattr(page_client, method)(reverse("profile_token_revoke", args=[token.pk]))

    assert response.status_code == HTTPStatus.NOT_FOUND
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoke_of_a_missing_token_is_not_found(page_client):
    response = page_client.post(reverse("profile_token_revoke", args=[999_999]))

    assert response.status_code == HTTPStatus.NOT_FOUND


def test_revoke_of_own_token_by_get_is_not_allowed_and_changes_nothing(page_client, user):
    token, _ = token_create(user=user, name="mine")

    response = page_client.get(reverse("profile_token_revoke", args=[token.pk]))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoke_by_anonymous_visitor_redirects_to_sign_in(client, user):
    token, _ = token_create(user=user, name="mine")

    response = client.post(reverse("profile_token_revoke", args=[token.pk]))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("account_login"))
    token.refresh_from_db()
    assert token.revoked_at is None


def test_security_tab_lists_only_the_users_tokens(page_client, user, other_user):
    token_create(user=user, name="my-token")
    token_create(user=other_user, name="their-token")

    html = page_client.get(reverse("profile_security")).content.decode()

    assert "my-token" in html
    assert "their-token" not in html
