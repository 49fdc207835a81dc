"""`manage.py seed_demo`: demo accounts, synthetic market data and a demo portfolio, idempotent."""

import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from http import HTTPStatus
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Profile, User
from audit.models import ActivityLog
from bots.models import Backtest, Bot, PaperAccount
from portfolio import demo
from portfolio.management.commands.verify_ledger import ledger_drift
from portfolio.models import (
    FxRate,
    Holding,
    Instrument,
    LedgerTotals,
    Portfolio,
    PortfolioSnapshot,
    PriceBar,
    Transaction,
    TransactionType,
)
from tests.factories import UserFactory

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
        "instruments": list(Instrument.objects.order_by("pk").values()),
        "price_bars": list(PriceBar.objects.order_by("pk").values()),
        "fx_rates": list(FxRate.objects.order_by("pk").values()),
        "portfolios": list(Portfolio.objects.order_by("pk").values()),
        "transactions": list(Transaction.objects.order_by("pk").values()),
        "holdings": list(Holding.objects.order_by("pk").values()),
        "totals": list(LedgerTotals.objects.order_by("pk").values()),
        "snapshots": list(PortfolioSnapshot.objects.order_by("pk").values()),
    }


def demo_portfolio() -> Portfolio:
    return Portfolio.objects.get(user__email=DEMO, name=demo.PORTFOLIO_NAME)


def weekdays(start: date, end: date) -> list[date]:
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [day for day in days if day.weekday() < 5]


def ledger_content() -> list[dict]:
    """The demo ledger without ids and timestamps, which differ from one database to the next.

    A confirmed dividend's entry is keyed by the dividend's id (`dividend-<id>`): it is named by
    its notes (the ex date) instead.
    """
    rows = [
        {**row, "instrument": (row.pop("instrument__symbol"), row.pop("instrument__exchange"))}
        for row in Transaction.objects.order_by("external_id").values(
            "external_id",
            "type",
            "date",
            "quantity",
            "price",
            "fee",
            "currency",
            "fx_rate",
            "notes",
            "instrument__symbol",
            "instrument__exchange",
        )
    ]
    for row in rows:
        row["external_id"] = re.sub(r"^dividend-\d+$", "dividend", row["external_id"])
    return sorted(rows, key=lambda row: (row["external_id"], row["notes"], row["instrument"]))


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


@pytest.mark.django_db
def test_demo_market_data_is_a_dozen_synthetic_instruments_with_two_years_of_bars_and_fx():
    seed()

    start, end = demo.demo_window(today=timezone.localdate())
    instruments = Instrument.objects.filter(exchange=demo.EXCHANGE, owner__isnull=True)
    assert instruments.count() == len(demo.INSTRUMENTS) == 12
    assert all(instrument.is_synthetic for instrument in instruments)
    assert set(instruments.values_list("currency", flat=True)) == {"USD", "EUR"}
    trading_days = weekdays(start, end)
    assert len(trading_days) > 500
    for instrument in instruments:
        assert list(instrument.prices.order_by("date").values_list("date", flat=True)) == (
            trading_days
        ), instrument
    fx_days = FxRate.objects.filter(base="EUR", quote="USD").order_by("date")
    assert list(fx_days.values_list("date", flat=True)) == trading_days


@pytest.mark.django_db
def test_demo_portfolio_holds_a_few_hundred_transactions_of_every_type_deposits_first():
    seed()

    portfolio = demo_portfolio()
    ledger = list(portfolio.transactions.order_by("date", "pk").select_related("instrument"))
    assert 200 <= len(ledger) <= 500
    assert {txn.type for txn in ledger} == set(TransactionType.values)
    assert ledger[0].type == TransactionType.DEPOSIT
    assert {txn.instrument.currency for txn in ledger if txn.instrument} == {"USD", "EUR"}
    held: dict[int, Decimal] = defaultdict(Decimal)
    for txn in ledger:
        if txn.type == TransactionType.BUY:
            held[txn.instrument_id] += txn.quantity
        elif txn.type == TransactionType.SELL:
            held[txn.instrument_id] -= txn.quantity
            assert held[txn.instrument_id] >= 0, f"{txn.external_id} sells more than held"
    totals = LedgerTotals.objects.get(portfolio=portfolio)
    assert totals.implicit_deposits == 0
    assert totals.cash > 0
    assert portfolio.holdings.filter(quantity__gt=0).exists()
    assert portfolio.snapshots.count() > 500


@pytest.mark.django_db
def test_demo_portfolio_stored_rows_equal_the_verify_ledger_recompute():
    seed()
    out = StringIO()

    call_command("verify_ledger", stdout=out)

    assert ledger_drift(demo_portfolio()) == []
    assert "no drift" in out.getvalue()


@pytest.mark.django_db
def test_demo_portfolio_performance_answers_through_the_api():
    seed()
    portfolio = demo_portfolio()
    client = APIClient()
    client.force_authenticate(portfolio.user)

    response = client.get(f"/api/v1/portfolios/{portfolio.pk}/performance")

    assert response.status_code == HTTPStatus.OK, response.json()
    body = response.json()
    assert body["as_of"] == timezone.localdate().isoformat()
    assert body["currency"] == "USD"
    assert Decimal(body["value"]) > 0
    assert Decimal(body["dividends"]) > 0
    assert Decimal(body["interest"]) > 0
    assert body["volatility"] is not None
    held = set(portfolio.holdings.filter(quantity__gt=0).values_list("instrument_id", flat=True))
    assert len([p for p in body["positions"] if Decimal(p["quantity"]) > 0]) == len(held)


@pytest.mark.django_db
def test_seeding_from_scratch_again_gives_the_same_market_data_and_ledger():
    seed()
    first = (ledger_content(), list(PriceBar.objects.values_list("date", "close", "volume")))
    Portfolio.objects.all().delete()
    Backtest.objects.all().delete()  # the demo backtest protects its instrument
    Bot.objects.all().delete()  # the demo bot and its paper book protect their instrument
    PaperAccount.objects.all().delete()
    Instrument.objects.filter(exchange=demo.EXCHANGE).delete()
    FxRate.objects.all().delete()
    # Walk the prices and rates again instead of reusing this process's cached rows.
    demo.demo_price_rows_cache_clear()

    seed()

    again = (ledger_content(), list(PriceBar.objects.values_list("date", "close", "volume")))
    assert again == first


@pytest.mark.django_db
def test_a_later_run_adds_only_the_new_days_and_keeps_the_ledger():
    today = timezone.localdate()
    earlier = today - timedelta(days=7)
    demo.demo_seed(user=UserFactory(email=DEMO), today=earlier)
    ledger = ledger_content()

    output = seed()

    assert "synthetic prices" in output
    assert ledger_content() == ledger
    new_days = weekdays(earlier + timedelta(days=1), today)
    assert FxRate.objects.filter(date__gt=earlier).count() == len(new_days)
    assert ledger_drift(demo_portfolio()) == []
    assert demo_portfolio().snapshots.latest("date").date == today


@pytest.mark.django_db
def test_a_clashing_instrument_stops_the_seed_with_a_clear_message_and_writes_nothing():
    # A real shared instrument where the demo wants one, priced in another currency.
    Instrument.objects.create(symbol="ACME", exchange=demo.EXCHANGE, currency="GBP")

    with pytest.raises(CommandError, match=re.escape("ACME.DEMO is priced in GBP")):
        seed()

    assert not User.objects.filter(email__in=[DEMO, STAFF]).exists()
    assert not PriceBar.objects.exists()
    assert not FxRate.objects.exists()
