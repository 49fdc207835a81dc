"""Watchlist, alert and notification pages: they show the caller's rows with their figures,
write through the services (activity logged), show refusals next to the field, and answer 404
for anyone else's rows."""

import re
from datetime import date, timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import ActivityAction, ActivityLog
from portfolio.models import AlertEvent, Notification, NotificationKind, PriceAlert, WatchlistItem
from portfolio.services import (
    WatchlistEntry,
    price_alert_create,
    price_alerts_check,
    watchlist_item_add,
)
from tests.factories import InstrumentFactory, PriceBarFactory
from tests.pages.support import inline_code


def _weekday(n: int) -> date:
    """The n-th weekday before today (1: the last one)."""
    day = timezone.localdate()
    while n:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


@pytest.fixture
def acme(db):
    """ACME closing 100, then 110: up 10 (10 %) on the day."""
    instrument = InstrumentFactory(symbol="ACME", exchange="NYSE", name="Acme Corp")
    PriceBarFactory(instrument=instrument, date=_weekday(2), close=Decimal(100))
    PriceBarFactory(instrument=instrument, date=_weekday(1), close=Decimal(110))
    return instrument


def _fired_alert(user, instrument, target="105") -> PriceAlert:
    alert = price_alert_create(
        user=user, instrument=instrument, condition="above", target=Decimal(target)
    )
    price_alerts_check(instrument_ids=[instrument.pk])
    alert.refresh_from_db()
    return alert


# ---- watchlist ------------------------------------------------------------------------------


def test_watchlist_shows_last_close_and_day_change_of_each_item(page_client, user, acme):
    watchlist_item_add(user=user, entry=WatchlistEntry(symbol="ACME", exchange="NYSE"))
    watchlist_item_add(user=user, entry=WatchlistEntry(symbol="NOPE", notes="no such listing"))

    response = page_client.get(reverse("watchlist"))

    assert response.status_code == HTTPStatus.OK
    rows = {row.item.symbol: row for row in response.context["rows"]}
    assert rows["ACME"].close == Decimal(110)
    assert rows["ACME"].change == Decimal(10)
    assert rows["ACME"].change_pct == Decimal("0.1")
    assert rows["NOPE"].instrument is None
    html = response.content.decode()
    assert "10.00 %" in html
    assert f"{reverse('alert_list')}?symbol=ACME&amp;exchange=NYSE" in html
    assert inline_code(html) == []


def test_watchlist_quotes_take_the_same_queries_for_one_item_or_many(page_client, user):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page_client.get(reverse("watchlist"))
        return len(captured)

    first = InstrumentFactory()
    PriceBarFactory(instrument=first, date=_weekday(1))
    watchlist_item_add(user=user, entry=WatchlistEntry(symbol=first.symbol))
    queries()  # The first visit of a session writes its own bookkeeping rows.
    one = queries()
    for _ in range(5):
        instrument = InstrumentFactory()
        PriceBarFactory(instrument=instrument, date=_weekday(1))
        watchlist_item_add(user=user, entry=WatchlistEntry(symbol=instrument.symbol))

    assert queries() == one


def test_adding_a_symbol_puts_it_on_the_watchlist_and_logs_it(page_client, user, acme):
    response = page_client.post(
        reverse("watchlist"),
        {"symbol": "acme", "exchange": "nyse", "target_price": "95", "notes": "buy the dip"},
    )

    assert response.status_code == HTTPStatus.FOUND
    item = WatchlistItem.objects.get(user=user)
    assert (item.symbol, item.exchange, item.target_price) == ("ACME", "NYSE", Decimal(95))
    assert ActivityLog.objects.filter(user=user, action=ActivityAction.WATCHLIST_UPDATED).exists()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"symbol": "ZZZZ", "exchange": ""}, "symbol", "Unknown instrument ZZZZ"),
        ({"symbol": "", "exchange": ""}, "symbol", "required"),
        ({"symbol": "ACME", "exchange": "NYSE", "target_price": "-1"}, "target_price", "zero"),
        ({"symbol": "ACME", "exchange": "NYSE", "target_price": "abc"}, "target_price", "number"),
    ],
)
def test_adding_a_bad_symbol_shows_the_error_next_to_its_field(
    page_client, user, acme, body, field, message
):
    response = page_client.post(reverse("watchlist"), body)

    assert response.status_code == HTTPStatus.OK
    assert message in " ".join(response.context["form"].errors[field])
    assert b"is-invalid" in response.content
    assert not WatchlistItem.objects.filter(user=user).exists()


def test_a_symbol_listed_on_one_exchange_needs_no_exchange(page_client, user, acme):
    page_client.post(reverse("watchlist"), {"symbol": "acme"})

    assert WatchlistItem.objects.get(user=user).exchange == "NYSE"


def test_a_symbol_on_several_exchanges_asks_for_the_exchange(page_client, user, acme):
    InstrumentFactory(symbol="ACME", exchange="XETRA", currency="EUR")

    response = page_client.post(reverse("watchlist"), {"symbol": "ACME"})

    assert "several exchanges (NYSE, XETRA)" in " ".join(
        response.context["form"].errors["exchange"]
    )
    assert not WatchlistItem.objects.filter(user=user).exists()


def test_adding_a_symbol_twice_is_a_field_error(page_client, user, acme):
    watchlist_item_add(user=user, entry=WatchlistEntry(symbol="ACME", exchange="NYSE"))

    response = page_client.post(reverse("watchlist"), {"symbol": "ACME", "exchange": "NYSE"})

    assert "already on your watchlist" in " ".join(response.context["form"].errors["symbol"])
    assert WatchlistItem.objects.filter(user=user).count() == 1


def test_another_users_private_instrument_is_unknown_on_the_watchlist(
    page_client, user, other_user
):
    InstrumentFactory(symbol="SECRET", owner=other_user)

    response = page_client.post(reverse("watchlist"), {"symbol": "SECRET"})

    assert "Unknown instrument" in " ".join(response.context["form"].errors["symbol"])


def test_removing_a_symbol_asks_first_then_removes_it(page_client, user, acme):
    item = watchlist_item_add(user=user, entry=WatchlistEntry(symbol="ACME", exchange="NYSE"))
    url = reverse("watchlist_delete", args=[item.pk])

    assert page_client.get(url).status_code == HTTPStatus.OK
    assert WatchlistItem.objects.filter(pk=item.pk).exists()
    response = page_client.post(url)

    assert response["Location"] == reverse("watchlist")
    assert not WatchlistItem.objects.filter(pk=item.pk).exists()


# ---- alerts ---------------------------------------------------------------------------------


def test_alert_list_shows_state_and_last_trigger(page_client, user, acme):
    fired = _fired_alert(user, acme)
    price_alert_create(user=user, instrument=acme, condition="below", target=Decimal(50))

    response = page_client.get(reverse("alert_list"))

    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "Triggered" in html
    assert "Active" in html
    assert reverse("alert_detail", args=[fired.pk]) in html
    assert inline_code(html) == []


def test_alert_form_starts_from_the_symbol_the_watchlist_links_with(page_client, acme):
    response = page_client.get(reverse("alert_list"), {"symbol": "ACME", "exchange": "NYSE"})

    assert response.context["form"].initial == {"symbol": "ACME", "exchange": "NYSE"}


def test_creating_an_alert_makes_it_active(page_client, user, acme):
    response = page_client.post(
        reverse("alert_list"),
        {"symbol": "ACME", "exchange": "NYSE", "condition": "below", "target": "90", "notes": "x"},
    )

    assert response.status_code == HTTPStatus.FOUND
    alert = PriceAlert.objects.get(user=user)
    assert (alert.instrument, alert.condition, alert.target, alert.active) == (
        acme,
        "below",
        Decimal(90),
        True,
    )
    assert ActivityLog.objects.filter(user=user, action=ActivityAction.ALERT_CREATED).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "NOPE", "condition": "above", "target": "1"}, "symbol"),
        (
            {"symbol": "ACME", "exchange": "NYSE", "condition": "sideways", "target": "1"},
            "condition",
        ),
        ({"symbol": "ACME", "exchange": "NYSE", "condition": "above", "target": "0"}, "target"),
        ({"symbol": "ACME", "exchange": "NYSE", "condition": "above", "target": ""}, "target"),
    ],
)
def test_creating_a_bad_alert_shows_the_field_error(page_client, user, acme, body, field):
    response = page_client.post(reverse("alert_list"), body)

    assert response.status_code == HTTPStatus.OK
    assert field in response.context["form"].errors
    assert not PriceAlert.objects.filter(user=user).exists()


def test_alert_detail_lists_its_events(page_client, user, acme):
    alert = _fired_alert(user, acme)

    response = page_client.get(reverse("alert_detail", args=[alert.pk]))

    assert response.status_code == HTTPStatus.OK
    assert [e.price for e in response.context["events"]] == [Decimal(110)]
    assert _weekday(1).isoformat() in response.content.decode()


def test_editing_an_alert_changes_it_without_rearming(page_client, user, acme):
    alert = _fired_alert(user, acme)

    response = page_client.post(
        reverse("alert_edit", args=[alert.pk]),
        {"symbol": "ACME", "exchange": "NYSE", "condition": "above", "target": "200"},
    )

    assert response["Location"] == reverse("alert_detail", args=[alert.pk])
    alert.refresh_from_db()
    assert (alert.target, alert.active) == (Decimal(200), False)


def test_editing_an_alert_with_an_unknown_symbol_is_a_field_error(page_client, user, acme):
    alert = price_alert_create(user=user, instrument=acme, condition="above", target=Decimal(1))

    response = page_client.post(
        reverse("alert_edit", args=[alert.pk]),
        {"symbol": "NOPE", "condition": "above", "target": "2"},
    )

    assert "Unknown instrument" in " ".join(response.context["form"].errors["symbol"])
    alert.refresh_from_db()
    assert alert.target == Decimal(1)


def test_rearming_a_fired_alert_makes_it_active_again(page_client, user, acme):
    alert = _fired_alert(user, acme, target="500")
    PriceAlert.objects.filter(pk=alert.pk).update(active=False)

    response = page_client.post(reverse("alert_rearm", args=[alert.pk]))

    assert response.status_code == HTTPStatus.FOUND
    alert.refresh_from_db()
    assert alert.active
    assert ActivityLog.objects.filter(user=user, action=ActivityAction.ALERT_REARMED).exists()


def test_rearm_is_a_post_only_action(page_client, user, acme):
    alert = price_alert_create(user=user, instrument=acme, condition="above", target=Decimal(1))

    assert (
        page_client.get(reverse("alert_rearm", args=[alert.pk])).status_code
        == HTTPStatus.METHOD_NOT_ALLOWED
    )


def test_deleting_an_alert_asks_first_then_deletes_it_with_its_events(page_client, user, acme):
    alert = _fired_alert(user, acme)
    url = reverse("alert_delete", args=[alert.pk])

    assert page_client.get(url).status_code == HTTPStatus.OK
    page_client.post(url)

    assert not PriceAlert.objects.filter(pk=alert.pk).exists()
    assert not AlertEvent.objects.filter(alert_id=alert.pk).exists()


# ---- notifications --------------------------------------------------------------------------


def test_notifications_list_links_an_alert_notification_to_its_alert_page(page_client, user, acme):
    alert = _fired_alert(user, acme)

    response = page_client.get(reverse("notification_list"))

    html = response.content.decode()
    assert "ACME.NYSE closed at 110" in html
    assert [n.page_link for n in response.context["notifications"]] == [
        reverse("alert_detail", args=[alert.pk])
    ]
    assert inline_code(html) == []


def test_opening_a_notification_marks_it_read_and_goes_to_its_alert(page_client, user, acme):
    alert = _fired_alert(user, acme)
    notification = Notification.objects.get(user=user)

    response = page_client.post(reverse("notification_read", args=[notification.pk]), {"open": "1"})

    assert response["Location"] == reverse("alert_detail", args=[alert.pk])
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_marking_all_read_reads_only_the_callers_and_logs_once(page_client, user, other_user):
    for n in range(3):
        Notification.objects.create(user=user, kind=NotificationKind.ALERT_TRIGGERED, title=f"{n}")
    theirs = Notification.objects.create(
        user=other_user, kind=NotificationKind.ALERT_TRIGGERED, title="theirs"
    )

    response = page_client.post(reverse("notifications_read_all"))

    assert response["Location"] == reverse("notification_list")
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    logged = ActivityLog.objects.filter(user=user, action=ActivityAction.NOTIFICATION_READ)
    assert [row.description for row in logged] == ["Marked 3 notifications read."]


def test_navbar_badge_counts_unread_notifications_in_one_query(page_client, user):
    for n in range(2):
        Notification.objects.create(user=user, kind=NotificationKind.ALERT_TRIGGERED, title=f"{n}")

    with CaptureQueriesContext(connection) as captured:
        html = page_client.get(reverse("watchlist")).content.decode()

    assert re.search(r'id="unread-badge">2<', html)
    counts = [q["sql"] for q in captured if "portfolio_notification" in q["sql"]]
    assert len(counts) == 1


def test_navbar_has_no_badge_when_everything_is_read(page_client):
    assert b"unread-badge" not in page_client.get(reverse("dashboard")).content


def test_navbar_markets_menu_links_every_market_page(page_client):
    html = page_client.get(reverse("dashboard")).content.decode()

    for name in ("watchlist", "alert_list", "dividend_list", "notification_list"):
        assert f'href="{reverse(name)}"' in html


# ---- dashboard ------------------------------------------------------------------------------


def test_dashboard_lists_the_latest_triggered_alerts(page_client, user, acme):
    alert = _fired_alert(user, acme)

    html = page_client.get(reverse("dashboard")).content.decode()

    assert 'id="triggered-alert-list"' in html
    assert reverse("alert_detail", args=[alert.pk]) in html
    assert "closed at 110" in html


# ---- isolation ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["alert_detail", "alert_edit", "alert_delete", "alert_rearm"])
def test_another_users_alert_is_not_found(page_client, other_user, acme, route):
    theirs = price_alert_create(
        user=other_user, instrument=acme, condition="above", target=Decimal(1)
    )

    assert page_client.post(reverse(route, args=[theirs.pk])).status_code == HTTPStatus.NOT_FOUND
    theirs.refresh_from_db()
    assert theirs.active


def test_another_users_watchlist_item_and_notification_are_not_found(page_client, other_user):
    item = watchlist_item_add(user=other_user, entry=WatchlistEntry(symbol="THEIRS"))
    note = Notification.objects.create(
        user=other_user, kind=NotificationKind.ALERT_TRIGGERED, title="theirs"
    )

    assert (
        page_client.post(reverse("watchlist_delete", args=[item.pk])).status_code
        == HTTPStatus.NOT_FOUND
    )
    assert (
        page_client.post(reverse("notification_read", args=[note.pk])).status_code
        == HTTPStatus.NOT_FOUND
    )
    assert WatchlistItem.objects.filter(pk=item.pk).exists()
