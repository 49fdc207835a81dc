"""The portfolios API: create, list, read, update and delete (SPEC §6)."""

from http import HTTPStatus

import pytest
from rest_framework.test import APIClient

from portfolio.models import Portfolio


@pytest.fixture
def created(session_client) -> dict:
    response = session_client.post(
        "/api/v1/portfolios",
        {
            "name": "Retirement",
            "base_currency": "chf",
            "description": "Long term",
            "config": {"targets": {"NOVN": "0.25"}},
        },
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    return response.json()


def test_creating_a_portfolio_answers_the_spec_fields_and_owns_it(created, user, session_client):
    assert created == {
        "id": created["id"],
        "name": "Retirement",
        "base_currency": "CHF",
        "description": "Long term",
        "config": {"targets": {"NOVN": "0.25"}},
    }
    assert Portfolio.objects.get(pk=created["id"]).user == user
    assert session_client.get(f"/api/v1/portfolios/{created['id']}").json() == created


def test_an_owner_named_in_the_body_is_ignored(session_client, user, other_user):
    response = session_client.post("/api/v1/portfolios", {"name": "Mine", "user": other_user.pk})

    assert response.status_code == HTTPStatus.CREATED
    assert Portfolio.objects.get(pk=response.json()["id"]).user == user


def test_the_list_shows_only_the_callers_portfolios_paginated(session_client, created, other_user):
    stranger = APIClient()
    stranger.force_login(other_user)
    stranger.post("/api/v1/portfolios", {"name": "Theirs"})

    body = session_client.get("/api/v1/portfolios").json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert [row["name"] for row in body["results"]] == ["Retirement"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "name", id="no name"),
        pytest.param({"name": ""}, "name", id="blank name"),
        pytest.param({"name": "x" * 101}, "name", id="name too long"),
        pytest.param({"name": "A", "base_currency": "XYZ"}, "base_currency", id="bad currency"),
        pytest.param({"name": "A", "config": ["not", "an", "object"]}, "config", id="bad config"),
    ],
)
def test_bad_input_answers_400_naming_the_field_and_creates_nothing(session_client, body, field):
    response = session_client.post("/api/v1/portfolios", body)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"], response.json()
    assert not Portfolio.objects.exists()


def test_a_second_portfolio_with_the_same_name_is_refused(session_client, created):
    response = session_client.post("/api/v1/portfolios", {"name": "Retirement"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "name" in response.json()["errors"], response.json()
    assert Portfolio.objects.count() == 1


def test_another_user_may_use_the_same_name(created, other_user):
    stranger = APIClient()
    stranger.force_login(other_user)

    response = stranger.post("/api/v1/portfolios", {"name": "Retirement"})

    assert response.status_code == HTTPStatus.CREATED


def test_put_replaces_and_patch_changes_only_what_it_names(session_client, created):
    url = f"/api/v1/portfolios/{created['id']}"

    patched = session_client.patch(url, {"description": "Changed"})
    put = session_client.put(url, {"name": "Pension", "base_currency": "CHF"})

    assert patched.status_code == HTTPStatus.OK, patched.json()
    assert patched.json() == {**created, "description": "Changed"}
    assert put.status_code == HTTPStatus.OK, put.json()
    assert put.json()["name"] == "Pension"
    assert Portfolio.objects.get(pk=created["id"]).name == "Pension"


def test_renaming_onto_another_portfolios_name_is_refused(session_client, created):
    other = session_client.post("/api/v1/portfolios", {"name": "Trading"}).json()

    response = session_client.patch(f"/api/v1/portfolios/{other['id']}", {"name": "Retirement"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "name" in response.json()["errors"], response.json()
    assert Portfolio.objects.get(pk=other["id"]).name == "Trading"


def test_delete_removes_the_portfolio(session_client, created):
    url = f"/api/v1/portfolios/{created['id']}"

    response = session_client.delete(url)

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert session_client.get(url).status_code == HTTPStatus.NOT_FOUND
    assert not Portfolio.objects.exists()


def test_a_bearer_token_client_manages_portfolios_too(token_client):
    response = token_client.post("/api/v1/portfolios", {"name": "From a script"})

    assert response.status_code == HTTPStatus.CREATED
    assert token_client.get("/api/v1/portfolios").json()["count"] == 1
