"""Every page renders in the layout for whom it is meant, and sends others to sign in."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.services import token_create, token_revoke
from audit.models import ActivityAction, BackgroundJob, JobStatus
from audit.services import activity_record
from tests.pages.support import inline_code

SIGNED_IN_PAGES = [
    "dashboard",
    "profile",
    "profile_preferences",
    "profile_security",
    "profile_activity",
]


@pytest.mark.parametrize("url_name", SIGNED_IN_PAGES)
def test_page_renders_for_signed_in_user(page_client, user, url_name):
    response = page_client.get(reverse(url_name))

    assert response.status_code == HTTPStatus.OK
    assert b'id="main"' in response.content
    assert user.email.encode() in response.content


@pytest.mark.parametrize("url_name", SIGNED_IN_PAGES)
def test_page_redirects_anonymous_visitor_to_sign_in(client, url_name):
    url = reverse(url_name)

    response = client.get(url)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"{reverse('account_login')}?next={url}"


@pytest.mark.parametrize("url_name", SIGNED_IN_PAGES)
def test_signed_in_page_is_never_cached(page_client, url_name):
    response = page_client.get(reverse(url_name))

    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("theme", "bs_theme"),
    [("light", "light"), ("dark", "dark"), ("system", "light")],
)
def test_layout_carries_the_users_theme(page_client, user, theme, bs_theme):
    user.preferences.theme = theme
    user.preferences.save()

    html = page_client.get(reverse("dashboard")).content.decode()

    assert f'data-theme-preference="{theme}"' in html
    assert f'data-bs-theme="{bs_theme}"' in html


def test_navbar_shows_admin_link_to_staff_only(client, user, staff_user):
    admin_url = reverse("admin:index")
    client.force_login(user)
    assert f'href="{admin_url}"' not in client.get(reverse("dashboard")).content.decode()

    client.force_login(staff_user)
    assert f'href="{admin_url}"' in client.get(reverse("dashboard")).content.decode()


def test_sign_out_in_navbar_is_a_post_form(page_client):
    html = page_client.get(reverse("dashboard")).content.decode()

    assert f'<form method="post" action="{reverse("account_logout")}">' in html


def test_dashboard_greets_by_display_name(page_client, user):
    user.profile.display_name = "Ada Lovelace"
    user.profile.save()

    response = page_client.get(reverse("dashboard"))

    assert "Hello, Ada Lovelace" in response.content.decode()


def test_dashboard_shows_mfa_on_without_a_nudge_once_totp_is_active(page_client, totp_secret):
    html = page_client.get(reverse("dashboard")).content.decode()

    assert "Two-factor authentication is off" not in html
    assert "10 recovery codes left" in html


def test_dashboard_nudges_to_enable_mfa_when_off(page_client):
    html = page_client.get(reverse("dashboard")).content.decode()

    assert "Two-factor authentication is off" in html
    assert reverse("mfa_activate_totp") in html


def test_dashboard_lists_only_the_users_last_ten_activity_rows(page_client, user, other_user):
    for number in range(12):
        activity_record(
            user=user, action=ActivityAction.PROFILE_UPDATED, description=f"mine {number:02}"
        )
    activity_record(user=other_user, action=ActivityAction.PROFILE_UPDATED, description="theirs")

    html = page_client.get(reverse("dashboard")).content.decode()

    assert "mine 11" in html
    assert "mine 02" in html
    assert "mine 01" not in html
    assert "theirs" not in html


@pytest.mark.parametrize("url_name", SIGNED_IN_PAGES)
def test_page_has_no_inline_script_or_style(page_client, user, url_name):
    activity_record(user=user, action=ActivityAction.PROFILE_UPDATED, description="row")
    BackgroundJob.objects.create(user=user, job_type="price_import", progress=40)

    response = page_client.get(reverse(url_name))

    assert inline_code(response.content.decode()) == []
    assert "unsafe-inline" not in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("progress", "width_class"),
    [(0, "progress-w-0"), (2, "progress-w-0"), (43, "progress-w-45"), (100, "progress-w-100")],
)
def test_dashboard_job_progress_bar_uses_a_5_percent_width_class(
    page_client, user, progress, width_class
):
    BackgroundJob.objects.create(
        user=user, job_type="price_import", status=JobStatus.RUNNING, progress=progress
    )

    html = page_client.get(reverse("dashboard")).content.decode()

    assert f'aria-valuenow="{progress}"' in html
    assert f"progress-bar {width_class}" in html
    assert "Price import" in html


def test_dashboard_shows_only_the_users_jobs(page_client, user, other_user):
    BackgroundJob.objects.create(user=user, job_type="mine_job")
    BackgroundJob.objects.create(user=other_user, job_type="their_job")

    html = page_client.get(reverse("dashboard")).content.decode()

    assert "Mine job" in html
    assert "Their job" not in html


def test_dashboard_counts_usable_tokens_and_sessions(page_client, user):
    token_create(user=user, name="kept")
    revoked, _ = token_create(user=user, name="gone")
    token_revoke(token=revoked)

    response = page_client.get(reverse("dashboard"))

    assert response.context["tokens_count"] == 1
    assert response.context["sessions_count"] == 1
