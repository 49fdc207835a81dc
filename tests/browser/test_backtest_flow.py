"""Backtests in a real browser: a refused form shows errors by field; a good one queues the job,
the progress bar follows it while the worker runs it, and the results (metrics, equity chart,
orders) and exports appear; two backtests compare side by side. No console error, no CSP
violation; screenshots at desktop and phone width in test-artifacts/screenshots/."""

from datetime import timedelta
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone
from playwright.sync_api import expect

from bots.models import Backtest, BacktestStatus
from portfolio.models import PriceBar
from tests.browser.conftest import PHONE
from tests.browser.test_page_tour import sign_in
from tests.factories import InstrumentFactory, UserFactory
from tests.worker import run_worker

pytestmark = pytest.mark.browser


@pytest.fixture
def trader(db):
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def wavy(db):
    """A shared instrument with 300 daily bars up to yesterday, swinging enough to trade."""
    instrument = InstrumentFactory(symbol="WAVY", currency="USD", name="Wavy Corp.")
    today = timezone.localdate()
    for back in range(300, 0, -1):
        close = Decimal(100) + Decimal((back % 11) - 5) * Decimal("1.3")
        PriceBar.objects.create(
            instrument=instrument,
            date=today - timedelta(days=back),
            open=close + 1,
            high=close + 3,
            low=close - 3,
            close=close,
        )
    return instrument


def submit(page, **fields: str) -> None:
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Run backtest").click()


def test_backtest_flow_from_form_to_results_and_comparison(
    live_server, trader, wavy, open_page, screenshot
):
    page = open_page()
    sign_in(page, live_server.url, trader.email)
    page.goto(live_server.url + "/backtests/")

    submit(page, Symbol="WAVY", **{"Take profit (%)": "0"})
    expect(page.locator("#id_take_profit_pct_error")).to_be_visible()
    submit(page, **{"Take profit (%)": "2", "Initial balance": "50"})
    expect(page.locator("#id_initial_balance_error")).to_contain_text("needs")
    screenshot(page, "backtest-form-errors")

    submit(page, Name="Wavy DCA", **{"Take profit (%)": "2", "Initial balance": "10000"})
    expect(page.get_by_role("heading", name="Progress")).to_be_visible()
    expect(page.get_by_role("progressbar")).to_be_visible()
    screenshot(page, "backtest-queued")

    run_worker()

    # The page polls the job and reloads on its own once it finished.
    expect(page.locator("#metrics")).to_be_visible(timeout=15_000)
    backtest = Backtest.objects.get(user=trader, name="Wavy DCA")
    assert backtest.status == BacktestStatus.SUCCEEDED
    assert backtest.metrics["orders"] > 4
    expect(page.locator("#orders")).to_be_visible()
    expect(page.locator("#equity-chart-summary")).to_contain_text("Equity from 10,000.00")
    assert page.evaluate("Object.keys(Chart.instances).length") == 1
    screenshot(page, "backtest-results")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV").click()
    exported = download_info.value.path().read_text()
    assert exported.splitlines()[0] == "time,deal,side,kind,price,quantity,fee"
    assert len(exported.splitlines()) == 1 + backtest.metrics["orders"]

    page.get_by_role("link", name="Backtests").first.click()
    submit(page, Symbol="WAVY", Name="Wavy wide", **{"Take profit (%)": "4"})
    run_worker()
    expect(page.locator("#metrics")).to_be_visible(timeout=15_000)
    page.goto(live_server.url + "/backtests/")
    for row in Backtest.objects.filter(user=trader):
        page.locator(f"#compare-{row.pk}").check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.locator("#compare-metrics")).to_contain_text("Wavy wide")
    assert page.evaluate("Object.keys(Chart.instances).length") == 1
    screenshot(page, "backtest-compare")


def test_backtest_pages_fit_a_phone(live_server, trader, wavy, open_page, screenshot):
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, live_server.url, trader.email)
    page.goto(live_server.url + "/backtests/")
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    screenshot(page, "phone-backtest-list")

    submit(page, Symbol="WAVY", Name="Phone DCA")
    run_worker()
    expect(page.locator("#metrics")).to_be_visible(timeout=15_000)
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    screenshot(page, "phone-backtest-results")

    page.goto(live_server.url + "/signal-validations/")
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    screenshot(page, "phone-signal-validations")


def _queued_backtest_page(new_context, live_server, trader, route):
    """A signed-in page showing a just-queued backtest, its job polls answered by `route`."""
    page = new_context().new_page()
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    sign_in(page, live_server.url, trader.email)
    page.route("**/api/v1/jobs/**", route)
    page.goto(live_server.url + "/backtests/")
    submit(page, Symbol="WAVY", Name="Wavy DCA", **{"Take profit (%)": "2"})
    expect(page.get_by_role("progressbar")).to_be_visible()
    return page, page_errors


def test_the_progress_bar_keeps_polling_through_a_passing_error(
    live_server, trader, wavy, new_context
):
    # A restart or a throttle answers one poll with an error: the bar must not freeze. (Only
    # here are the answers made up, by the browser's own request routing.)
    made_up = iter([{"status": 503}, {"status": 429, "headers": {"Retry-After": "1"}}])
    seen = []

    def route(request_route):
        answer = next(made_up, None)
        seen.append(answer["status"] if answer else "server")
        if answer is None:
            request_route.continue_()
        else:
            request_route.fulfill(content_type="application/json", body="{}", **answer)

    page, page_errors = _queued_backtest_page(new_context, live_server, trader, route)
    run_worker()

    expect(page.locator("#metrics")).to_be_visible(timeout=30_000)
    assert seen[:3] == [503, 429, "server"]
    assert page_errors == []


def test_polling_stops_with_a_message_when_the_job_is_gone(
    live_server, trader, wavy, new_context, screenshot
):
    def route(request_route):
        request_route.fulfill(status=404, content_type="application/json", body="{}")

    page, page_errors = _queued_backtest_page(new_context, live_server, trader, route)

    expect(page.locator("[data-job-message]")).to_contain_text("no longer available")
    screenshot(page, "backtest-progress-gone")
    assert page_errors == []
