"""activity_record stores exactly what it hashed, whatever the client sent."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from audit.models import ActivityAction, ActivityLog
from audit.services import activity_chain_verify, activity_record


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("::ffff:c000:0201", "::ffff:192.0.2.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("not-an-address", None),
        ("", None),
    ],
)
def test_address_is_stored_as_hashed_and_the_chain_stays_intact(user, given, stored):
    request = RequestFactory().get("/", REMOTE_ADDR=given)

    row = activity_record(user=user, action=ActivityAction.SIGN_IN, request=request)

    assert ActivityLog.objects.get(pk=row.pk).ip_address == stored
    report = activity_chain_verify()
    assert report.intact, report.problems


def test_nul_characters_from_the_client_are_dropped(user):
    request = RequestFactory().get("/", HTTP_USER_AGENT="Evil\x00Agent")

    row = activity_record(
        user=user, action=ActivityAction.SIGN_IN, description="a\x00b", request=request
    )

    stored = ActivityLog.objects.get(pk=row.pk)
    assert (stored.user_agent, stored.description) == ("EvilAgent", "ab")
    assert activity_chain_verify().intact


def test_details_are_stored_in_their_json_form_and_verify(user):
    row = activity_record(
        user=user,
        action=ActivityAction.PROFILE_UPDATED,
        details={"amount": Decimal("12.50"), "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), 7: 1},
    )

    assert ActivityLog.objects.get(pk=row.pk).details == {
        "amount": "12.50",
        "at": "2026-01-02T03:04:05Z",
        "7": 1,
    }
    assert activity_chain_verify().intact


def test_anonymous_user_is_recorded_without_a_user(db):
    row = activity_record(user=AnonymousUser(), action=ActivityAction.SIGN_IN_FAILED)

    assert (row.user, row.user_ref) == (None, None)
    assert activity_chain_verify().intact
