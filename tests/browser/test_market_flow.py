"""Watchlist, alerts, notifications and dividends in a real browser: add a symbol, set an alert
from it, see a triggered one on the dashboard and read it, record and confirm a dividend and see
the income chart. No console error, no CSP violation, no failed request; screenshots at desktop
and phone width land in test-artifacts/screenshots/."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone
from playwright.sync_api import Page, expect

from portfolio.services import price_alert_create, price_alerts_check
from tests.browser.conftest import PHONE
from tests.browser.test_page_tour import sign_in
from tests.factories import (
    InstrumentFactory,
    PortfolioFactory,
    PriceBarFactory,
    TransactionFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser


def _weekday_back(days: int):
    day = timezone.localdate() - timedelta(days=days)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


@pytest.fixture
def trader(db):
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def market(trader):
    """ACME and GLBX with a month of closes; the trader holds 20 ACME and has a fired alert."""
    today = timezone.localdate()
    acme = InstrumentFactory(symbol="ACME", exchange="NYSE", name="Acme Corp.")
    glbx = InstrumentFactory(symbol="GLBX", exchange="NYSE", name="Globex Energy")
    for back in range(1, 40):
        day = today - timedelta(days=back)
        if day.weekday() < 5:
            PriceBarFactory(instrument=acme, date=day, close=Decimal(100 + back % 7))
            PriceBarFactory(instrument=glbx, date=day, close=Decimal(40 + back % 3))
    portfolio = PortfolioFactory(user=trader, name="Income")
    TransactionFactory(
        portfolio=portfolio,
        instrument=acme,
        date=_weekday_back(35),
        quantity=Decimal(20),
        price=Decimal(100),
    )
    price_alert_create(
        user=trader, instrument=glbx, condition="above", target=Decimal(30), notes="fired"
    )
    price_alerts_check(instrument_ids=[glbx.pk])
    return portfolio


def _markets_menu(page: Page, item: str) -> None:
    navigation = page.get_by_role("navigation", name="Main navigation")
    navigation.get_by_role("button", name=re.compile("^Markets")).click()
    navigation.get_by_role("link", name=re.compile(f"^{item}")).click()
    # Loaded in full (deferred scripts too) before the next click navigates away from it.
    page.wait_for_load_state("load")


def test_market_flow_watchlist_alert_notification_dividend(
    live_server, trader, market, open_page, screenshot
):
    page = open_page()
    sign_in(page, live_server.url, trader.email)
    expect(page.locator("#triggered-alert-list")).to_contain_text("GLBX.NYSE")
    expect(page.locator("#unread-badge")).to_have_text(re.compile("^1"))
    screenshot(page, "market-dashboard")

    _markets_menu(page, "Watchlist")
    page.get_by_role("button", name="Add to watchlist").click()
    expect(page.locator("#id_symbol_error")).to_be_visible()
    page.locator("#id_symbol").fill("NOPE")
    page.get_by_role("button", name="Add to watchlist").click()
    expect(page.locator("#id_symbol_error")).to_contain_text("Unknown instrument NOPE")
    page.locator("#id_symbol").fill("acme")
    page.get_by_label("Target price").fill("95")
    page.get_by_role("button", name="Add to watchlist").click()
    expect(page.get_by_text("ACME.NYSE was added to your watchlist.")).to_be_visible()
    expect(page.locator("#watchlist")).to_contain_text("ACME")
    screenshot(page, "market-watchlist")

    page.get_by_role("link", name="Add an alert for ACME.NYSE").click()
    expect(page.locator("#id_symbol")).to_have_value("ACME")
    page.get_by_label("Condition").select_option("below")
    page.get_by_label("Target").fill("90")
    page.get_by_label("Notes").fill("buy more")
    page.get_by_role("button", name="Create alert").click()
    expect(page.get_by_text("The alert on ACME.NYSE is active.")).to_be_visible()
    alerts = page.locator("#alerts")
    expect(alerts).to_contain_text("ACME.NYSE")
    expect(alerts).to_contain_text("Triggered")
    screenshot(page, "market-alerts")

    alerts.get_by_role("link", name="GLBX.NYSE", exact=True).click()
    expect(page.locator("#alert-events")).to_be_visible()
    page.get_by_role("button", name="Re-arm").click()
    expect(page.get_by_text("is active again")).to_be_visible()
    screenshot(page, "market-alert-detail")

    _markets_menu(page, "Notifications")
    expect(page.locator("#notifications")).to_contain_text("GLBX.NYSE closed at")
    screenshot(page, "market-notifications")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_text("Marked 1 notification read.")).to_be_visible()
    expect(page.locator("#unread-badge")).to_have_count(0)

    _markets_menu(page, "Dividends")
    page.get_by_role("link", name="Add dividend").click()
    page.get_by_role("button", name="Add dividend").click()
    expect(page.locator("#id_ex_date_error")).to_be_visible()
    page.locator("#id_symbol").fill("ACME")
    page.get_by_label("Ex date").fill(_weekday_back(10).isoformat())
    page.get_by_label("Amount per share").fill("0.5")
    page.get_by_role("button", name="Add dividend").click()
    expect(page.get_by_text("20 shares held, pending")).to_be_visible()
    expect(page.locator("#dividends")).to_contain_text("Pending")
    page.wait_for_load_state("load")
    page.get_by_role("button", name=re.compile("^Confirm the dividend of ACME")).click()
    page.wait_for_load_state("load")
    expect(page.get_by_text("10.00 USD recorded in “Income”")).to_be_visible()
    expect(page.locator("#dividends")).to_contain_text("Confirmed")
    expect(page.locator("#income-by-symbol")).to_contain_text("ACME.NYSE")
    expect(page.locator("#income-by-year")).to_contain_text("10.00")
    expect(page.locator("canvas[data-chart='bar']")).to_be_visible()
    page.wait_for_load_state("load")
    assert page.evaluate("Object.keys(Chart.instances).length") == 1
    screenshot(page, "market-dividends")

    page.get_by_role("button", name=re.compile("Propose from price data")).click()
    expect(page.get_by_text("No new dividend found")).to_be_visible()
    page.wait_for_load_state("load")


def test_market_pages_fit_a_phone(live_server, trader, market, open_page, screenshot):
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, live_server.url, trader.email)
    page.goto(live_server.url + "/watchlist/")
    page.locator("#id_symbol").fill("ACME")
    page.get_by_label("Notes").fill("a long note about why this one is interesting")
    page.get_by_role("button", name="Add to watchlist").click()
    # Each click's page must finish loading before the next goto, which would abort it.
    expect(page.get_by_text("was added to your watchlist")).to_be_visible()
    page.goto(live_server.url + "/dividends/")
    page.get_by_role("link", name="Add dividend").click()
    page.locator("#id_symbol").fill("ACME")
    page.get_by_label("Ex date").fill(_weekday_back(10).isoformat())
    page.get_by_label("Amount per share").fill("0.5")
    page.get_by_role("button", name="Add dividend").click()
    expect(page.get_by_text("shares held, pending")).to_be_visible()
    page.wait_for_load_state("load")

    pages = [
        ("phone-market-dashboard", "/"),
        ("phone-market-watchlist", "/watchlist/"),
        ("phone-market-alerts", "/alerts/"),
        ("phone-market-notifications", "/notifications/"),
        ("phone-market-dividends", "/dividends/"),
        ("phone-portfolio-detail-latest", f"/portfolios/{market.pk}/"),
    ]
    for name, path in pages:
        page.goto(live_server.url + path)
        page.wait_for_load_state("load")
        expect(page.locator("main h1").first).to_be_visible()
        screenshot(page, name)
        assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"], name
        # Tables fit as well: none needs its own sideways scroll at phone width.
        overflowing = page.evaluate(
            "[...document.querySelectorAll('.table-responsive')]"
            ".filter(e => e.scrollWidth > e.clientWidth + 1).length"
        )
        assert overflowing == 0, name
