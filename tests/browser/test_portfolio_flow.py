"""A trader's portfolio in a real browser: create it, add a buy, see the holding and the charts,
import a CSV through the dry-run preview, export. No console error, no CSP violation, no failed
request; screenshots at desktop and phone width land in test-artifacts/screenshots/."""

import re
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
    user = UserFactory(email="grace@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def acme(db):
    """A shared instrument with a month of weekday closes up to yesterday."""
    instrument = InstrumentFactory(symbol="ACME", currency="USD", name="Acme Corp.")
    today = timezone.localdate()
    for back in range(1, 40):
        day = today - timedelta(days=back)
        if day.weekday() < 5:
            PriceBarFactory(instrument=instrument, date=day, close=Decimal(100 + back % 7))
    return instrument


def _last_weekday_back(days: int) -> str:
    day = timezone.localdate() - timedelta(days=days)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day.isoformat()


def test_portfolio_flow_from_creation_to_export(
    live_server, trader, acme, open_page, screenshot, tmp_path
):
    page = open_page()
    sign_in(page, live_server.url, trader.email)

    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Portfolios"
    ).click()
    page.get_by_label("Name").fill("Retirement")
    page.get_by_role("button", name="Create portfolio").click()
    expect(page.get_by_role("heading", name=re.compile("^Retirement"))).to_be_visible()

    page.get_by_role("link", name="Add transaction").first.click()
    page.get_by_role("button", name="Add transaction").click()
    expect(page.locator("#id_price_error")).to_be_visible()
    screenshot(page, "portfolio-transaction-errors")
    page.get_by_label("Date").fill(_last_weekday_back(20))
    page.get_by_label("Symbol").fill("ACME")
    page.get_by_label("Quantity").fill("10")
    page.get_by_label("Price").fill("100")
    page.get_by_role("button", name="Add transaction").click()
    expect(page.get_by_role("cell", name="ACME")).to_be_visible()

    page.get_by_role("link", name="Overview").click()
    holdings = page.locator("#holdings")
    expect(holdings.get_by_role("cell", name="ACME")).to_be_visible()
    expect(page.locator("canvas[data-chart='line']")).to_be_visible()
    expect(page.locator("canvas[data-chart='doughnut']")).to_be_visible()
    # Chart.js drew the charts: it registers each canvas it owns.
    assert page.evaluate("document.querySelectorAll('canvas[data-chart]').length") == 2
    assert page.evaluate("Object.keys(Chart.instances).length") == 2
    page.get_by_role("link", name="All", exact=True).click()
    expect(page.get_by_role("link", name="All", exact=True)).to_have_attribute(
        "aria-current", "true"
    )
    screenshot(page, "portfolio-detail")

    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Description").fill("Savings for later")
    page.get_by_role("button", name="Save").click()
    history = page.locator("#history")
    expect(history.locator("li[data-history-action='changed']").first).to_contain_text(
        "Description: — → Savings for later"
    )
    history.scroll_into_view_if_needed()
    screenshot(page, "portfolio-history")

    csv = tmp_path / "broker.csv"
    csv.write_text(
        "date,type,symbol,quantity,price,fee,currency\n"
        f"{_last_weekday_back(10)},BUY,ACME,5,103,1,USD\n"
        f"{_last_weekday_back(9)},DEPOSIT,,1,2500,0,USD\n"
    )
    page.get_by_role("link", name="Import & export").click()
    page.get_by_label("File").set_input_files(str(csv))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-counts")).to_contain_text("2 to add")
    expect(page.locator("#import-to-add")).to_be_visible()
    screenshot(page, "portfolio-import-preview")
    page.get_by_role("button", name="Import 2 transactions").click()
    expect(page.get_by_text("Imported 2 transactions")).to_be_visible()
    expect(page.get_by_role("heading", name="3 transactions")).to_be_visible()

    page.get_by_role("link", name="Import & export").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Transactions (CSV)").click()
    exported = download_info.value.path().read_text()
    assert exported.count("ACME") == 2
    assert "DEPOSIT" in exported

    page.goto(live_server.url + "/")
    expect(page.locator("#total-value-USD")).to_be_visible()
    screenshot(page, "portfolio-dashboard")


def test_portfolio_pages_fit_a_phone(live_server, trader, acme, open_page, screenshot):
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, live_server.url, trader.email)
    page.goto(live_server.url + "/portfolios/")
    page.get_by_label("Name").fill("Phone")
    page.get_by_role("button", name="Create portfolio").click()
    page.get_by_role("link", name="Add transaction").first.click()
    page.get_by_label("Date").fill(_last_weekday_back(15))
    page.get_by_label("Symbol").fill("ACME")
    page.get_by_label("Quantity").fill("3")
    page.get_by_label("Price").fill("101")
    page.get_by_role("button", name="Add transaction").click()
    screenshot(page, "phone-portfolio-transactions")

    for name, link in [
        ("phone-portfolio-detail", "Overview"),
        ("phone-portfolio-import", "Import & export"),
    ]:
        page.get_by_role("link", name=link).click()
        expect(page.locator("main h1").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"], name
        screenshot(page, name)
    page.goto(live_server.url + "/portfolios/")
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    screenshot(page, "phone-portfolio-list")
