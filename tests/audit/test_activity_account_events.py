"""Account events through allauth's real pages land in the activity log with address and agent."""

import re
from http import HTTPStatus

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY
from django.test import Client
from django.urls import reverse

from audit.models import ActivityAction, ActivityLog, ActivityStatus
from audit.services import activity_chain_verify
from tests.factories import PASSWORD, UserFactory
from tests.totp import current_code

ADDRESS = "203.0.113.5"
AGENT = "AuditTest/1.0 (pytest)"
NEW_PASSWORD = "Another-Staple-Battery-7"

pytestmark = pytest.mark.django_db


@pytest.fixture
def web() -> Client:
    return Client(REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=AGENT)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """allauth sends its MFA signals once the change commits; tests run inside a transaction."""
    return django_capture_on_commit_callbacks


def _sign_in(web: Client, email: str, password: str = PASSWORD):
    return web.post(reverse("account_login"), {"login": email, "password": password})


def _rows(action: str) -> list[ActivityLog]:
    return list(ActivityLog.objects.filter(action=action).order_by("seq"))


def _row_text(row: ActivityLog) -> str:
    return repr([row.description, row.details, row.user_agent, row.request_id])


def _assert_from_browser(row: ActivityLog) -> None:
    assert (row.ip_address, row.user_agent) == (ADDRESS, AGENT)
    assert row.request_id


def _activate_totp(web: Client, user, on_commit) -> str:
    # MFA changes ask for the password again, whatever the age of the sign-in.
    web.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    web.get(reverse("mfa_activate_totp"))
    secret = web.session[SECRET_SESSION_KEY]
    with on_commit(execute=True):
        response = web.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})
    assert response.status_code == HTTPStatus.FOUND
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    return secret


def test_sign_up_records_sign_up_and_sign_in(web):
    response = web.post(
        reverse("account_signup"),
        {"email": "new.trader@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == HTTPStatus.FOUND
    (signup,) = _rows(ActivityAction.SIGNUP)
    (sign_in,) = _rows(ActivityAction.SIGN_IN)
    assert signup.user.email == sign_in.user.email == "new.trader@example.com"
    _assert_from_browser(signup)
    _assert_from_browser(sign_in)
    assert PASSWORD not in _row_text(signup) + _row_text(sign_in)


def test_sign_in_records_the_user_address_agent_and_method(web, user):
    response = _sign_in(web, user.email)

    assert response.status_code == HTTPStatus.FOUND
    (row,) = _rows(ActivityAction.SIGN_IN)
    assert (row.user, row.status, row.details) == (
        user,
        ActivityStatus.SUCCESS,
        {"methods": ["password"]},
    )
    _assert_from_browser(row)


@pytest.mark.parametrize(
    ("login", "belongs_to_user"),
    [("{email}", True), ("{upper}", True), ("nobody@example.com", False)],
    ids=["known email", "known email in capitals", "unknown email"],
)
def test_failed_sign_in_records_a_failure_without_the_password(web, user, login, belongs_to_user):
    attempted = "Wrong-Password-123!"
    login = login.format(email=user.email, upper=user.email.upper())

    response = _sign_in(web, login, attempted)

    assert response.status_code == HTTPStatus.OK
    (row,) = _rows(ActivityAction.SIGN_IN_FAILED)
    assert row.status == ActivityStatus.FAILURE
    assert row.user == (user if belongs_to_user else None)
    assert row.details == {"method": "password", "known_account": belongs_to_user}
    _assert_from_browser(row)
    assert attempted not in _row_text(row)
    assert login.lower() not in _row_text(row).lower()
    assert _rows(ActivityAction.SIGN_IN) == []


def test_sign_out_records_the_user(web, user):
    _sign_in(web, user.email)

    response = web.post(reverse("account_logout"))

    assert response.status_code == HTTPStatus.FOUND
    (row,) = _rows(ActivityAction.SIGN_OUT)
    assert row.user == user
    _assert_from_browser(row)


def test_password_change_records_the_user(web, user):
    _sign_in(web, user.email)

    response = web.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == HTTPStatus.FOUND
    (row,) = _rows(ActivityAction.PASSWORD_CHANGE)
    assert (row.user, row.details) == (user, {"event": "changed"})
    _assert_from_browser(row)
    assert PASSWORD not in _row_text(row)
    assert NEW_PASSWORD not in _row_text(row)


def test_a_wrong_current_password_records_a_failed_change_and_changes_nothing(web, user):
    _sign_in(web, user.email)

    response = web.post(
        reverse("account_change_password"),
        {"oldpassword": "not-my-password-1", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == HTTPStatus.OK  # the form again, with the error
    (row,) = _rows(ActivityAction.PASSWORD_CHANGE)
    assert (row.user, row.status) == (user, ActivityStatus.FAILURE)
    assert row.description.startswith("Password change failed: ")
    _assert_from_browser(row)
    assert "not-my-password-1" not in _row_text(row)
    assert NEW_PASSWORD not in _row_text(row)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_wrong_code_at_totp_activation_records_a_failed_mfa_change(web, user):
    _sign_in(web, user.email)
    web.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    web.get(reverse("mfa_activate_totp"))
    secret = web.session[SECRET_SESSION_KEY]
    wrong = str((int(current_code(secret)) + 1) % 1_000_000).zfill(6)

    response = web.post(reverse("mfa_activate_totp"), {"code": wrong})

    assert response.status_code == HTTPStatus.OK
    (row,) = _rows(ActivityAction.MFA_CHANGE)
    assert (row.user, row.status) == (user, ActivityStatus.FAILURE)
    assert row.details == {"authenticator": "totp"}
    _assert_from_browser(row)
    assert secret not in _row_text(row)
    assert not Authenticator.objects.filter(user=user).exists()


def test_password_set_records_the_user(web):
    user = UserFactory(password=None)
    user.set_unusable_password()
    user.save()
    web.force_login(user)

    response = web.post(
        reverse("account_set_password"), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )

    assert response.status_code == HTTPStatus.FOUND
    (row,) = _rows(ActivityAction.PASSWORD_CHANGE)
    assert (row.user, row.details) == (user, {"event": "set"})
    _assert_from_browser(row)


def test_totp_activation_records_totp_and_recovery_codes_without_the_secret(web, user, on_commit):
    _sign_in(web, user.email)

    secret = _activate_totp(web, user, on_commit)

    rows = _rows(ActivityAction.MFA_CHANGE)
    assert [(row.user, row.details) for row in rows] == [
        (user, {"event": "added", "authenticator": "totp"}),
        (user, {"event": "added", "authenticator": "recovery_codes"}),
    ]
    for row in rows:
        _assert_from_browser(row)
        assert secret not in _row_text(row)


def test_totp_deactivation_records_the_change(web, user, on_commit):
    _sign_in(web, user.email)
    _activate_totp(web, user, on_commit)

    response = web.post(reverse("mfa_deactivate_totp"))

    assert response.status_code == HTTPStatus.FOUND
    removed = [row for row in _rows(ActivityAction.MFA_CHANGE) if row.details["event"] == "removed"]
    assert [row.details["authenticator"] for row in removed] == ["totp", "recovery_codes"]
    assert {row.description for row in removed} == {
        "Authenticator app (TOTP) deactivated",
        "Recovery codes removed",
    }
    _assert_from_browser(removed[0])


def test_recovery_code_regeneration_records_a_reset(web, user, on_commit):
    _sign_in(web, user.email)
    _activate_totp(web, user, on_commit)

    with on_commit(execute=True):
        response = web.post(reverse("mfa_generate_recovery_codes"))

    assert response.status_code == HTTPStatus.FOUND
    (row,) = [row for row in _rows(ActivityAction.MFA_CHANGE) if row.details["event"] == "reset"]
    assert (row.user, row.details["authenticator"]) == (user, "recovery_codes")
    _assert_from_browser(row)


def test_wrong_mfa_code_at_sign_in_records_a_failure_and_no_sign_in(web, user, on_commit):
    _sign_in(web, user.email)
    secret = _activate_totp(web, user, on_commit)
    web.post(reverse("account_logout"))
    _sign_in(web, user.email)
    wrong = str((int(current_code(secret)) + 1) % 1_000_000).zfill(6)

    response = web.post(reverse("mfa_authenticate"), {"code": wrong})

    assert response.status_code == HTTPStatus.OK
    (row,) = _rows(ActivityAction.SIGN_IN_FAILED)
    assert (row.user, row.status, row.details) == (
        user,
        ActivityStatus.FAILURE,
        {"method": "mfa", "authenticator": "totp", "reauthentication": False},
    )
    _assert_from_browser(row)
    assert wrong not in _row_text(row)
    assert len(_rows(ActivityAction.SIGN_IN)) == 1


def test_sign_in_with_mfa_records_both_methods(web, user, on_commit):
    _sign_in(web, user.email)
    secret = _activate_totp(web, user, on_commit)
    web.post(reverse("account_logout"))
    _sign_in(web, user.email)

    response = web.post(reverse("mfa_authenticate"), {"code": current_code(secret)})

    assert response.status_code == HTTPStatus.FOUND
    last = _rows(ActivityAction.SIGN_IN)[-1]
    assert last.details == {"methods": ["password", "mfa"]}
    _assert_from_browser(last)


def test_a_full_session_of_account_events_leaves_an_intact_chain(web, user, on_commit):
    _sign_in(web, user.email, "wrong-password-1")
    _sign_in(web, user.email)
    _activate_totp(web, user, on_commit)
    web.post(reverse("account_logout"))

    report = activity_chain_verify()

    assert report.intact, report.problems
    assert report.rows == 5


def test_password_reset_by_email_link_records_the_user(web, user, mailoutbox):
    web.post(reverse("account_reset_password"), {"email": user.email})
    (link,) = re.findall(r"https?://\S+/password/reset/key/\S+/", mailoutbox[0].body)
    form_url = web.get(link).url

    response = web.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == HTTPStatus.FOUND
    (row,) = _rows(ActivityAction.PASSWORD_RESET)
    assert row.user == user
    _assert_from_browser(row)
    assert NEW_PASSWORD not in _row_text(row)


def test_adding_and_removing_an_email_address_records_no_address(web, user):
    _sign_in(web, user.email)
    extra = "second.address@example.com"

    web.post(reverse("account_email"), {"email": extra, "action_add": ""})
    web.post(reverse("account_email"), {"email": extra, "action_remove": ""})

    rows = _rows(ActivityAction.EMAIL_CHANGE)
    assert [(row.user, row.details) for row in rows] == [
        (user, {"event": "added"}),
        (user, {"event": "removed"}),
    ]
    _assert_from_browser(rows[0])
    assert extra not in "".join(_row_text(row) for row in rows)
