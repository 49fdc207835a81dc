"""`manage.py seed_demo`: the demo trader and staff account, idempotent, ready to sign in."""

import re
from http import HTTPStatus
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse

from accounts.models import Profile, User
from audit.models import ActivityLog

DEMO = "demo@tradinglab.local"
STAFF = "admin@tradinglab.local"


@pytest.fixture(autouse=True)
def development_mode(settings) -> None:
    # The test runner turns DEBUG off; seed_demo is a development command.
    settings.DEBUG = True


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def printed_password(output: str, email: str) -> str:
    match = re.search(rf"{re.escape(email)} / (\S+)", output)
    assert match, output
    return match.group(1)


def snapshot() -> dict:
    return {
        "users": list(User.objects.order_by("pk").values()),
        "profiles": list(Profile.objects.order_by("pk").values()),
        "addresses": list(EmailAddress.objects.order_by("pk").values()),
        "activity": ActivityLog.objects.count(),
    }


@pytest.mark.django_db
def test_first_run_creates_demo_trader_and_staff_with_verified_addresses():
    output = seed("--url", "http://localhost:8123/")

    demo = User.objects.get(email=DEMO)
    staff = User.objects.get(email=STAFF)
    assert (demo.is_staff, demo.is_superuser, demo.is_active) == (False, False, True)
    assert (staff.is_staff, staff.is_superuser, staff.is_active) == (True, True, True)
    for user in (demo, staff):
        assert EmailAddress.objects.filter(
            user=user, email=user.email, verified=True, primary=True
        ).exists()
        assert user.check_password(printed_password(output, user.email))
    assert demo.profile.display_name == "Demo Trader"
    assert demo.profile.country == "US"
    assert demo.profile.initial_capital > 0
    assert "http://localhost:8123/" in output
    assert "http://localhost:8123/admin/" in output


@pytest.mark.django_db
def test_second_run_changes_nothing_and_says_so():
    seed()
    before = snapshot()

    output = seed()

    assert "nothing changed" in output
    assert snapshot() == before


@pytest.mark.django_db
def test_a_rerun_repairs_a_changed_password_and_reports_it():
    output = seed()
    demo = User.objects.get(email=DEMO)
    demo.set_password("something-else-entirely-7")
    demo.save()

    rerun = seed()

    assert f"reset password of {DEMO}" in rerun
    demo.refresh_from_db()
    assert demo.check_password(printed_password(output, DEMO))


@pytest.mark.django_db
@pytest.mark.parametrize("email", [DEMO, STAFF])
def test_seeded_accounts_sign_in_through_allauth_with_the_printed_password(client, email):
    output = seed()

    response = client.post(
        reverse("account_login"), {"login": email, "password": printed_password(output, email)}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert client.session["_auth_user_id"] == str(User.objects.get(email=email).pk)


@pytest.mark.django_db
def test_seeded_staff_account_reaches_the_admin(client):
    output = seed()
    client.post(
        reverse("account_login"), {"login": STAFF, "password": printed_password(output, STAFF)}
    )

    assert client.get(reverse("admin:index")).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_in_production_mode():
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG=true"):
        seed()

    assert not User.objects.filter(email__in=[DEMO, STAFF]).exists()
