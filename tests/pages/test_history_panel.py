"""The History panel on the portfolio, transaction and bot pages: a change made through a page
shows up worded for people, another user's row is 404, no secret or excluded field shows, no
staff address, and the page's queries do not grow with the number of entries."""

import re
from decimal import Decimal
from html import unescape
from http import HTTPStatus

import pytest
from auditlog.context import set_actor
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.user_history import object_history
from portfolio.services import portfolio_update
from tests.bots import runner_builders as rb
from tests.factories import InstrumentFactory, PortfolioFactory, TransactionFactory
from tests.pages.support import inline_code

pytestmark = pytest.mark.django_db

_PANEL = re.compile(r'<section class="card history-panel[^"]*" id="history".*?</section>', re.S)


def _panel(response) -> str:
    """The History panel's HTML (one per page)."""
    found = _PANEL.findall(response.content.decode())
    assert len(found) == 1, "no History panel on the page"
    return found[0]


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def portfolio(user):
    return PortfolioFactory(user=user, name="Long term", base_currency="USD")


def test_a_portfolio_edited_through_its_page_shows_the_change_by_you(page_client, portfolio):
    response = page_client.post(
        reverse("portfolio_edit", args=[portfolio.pk]),
        {"name": "Core", "base_currency": "USD", "description": "Index funds"},
    )
    assert response.status_code == HTTPStatus.FOUND

    page = page_client.get(reverse("portfolio_detail", args=[portfolio.pk]))

    assert page.status_code == HTTPStatus.OK
    panel = _panel(page)
    text = _text(panel)
    assert "Changed by you" in text
    assert "Name: Long term → Core" in text
    assert "Description: — → Index funds" in text
    assert inline_code(panel) == []


def test_a_transaction_edited_through_its_page_shows_the_change(page_client, portfolio):
    acme = InstrumentFactory(symbol="ACME", currency="USD")
    entry = TransactionFactory(portfolio=portfolio, instrument=acme, price=Decimal("10.5"))
    url = reverse("transaction_edit", args=[entry.pk])
    form = {
        "type": "BUY",
        "date": "2024-01-02",
        "symbol": "ACME",
        "exchange": "",
        "quantity": "1",
        "price": "12.25",
        "fee": "0",
        "currency": "USD",
        "fx_rate": "",
        "notes": "limit order",
    }

    response = page_client.post(url, form)
    assert response.status_code == HTTPStatus.FOUND, response.context["form"].errors

    text = _text(_panel(page_client.get(url)))
    assert "Changed by you" in text
    assert "Price: 10.5 → 12.25" in text
    assert "Notes: — → limit order" in text
    # The creation lists what was entered, the instrument by its name.
    assert "Created by system" in text
    assert "Type: Buy Instrument: ACME Quantity: 1 Price: 10.5" in text


def test_a_bot_started_from_its_page_shows_status_but_no_tick_bookkeeping(page_client, user):
    bot = rb.bot(user, instrument=rb.instrument())

    response = page_client.post(reverse("bot_start", args=[bot.pk]))
    assert response.status_code == HTTPStatus.FOUND

    text = _text(_panel(page_client.get(reverse("bot_detail", args=[bot.pk]))))
    assert re.search(r"Changed by you [\d-]+ [\d:]+ Status: Stopped → Running", text), text
    for hidden in ("Next run at", "Last tick at", "State:"):
        assert hidden not in text


def test_a_staff_change_names_staff_not_their_address(page_client, portfolio, staff_user):
    with set_actor(staff_user):
        portfolio_update(portfolio=portfolio, data={"description": "Checked by support"})

    text = _text(_panel(page_client.get(reverse("portfolio_detail", args=[portfolio.pk]))))

    assert "Changed by staff" in text
    assert staff_user.email not in text


@pytest.mark.parametrize(
    ("route", "make"),
    [
        ("portfolio_detail", lambda owner: PortfolioFactory(user=owner)),
        ("transaction_edit", lambda owner: TransactionFactory(portfolio__user=owner)),
        ("bot_detail", lambda owner: rb.bot(owner, instrument=rb.instrument())),
    ],
    ids=["portfolio", "transaction", "bot"],
)
def test_another_users_history_is_not_found(page_client, other_user, route, make):
    row = make(other_user)

    response = page_client.get(reverse(route, args=[row.pk]), {"history_page": "2"})

    assert response.status_code == HTTPStatus.NOT_FOUND


def test_older_changes_are_a_page_link_away_and_a_bad_page_is_the_first(page_client, portfolio):
    user = portfolio.user
    with set_actor(user):
        for n in range(55):
            portfolio_update(portfolio=portfolio, data={"description": f"v{n}"})
    url = reverse("portfolio_detail", args=[portfolio.pk])

    first = _panel(page_client.get(url))
    second = _panel(page_client.get(url, {"history_page": "2"}))
    junk = page_client.get(url, {"history_page": "junk"})

    assert "Show older changes" in first
    assert "history_page=2#history" in first
    assert "Description: v53 → v54" in _text(first)
    assert "Created by" in _text(second)
    assert junk.status_code == HTTPStatus.OK
    assert _panel(junk) == first


def _queries_of_detail_page(client, portfolio, changes: int) -> int:
    with set_actor(portfolio.user):
        for n in range(changes):
            portfolio_update(portfolio=portfolio, data={"description": f"v{n}"})
    url = reverse("portfolio_detail", args=[portfolio.pk])
    client.get(url)  # warm caches (content types, session) so both counts are alike
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == HTTPStatus.OK
    assert len(response.context["history"].items) == min(changes + 1, 50)
    return len(queries)


def test_the_page_queries_do_not_grow_with_the_number_of_entries(page_client, user):
    few = _queries_of_detail_page(page_client, PortfolioFactory(user=user), 5)
    many = _queries_of_detail_page(page_client, PortfolioFactory(user=user), 50)

    assert few == many


def _queries_of_child_history(user, transactions: int) -> int:
    portfolio = PortfolioFactory(user=user)
    for n in range(transactions):
        # Each on its own instrument, so the names to look up grow with the entries.
        TransactionFactory(portfolio=portfolio, notes=f"t{n}")
    object_history(user=user, instance=portfolio)
    with CaptureQueriesContext(connection) as queries:
        history = object_history(user=user, instance=portfolio)
    assert len(history.items) == min(transactions + 1, 50)
    assert all("#" not in change.new for item in history.items for change in item.changes), (
        "an instrument name was not looked up"
    )
    return len(queries)


def test_the_related_names_take_one_query_per_model_not_per_entry(user):
    assert _queries_of_child_history(user, 5) == _queries_of_child_history(user, 49)
