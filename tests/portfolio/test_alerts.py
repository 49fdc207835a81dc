"""Price alerts and notifications: CRUD, firing when prices arrive, re-arming (SPEC §3, §6)."""

from datetime import date
from decimal import Decimal
from http import HTTPStatus

import pytest
from rest_framework.test import APIClient

from accounts.models import Preferences
from audit.models import ActivityAction, ActivityLog
from portfolio.models import AlertEvent, Instrument, Notification, PriceAlert
from portfolio.services import price_alert_create
from portfolio.services.market import PriceBarRow, price_bars_import
from tests.factories import InstrumentFactory


def _prices(symbol: str, *closes: tuple[str, str], exchange: str = "SIX") -> None:
    price_bars_import(
        rows=[
            PriceBarRow(
                symbol=symbol, exchange=exchange, date=date.fromisoformat(on), close=Decimal(close)
            )
            for on, close in closes
        ]
    )


@pytest.fixture
def novn(db) -> Instrument:
    return InstrumentFactory(symbol="NOVN", exchange="SIX", currency="CHF")


@pytest.fixture
def alert(user, novn) -> PriceAlert:
    return price_alert_create(user=user, instrument=novn, condition="above", target=Decimal("90"))


def test_creating_an_alert_names_the_instrument_by_symbol(session_client, user, novn):
    response = session_client.post(
        "/api/v1/alerts",
        {"symbol": "novn", "exchange": "six", "condition": "below", "target": "70.5"},
    )

    assert response.status_code == HTTPStatus.CREATED, response.json()
    body = response.json()
    assert (body["instrument"], body["symbol"], body["condition"]) == (novn.pk, "NOVN", "below")
    assert (body["active"], body["triggered_at"]) == (True, None)
    assert PriceAlert.objects.get(pk=body["id"]).user == user
    assert ActivityLog.objects.filter(user=user, action=ActivityAction.ALERT_CREATED).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"symbol": "NOVN", "exchange": "SIX", "condition": "above"}, "target",
                     id="no target"),
        pytest.param({"symbol": "NOVN", "exchange": "SIX", "condition": "above", "target": "0"},
                     "target", id="zero target"),
        pytest.param({"symbol": "NOVN", "exchange": "SIX", "condition": "near", "target": "1"},
                     "condition", id="unknown condition"),
        pytest.param({"symbol": "NOPE", "condition": "above", "target": "1"}, "symbol",
                     id="unknown symbol"),
    ],
)  # fmt: skip
def test_bad_alerts_are_refused_with_field_errors(session_client, novn, body, field):
    response = session_client.post("/api/v1/alerts", body)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]
    assert not PriceAlert.objects.exists()


def test_another_users_private_instrument_cannot_be_watched(session_client, other_user):
    InstrumentFactory(symbol="SECRET", owner=other_user)

    response = session_client.post(
        "/api/v1/alerts", {"symbol": "SECRET", "condition": "above", "target": "1"}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "symbol" in response.json()["errors"]


@pytest.mark.parametrize(
    ("condition", "close", "fires"),
    [
        ("above", "89.99", False),
        ("above", "90", True),
        ("above", "91", True),
        ("below", "90.01", False),
        ("below", "90", True),
        ("below", "50", True),
    ],
)
def test_a_new_close_fires_an_alert_exactly_when_it_meets_the_condition(
    user, novn, condition, close, fires
):
    made = price_alert_create(user=user, instrument=novn, condition=condition, target=Decimal(90))

    _prices("NOVN", ("2024-03-01", close))

    made.refresh_from_db()
    assert made.active is not fires
    assert AlertEvent.objects.filter(alert=made).count() == int(fires)
    assert Notification.objects.filter(user=user).count() == int(fires)


def test_firing_writes_an_event_a_notification_and_deactivates_the_alert(user, alert):
    _prices("NOVN", ("2024-03-01", "85"), ("2024-03-04", "92.5"))

    alert.refresh_from_db()
    event = AlertEvent.objects.get(alert=alert)
    assert (event.price, event.price_date) == (Decimal("92.5"), date(2024, 3, 4))
    assert alert.active is False
    assert alert.triggered_at == event.triggered_at
    note = Notification.objects.get(user=user)
    assert note.kind == "alert_triggered"
    assert "92.5" in note.title
    assert note.link == f"/api/v1/alerts/{alert.pk}/events"


def test_the_latest_close_decides_not_an_older_one(user, alert):
    _prices("NOVN", ("2024-03-01", "95"), ("2024-03-04", "80"))

    alert.refresh_from_db()
    assert alert.active is True
    assert not AlertEvent.objects.exists()


def test_a_fired_alert_stays_quiet_until_rearmed(session_client, user, alert):
    _prices("NOVN", ("2024-03-01", "95"))
    _prices("NOVN", ("2024-03-04", "96"))
    assert AlertEvent.objects.filter(alert=alert).count() == 1

    response = session_client.post(f"/api/v1/alerts/{alert.pk}/rearm")
    _prices("NOVN", ("2024-03-05", "97"))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["active"] is True
    assert AlertEvent.objects.filter(alert=alert).count() == 2
    events = session_client.get(f"/api/v1/alerts/{alert.pk}/events").json()["results"]
    assert [e["price_date"] for e in events] == ["2024-03-05", "2024-03-01"]


@pytest.mark.parametrize("wants_email", [True, False])
def test_an_email_goes_out_after_commit_only_when_switched_on(
    user, alert, mailoutbox, django_capture_on_commit_callbacks, wants_email
):
    Preferences.objects.filter(user=user).update(notify_alert_triggered=wants_email)

    with django_capture_on_commit_callbacks(execute=True):
        _prices("NOVN", ("2024-03-01", "95"))

    assert [m.to for m in mailoutbox] == ([[user.email]] if wants_email else [])
    assert Notification.objects.filter(user=user).count() == 1


def test_the_email_waits_for_the_commit_of_the_import(
    user, alert, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _prices("NOVN", ("2024-03-01", "95"))

    assert len(callbacks) == 1
    assert mailoutbox == []


def test_alerts_of_other_instruments_are_not_checked(user, alert):
    InstrumentFactory(symbol="ROG", exchange="SIX", currency="CHF")

    _prices("ROG", ("2024-03-01", "500"))

    alert.refresh_from_db()
    assert alert.active is True


def test_update_changes_the_target_and_delete_removes_the_alert(session_client, alert):
    patched = session_client.patch(f"/api/v1/alerts/{alert.pk}", {"target": "120"})
    replaced = session_client.put(
        f"/api/v1/alerts/{alert.pk}",
        {"symbol": "NOVN", "exchange": "SIX", "condition": "below", "target": "60"},
    )
    deleted = session_client.delete(f"/api/v1/alerts/{alert.pk}")

    assert patched.status_code == HTTPStatus.OK, patched.json()
    assert Decimal(patched.json()["target"]) == Decimal(120)
    assert (replaced.json()["condition"], Decimal(replaced.json()["target"])) == ("below", 60)
    assert deleted.status_code == HTTPStatus.NO_CONTENT
    assert not PriceAlert.objects.exists()


def test_notifications_list_and_read_are_the_callers_own(session_client, user, alert, other_user):
    _prices("NOVN", ("2024-03-01", "95"))
    note = Notification.objects.get(user=user)
    stranger = APIClient()
    stranger.force_login(other_user)

    assert stranger.get("/api/v1/notifications").json()["results"] == []
    assert stranger.post(f"/api/v1/notifications/{note.pk}/read").status_code == (
        HTTPStatus.NOT_FOUND
    )
    read = session_client.post(f"/api/v1/notifications/{note.pk}/read")
    unread = session_client.get("/api/v1/notifications?unread=true").json()["results"]
    every = session_client.get("/api/v1/notifications").json()["results"]

    assert read.status_code == HTTPStatus.OK
    assert read.json()["read_at"] is not None
    assert unread == []
    assert [n["id"] for n in every] == [note.pk]
