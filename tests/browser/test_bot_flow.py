"""A DCA bot in a real browser: create it from the form while the ladder preview follows the
typing, start it, see its orders after ticks (driven through the runner service in this process,
as the worker would), stop it and see its run. No console error, no CSP violation, no failed
request; screenshots at desktop and phone width land in test-artifacts/screenshots/."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone
from playwright.sync_api import expect

from bots.models import Bot
from bots.services import bot_tick_run
from tests.browser.conftest import PHONE
from tests.browser.test_page_tour import sign_in
from tests.factories import InstrumentFactory, PriceBarFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def trader(db):
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def acme(db):
    instrument = InstrumentFactory(symbol="ACME", currency="USD", name="Acme Corp.")
    PriceBarFactory(instrument=instrument, date=timezone.localdate(), close=Decimal(100))
    return instrument


def _set_close(instrument, price: Decimal) -> None:
    instrument.prices.filter(date=timezone.localdate()).update(close=price)


def test_bot_flow_from_the_form_to_a_stopped_run(live_server, trader, acme, open_page, screenshot):
    page = open_page()
    sign_in(page, live_server.url, trader.email)
    page.goto(f"{live_server.url}/bots/")
    page.get_by_role("link", name="New bot").click()

    page.get_by_label("Name").fill("ACME ladder")
    page.get_by_label("Instrument").select_option(value=str(acme.pk))
    page.get_by_label("Interval").select_option("1m")
    page.get_by_label("Base order size").fill("100")
    page.get_by_label("Safety order size").fill("200")
    page.get_by_label("Price deviation %").fill("1")
    page.get_by_label("Step scale").fill("1.5")
    page.get_by_label("Volume scale").fill("2")
    page.get_by_label("Take profit %").fill("1.5")
    ladder = page.locator("#bot-ladder-rows tr")
    expect(ladder).to_have_count(4)
    expect(ladder.nth(3)).to_contain_text("95.25")
    expect(page.locator("#bot-required-capital")).to_contain_text("1,501.50 USD")
    expect(page.locator("#bot-fits")).to_contain_text("can fund")
    # The preview follows the typing: one more safety order, one more row.
    page.get_by_label("Safety orders").fill("4")
    expect(ladder).to_have_count(5)
    page.get_by_label("Safety orders").fill("3")
    expect(ladder).to_have_count(4)
    screenshot(page, "bot-form")

    page.get_by_role("button", name="Create bot").click()
    expect(page.get_by_role("heading", name=re.compile("^ACME ladder"))).to_be_visible()
    page.get_by_role("button", name="Start").click()
    expect(page.locator("[data-bot-status='running']").first).to_be_visible()

    bot = Bot.objects.get(user=trader)
    start = bot.next_run_at
    for minute, price in enumerate((Decimal(100), Decimal(99), Decimal("97.4")), start=1):
        _set_close(acme, price)
        bot_tick_run(bot_id=bot.pk, scheduled_at=start + timedelta(minutes=minute))
    page.reload()
    orders = page.locator("#bot-orders")
    expect(orders).to_contain_text("base")
    expect(orders).to_contain_text("safety_2")
    expect(page.locator("#deal-ladder [data-level-state='filled']")).to_have_count(3)
    expect(page.locator("#deal-ladder [data-level-state='pending']")).to_have_count(1)
    screenshot(page, "bot-detail-running")
    page.set_viewport_size(PHONE)
    # At phone width the orders table fits its card: nothing to scroll sideways.
    scroll_width, client_width = page.locator("#bot-orders").evaluate(
        "table => { const box = table.closest('.table-responsive');"
        " return [box.scrollWidth, box.clientWidth]; }"
    )
    assert client_width > 0
    assert scroll_width <= client_width
    screenshot(page, "bot-detail-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    _set_close(acme, Decimal(98))
    page.get_by_role("button", name=re.compile("^Stop")).click()
    expect(page.locator("[data-bot-status='stopped']").first).to_be_visible()
    runs = page.locator("#bot-runs")
    expect(runs).to_contain_text("Stopped")
    expect(runs).to_contain_text("4")  # base, two safety orders and the closing sell
    expect(page.locator("#bot-orders")).to_contain_text("bot_stopped")
    expect(page.locator("canvas[data-chart='line']")).to_be_visible()
    assert page.evaluate("Object.keys(Chart.instances).length") == 1
    screenshot(page, "bot-detail-stopped")

    page.goto(f"{live_server.url}/bots/")
    expect(page.locator("#bot-list")).to_contain_text("ACME ladder")
    screenshot(page, "bot-list")
