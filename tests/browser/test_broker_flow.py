"""Broker connections in a real browser: adding keys asks for the password again, the keys
show only masked, the paper broker connects and disconnects; the tab fits a phone."""

import re

import pytest
from allauth.account.models import EmailAddress
from playwright.sync_api import expect

from accounts.models import BrokerCredential, CredentialStatus
from tests.browser.conftest import PHONE
from tests.browser.test_page_tour import sign_in
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.browser

API_KEY = "Bn5vCx8ZaQ2wSe7R-browserkey-4DfG9hJk"
API_SECRET = "Ty6uIo1PlK4jHg8F-browsersecret-2DsA7zXc"


@pytest.fixture
def trader(db):
    user = UserFactory(email="brokers@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def test_add_keys_after_reauthenticating_connect_paper_and_see_keys_masked(
    live_server, trader, open_page, screenshot
):
    page = open_page()
    sign_in(page, live_server.url, trader.email)
    page.goto(live_server.url + "/profile/")
    page.get_by_role("link", name="Broker connections").click()
    expect(page.get_by_text("No broker connections yet")).to_be_visible()

    # Keys without a recent password confirmation: asked for it, nothing kept.
    form = page.locator("#add-credential")
    form.get_by_label("Broker").select_option("binance")
    form.get_by_label("Label", exact=True).fill("main")
    form.get_by_label("API key").fill(API_KEY)
    form.get_by_label("API secret").fill(API_SECRET)
    form.get_by_role("button", name="Add broker").click()
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/profile/brokers$"))
    assert not BrokerCredential.objects.exists()

    # Again, now that the password was just confirmed; an error first, next to its field.
    form.get_by_label("Broker").select_option("binance")
    form.get_by_label("Label", exact=True).fill("main")
    form.get_by_label("API key").fill(API_KEY)
    form.get_by_role("button", name="Add broker").click()
    expect(page.locator("#id_api_secret_error")).to_contain_text("needs an API secret")
    expect(form.get_by_label("API key")).to_have_value("")
    screenshot(page, "brokers-form-errors")
    form.get_by_label("API key").fill(API_KEY)
    form.get_by_label("API secret").fill(API_SECRET)
    form.get_by_role("button", name="Add broker").click()
    expect(page.get_by_text("Binance: main was added")).to_be_visible()

    # Paper trading: no keys; connect it.
    form.get_by_label("Broker").select_option("paper")
    form.get_by_label("Label", exact=True).fill("sandbox")
    form.get_by_role("button", name="Add broker").click()
    paper_row = page.locator("[data-credential]").filter(has_text="sandbox")
    paper_row.get_by_role("button", name="Connect").click()
    expect(page.get_by_text("Paper trading: sandbox is connected.")).to_be_visible()
    expect(paper_row.get_by_text("Connected", exact=True)).to_be_visible()

    binance_row = page.locator("[data-credential]").filter(has_text="Binance")
    expect(binance_row.get_by_text("••••••••" + API_KEY[-4:])).to_be_visible()
    html = page.content()
    assert API_KEY not in html
    assert API_SECRET not in html
    screenshot(page, "brokers-connected")
    assert BrokerCredential.objects.get(label="sandbox").status == CredentialStatus.CONNECTED

    # A refused connect shows its reason; disconnect paper.
    binance_row.get_by_role("button", name="Connect").click()
    expect(binance_row.get_by_text("Error", exact=True)).to_be_visible()
    paper_row.get_by_role("button", name="Disconnect").click()
    expect(paper_row.get_by_text("Disconnected", exact=True)).to_be_visible()

    # Preferences: choose the dark theme and see the page follow it at once.
    page.goto(live_server.url + "/profile/preferences")
    page.get_by_label("Dark", exact=True).check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    screenshot(page, "preferences-dark")

    phone = open_page(viewport=PHONE)
    sign_in(phone, live_server.url, trader.email)
    phone.goto(live_server.url + "/profile/brokers")
    expect(phone.get_by_role("heading", name="Your broker connections")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "brokers-phone")
