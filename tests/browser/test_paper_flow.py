"""Paper trading in a real browser: place a market order, see the position, rest and cancel a
limit order; the page fits a phone. No console error, no CSP violation, no failed request;
screenshots land in test-artifacts/screenshots/."""

from datetime import timedelta
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.test_page_tour import sign_in
from tests.factories import InstrumentFactory, PriceBarFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def trader(db):
    user = UserFactory(email="paper@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def acme(db):
    instrument = InstrumentFactory(symbol="ACME", currency="USD", name="Acme Corp.")
    PriceBarFactory(
        instrument=instrument, date=timezone.localdate() - timedelta(days=1), close=Decimal(100)
    )
    return instrument


def test_place_a_market_order_and_cancel_a_limit_order(
    live_server, trader, acme, open_page, screenshot
):
    page = open_page()
    sign_in(page, live_server.url, trader.email)
    page.goto(live_server.url + "/paper/")
    expect(page.get_by_role("heading", name="Order ticket")).to_be_visible()

    ticket = page.locator("#order-ticket")
    ticket.get_by_role("button", name="Place order").click()
    expect(page.locator("#id_symbol_error")).to_be_visible()
    screenshot(page, "paper-ticket-errors")

    ticket.get_by_label("Symbol").fill("ACME")
    ticket.get_by_label("Quantity").fill("5")
    ticket.get_by_role("button", name="Place order").click()
    expect(page.get_by_text("The order was filled.")).to_be_visible()
    expect(page.locator("#paper-positions").get_by_role("rowheader", name="ACME")).to_be_visible()

    ticket.get_by_label("Symbol").fill("ACME")
    ticket.get_by_label("Type").select_option("limit")
    ticket.get_by_label("Quantity").fill("2")
    ticket.get_by_label("Limit price").fill("90")
    ticket.get_by_role("button", name="Place order").click()
    open_orders = page.locator("#paper-open-orders")
    expect(open_orders).to_contain_text("Buy 2 ACME")
    screenshot(page, "paper-page")

    open_orders.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("The order was cancelled")).to_be_visible()
    expect(page.locator("#paper-open-orders")).to_have_count(0)


def test_the_paper_page_fits_a_phone(live_server, trader, acme, open_page, screenshot):
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, live_server.url, trader.email)
    page.goto(live_server.url + "/paper/")
    ticket = page.locator("#order-ticket")
    ticket.get_by_label("Symbol").fill("ACME")
    ticket.get_by_label("Quantity").fill("1")
    ticket.get_by_role("button", name="Place order").click()
    expect(page.get_by_text("The order was filled.")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    # The orders table (shared with the bot page) fits its card: nothing scrolls sideways.
    scroll_width, client_width = page.locator("#paper-recent-orders").evaluate(
        "table => { const box = table.closest('.table-responsive');"
        " return [box.scrollWidth, box.clientWidth]; }"
    )
    assert client_width > 0
    assert scroll_width <= client_width
    screenshot(page, "phone-paper")
