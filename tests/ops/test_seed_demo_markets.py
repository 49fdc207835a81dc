"""`manage.py seed_demo`: the demo trader's watchlist, price alerts and dividends, made through
the services, idempotent, and shown on the pages."""

from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from portfolio import demo, demo_markets
from portfolio.management.commands.verify_ledger import ledger_drift
from portfolio.models import (
    AlertEvent,
    Dividend,
    DividendStatus,
    Notification,
    Portfolio,
    PriceAlert,
    Transaction,
    TransactionType,
    WatchlistItem,
)
from tests.factories import UserFactory

DEMO = "demo@tradinglab.local"


@pytest.fixture(autouse=True)
def development_mode(settings) -> None:
    settings.DEBUG = True


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def market_rows() -> dict:
    return {
        "watchlist": list(WatchlistItem.objects.order_by("pk").values()),
        "alerts": list(PriceAlert.objects.order_by("pk").values()),
        "events": list(AlertEvent.objects.order_by("pk").values()),
        "notifications": list(Notification.objects.order_by("pk").values()),
        "dividends": list(Dividend.objects.order_by("pk").values()),
    }


@pytest.mark.django_db
def test_demo_trader_gets_a_watchlist_alerts_one_triggered_and_dividends_without_drift():
    output = seed()

    trader = User.objects.get(email=DEMO)
    portfolio = Portfolio.objects.get(user=trader, name=demo.PORTFOLIO_NAME)
    assert WatchlistItem.objects.for_user(trader).count() == len(demo_markets.WATCHLIST)
    alerts = PriceAlert.objects.for_user(trader)
    assert alerts.count() == len(demo_markets.ALERTS)
    [fired] = alerts.filter(active=False)
    assert fired.instrument.symbol == "ACME"
    assert fired.triggered_at is not None
    assert AlertEvent.objects.for_user(trader).filter(alert=fired).count() == 1
    assert Notification.objects.for_user(trader).filter(read_at__isnull=True).count() == 1
    dividends = Dividend.objects.filter(portfolio=portfolio)
    confirmed = dividends.filter(status=DividendStatus.CONFIRMED)
    assert confirmed.count() == 3
    assert dividends.filter(status=DividendStatus.PENDING).count() == 2
    assert all(d.shares > 0 and d.transaction_id for d in confirmed)
    assert (
        Transaction.objects.filter(
            pk__in=confirmed.values("transaction"), type=TransactionType.DIVIDEND
        ).count()
        == 3
    )
    assert "1 triggered" in output
    assert ledger_drift(portfolio) == []


@pytest.mark.django_db
def test_a_second_seed_adds_no_market_rows():
    seed()
    before = market_rows()

    output = seed()

    assert "nothing changed" in output
    assert market_rows() == before


@pytest.mark.django_db
def test_a_later_run_keeps_the_demo_alerts_and_dividends():
    earlier = timezone.localdate() - timedelta(days=7)
    demo.demo_seed(user=UserFactory(email=DEMO), today=earlier)
    dividends = list(Dividend.objects.order_by("pk").values_list("pk", "status"))
    alerts = list(PriceAlert.objects.order_by("pk").values_list("pk", flat=True))

    seed()

    assert list(Dividend.objects.order_by("pk").values_list("pk", "status")) == dividends
    assert list(PriceAlert.objects.order_by("pk").values_list("pk", flat=True)) == alerts
    assert ledger_drift(Portfolio.objects.get(user__email=DEMO)) == []


@pytest.mark.django_db
def test_every_market_page_shows_the_demo_rows(client):
    seed()
    client.force_login(User.objects.get(email=DEMO))

    pages = {
        "watchlist": "NORD",
        "alert_list": "Breakout level",
        "notification_list": "ACME.DEMO closed at",
        "dividend_list": "Special dividend (demo)",
        "dashboard": 'id="triggered-alert-list"',
    }
    for name, text in pages.items():
        response = client.get(reverse(name))
        assert response.status_code == HTTPStatus.OK, name
        assert text in response.content.decode(), name
