"""Paper trading pages (SPEC §7): render, ticket errors, place once per ticket, cancel, reset."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from bots.models import Bot, BotStatus, Order, OrderStatus, PaperAccount, PaperBalance
from bots.services import OrderInput, order_place
from tests.bots.paper_helpers import funded_account, priced_instrument

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def costs(settings):
    settings.BOTS_FEE_RATE = "0.001"
    settings.BOTS_SLIPPAGE_BPS = "10"


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def stock(db):
    return priced_instrument("ACME", close="100", exchange="NYSE")


def ticket(response) -> dict:
    form = response.context["ticket"]
    return {"idempotency_key": form.initial["idempotency_key"]}


def test_the_first_visit_creates_the_default_account(signed_in, user):
    response = signed_in.get(reverse("paper"))
    assert response.status_code == HTTPStatus.OK
    account = PaperAccount.objects.get(user=user)
    assert account.is_default
    content = response.content.decode()
    assert "Order ticket" in content
    assert "10,000.00" in content
    assert response.context["nav"] == "trading"


def test_a_market_order_from_the_ticket_fills_and_shows_as_a_position(signed_in, user, stock):
    page = signed_in.get(reverse("paper"))
    account = page.context["account"]
    body = ticket(page) | {"symbol": "acme", "side": "buy", "type": "market", "quantity": "3"}
    response = signed_in.post(reverse("paper_order_place", args=[account.pk]), body, follow=True)
    assert response.redirect_chain[-1][0] == reverse("paper_account", args=[account.pk])
    content = response.content.decode()
    assert "The order was filled." in content
    assert 'id="paper-positions"' in content
    order = Order.objects.get()
    assert (order.status, order.average_fill_price) == (OrderStatus.FILLED, Decimal("100.1"))


def test_posting_the_same_ticket_twice_places_one_order(signed_in, user, stock):
    page = signed_in.get(reverse("paper"))
    account = page.context["account"]
    body = ticket(page) | {"symbol": "ACME", "side": "buy", "type": "market", "quantity": "1"}
    url = reverse("paper_order_place", args=[account.pk])
    signed_in.post(url, body)
    again = signed_in.post(url, body, follow=True)
    assert "already sent" in again.content.decode()
    assert Order.objects.count() == 1
    # A fresh ticket has a fresh key.
    assert ticket(again)["idempotency_key"] != body["idempotency_key"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symbol": "NOPE"}, "symbol"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": ""}, "quantity"),
        ({"type": "limit"}, "limit_price"),
        ({"limit_price": "5"}, "limit_price"),
    ],
)
def test_ticket_errors_show_next_to_their_field_and_place_nothing(
    signed_in, stock, overrides, field
):
    page = signed_in.get(reverse("paper"))
    account = page.context["account"]
    body = ticket(page) | {"symbol": "ACME", "side": "buy", "type": "market", "quantity": "1"}
    response = signed_in.post(reverse("paper_order_place", args=[account.pk]), body | overrides)
    assert response.status_code == HTTPStatus.OK
    assert field in response.context["ticket"].errors
    assert "invalid-feedback" in response.content.decode()
    assert not Order.objects.exists()


def test_a_rejected_order_is_reported_and_listed(signed_in, stock):
    page = signed_in.get(reverse("paper"))
    account = page.context["account"]
    body = ticket(page) | {"symbol": "ACME", "side": "sell", "type": "market", "quantity": "1"}
    response = signed_in.post(reverse("paper_order_place", args=[account.pk]), body, follow=True)
    content = response.content.decode()
    assert "The order was rejected" in content
    assert "Not enough to sell" in content
    assert Order.objects.get().status == OrderStatus.REJECTED


def test_cancel_an_open_order_from_the_page(signed_in, user, stock):
    account = funded_account(user)
    order = order_place(
        user=user,
        account=account,
        data=OrderInput(
            instrument=stock,
            side="buy",
            order_type="limit",
            quantity=Decimal(1),
            limit_price=Decimal(50),
        ),
    )
    page = signed_in.get(reverse("paper_account", args=[account.pk]))
    assert 'id="paper-open-orders"' in page.content.decode()
    response = signed_in.post(reverse("paper_order_cancel", args=[order.pk]), follow=True)
    assert "cancelled" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert PaperBalance.objects.get(account=account).locked == 0


def test_create_an_account_and_switch_to_it(signed_in, user):
    signed_in.get(reverse("paper"))
    form = signed_in.get(reverse("paper_account_create"))
    assert form.status_code == HTTPStatus.OK
    response = signed_in.post(
        reverse("paper_account_create"),
        {"name": "Crypto", "quote_currency": "USD", "starting_balance": "500"},
        follow=True,
    )
    account = PaperAccount.objects.get(user=user, name="Crypto")
    assert response.redirect_chain[-1][0] == reverse("paper_account", args=[account.pk])
    assert response.context["account"] == account
    assert len(response.context["accounts"]) == 2


def test_account_form_errors_show_by_field(signed_in, user):
    funded_account(user, name="Main")
    response = signed_in.post(
        reverse("paper_account_create"),
        {"name": "Main", "quote_currency": "USD", "starting_balance": "-1"},
    )
    assert response.status_code == HTTPStatus.OK
    errors = response.context["form"].errors
    assert "starting_balance" in errors
    response = signed_in.post(
        reverse("paper_account_create"),
        {"name": "Main", "quote_currency": "USD", "starting_balance": "10"},
    )
    assert "name" in response.context["form"].errors


def test_reset_asks_first_then_restores_the_balance(signed_in, user, stock):
    account = funded_account(user)
    order_place(
        user=user,
        account=account,
        data=OrderInput(instrument=stock, side="buy", order_type="market", quantity=Decimal(5)),
    )
    confirm = signed_in.get(reverse("paper_account_reset", args=[account.pk]))
    assert confirm.status_code == HTTPStatus.OK
    assert "Reset account" in confirm.content.decode()
    response = signed_in.post(reverse("paper_account_reset", args=[account.pk]), follow=True)
    assert "reset to its starting balance" in response.content.decode()
    assert PaperBalance.objects.get(account=account).free == Decimal(10000)


def test_reset_refused_while_a_bot_runs_says_why(signed_in, user, stock):
    account = funded_account(user)
    Bot.objects.create(
        user=user,
        name="Runner",
        account=account,
        instrument=stock,
        status=BotStatus.RUNNING,
        next_run_at=timezone.now(),
    )
    response = signed_in.post(reverse("paper_account_reset", args=[account.pk]), follow=True)
    assert "Stop the bots" in response.content.decode()


def test_another_users_account_and_order_answer_404(signed_in, other_user, stock):
    theirs = funded_account(other_user)
    order = order_place(
        user=other_user,
        account=theirs,
        data=OrderInput(
            instrument=stock,
            side="buy",
            order_type="limit",
            quantity=Decimal(1),
            limit_price=Decimal(50),
        ),
    )
    assert signed_in.get(reverse("paper_account", args=[theirs.pk])).status_code == 404
    assert signed_in.get(reverse("paper_account_reset", args=[theirs.pk])).status_code == 404
    assert signed_in.post(reverse("paper_account_reset", args=[theirs.pk])).status_code == 404
    body = {"symbol": "ACME", "side": "buy", "type": "market", "quantity": "1"}
    place = signed_in.post(reverse("paper_order_place", args=[theirs.pk]), body)
    assert place.status_code == 404
    assert signed_in.post(reverse("paper_order_cancel", args=[order.pk])).status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN
    assert Order.objects.count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("paper"))
    assert response.status_code == HTTPStatus.FOUND
    assert "login" in response["Location"]
