"""The whole sign-in story in a real browser: sign up, confirm the email address, sign out,
sign in, turn on TOTP, sign in with a code, then end a second browser's session from the
first one."""

import re

import pytest
from allauth.usersessions.models import UserSession
from playwright.sync_api import Page, expect

from accounts.models import User
from audit.models import ActivityAction, ActivityLog
from tests.totp import current_code

pytestmark = pytest.mark.browser

EMAIL = "new.trader@example.com"
PASSWORD = "Quiet-Harbour-Lantern-42"


def sign_in_with_password(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def sign_out(page: Page) -> None:
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_sign_up_mfa_sign_in_and_end_another_session(
    live_server, mailoutbox, open_page, screenshot
):
    base_url = live_server.url
    page = open_page()

    # Sign up: a new visitor is sent to sign in, follows the link to sign up.
    page.goto(base_url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    screenshot(page, "login")
    page.get_by_role("main").get_by_role("link", name="sign up").click()
    expect(page.get_by_role("heading", name="Sign Up")).to_be_visible()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    screenshot(page, "signup")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name=f"Hello, {EMAIL}")).to_be_visible()
    screenshot(page, "dashboard-new-user")

    # Confirm the address from the email (allauth lets only verified users turn on MFA).
    (message,) = mailoutbox
    confirm_url = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body).group()
    page.goto(confirm_url)
    screenshot(page, "confirm-email")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("You have confirmed")).to_be_visible()

    # Sign out, then in again with the password.
    sign_out(page)
    sign_in_with_password(page, base_url)
    expect(page.get_by_role("heading", name=re.compile("^Hello, "))).to_be_visible()

    # Turn on TOTP from the Security tab: allauth asks for the password again first.
    page.goto(base_url + "/profile/security")
    page.get_by_role("link", name="Turn on two-factor").click()
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    screenshot(page, "reauthenticate")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(".+"))).to_be_visible()
    screenshot(page, "totp-activate")
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(current_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()
    screenshot(page, "recovery-codes")
    recovery_codes = page.locator("#recovery_codes").input_value().split()
    assert len(recovery_codes) == 10

    # Sign out; signing in now takes the password and then a TOTP code.
    sign_out(page)
    sign_in_with_password(page, base_url)
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    screenshot(page, "mfa-authenticate")
    page.get_by_label("Code", exact=True).fill(current_code(secret))
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name=re.compile("^Hello, "))).to_be_visible()

    # A second browser signs in as the same user (with a recovery code this time).
    other = open_page()
    sign_in_with_password(other, base_url)
    other.get_by_label("Code", exact=True).fill(recovery_codes[0])
    other.get_by_role("button", name="Sign In").click()
    expect(other.get_by_role("heading", name=re.compile("^Hello, "))).to_be_visible()

    # The first browser sees both sessions and ends the other one.
    page.goto(base_url + "/profile/security")
    sessions = page.locator("#sessions tbody tr")
    expect(sessions).to_have_count(2)
    screenshot(page, "security-two-sessions")
    other_row = sessions.filter(has_not_text="This browser")
    other_row.get_by_role("button", name="End session").click()
    expect(page.get_by_text("The session was ended")).to_be_visible()
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    screenshot(page, "security-after-ending-session")

    # The second browser is signed out; the first is still in.
    other.goto(base_url + "/")
    expect(other).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.goto(base_url + "/")
    expect(page.get_by_role("heading", name=re.compile("^Hello, "))).to_be_visible()

    user = User.objects.get(email=EMAIL)
    assert UserSession.objects.filter(user=user).count() == 1
    assert ActivityLog.objects.filter(user=user, action=ActivityAction.SESSION_ENDED).count() == 1
