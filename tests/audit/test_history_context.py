"""Model history names who made a change, from where, and in which request, through every door."""

from http import HTTPStatus

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Profile
from accounts.services import token_create
from audit.models import ActivityAction, ActivityLog

REMOTE = "192.0.2.44"
FORGED = "198.51.100.66"

PROFILE_FORM = {
    "display_name": "Ada",
    "country": "",
    "base_currency": "EUR",
    "timezone": "Europe/Berlin",
    "risk_tolerance": "moderate",
    "investment_horizon": "medium",
    "trading_style": "swing",
    "initial_capital": "1000",
}


def _page(user, headers: dict):
    client = Client(REMOTE_ADDR=REMOTE)
    client.force_login(user)
    return client.post(reverse("profile"), PROFILE_FORM, headers=headers)


def _api_session(user, headers: dict):
    client = APIClient(REMOTE_ADDR=REMOTE)
    client.force_login(user)
    return client.patch(reverse("api-profile"), {"display_name": "Ada"}, headers=headers)


def _api_token(user, headers: dict):
    _, raw = token_create(user=user, name="history test")
    client = APIClient(REMOTE_ADDR=REMOTE)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client.patch(reverse("api-profile"), {"display_name": "Ada"}, headers=headers)


DOORS = pytest.mark.parametrize(
    ("write", "success"),
    [(_page, HTTPStatus.FOUND), (_api_session, HTTPStatus.OK), (_api_token, HTTPStatus.OK)],
    ids=["page with session", "API with session", "API with token"],
)


def _profile_update_entry(user) -> LogEntry:
    return LogEntry.objects.get_for_object(Profile.objects.get(user=user)).get(
        action=LogEntry.Action.UPDATE
    )


@DOORS
def test_write_records_actor_address_and_request_id(user, write, success):
    response = write(user, {})

    assert response.status_code == success
    entry = _profile_update_entry(user)
    assert (entry.actor, entry.remote_addr, entry.cid) == (
        user,
        REMOTE,
        response["X-Request-ID"],
    )
    assert entry.changes["display_name"] == ["", "Ada"]


@DOORS
def test_client_chosen_request_and_correlation_ids_are_not_believed(user, write, success):
    response = write(user, {"X-Request-ID": "client-chosen", "X-Correlation-ID": "client-chosen"})

    assert response.status_code == success
    assert response["X-Request-ID"] != "client-chosen"
    assert _profile_update_entry(user).cid == response["X-Request-ID"]


@DOORS
@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "expected"),
    [
        (0, FORGED, REMOTE),
        (0, f"{FORGED}, 203.0.113.7", REMOTE),
        (1, f"{FORGED}, 203.0.113.7", "203.0.113.7"),
        (1, "203.0.113.7", "203.0.113.7"),
        (2, f"{FORGED}, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (1, "not-an-address", None),
    ],
    ids=[
        "no proxy: header ignored",
        "no proxy: chain ignored",
        "one proxy: right-most hop",
        "one proxy: single hop",
        "two proxies: second from the right",
        "one proxy: junk is not an address",
    ],
)
def test_forwarded_for_is_believed_only_as_far_as_the_trusted_proxies(
    settings, user, write, success, proxies, forwarded_for, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies

    response = write(user, {"X-Forwarded-For": forwarded_for})

    assert response.status_code == success
    assert _profile_update_entry(user).remote_addr == expected
    activity = ActivityLog.objects.get(user=user, action=ActivityAction.PROFILE_UPDATED)
    assert activity.ip_address == expected
    assert activity.request_id == response["X-Request-ID"]
