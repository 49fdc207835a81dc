"""The portfolio admin: CSV uploads through the import services, and actions that call services."""

from datetime import date
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import ActivityAction, ActivityLog
from portfolio.models import CircuitState, FxRate, Holding, Instrument, PriceBar, ProviderState
from portfolio.services import TransactionInput, portfolio_create, transaction_create

pytestmark = pytest.mark.django_db

PRICE_UPLOAD = reverse("admin:portfolio_pricebar_upload")
FX_UPLOAD = reverse("admin:portfolio_fxrate_upload")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def upload(client, url: str, content: bytes, *, dry_run: bool):
    data = {"file": SimpleUploadedFile("data.csv", content, content_type="text/csv")}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(url, data, follow=True)


PRICES = b"symbol,exchange,date,close,currency\nNOVN,SIX,2022-04-11,87.80,CHF\n"


@pytest.mark.parametrize("url", [PRICE_UPLOAD, FX_UPLOAD])
def test_the_upload_pages_render_for_staff_and_are_linked_from_the_changelist(staff_client, url):
    changelist = url.removesuffix("upload/")

    assert staff_client.get(url).status_code == HTTPStatus.OK
    assert url in staff_client.get(changelist).content.decode()


@pytest.mark.parametrize("url", [PRICE_UPLOAD, FX_UPLOAD])
def test_the_upload_pages_send_non_staff_to_the_admin_login(client, user, url):
    client.force_login(user)

    response = client.get(url)

    assert response.status_code == HTTPStatus.FOUND
    assert "login" in response["Location"]
    assert f"next={url}" in response["Location"].replace("%2F", "/")
    upload(client, url, PRICES, dry_run=False)
    assert not PriceBar.objects.exists()


def test_a_dry_run_upload_shows_what_would_change_and_writes_nothing(staff_client):
    response = upload(staff_client, PRICE_UPLOAD, PRICES, dry_run=True)

    assert response.status_code == HTTPStatus.OK
    assert "1 price bars read: 1 would be created" in response.content.decode()
    assert not PriceBar.objects.exists()
    assert not Instrument.objects.exists()


def test_an_upload_imports_reports_and_lands_in_the_activity_log(staff_client, staff_user):
    response = upload(staff_client, PRICE_UPLOAD, PRICES, dry_run=False)

    assert response.redirect_chain[-1][0] == reverse("admin:portfolio_pricebar_changelist")
    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["1 price bars read: 1 were created, 0 were updated, 0 unchanged. "
                        "New instruments: NOVN.SIX."]  # fmt: skip
    assert PriceBar.objects.get().close == Decimal("87.80")
    assert ActivityLog.objects.filter(
        user=staff_user, action=ActivityAction.PRICES_IMPORTED
    ).exists()


def test_a_bad_upload_lists_every_problem_and_writes_nothing(staff_client):
    content = b"symbol,date,low,close\nNOVN,2022-04-11,90,87.8\nNOVN,2022-04-12,,zero\n"

    response = upload(staff_client, PRICE_UPLOAD, content, dry_run=False)

    assert response.status_code == HTTPStatus.OK
    errors = response.context["form"].errors["file"]
    assert errors == [
        "The file has 3 problems; nothing was imported.",
        'line 2, column "low": low 90 is above close 87.8.',
        'line 2, column "symbol": unknown instrument "NOVN"; add a "currency" column to create it.',
        'line 3, column "close": "zero" is not a number.',
    ]
    assert not PriceBar.objects.exists()


def test_an_fx_upload_imports_the_rates(staff_client, staff_user):
    content = b"base,quote,date,rate\nCHF,USD,2022-04-11,1.0729\n"

    upload(staff_client, FX_UPLOAD, content, dry_run=False)

    assert FxRate.objects.get().rate == Decimal("1.0729")
    assert ActivityLog.objects.filter(
        user=staff_user, action=ActivityAction.FX_RATES_IMPORTED
    ).exists()


def test_rebuild_action_restores_holdings_from_the_ledger(staff_client, user):
    novn = Instrument.objects.create(symbol="NOVN", exchange="SIX", currency="CHF")
    portfolio = portfolio_create(user=user, name="Main", base_currency="CHF")
    transaction_create(
        portfolio=portfolio,
        data=TransactionInput(
            type="BUY", date=date(2022, 3, 7), quantity=Decimal(2), price=Decimal("75.80"),
            instrument=novn,
        ),
    )  # fmt: skip
    Holding.objects.filter(portfolio=portfolio).update(quantity=Decimal(99))

    response = staff_client.post(
        reverse("admin:portfolio_portfolio_changelist"),
        {"action": "rebuild_selected", "_selected_action": [portfolio.pk]},
        follow=True,
    )

    assert Holding.objects.get(portfolio=portfolio).quantity == Decimal(2)
    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["Rebuilt holdings and snapshots of 1 portfolio."]


def test_reset_action_closes_an_open_breaker(staff_client):
    state = ProviderState.objects.create(
        provider="synthetic", circuit=CircuitState.OPEN, consecutive_failures=5
    )

    staff_client.post(
        reverse("admin:portfolio_providerstate_changelist"),
        {"action": "reset_selected", "_selected_action": [state.pk]},
    )

    state.refresh_from_db()
    assert (state.circuit, state.consecutive_failures) == (CircuitState.CLOSED, 0)


def test_transactions_cannot_be_edited_in_the_admin(staff_client, user):
    portfolio = portfolio_create(user=user, name="Main")
    txn = transaction_create(
        portfolio=portfolio,
        data=TransactionInput(type="DEPOSIT", date=date(2022, 3, 7), quantity=Decimal(1),
                              price=Decimal(100)),
    )  # fmt: skip
    url = reverse("admin:portfolio_transaction_change", args=[txn.pk])

    response = staff_client.post(url, {"price": "1"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    txn.refresh_from_db()
    assert txn.price == Decimal(100)
