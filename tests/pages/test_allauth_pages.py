"""allauth's pages render inside our layout, at every step of every flow we use."""

from http import HTTPStatus

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.urls import reverse

from tests.pages.support import inline_code, reauthenticate


def _reset_key_url(user, valid: bool) -> str:
    key = default_token_generator.make_token(user) if valid else "bad-key"
    uidb36 = user_pk_to_url_str(user)
    return reverse("account_reset_password_from_key", kwargs={"uidb36": uidb36, "key": key})


# (case id, who is asking, how to reach the page). "who" names a fixture of this package.
PAGES = [
    ("login", "client", lambda user: reverse("account_login")),
    ("signup", "client", lambda user: reverse("account_signup")),
    ("password reset", "client", lambda user: reverse("account_reset_password")),
    ("password reset done", "client", lambda user: reverse("account_reset_password_done")),
    ("password reset from key", "client", lambda user: _reset_key_url(user, valid=True)),
    ("password reset bad key", "client", lambda user: _reset_key_url(user, valid=False)),
    (
        "password reset from key done",
        "client",
        lambda user: reverse("account_reset_password_from_key_done"),
    ),
    ("verification sent", "client", lambda user: reverse("account_email_verification_sent")),
    (
        "confirm email bad key",
        "client",
        lambda user: reverse("account_confirm_email", kwargs={"key": "bad"}),
    ),
    ("account inactive", "client", lambda user: reverse("account_inactive")),
    ("logout", "page_client", lambda user: reverse("account_logout")),
    ("email", "page_client", lambda user: reverse("account_email")),
    ("password change", "page_client", lambda user: reverse("account_change_password")),
    ("password set", "passwordless_client", lambda user: reverse("account_set_password")),
    ("reauthenticate", "page_client", lambda user: reverse("account_reauthenticate")),
    ("mfa index", "page_client", lambda user: reverse("mfa_index")),
    ("sessions", "page_client", lambda user: reverse("usersessions_list")),
    ("totp activate", "fresh_client", lambda user: reverse("mfa_activate_totp")),
    ("totp deactivate", "mfa_fresh_client", lambda user: reverse("mfa_deactivate_totp")),
    ("recovery codes", "mfa_fresh_client", lambda user: reverse("mfa_view_recovery_codes")),
    (
        "recovery codes generate",
        "mfa_fresh_client",
        lambda user: reverse("mfa_generate_recovery_codes"),
    ),
    ("mfa index with totp", "mfa_fresh_client", lambda user: reverse("mfa_index")),
    ("mfa authenticate", "mfa_stage_client", lambda user: reverse("mfa_authenticate")),
    ("mfa reauthenticate", "mfa_page_client", lambda user: reverse("mfa_reauthenticate")),
]


@pytest.fixture
def passwordless_client(page_client, user):
    user.set_unusable_password()
    user.save()
    page_client.force_login(user)
    return page_client


@pytest.fixture
def mfa_page_client(page_client, totp_secret):
    return page_client


@pytest.fixture
def mfa_stage_client(client, user, password, totp_secret):
    """Past the password, waiting at the two-factor step of sign-in."""
    response = client.post(reverse("account_login"), {"login": user.email, "password": password})
    assert response["Location"] == reverse("mfa_authenticate")
    return client


@pytest.fixture
def mfa_fresh_client(mfa_stage_client, totp_code, password):
    response = mfa_stage_client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] != reverse("mfa_authenticate")
    reauthenticate(mfa_stage_client, password)
    return mfa_stage_client


@pytest.fixture(params=PAGES, ids=[case[0] for case in PAGES])
def allauth_page(request, user):
    _, who, url = request.param
    client = request.getfixturevalue(who)
    return client.get(url(user), follow=True)


def test_allauth_page_renders_in_our_layout(allauth_page):
    html = allauth_page.content.decode()

    assert allauth_page.status_code == HTTPStatus.OK
    assert 'id="main"' in html
    assert "vendor/bootstrap/bootstrap.min.css" in html
    assert "Trading Lab" in html


def test_allauth_page_has_no_inline_script_or_style(allauth_page):
    assert inline_code(allauth_page.content.decode()) == []


def test_allauth_page_is_served_with_a_csp_that_forbids_inline_code(allauth_page):
    policy = allauth_page["Content-Security-Policy"]

    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_totp_activation_page_shows_the_qr_code_and_secret(fresh_client):
    html = fresh_client.get(reverse("mfa_activate_totp")).content.decode()

    assert 'src="data:image/svg+xml;base64,' in html
    assert 'class="mfa-qr' in html
    assert 'id="authenticator_secret"' in html


def test_recovery_codes_page_offers_copy_without_inline_script(mfa_fresh_client):
    html = mfa_fresh_client.get(reverse("mfa_view_recovery_codes")).content.decode()

    assert 'data-copy-target="#recovery_codes"' in html
    assert inline_code(html) == []


def test_login_form_fields_have_visible_labels_and_field_errors(client, user):
    response = client.post(reverse("account_login"), {"login": user.email, "password": "wrong"})
    html = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert '<label class="form-label required" for="id_login">' in html
    assert '<label class="form-label required" for="id_password">' in html
    assert "alert-danger" in html


def test_signup_shows_errors_next_to_the_field(client, user):
    response = client.post(
        reverse("account_signup"),
        {"email": user.email, "password1": "x", "password2": "y"},
    )
    html = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert 'id="id_email_error"' in html
    assert 'aria-invalid="true"' in html
