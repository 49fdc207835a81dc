"""The watchlist API: add, list, replace atomically, remove by symbol (SPEC §3, §6)."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from rest_framework.test import APIClient

from audit.models import ActivityAction, ActivityLog
from portfolio.models import WatchlistItem


def _symbols(client) -> list[tuple[str, str]]:
    return [(i["symbol"], i["exchange"]) for i in client.get("/api/v1/watchlist").json()["items"]]


def test_adding_an_item_stores_it_for_the_caller_and_logs_the_action(session_client, user):
    response = session_client.post(
        "/api/v1/watchlist",
        {"symbol": "novn", "exchange": "six", "notes": "pharma", "target_price": "80.5"},
    )

    assert response.status_code == HTTPStatus.CREATED, response.json()
    body = response.json()
    assert (body["symbol"], body["exchange"], body["notes"]) == ("NOVN", "SIX", "pharma")
    assert Decimal(body["target_price"]) == Decimal("80.5")
    item = WatchlistItem.objects.get(pk=body["id"])
    assert item.user == user
    assert ActivityLog.objects.filter(user=user, action=ActivityAction.WATCHLIST_UPDATED).exists()
    assert _symbols(session_client) == [("NOVN", "SIX")]


def test_adding_a_symbol_already_listed_is_a_field_error_not_a_500(session_client):
    session_client.post("/api/v1/watchlist", {"symbol": "AAPL"})

    response = session_client.post("/api/v1/watchlist", {"symbol": "aapl"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "errors" in response.json()
    assert WatchlistItem.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "symbol", id="no symbol"),
        pytest.param({"symbol": "X", "target_price": "0"}, "target_price", id="zero target"),
        pytest.param({"symbol": "X", "target_price": "-1"}, "target_price", id="negative target"),
        pytest.param({"symbol": "X" * 33}, "symbol", id="symbol too long"),
    ],
)
def test_bad_items_are_refused_with_field_errors(session_client, body, field):
    response = session_client.post("/api/v1/watchlist", body)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]
    assert not WatchlistItem.objects.exists()


def test_put_replaces_the_whole_list(session_client):
    session_client.post("/api/v1/watchlist", {"symbol": "AAPL", "notes": "old"})
    session_client.post("/api/v1/watchlist", {"symbol": "MSFT"})

    response = session_client.put(
        "/api/v1/watchlist",
        {"items": [{"symbol": "AAPL", "notes": "kept"}, {"symbol": "NOVN", "exchange": "SIX"}]},
    )

    assert response.status_code == HTTPStatus.OK, response.json()
    assert [(i["symbol"], i["notes"]) for i in response.json()["items"]] == [
        ("AAPL", "kept"),
        ("NOVN", ""),
    ]
    assert _symbols(session_client) == [("AAPL", ""), ("NOVN", "SIX")]


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([{"symbol": "NEW"}, {"symbol": "NEW"}], id="duplicate in the list"),
        pytest.param([{"symbol": "NEW"}, {"symbol": "BAD", "target_price": "0"}], id="bad item"),
    ],
)
def test_a_refused_replacement_leaves_the_old_list_untouched(session_client, items):
    session_client.post("/api/v1/watchlist", {"symbol": "AAPL"})

    response = session_client.put("/api/v1/watchlist", {"items": items})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert _symbols(session_client) == [("AAPL", "")]


def test_put_with_an_empty_list_clears_it(session_client):
    session_client.post("/api/v1/watchlist", {"symbol": "AAPL"})

    response = session_client.put("/api/v1/watchlist", {"items": []})

    assert response.status_code == HTTPStatus.OK
    assert _symbols(session_client) == []


def test_delete_removes_the_symbol(session_client):
    session_client.post("/api/v1/watchlist", {"symbol": "AAPL"})
    session_client.post("/api/v1/watchlist", {"symbol": "MSFT"})

    response = session_client.delete("/api/v1/watchlist/aapl")

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert _symbols(session_client) == [("MSFT", "")]


def test_delete_of_a_symbol_on_two_exchanges_needs_the_exchange(session_client):
    session_client.post("/api/v1/watchlist", {"symbol": "SHEL", "exchange": "LSE"})
    session_client.post("/api/v1/watchlist", {"symbol": "SHEL", "exchange": "AEX"})

    ambiguous = session_client.delete("/api/v1/watchlist/SHEL")
    precise = session_client.delete("/api/v1/watchlist/SHEL?exchange=aex")

    assert ambiguous.status_code == HTTPStatus.BAD_REQUEST
    assert "exchange" in ambiguous.json()["errors"]
    assert precise.status_code == HTTPStatus.NO_CONTENT
    assert _symbols(session_client) == [("SHEL", "LSE")]


def test_another_users_watchlist_is_neither_shown_nor_deletable(session_client, other_user):
    stranger = APIClient()
    stranger.force_login(other_user)
    stranger.post("/api/v1/watchlist", {"symbol": "THEIRS"})

    assert _symbols(session_client) == []
    assert session_client.delete("/api/v1/watchlist/THEIRS").status_code == HTTPStatus.NOT_FOUND
    session_client.put("/api/v1/watchlist", {"items": [{"symbol": "MINE"}]})
    assert _symbols(stranger) == [("THEIRS", "")]
