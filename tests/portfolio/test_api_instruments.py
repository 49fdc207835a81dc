"""Instruments and their prices through the API: shared ones and the caller's private ones."""

from datetime import date
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from portfolio.models import Instrument, PriceBar


@pytest.fixture
def instruments(user, other_user) -> dict[str, Instrument]:
    return {
        "apple": Instrument.objects.create(
            symbol="AAPL", exchange="NASDAQ", name="Apple Inc.", currency="USD"
        ),
        "nestle": Instrument.objects.create(
            symbol="NESN", exchange="SIX", name="Nestle", currency="CHF"
        ),
        "mine": Instrument.objects.create(
            symbol="FARM", name="My apple farm", currency="EUR", owner=user
        ),
        "theirs": Instrument.objects.create(
            symbol="BOAT", name="Their apple boat", currency="EUR", owner=other_user
        ),
    }


def _symbols(response) -> list[str]:
    assert response.status_code == HTTPStatus.OK, response.json()
    return [row["symbol"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        (None, ["AAPL", "FARM", "NESN"]),
        ("apple", ["AAPL", "FARM"]),
        ("nesn", ["NESN"]),
        ("boat", []),
    ],
)
def test_search_finds_shared_instruments_and_the_callers_private_ones(
    session_client, instruments, search, expected
):
    query = {} if search is None else {"search": search}

    assert sorted(_symbols(session_client.get("/api/v1/instruments", query))) == expected


def test_an_instrument_says_whether_it_is_private(session_client, instruments):
    rows = session_client.get("/api/v1/instruments").json()["results"]

    assert {row["symbol"]: row["private"] for row in rows} == {
        "AAPL": False,
        "FARM": True,
        "NESN": False,
    }
    assert set(rows[0]) == {
        "id",
        "symbol",
        "exchange",
        "name",
        "currency",
        "asset_class",
        "private",
        "is_synthetic",
    }


@pytest.fixture
def apple_prices(instruments) -> Instrument:
    apple = instruments["apple"]
    for day, close in ((3, "101.5"), (4, "102"), (5, "99.25"), (6, "100")):
        PriceBar.objects.create(instrument=apple, date=date(2024, 6, day), close=Decimal(close))
    return apple


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["2024-06-03", "2024-06-04", "2024-06-05", "2024-06-06"]),
        ({"start": "2024-06-04"}, ["2024-06-04", "2024-06-05", "2024-06-06"]),
        ({"end": "2024-06-04"}, ["2024-06-03", "2024-06-04"]),
        ({"start": "2024-06-04", "end": "2024-06-05"}, ["2024-06-04", "2024-06-05"]),
    ],
)
def test_prices_are_listed_oldest_first_within_the_span(
    session_client, apple_prices, query, expected
):
    response = session_client.get(f"/api/v1/instruments/{apple_prices.pk}/prices", query)

    assert response.status_code == HTTPStatus.OK, response.json()
    rows = response.json()["results"]
    assert [row["date"] for row in rows] == expected
    assert all(isinstance(row["close"], str) and row["synthetic"] is False for row in rows)


def test_a_bad_span_answers_400(session_client, apple_prices):
    url = f"/api/v1/instruments/{apple_prices.pk}/prices"

    response = session_client.get(url, {"start": "2024-06-05", "end": "2024-06-01"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == ["end"]


def test_prices_of_a_synthetic_instrument_are_labelled(session_client, instruments):
    demo = Instrument.objects.create(symbol="DEMO", currency="USD", is_synthetic=True)
    PriceBar.objects.create(instrument=demo, date=date(2024, 6, 3), close=Decimal(10))

    [row] = session_client.get(f"/api/v1/instruments/{demo.pk}/prices").json()["results"]

    assert row["synthetic"] is True


def test_own_private_instrument_prices_are_served(session_client, instruments):
    mine = instruments["mine"]
    PriceBar.objects.create(instrument=mine, date=date(2024, 6, 3), close=Decimal(5))

    assert session_client.get(f"/api/v1/instruments/{mine.pk}/prices").json()["count"] == 1


def test_another_users_private_instrument_prices_are_not_found(session_client, instruments):
    theirs = instruments["theirs"]
    PriceBar.objects.create(instrument=theirs, date=date(2024, 6, 3), close=Decimal(5))

    response = session_client.get(f"/api/v1/instruments/{theirs.pk}/prices")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == session_client.get("/api/v1/instruments/0/prices").json()


def test_anonymous_callers_get_401(instruments):
    assert APIClient().get("/api/v1/instruments").status_code == HTTPStatus.UNAUTHORIZED


def test_a_page_of_prices_costs_the_same_queries_whatever_its_size(session_client, instruments):
    apple = instruments["apple"]
    for day in range(1, 13):
        PriceBar.objects.create(instrument=apple, date=date(2024, 7, day), close=Decimal(day))
    url = f"/api/v1/instruments/{apple.pk}/prices"
    # The first request of a session also records the session: not what is measured here.
    session_client.get(url)

    counts = []
    for size in (3, 12):
        with CaptureQueriesContext(connection) as captured:
            response = session_client.get(url, {"page_size": size})
        assert len(response.json()["results"]) == size
        counts.append(len(captured.captured_queries))

    assert counts[0] == counts[1]
