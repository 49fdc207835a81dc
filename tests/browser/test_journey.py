"""A newcomer's journey through the README in a real browser (issue 7): from the first page, sign
up and confirm the address, set preferences, create a portfolio, import a CSV through the dry
run, see the holdings and the performance chart, add a watchlist item and an alert, create and
start a DCA bot, run a backtest and watch its progress bar finish, export data, sign out; then
every page again at phone width. The person follows links and buttons; the background processes
(scheduler, worker) are run in this process where the README's `make run` would have them.

Any console error, uncaught page error, CSP violation, 4xx/5xx answer or failed request fails the
test (browser_problems). Screenshots: test-artifacts/screenshots/journey-NN-<page>.png."""

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from accounts.models import User
from bots.models import Backtest, BacktestStatus, Bot, BotStatus
from bots.services import bot_ticks_enqueue_due
from portfolio.demo import demo_market_seed, demo_window
from portfolio.models import Holding, PriceBar
from tests.browser.conftest import PHONE
from tests.worker import run_worker

pytestmark = pytest.mark.browser

EMAIL = "newcomer@example.com"
PASSWORD = "Amber-Kettle-Orchard-58"
# Pages whose wide tables (sessions, tokens) scroll inside their card by design; on every other
# page of the journey each table fits a phone.
TABLES_MAY_SCROLL = {"security"}
# Records each value the job progress bar shows, in sessionStorage: the page reloads itself the
# moment the job finishes, and the record has to outlive that reload.
WATCH_PROGRESS = """() => {
  const bar = document.querySelector('#backtest-progress [role=progressbar]')
  const seen = () => JSON.parse(sessionStorage.getItem('journey-progress') || '[]')
  const note = () => sessionStorage.setItem(
    'journey-progress', JSON.stringify([...seen(), Number(bar.getAttribute('aria-valuenow'))]))
  note()
  new MutationObserver(note).observe(bar, { attributes: true, attributeFilter: ['aria-valuenow'] })
}"""


@pytest.fixture
def reference_data(db):
    """The shared market data of a deployment set up as the README says (`seed_demo`'s part for
    everyone: a dozen instruments with two years of daily bars, EUR/USD rates). A newcomer
    signing up gets none of it for themselves, and nothing of the demo trader's."""
    start, end = demo_window(today=timezone.localdate())
    return demo_market_seed(start=start, end=end)


@dataclass
class Journey:
    """The desktop tour: numbers the screenshots and remembers the pages to see again on a phone."""

    page: Page
    take: Callable[[Page, str], None]
    number: int = 0
    revisit: list[tuple[str, str]] = field(default_factory=list)

    def capture(self, name: str, *, again: bool = True) -> None:
        self.page.wait_for_load_state("load")
        self.number += 1
        self.take(self.page, f"journey-{self.number:02d}-{name}")
        if again:
            self.revisit.append((name, self.page.url))


JOB_POLLS = "**/api/v1/jobs/*"


@dataclass
class JobPolls:
    """A route for the job API that holds each request until released, then lets all through."""

    held: list[Route] = field(default_factory=list)
    released: bool = False

    def route(self, route: Route) -> None:
        if self.released:
            route.continue_()
        else:
            self.held.append(route)

    def release(self) -> None:
        self.released = True
        for route in self.held:
            route.continue_()


def weekday_back(days: int) -> date:
    day = timezone.localdate() - timedelta(days=days)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def close_on(symbol: str, day: date) -> Decimal:
    return PriceBar.objects.get(instrument__symbol=symbol, instrument__owner=None, date=day).close


def broker_csv(path: Path) -> Path:
    """A broker's export of the newcomer's history, at the stored closes of its days."""
    deposit, buy_acme, buy_blau, sell_acme = (weekday_back(d) for d in (90, 80, 70, 40))
    acme, blau = close_on("ACME", buy_acme), close_on("BLAU", buy_blau)
    # Enough cash for both buys (EUR at well under 2 USD), in round thousands.
    cash = (20 * acme + 10 * blau * 2).quantize(Decimal("1E3"))
    path.write_text(
        "Date,Action,Ticker,Shares,Price,Commission,Currency,ID\n"
        f"{deposit},DEPOSIT,,1,{cash},0,USD,bank-1\n"
        f"{buy_acme},BUY,ACME,20,{acme},1.50,USD,brk-1\n"
        f"{buy_blau},BUY,BLAU,10,{blau},1.20,EUR,brk-2\n"
        f"{sell_acme},SELL,ACME,5,{close_on('ACME', sell_acme)},1.00,USD,brk-3\n"
    )
    return path


def open_phone_menu(page: Page) -> None:
    """On a narrow page, open the collapsed menu and wait until its animation is over: a click
    on an item while it is still opening was once lost (the sign-out, in CI)."""
    toggler = page.get_by_role("button", name="Toggle navigation")
    if toggler.is_visible():
        toggler.click()
        # Bootstrap swaps "collapsing" for "show" once the opening animation is over.
        expect(page.locator("#main-nav")).to_have_class(re.compile(r"\bcollapse show\b"))


def nav_menu(page: Page, menu: str, item: str) -> None:
    navigation = page.get_by_role("navigation", name="Main navigation")
    open_phone_menu(page)
    navigation.get_by_role("button", name=re.compile(f"^{menu}")).click()
    navigation.get_by_role("link", name=re.compile(f"^{item}")).click()


def nav_link(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name=name, exact=True
    ).click()


def sign_out(page: Page) -> None:
    open_phone_menu(page)
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    # The sign-out is a POST and a redirect: on a machine busy with other suites it has taken
    # more than the default 5 s (CI on PostgreSQL), as the progress waits above allow too.
    expect(page.get_by_text("You have signed out.")).to_be_visible(timeout=15_000)
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def fits_the_phone(page: Page, name: str) -> None:
    page.wait_for_load_state("load")
    expect(page.locator("main h1").first).to_be_visible()
    scroll_width, inner_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert inner_width == PHONE["width"], name
    assert scroll_width <= inner_width, f"{name} scrolls sideways: {scroll_width}px"
    if name not in TABLES_MAY_SCROLL:
        # Real prices (eight decimals, a fill with slippage) and a deposit row included.
        overflowing = page.evaluate(
            "[...document.querySelectorAll('.table-responsive')]"
            ".filter(box => box.scrollWidth > box.clientWidth + 1)"
            ".map(box => box.querySelector('table').id || box.closest('section')?.id)"
        )
        assert overflowing == [], f"{name}: tables scroll sideways: {overflowing}"


def test_newcomer_journey_from_the_first_page_to_sign_out(
    live_server, reference_data, mailoutbox, open_page, screenshot, tmp_path
):
    base_url = live_server.url
    page = open_page()
    journey = Journey(page, screenshot)

    # The first page: anonymous visitors land on sign-in, and follow the link to sign up.
    page.goto(base_url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    journey.capture("sign-in", again=False)
    page.get_by_role("main").get_by_role("link", name="sign up").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    journey.capture("sign-up", again=False)
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name=f"Hello, {EMAIL}")).to_be_visible()
    expect(page.get_by_text("No portfolios yet")).to_be_visible()
    journey.capture("dashboard")

    # The confirmation mail's link, as the mail client opens it in the same browser.
    (message,) = mailoutbox
    assert message.to == [EMAIL]
    confirm_url = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body).group()
    page.goto(confirm_url)
    journey.capture("confirm-email", again=False)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("You have confirmed")).to_be_visible()
    user = User.objects.get(email=EMAIL)
    assert user.emailaddress_set.get().verified

    # Profile and preferences.
    nav_link(page, "Profile")
    page.get_by_label("Display name").fill("Nova")
    page.get_by_label("Risk tolerance").select_option("moderate")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile was saved.")).to_be_visible()
    page.get_by_role("navigation", name="Profile sections").get_by_role(
        "link", name="Preferences"
    ).click()
    page.get_by_label("Market region").select_option("us")
    page.get_by_label("Stock universe").select_option("SP500")
    page.get_by_label("Swing", exact=True).first.check()
    page.get_by_label("Primary mode").select_option("swing")
    page.get_by_label("I have read and accept the risk disclosure").check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Your preferences were saved.")).to_be_visible()
    expect(page.get_by_text(re.compile("^Accepted on "))).to_be_visible()
    journey.capture("preferences")
    preferences = User.objects.get(pk=user.pk).preferences
    assert preferences.market_region == "us"
    assert preferences.primary_mode == "swing"
    assert preferences.disclosure_accepted_at is not None

    # A portfolio, from the dashboard's invitation.
    nav_link(page, "Dashboard")
    expect(page.get_by_role("heading", name="Hello, Nova")).to_be_visible()
    page.get_by_role("link", name="Create a portfolio").click()
    page.get_by_label("Name").fill("Long term")
    page.get_by_label("Base currency").select_option("USD")
    journey.capture("portfolios")
    page.get_by_role("button", name="Create portfolio").click()
    expect(page.get_by_role("heading", name=re.compile("^Long term"))).to_be_visible()

    # The broker's CSV, through the dry-run preview.
    page.get_by_role("link", name="Import & export").click()
    page.get_by_label("File").set_input_files(str(broker_csv(tmp_path / "broker.csv")))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-counts")).to_contain_text(
        "4 rows: 4 to add, 0 duplicates, 0 errors"
    )
    expect(page.locator("#import-to-add tbody tr")).to_have_count(4)
    journey.capture("import-preview", again=False)
    portfolio = user.portfolios.get()
    assert not portfolio.transactions.exists(), "the dry run wrote nothing"
    page.get_by_role("button", name="Import 4 transactions").click()
    expect(page.get_by_text("Imported 4 transactions")).to_be_visible()
    expect(page.get_by_role("heading", name="4 transactions")).to_be_visible()
    journey.capture("transactions")

    # Holdings and the performance chart.
    page.get_by_role("link", name="Overview").click()
    holdings = page.locator("#holdings")
    expect(holdings.get_by_role("cell", name=re.compile("^ACME"))).to_be_visible()
    expect(holdings.get_by_role("cell", name=re.compile("^BLAU"))).to_be_visible()
    expect(page.locator("canvas[data-chart='line']")).to_be_visible()
    expect(page.locator("canvas[data-chart='doughnut']")).to_be_visible()
    assert page.evaluate("Object.keys(Chart.instances).length") == 2
    journey.capture("portfolio")
    # The file names no exchange: its symbols are the listed instruments, with their prices.
    held = {h.instrument: h.quantity for h in Holding.objects.filter(portfolio=portfolio)}
    listed = reference_data.instruments
    assert held == {listed["ACME"]: Decimal(15), listed["BLAU"]: Decimal(10)}

    # A watchlist item, and an alert from it.
    nav_menu(page, "Markets", "Watchlist")
    page.locator("#id_symbol").fill("intk")
    page.get_by_label("Target price").fill("50")
    page.get_by_role("button", name="Add to watchlist").click()
    expect(page.get_by_text("INTK.DEMO was added to your watchlist.")).to_be_visible()
    journey.capture("watchlist")
    page.get_by_role("link", name="Add an alert for INTK.DEMO").click()
    expect(page.locator("#id_symbol")).to_have_value("INTK")
    page.get_by_label("Condition").select_option("below")
    page.get_by_label("Target").fill("50")
    page.get_by_role("button", name="Create alert").click()
    expect(page.get_by_text("The alert on INTK.DEMO is active.")).to_be_visible()
    expect(page.locator("#alerts")).to_contain_text("INTK.DEMO")
    journey.capture("alerts")

    # A DCA bot: the form previews its ladder; started, the scheduler and the worker tick it.
    nav_menu(page, "Trading", "Bots")
    expect(page.get_by_text("No bots yet")).to_be_visible()
    page.get_by_role("link", name="New bot").click()
    page.get_by_label("Name").fill("ACME ladder")
    page.get_by_label("Instrument").select_option(value=str(reference_data.instruments["ACME"].pk))
    page.get_by_label("Interval").select_option("1h")
    page.get_by_label("Base order size").fill("100")
    page.get_by_label("Safety order size").fill("200")
    page.get_by_label("Price deviation %").fill("1")
    page.get_by_label("Take profit %").fill("2")
    expect(page.locator("#bot-ladder-rows tr")).to_have_count(4)
    # 100 + 3 x 200, and the 0.1% fee on each fill.
    expect(page.locator("#bot-required-capital")).to_contain_text("700.70 USD")
    journey.capture("bot-form")
    page.get_by_role("button", name="Create bot").click()
    expect(page.get_by_role("heading", name=re.compile("^ACME ladder"))).to_be_visible()
    page.get_by_role("button", name="Start").click()
    expect(page.locator("[data-bot-status='running']").first).to_be_visible()
    bot = Bot.objects.get(user=user)
    assert bot_ticks_enqueue_due() == [(bot.pk, bot.next_run_at)]
    run_worker()
    page.reload()
    expect(page.locator("#bot-orders")).to_contain_text("base")
    expect(page.locator("#deal-ladder [data-level-state='filled']")).to_have_count(1)
    journey.capture("bot")
    assert Bot.objects.get(pk=bot.pk).status == BotStatus.RUNNING

    # A backtest: queued, its progress bar followed to the end, then the results.
    nav_menu(page, "Trading", "Backtests")
    page.get_by_label("Name", exact=True).fill("ACME a year")
    page.get_by_label("Symbol", exact=True).fill("ACME")
    journey.capture("backtests")
    # The page's polls of the job wait here until the worker is done: the live server shares
    # SQLite's in-memory test database (one connection) with this thread, so a poll must not
    # reach it while the worker runs. Held from the start, no poll can already be on its way.
    polls = JobPolls()
    page.route(JOB_POLLS, polls.route)
    page.get_by_role("button", name="Run backtest").click()
    progress = page.get_by_role("progressbar")
    expect(progress).to_have_attribute("aria-valuenow", "0")
    expect(page.get_by_text("Waiting for a worker")).to_be_visible()
    settings = page.get_by_role("region", name="DCA settings").locator("dt")
    expect(settings.first).to_have_text("Base order size")
    expect(settings.last).to_have_text("Cooldown seconds")
    journey.capture("backtest-queued", again=False)
    page.evaluate(WATCH_PROGRESS)
    run_worker()
    polls.release()
    # The page polls the job, shows it done, and reloads itself to show the results.
    expect(page.locator("#metrics")).to_be_visible(timeout=15_000)
    page.unroute(JOB_POLLS)
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('journey-progress'))")
    assert seen[0] == 0
    assert seen[-1] == 100
    assert seen == sorted(seen), seen
    expect(page.get_by_role("progressbar")).to_have_count(0)
    backtest = Backtest.objects.get(user=user)
    assert backtest.status == BacktestStatus.SUCCEEDED
    assert backtest.metrics["orders"] > 0
    expect(page.locator("canvas[data-chart='line']")).to_be_visible()
    expect(page.locator("#orders")).to_be_visible()
    journey.capture("backtest")

    # Exports: the portfolio's transactions, then everything from the Security tab.
    nav_link(page, "Portfolios")
    page.get_by_role("link", name="Long term").click()
    page.get_by_role("link", name="Import & export").click()
    journey.capture("import-export")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Transactions (CSV)").click()
    exported = list(csv.DictReader(io.StringIO(download_info.value.path().read_text())))
    assert [(row["type"], row["symbol"], row["external_id"]) for row in exported] == [
        ("DEPOSIT", "", "bank-1"),
        ("BUY", "ACME", "brk-1"),
        ("BUY", "BLAU", "brk-2"),
        ("SELL", "ACME", "brk-3"),
    ]

    nav_link(page, "Profile")
    page.get_by_role("navigation", name="Profile sections").get_by_role(
        "link", name="Security"
    ).click()
    journey.capture("security")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download my data").click()
    document = json.loads(download_info.value.path().read_text())
    assert document["account"]["user"]["email"] == EMAIL
    counts = document["counts"]
    for table, rows in [
        ("portfolio.Portfolio", 1),
        ("portfolio.Transaction", 4),
        ("portfolio.WatchlistItem", 1),
        ("portfolio.PriceAlert", 1),
        ("bots.Bot", 1),
        ("bots.Order", 1),
        ("bots.Backtest", 1),
    ]:
        assert counts.get(table) == rows, (table, counts)

    # Signing out ends the visit: the first page asks to sign in again.
    sign_out(page)
    journey.capture("signed-out", again=False)
    page.goto(base_url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))

    # The same pages on a phone: nothing scrolls sideways, nothing logs an error.
    phone = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    phone.goto(base_url + "/")
    fits_the_phone(phone, "sign-in")
    journey.take(phone, f"journey-{journey.number + 1:02d}-phone-sign-in")
    phone.get_by_role("main").get_by_role("link", name="sign up").click()
    fits_the_phone(phone, "sign-up")
    journey.take(phone, f"journey-{journey.number + 2:02d}-phone-sign-up")
    phone.go_back()
    phone.get_by_label("Email").fill(EMAIL)
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign In").click()
    expect(phone.get_by_role("heading", name="Hello, Nova")).to_be_visible()
    for number, (name, url) in enumerate(journey.revisit, start=journey.number + 3):
        phone.goto(url)
        fits_the_phone(phone, name)
        journey.take(phone, f"journey-{number:02d}-phone-{name}")
    sign_out(phone)
    journey.take(phone, f"journey-{number + 1:02d}-phone-signed-out")
