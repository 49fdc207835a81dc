"""Every trader page in a real browser, at desktop and phone width and in both themes: no
console error, no CSP violation, no failed request. Screenshots land in
test-artifacts/screenshots/ for a person to look at."""

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.services import token_create
from audit.models import ActivityAction, ActivityStatus, BackgroundJob, JobStatus
from audit.services import activity_record
from tests.browser.conftest import PHONE
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def trader(db):
    """A trader with a verified address and a little history to show."""
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    user.profile.display_name = "Ada"
    user.profile.save()
    for number in range(30):
        activity_record(
            user=user,
            action=ActivityAction.PROFILE_UPDATED,
            description=f"Profile updated ({number})",
            ip_address="203.0.113.7",
            user_agent_text="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0",
        )
    activity_record(
        user=user,
        action=ActivityAction.SIGN_IN_FAILED,
        status=ActivityStatus.FAILURE,
        description="Wrong password",
    )
    now = timezone.now()
    for job_type, status, progress in [
        ("price_import", JobStatus.RUNNING, 45),
        ("backtest", JobStatus.SUCCEEDED, 100),
        ("snapshot_rebuild", JobStatus.FAILED, 70),
        ("data_refresh", JobStatus.QUEUED, 0),
    ]:
        BackgroundJob.objects.create(
            user=user, job_type=job_type, status=status, progress=progress, started_at=now
        )
    token_create(user=user, name="research notebook", expires_at=now + timedelta(days=30))
    return user


def sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name=re.compile("^Hello, "))).to_be_visible()


PAGES = [
    ("dashboard", "/"),
    ("profile-account", "/profile/"),
    ("profile-brokers", "/profile/brokers"),
    ("profile-stats", "/profile/stats"),
    ("profile-preferences", "/profile/preferences"),
    ("profile-security", "/profile/security"),
    ("profile-activity", "/profile/activity"),
    ("profile-activity-filtered", "/profile/activity?status=failure"),
    ("profile-delete", "/profile/delete"),
    ("email", "/accounts/email/"),
    ("password-change", "/accounts/password/change/"),
    ("mfa-index", "/accounts/2fa/"),
    ("sessions", "/accounts/sessions/"),
    ("logout-confirm", "/accounts/logout/"),
]


def test_every_page_renders_cleanly_on_desktop(live_server, trader, open_page, screenshot):
    page = open_page()
    sign_in(page, live_server.url, trader.email)

    for name, path in PAGES:
        page.goto(live_server.url + path)
        expect(page.locator("main h1").first).to_be_visible()
        screenshot(page, name)


def test_forms_show_errors_next_to_fields(live_server, trader, open_page, screenshot):
    page = open_page()
    sign_in(page, live_server.url, trader.email)

    page.goto(live_server.url + "/profile/")
    page.get_by_label("Initial capital").fill("-5")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#id_initial_capital_error")).to_be_visible()
    screenshot(page, "profile-account-errors")

    page.goto(live_server.url + "/profile/preferences")
    page.get_by_label("Primary mode").select_option("options")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.locator("#id_primary_mode_error")).to_contain_text("enabled trading modes")
    screenshot(page, "profile-preferences-errors")


def test_token_is_shown_once_in_the_browser(live_server, trader, open_page, screenshot):
    page = open_page()
    sign_in(page, live_server.url, trader.email)

    page.goto(live_server.url + "/profile/security")
    page.get_by_label("Name").fill("trading bot")
    page.get_by_role("button", name="Create token").click()
    raw = page.get_by_label("Your new token").input_value()
    assert raw.startswith("tl_")
    screenshot(page, "token-created")

    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("cell", name="trading bot")).to_be_visible()
    assert raw not in page.content()


def test_phone_width_collapses_the_navbar(live_server, trader, open_page, screenshot):
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, live_server.url, trader.email)

    nav = page.get_by_role("navigation", name="Main navigation")
    menu = nav.get_by_role("link", name="Profile", exact=True)
    expect(menu).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    screenshot(page, "phone-dashboard")
    page.get_by_role("button", name="Toggle navigation").click()
    expect(menu).to_be_visible()
    # Bootstrap swaps "collapsing" for "show" once the opening animation is over.
    expect(page.locator("#main-nav")).to_have_class(re.compile(r"\bcollapse show\b"))
    screenshot(page, "phone-dashboard-menu-open")

    for name, path in [
        ("phone-profile-account", "/profile/"),
        ("phone-profile-security", "/profile/security"),
        ("phone-profile-activity", "/profile/activity"),
    ]:
        page.goto(live_server.url + path)
        expect(page.locator("main h1")).to_be_visible()
        # Wide tables scroll inside their card; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"], name
        screenshot(page, name)


@pytest.mark.parametrize(
    ("theme", "device_scheme", "expected"),
    [("dark", "light", "dark"), ("light", "dark", "light"), ("system", "dark", "dark")],
)
def test_theme_follows_preference_and_system_setting(
    live_server, trader, open_page, screenshot, theme, device_scheme, expected
):
    trader.preferences.theme = theme
    trader.preferences.save()
    page = open_page(color_scheme=device_scheme)
    sign_in(page, live_server.url, trader.email)

    expect(page.locator("html")).to_have_attribute("data-bs-theme", expected)
    if expected == "dark":
        screenshot(page, f"dashboard-dark-{theme}")
        page.goto(live_server.url + "/profile/security")
        screenshot(page, f"profile-security-dark-{theme}")
