"""The history routes of API v1: the caller's own row only, paginated like every list, with the
panel's wording, through a session or a personal token."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from bots.services import bot_start
from tests.bots import runner_builders as rb
from tests.factories import PortfolioFactory, TransactionFactory

pytestmark = pytest.mark.django_db


def test_a_portfolio_change_made_through_the_api_is_listed_by_you(token_client, user):
    portfolio = PortfolioFactory(user=user, name="Old")
    TransactionFactory(portfolio=portfolio, notes="first buy")
    response = token_client.patch(
        reverse("api-portfolio-detail", args=[portfolio.pk]), {"name": "New"}, format="json"
    )
    assert response.status_code == HTTPStatus.OK

    answer = token_client.get(reverse("api-portfolio-history", args=[portfolio.pk])).json()

    assert sorted(answer) == ["count", "next", "previous", "results"]
    assert answer["count"] == 3
    newest = answer["results"][0]
    assert (newest["action"], newest["actor"], newest["subject"]) == ("changed", "you", "")
    assert newest["changes"] == [{"name": "name", "field": "Name", "old": "Old", "new": "New"}]
    child = answer["results"][1]
    assert child["subject"].startswith("Transaction ")
    assert {"name": "notes", "field": "Notes", "old": "—", "new": "first buy"} in child["changes"]


def test_a_bot_start_is_listed_and_pages_follow_page_size(session_client, user):
    bot = rb.bot(user, instrument=rb.instrument())
    bot_start(bot=bot)
    url = reverse("api-bot-history", args=[bot.pk])

    first = session_client.get(url, {"page_size": 1}).json()
    second = session_client.get(url, {"page_size": 1, "page": 2}).json()

    assert first["count"] == 2
    assert first["next"] is not None
    assert first["results"][0]["changes"] == [
        {"name": "status", "field": "Status", "old": "Stopped", "new": "Running"}
    ]
    assert first["results"][0]["actor"] == "system"
    assert second["results"][0]["action"] == "created"


@pytest.mark.parametrize(
    ("route", "make"),
    [
        ("api-portfolio-history", lambda owner: PortfolioFactory(user=owner)),
        ("api-transaction-history", lambda owner: TransactionFactory(portfolio__user=owner)),
        ("api-bot-history", lambda owner: rb.bot(owner, instrument=rb.instrument())),
    ],
    ids=["portfolio", "transaction", "bot"],
)
def test_another_users_row_is_404_like_a_missing_one(session_client, other_user, route, make):
    row = make(other_user)

    theirs = session_client.get(reverse(route, args=[row.pk]))
    missing = session_client.get(reverse(route, args=[row.pk + 1000]))

    assert theirs.status_code == missing.status_code == HTTPStatus.NOT_FOUND
    assert theirs.json() == missing.json()


def test_anonymous_callers_are_refused(api_client, user):
    portfolio = PortfolioFactory(user=user)

    response = api_client.get(reverse("api-portfolio-history", args=[portfolio.pk]))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
