"""One test per defect the API fuzzer (test_fuzz.py) found: each failed before its fix."""

from datetime import timedelta
from http import HTTPStatus

import pytest
import yaml
from django.utils import timezone
from rest_framework.test import APIClient

from tests.api.fuzz_world import Seed
from tests.bots import owned as bots_owned
from tests.factories import PortfolioFactory

SAFE = {"get", "head", "options"}


@pytest.fixture(scope="module")
def served_schema(django_db_setup, django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return yaml.safe_load(APIClient().get("/api/schema/").content)


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "patch", "post", "delete"}:
                yield path, method, operation


def _assert_spec_error(response, status: HTTPStatus) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"]
    return body


# GET /api/v1/dividends?portfolio=-260326121378702032896 answered 500 (OverflowError on
# SQLite): the filter was a bare integer compared with the foreign key.


@pytest.mark.parametrize("portfolio", ["-260326121378702032896", "99999999999999999999", "0"])
def test_the_dividend_list_answers_400_to_a_portfolio_id_out_of_range(session_client, portfolio):
    response = session_client.get("/api/v1/dividends", {"portfolio": portfolio})

    body = _assert_spec_error(response, HTTPStatus.BAD_REQUEST)
    assert list(body["errors"]) == ["portfolio"]


def test_the_dividend_list_answers_400_to_another_users_portfolio(session_client, other_user):
    theirs = PortfolioFactory(user=other_user)

    response = session_client.get("/api/v1/dividends", {"portfolio": theirs.pk})

    body = _assert_spec_error(response, HTTPStatus.BAD_REQUEST)
    assert list(body["errors"]) == ["portfolio"]


def test_the_dividend_list_still_filters_by_one_of_your_portfolios(session_client, user):
    mine = PortfolioFactory(user=user)

    response = session_client.get("/api/v1/dividends", {"portfolio": mine.pk})

    assert response.status_code == HTTPStatus.OK
    assert response.json()["results"] == []


# GET /api/v1/bots/{id}/deals: an open deal's `exit_kind` is "", which the schema's enum denied.


def test_an_open_deals_blank_exit_kind_is_in_the_schema(served_schema, session_client, user):
    deal = bots_owned.deal(user, Seed(text="regression"))
    assert deal.exit_kind == ""

    shown = session_client.get(f"/api/v1/bots/{deal.bot_id}/deals").json()["results"][0]

    assert shown["exit_kind"] == ""
    components = served_schema["components"]["schemas"]
    choices = components["Deal"]["properties"]["exit_kind"]["oneOf"]
    refs = [choice["$ref"].rsplit("/", 1)[1] for choice in choices]
    assert "" in {value for ref in refs for value in components[ref]["enum"]}


# POST /api/v1/orders/{id}/cancel (a filled order), /backtests/{id}/cancel (a finished one) and
# /insights/{id}/dismiss (a malformed id) answered 400 where the schema documented none.


def test_every_write_operation_documents_400(served_schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(served_schema)
        if method not in SAFE and "400" not in operation["responses"]
    ]

    assert missing == []


def test_cancelling_a_filled_order_answers_the_documented_400(served_schema, token_client, user):
    filled = bots_owned.order(user, Seed(text="regression"))

    response = token_client.post(f"/api/v1/orders/{filled.pk}/cancel")

    _assert_spec_error(response, HTTPStatus.BAD_REQUEST)
    assert "400" in served_schema["paths"]["/api/v1/orders/{id}/cancel"]["post"]["responses"]


# GET /api/v1/portfolios?page=301 answered 404 ("Invalid page.") where the schema had no 404.


def test_every_paginated_list_documents_404(served_schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(served_schema)
        if any(p["name"] == "page" for p in operation.get("parameters", []))
        and "404" not in operation["responses"]
    ]

    assert missing == []


def test_a_page_past_the_end_answers_404_with_the_error_body(token_client):
    response = token_client.get("/api/v1/portfolios", {"page": 301})

    _assert_spec_error(response, HTTPStatus.NOT_FOUND)


# POST /api/v1/alerts and /api/v1/bots with a body but no Content-Type answered 415, undocumented.


def test_every_operation_with_a_body_documents_415(served_schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(served_schema)
        if "requestBody" in operation and "415" not in operation["responses"]
    ]

    assert missing == []


@pytest.mark.parametrize("content_type", ["", "text/plain"])
def test_a_body_in_an_unsupported_media_type_answers_415(token_client, content_type):
    response = token_client.generic(
        "POST", "/api/v1/alerts", b"symbol=X", content_type=content_type
    )

    _assert_spec_error(response, HTTPStatus.UNSUPPORTED_MEDIA_TYPE)


# GET /api/v1/portfolios/{id}/performance?as_of=6251-02-27 took 40 s (every day up to year
# 6251 walked): a valuation day in the future is refused, as the export's is.


def test_performance_refuses_a_valuation_day_in_the_future(token_client, user):
    mine = PortfolioFactory(user=user)
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = token_client.get(f"/api/v1/portfolios/{mine.pk}/performance", {"as_of": tomorrow})

    body = _assert_spec_error(response, HTTPStatus.BAD_REQUEST)
    assert list(body["errors"]) == ["as_of"]


def test_the_performance_export_refuses_a_valuation_day_in_the_future(token_client, user):
    mine = PortfolioFactory(user=user)

    response = token_client.get(
        "/api/v1/transactions/export",
        {"kind": "performance", "portfolio": mine.pk, "as_of": "6251-02-27"},
    )

    body = _assert_spec_error(response, HTTPStatus.BAD_REQUEST)
    assert list(body["errors"]) == ["as_of"]


def test_performance_on_today_is_still_answered(token_client, user):
    mine = PortfolioFactory(user=user)

    response = token_client.get(
        f"/api/v1/portfolios/{mine.pk}/performance", {"as_of": timezone.localdate()}
    )

    assert response.status_code == HTTPStatus.OK
