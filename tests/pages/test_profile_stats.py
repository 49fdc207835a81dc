"""The profile's Trading stats tab: backtests, portfolio performance and bots in sum, each figure
as the area's selectors give it, each row linking to its page, only the caller's rows, and a
query count that grows only by what the portfolio selector costs per portfolio."""

import re
from datetime import timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts import views as account_views
from bots.models import Deal, DealStatus
from bots.services import bot_start, bot_tick_run
from bots.services.runner import run_realized_pnl
from portfolio.models import FxRate
from portfolio.selectors import portfolio_performance
from portfolio.templatetags.portfolio_tags import money, percent, plain
from tests.bots import runner_builders as rb
from tests.bots.backtest_builders import finished_backtest, priced_instrument, queued_backtest
from tests.factories import InstrumentFactory, PortfolioFactory, PriceBarFactory, TransactionFactory
from tests.pages.support import inline_code
from trading_lab.exceptions import ApplicationError

URL = "/profile/stats"


def _recent_weekday(n: int):
    """The n-th weekday before today (1: the last one)."""
    day = timezone.localdate()
    while n:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _row(html: str, href: str) -> str:
    """The table row that links to `href` (fails the test when there is none)."""
    rows = [row for row in re.findall(r"<tr>.*?</tr>", html, re.S) if f'href="{href}"' in row]
    assert len(rows) == 1, f"no single row links to {href}"
    return rows[0]


@pytest.fixture
def acme(db):
    instrument = InstrumentFactory(symbol="ACME", currency="USD")
    PriceBarFactory(instrument=instrument, date=_recent_weekday(10), close=Decimal(100))
    PriceBarFactory(instrument=instrument, date=_recent_weekday(1), close=Decimal(120))
    return instrument


def _traded_portfolio(user, instrument, name: str):
    """A portfolio holding 10 `instrument` bought at 100, priced 120 since."""
    portfolio = PortfolioFactory(user=user, name=name)
    TransactionFactory(
        portfolio=portfolio,
        instrument=instrument,
        date=_recent_weekday(10),
        quantity=Decimal(10),
        price=Decimal(100),
    )
    return portfolio


@pytest.fixture
def dcax(db):
    return priced_instrument(symbol="DCAX")


def test_stats_tab_sits_between_broker_connections_and_preferences(page_client):
    html = page_client.get(reverse("profile")).content.decode()
    tabs = re.search(r'<nav aria-label="Profile sections".*?</nav>', html, re.S).group()

    labels = re.findall(r"</i>([^<]+)<", tabs)
    assert [label.strip() for label in labels] == [
        "Account",
        "Broker connections",
        "Trading stats",
        "Preferences",
        "Security",
        "Activity log",
    ]
    assert f'href="{URL}"' in html


def test_stats_tab_is_the_current_tab_and_has_no_inline_code(page_client):
    response = page_client.get(URL)

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert f'aria-current="page" href="{URL}"' in html
    assert inline_code(html) == []
    assert "no-store" in response["Cache-Control"]


def test_stats_tab_sends_an_anonymous_visitor_to_sign_in(client):
    response = client.get(URL)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"{reverse('account_login')}?next={URL}"


def test_empty_account_shows_empty_states_with_links_to_create_the_first_ones(page_client):
    html = page_client.get(URL).content.decode()

    assert "No portfolios yet" in html
    assert "No backtests yet" in html
    assert "No bots yet" in html
    assert f'href="{reverse("portfolio_list")}#create-heading"' in html
    assert f'href="{reverse("backtest_list")}#new-heading"' in html
    assert f'href="{reverse("bot_create")}"' in html


def test_portfolio_row_shows_the_selectors_performance_and_links_to_the_portfolio(
    page_client, user, acme
):
    portfolio = _traded_portfolio(user, acme, "Long term")
    performance = portfolio_performance(portfolio=portfolio, as_of=timezone.localdate())
    assert performance.value == Decimal(1200)  # the case is not a trivial zero

    html = page_client.get(URL).content.decode()

    row = _row(html, reverse("portfolio_detail", args=[portfolio.pk]))
    assert "Long term" in row
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td.*?</td>", row, re.S)]
    # total_return is money (net P&L with dividends and interest), TWR and MWR are rates.
    assert cells == [
        f"{money(performance.value)} USD",
        money(performance.net_pnl),
        money(performance.total_return),
        percent(performance.twr),
        percent(performance.mwr),
    ]
    assert "No portfolios yet" not in html


def test_portfolio_whose_valuation_fails_shows_the_problem_not_a_500(page_client, user):
    euro = InstrumentFactory(symbol="EUROX", currency="EUR")
    bought = _recent_weekday(3)
    PriceBarFactory(instrument=euro, date=bought, close=Decimal(10))
    rate = FxRate.objects.create(base="EUR", quote="USD", date=bought, rate=Decimal("1.1"))
    portfolio = PortfolioFactory(user=user, name="Abroad")
    TransactionFactory(
        portfolio=portfolio, instrument=euro, date=bought, quantity=Decimal(1), price=Decimal(10)
    )
    rate.delete()  # the market data the valuation needs goes missing
    with pytest.raises(ApplicationError) as refused:
        portfolio_performance(portfolio=portfolio, as_of=timezone.localdate())

    response = page_client.get(URL)

    assert response.status_code == HTTPStatus.OK
    row = _row(response.content.decode(), reverse("portfolio_detail", args=[portfolio.pk]))
    assert escape(refused.value.message) in row
    assert "text-warning-emphasis" in row


def test_backtest_row_shows_status_instrument_period_and_results_linking_to_it(
    page_client, user, dcax
):
    backtest = finished_backtest(user, dcax, name="Spec walk")
    metrics = backtest.metrics
    assert backtest.status == "succeeded"
    assert metrics["deals_closed"] >= 1

    html = page_client.get(URL).content.decode()

    row = _row(html, reverse("backtest_detail", args=[backtest.pk]))
    assert f"#{backtest.pk} Spec walk" in row
    assert "DCAX" in row
    assert "Succeeded" in row
    assert f"{backtest.start:%Y-%m-%d} \u2013 {backtest.end:%Y-%m-%d}" in row
    assert percent(Decimal(str(metrics["total_return"]))) in row
    assert percent(Decimal(str(metrics["max_drawdown"]))) in row
    assert money(Decimal(str(metrics["sharpe"])), 3) in row
    assert re.search(rf">{plain(Decimal(metrics['deals_closed']))}\s*</td>", row)


def test_queued_backtest_shows_its_status_and_dashes_for_results(page_client, user, dcax):
    backtest = queued_backtest(user, dcax, name="Waiting")

    html = page_client.get(URL).content.decode()

    row = _row(html, reverse("backtest_detail", args=[backtest.pk]))
    assert "Queued" in row
    assert row.count("—") >= 4


def _bot_with_a_closed_deal(user):
    """A running bot that closed one deal (the SPEC worked check's take profit) and opened the
    next; returns its run."""
    bot = rb.bot(user, instrument=rb.instrument())
    run = bot_start(bot=bot, now=rb.T0)
    for i, price in enumerate([*rb.SPEC_PATH, Decimal(100)], start=1):
        rb.set_price(bot.instrument, price)
        bot_tick_run(bot_id=bot.pk, scheduled_at=rb.minutes(i))
    assert Deal.objects.filter(bot=bot, status=DealStatus.CLOSED).count() == 1
    assert Deal.objects.filter(bot=bot, status=DealStatus.OPEN).exists()
    return run


@pytest.fixture
def _no_costs(settings):
    """The SPEC worked check has no fees and no slippage."""
    settings.BOTS_FEE_RATE = "0"
    settings.BOTS_SLIPPAGE_BPS = "0"


@pytest.mark.usefixtures("_no_costs")
def test_bots_summary_counts_running_bots_and_sums_closed_deals_only(page_client, user):
    run = _bot_with_a_closed_deal(user)
    rb.bot(user, instrument=rb.instrument())  # a stopped one
    realized = run_realized_pnl(run)
    assert realized > 0

    html = page_client.get(URL).content.decode()

    section = html[html.index('id="bot-stats"') :]
    assert "1 of 2" in section
    assert f"{money(realized)}</span> <span" in section
    assert "USD · 1 deal<" in section
    assert f'href="{reverse("bot_list")}"' in section


@pytest.mark.usefixtures("_no_costs")
def test_other_users_rows_are_never_shown(page_client, user, other_user, acme, dcax):
    _traded_portfolio(other_user, acme, "Someone else's portfolio")
    theirs = finished_backtest(other_user, dcax, name="Someone else's backtest")
    _bot_with_a_closed_deal(other_user)
    mine = _traded_portfolio(user, acme, "Mine")
    rb.bot(user, instrument=rb.instrument())

    html = page_client.get(URL).content.decode()

    assert "Mine" in html
    assert reverse("portfolio_detail", args=[mine.pk]) in html
    assert "Someone else" not in html
    assert reverse("backtest_detail", args=[theirs.pk]) not in html
    assert "No backtests yet" in html
    bots = html[html.index('id="bot-stats"') :]
    assert "0 of 1" in bots
    assert "No closed deals yet" in bots


def _page_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL)
    assert response.status_code == HTTPStatus.OK
    return len(captured)


def test_backtests_add_no_queries_per_row(page_client, user, dcax):
    queued_backtest(user, dcax)
    page_client.get(URL)  # warm caches (content types, sessions)
    one = _page_queries(page_client)
    for _ in range(4):
        queued_backtest(user, dcax)

    five = _page_queries(page_client)

    assert five == one


def test_portfolios_add_only_what_the_performance_selector_costs_per_portfolio(
    page_client, user, acme
):
    first = _traded_portfolio(user, acme, "P0")
    page_client.get(URL)
    one = _page_queries(page_client)
    with CaptureQueriesContext(connection) as selector:
        portfolio_performance(portfolio=first, as_of=timezone.localdate())
    for number in range(1, 5):
        _traded_portfolio(user, acme, f"P{number}")

    five = _page_queries(page_client)

    assert len(selector) > 0
    assert five - one == 4 * len(selector)


def test_lists_are_capped_with_a_link_to_the_full_lists(monkeypatch, page_client, user, acme, dcax):
    monkeypatch.setattr(account_views, "STATS_ROWS", 2)
    portfolios = [_traded_portfolio(user, acme, f"P{number}") for number in range(3)]
    backtests = [queued_backtest(user, dcax) for _ in range(3)]

    html = page_client.get(URL).content.decode()

    shown = [p for p in portfolios if reverse("portfolio_detail", args=[p.pk]) in html]
    assert shown == portfolios[:2]  # by name, as the portfolio list orders them
    assert reverse("backtest_detail", args=[backtests[0].pk]) not in html  # oldest left out
    assert all(reverse("backtest_detail", args=[b.pk]) in html for b in backtests[1:])
    assert f'<a href="{reverse("portfolio_list")}">See all portfolios</a>' in html
    assert f'<a href="{reverse("backtest_list")}">See all backtests</a>' in html


def test_short_lists_have_no_see_all_footer(page_client, user, acme, dcax):
    _traded_portfolio(user, acme, "Only one")
    queued_backtest(user, dcax)

    html = page_client.get(URL).content.decode()

    assert "See all portfolios" not in html
    assert "See all backtests" not in html
