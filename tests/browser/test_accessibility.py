"""Every page passes axe-core with no serious or critical finding, in the light and the dark theme:
the trader pages with real objects, the MFA pages, the pages a visitor sees signed out, and the
staff's admin pages. Every page route is audited here or excluded below with its reason, so a new
page cannot be missed. Charts carry a name and a text alternative."""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.management.commands.seed_demo import DEMO_PROFILE
from accounts.services import profile_update
from audit.models import HealthSample, StaffAlertKind
from audit.services.monitoring import health_sample_record, staff_alert_raise
from bots.demo import demo_bot_seed
from bots.demo_backtests import DEMO_CONFIG, DEMO_NAME, demo_backtest_seed
from bots.models import Backtest, Bot, OrderSide, OrderType, PaperAccount
from bots.services import backtest_create, paper_account_default, signal_validation_record
from bots.services.backtests import backtest_run_task
from bots.services.paper import OrderInput, order_place
from portfolio.demo import demo_seed
from portfolio.models import (
    Dividend,
    DividendStatus,
    Portfolio,
    PriceAlert,
    PriceBar,
    Transaction,
    WatchlistItem,
)
from tests.browser.axe import Waiver, axe_violations
from tests.browser.test_page_tour import sign_in
from tests.factories import PASSWORD, BrokerCredentialFactory, UserFactory
from tests.totp import current_code

pytestmark = pytest.mark.browser

THEMES = ["light", "dark"]
OTHER_BACKTEST = "Tighter exit"


@dataclass(frozen=True)
class Visit:
    """A page by URL name; `obj` names the row whose pk it takes (a key of the objects dict,
    which also fills `{placeholders}` in the query string)."""

    name: str
    obj: str | None = None
    kwargs: dict[str, str] = field(default_factory=dict)
    query: str = ""

    def path(self, objects: dict[str, int]) -> str:
        kwargs = {"pk": objects[self.obj]} if self.obj else self.kwargs
        return reverse(self.name, kwargs=kwargs) + self.query.format(**objects)


TRADER_PAGES = [
    Visit("dashboard"),
    Visit("profile"),
    Visit("profile_brokers"),
    Visit("profile_broker_edit", "credential"),
    Visit("profile_stats"),
    Visit("profile_preferences"),
    Visit("profile_security"),
    Visit("profile_activity"),
    Visit("profile_activity", query="?status=failure"),
    Visit("profile_delete"),
    Visit("account_email"),
    Visit("account_change_password"),
    Visit("account_reauthenticate"),
    Visit("account_logout"),
    Visit("mfa_index"),
    Visit("mfa_activate_totp"),
    Visit("usersessions_list"),
    Visit("socialaccount_connections"),
    Visit("portfolio_list"),
    Visit("portfolio_detail", "portfolio"),
    Visit("portfolio_detail", "portfolio", query="?range=all"),
    Visit("portfolio_edit", "portfolio"),
    Visit("portfolio_delete", "portfolio"),
    Visit("portfolio_transactions", "portfolio"),
    Visit("transaction_add", "portfolio"),
    Visit("portfolio_import", "portfolio"),
    Visit("transaction_edit", "transaction"),
    Visit("transaction_delete", "transaction"),
    Visit("watchlist"),
    Visit("watchlist_delete", "watchlist_item"),
    Visit("alert_list"),
    Visit("alert_detail", "alert"),
    Visit("alert_edit", "alert"),
    Visit("alert_delete", "alert"),
    Visit("notification_list"),
    Visit("dividend_list"),
    Visit("dividend_add", "portfolio"),
    Visit("dividend_edit", "dividend"),
    Visit("dividend_delete", "dividend"),
    Visit("paper"),
    Visit("paper_account", "paper_account"),
    Visit("paper_account_create"),
    Visit("paper_account_reset", "paper_account"),
    Visit("bot_list"),
    Visit("bot_create"),
    Visit("bot_detail", "bot"),
    Visit("bot_edit", "bot"),
    Visit("bot_delete", "bot"),
    Visit("backtest_list"),
    Visit("backtest_detail", "backtest"),
    Visit("backtest_delete", "backtest"),
    Visit("backtest_compare", query="?ids={backtest}&ids={other_backtest}"),
    Visit("signal_validation_list"),
]

# A user with TOTP and recovery codes, signed in through the code step.
MFA_PAGES = [
    Visit("mfa_view_recovery_codes"),
    Visit("mfa_generate_recovery_codes"),
    Visit("mfa_deactivate_totp"),
    Visit("mfa_reauthenticate"),
]

ANONYMOUS_PAGES = [
    Visit("account_login"),
    Visit("account_signup"),
    Visit("account_reset_password"),
    Visit("account_reset_password_done"),
    Visit("account_reset_password_from_key", kwargs={"uidb36": "zz", "key": "bad-key"}),
    Visit("account_reset_password_from_key_done"),
    Visit("account_confirm_email", kwargs={"key": "not-a-real-key"}),
    Visit("account_email_verification_sent"),
    Visit("account_inactive"),
    Visit("socialaccount_login_cancelled"),
]
# allauth answers this page with 401 on purpose; the problem watcher would count that status.
UNWATCHED_ANONYMOUS_PAGES = [Visit("socialaccount_login_error")]

# GET routes that are not an HTML page of their own, or cannot be reached in this setup. Routes
# whose view answers only POST are not pages and are left out by the walk itself.
EXCLUDED = {
    "healthz": "JSON health check for load balancers, not a page",
    "profile_activity_export": "CSV download",
    "profile_export": "starts the data export and redirects to the Security tab",
    "profile_export_download": "JSON file download",
    "profile_broker_callback": "OAuth return address: redirects to the Brokers tab",
    "mfa_download_recovery_codes": "text file download",
    "mfa_authenticate": "audited in the MFA test on the way in (needs a pending sign-in)",
    "account_set_password": "only for users without a password; redirects everyone else",
    "account_confirm_login_code": "sign-in by emailed code is switched off; redirects",
    "socialaccount_signup": "needs a pending third-party sign-in; redirects otherwise",
}

# Django admin's own widgets, not ours; each finding named by rule and exact selector.
_SELECT_FILTER = (
    "Django's SelectFilter2.js (filter_horizontal) gives its search icon span an aria-label "
    "without a role"
)
_SPLIT_DATETIME = (
    "Django's AdminSplitDateTime writes 'Date:' and 'Time:' as plain text, not <label>s; the "
    "field's own label names the pair"
)
ADMIN_WAIVERS = (
    *(
        Waiver("aria-prohibited-attr", target, _SELECT_FILTER)
        for target in (
            'label[for="id_groups_input"] > .help-tooltip.search-label-icon',
            'label[for="id_groups_selected_input"] > .help-tooltip.search-label-icon',
            'label[for="id_user_permissions_input"] > .help-tooltip.search-label-icon',
            "#id_user_permissions_filter_selected > label > .help-tooltip.search-label-icon",
        )
    ),
    Waiver("label", "#id_preferences-0-disclosure_accepted_at_0", _SPLIT_DATETIME),
    Waiver("label", "#id_preferences-0-disclosure_accepted_at_1", _SPLIT_DATETIME),
)


def page_routes() -> dict[str, str]:
    """URL name -> route of every page route: not the API, not the admin, not POST-only."""
    routes: dict[str, str] = {}

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
                continue
            assert isinstance(entry, URLPattern)
            if route.startswith(("admin/", "api/")) or entry.name is None:
                # Unnamed routes are allauth's redirects from its old /social/ addresses.
                continue
            view_class = getattr(entry.callback, "view_class", None)
            if view_class is not None and (
                "get" not in view_class.http_method_names or not hasattr(view_class, "get")
            ):
                continue
            routes[entry.name] = route

    walk(get_resolver().url_patterns, "")
    return routes


def test_every_page_route_is_audited_or_excluded_with_a_reason():
    routes = page_routes()
    visits = TRADER_PAGES + MFA_PAGES + ANONYMOUS_PAGES + UNWATCHED_ANONYMOUS_PAGES
    audited = {visit.name for visit in visits}
    assert audited.isdisjoint(EXCLUDED), audited & EXCLUDED.keys()
    missing = sorted(set(routes) - audited - EXCLUDED.keys())
    assert missing == [], f"pages neither audited nor excluded: {missing}"
    stale = sorted((audited | EXCLUDED.keys()) - set(routes))
    assert stale == [], f"audited or excluded names that are no page route: {stale}"


def audit(page: Page, url: str, *, waivers=(), preload: bool = True) -> list[str]:
    """Open `url`, check that the page itself answered, its charts, and axe's findings."""
    page.goto(url)
    wanted = landed_on(page, url)
    if wanted != "account_reauthenticate" and landed_on(page) == "account_reauthenticate":
        # Pages that change MFA ask for the password again first (audited on its own).
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_load_state()
    page.wait_for_load_state("networkidle")
    problems = []
    if landed_on(page) != wanted:
        problems.append(f"expected the page {wanted}, landed on {page.url}")
    problems += chart_problems(page)
    problems += axe_violations(page, waivers=waivers, preload=preload)
    return [f"{url}: {problem}" for problem in problems]


def landed_on(page: Page, url: str | None = None) -> str | None:
    """The URL name of `url`, or of the page's current address."""
    return resolve(urlsplit(url or page.url).path).url_name


def chart_problems(page: Page) -> list[str]:
    """Each chart (a canvas, or an SVG figure) is an image with a name and a text alternative."""
    return page.evaluate(
        """() => {
            const text = (ids) => (ids || '').split(/\\s+/).filter(Boolean)
                .map((id) => document.getElementById(id)?.textContent || '').join('').trim()
            return [...document.querySelectorAll('canvas, figure svg')].flatMap((chart) => {
                const name = (chart.getAttribute('aria-label') || '').trim()
                    || text(chart.getAttribute('aria-labelledby'))
                const where = name || chart.outerHTML.slice(0, 80)
                const problems = []
                if (chart.getAttribute('role') !== 'img') problems.push('chart without role="img"')
                if (!name) problems.push('chart without a name')
                if (!text(chart.getAttribute('aria-describedby'))) {
                    problems.push('chart without a text alternative (aria-describedby)')
                }
                return problems.map((problem) => `${problem}: ${where}`)
            })
        }"""
    )


def assert_no_findings(findings: list[str]) -> None:
    assert findings == [], "\n" + "\n".join(findings)


def sign_in_with_theme(page: Page, base_url: str, email: str, theme: str) -> None:
    sign_in(page, base_url, email)
    expect(page.locator("html")).to_have_attribute("data-bs-theme", theme)


def _backtest(*, user, instrument, name: str, take_profit: str) -> Backtest:
    end = PriceBar.objects.filter(instrument=instrument).latest("date").date
    backtest = backtest_create(
        user=user,
        instrument=instrument,
        start=end - timedelta(days=200),
        end=end,
        initial_balance=Decimal(10_000),
        fee_rate=Decimal("0.001"),
        slippage_bps=Decimal(5),
        config={**DEMO_CONFIG, "take_profit_pct": take_profit},
        name=name,
        enqueue=False,
    )
    backtest_run_task.call(job_id=backtest.job_id)
    return backtest


@pytest.fixture
def trader(db):
    """The demo trader's data (ledger, charts, watchlist, alerts, dividends, a running bot, a
    backtest), plus a second backtest, a broker key, a resting paper order and validations."""
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    profile_update(user=user, data=DEMO_PROFILE)
    today = timezone.localdate()
    demo_seed(user=user, today=today)
    demo_backtest_seed(user=user, today=today)
    demo_bot_seed(user=user, today=today)
    bot = Bot.objects.for_user(user).get()
    _backtest(user=user, instrument=bot.instrument, name=OTHER_BACKTEST, take_profit="1")
    account = paper_account_default(user=user)
    last = PriceBar.objects.filter(instrument=bot.instrument).latest("date").close
    order_place(
        user=user,
        account=account,
        data=OrderInput(
            instrument=bot.instrument,
            side=OrderSide.BUY,
            order_type=OrderType.LIMIT,
            quantity=Decimal(2),
            limit_price=(last * Decimal("0.8")).quantize(Decimal("0.01")),
        ),
    )
    for number, accuracy in enumerate(["0.61", "0.64", "0.58"]):
        signal_validation_record(
            user=user,
            model_type="gradient_boosting",
            signal_type="breakout" if number % 2 else "mean_reversion",
            accuracy=Decimal(accuracy),
            precision=Decimal("0.6"),
            recall=Decimal("0.55"),
            f1=Decimal("0.57"),
            sample_size=400 + number,
        )
    return user


@pytest.fixture
def trader_objects(trader) -> dict[str, int]:
    """The pk of one row of each kind the trader pages show, by the names TRADER_PAGES use."""
    user = trader
    portfolio = Portfolio.objects.for_user(user).get()
    return {
        "portfolio": portfolio.pk,
        "transaction": Transaction.objects.for_user(user).filter(portfolio=portfolio).first().pk,
        "watchlist_item": WatchlistItem.objects.for_user(user).first().pk,
        "alert": PriceAlert.objects.for_user(user).exclude(triggered_at=None).first().pk,
        "dividend": Dividend.objects.for_user(user)
        .filter(status=DividendStatus.PENDING)
        .first()
        .pk,
        "paper_account": PaperAccount.objects.for_user(user).get().pk,
        "bot": Bot.objects.for_user(user).get().pk,
        "backtest": Backtest.objects.for_user(user).get(name=DEMO_NAME).pk,
        "other_backtest": Backtest.objects.for_user(user).get(name=OTHER_BACKTEST).pk,
        "credential": BrokerCredentialFactory(user=user, label="main").pk,
    }


@pytest.mark.parametrize("theme", THEMES)
def test_trader_pages_have_no_serious_accessibility_findings(
    live_server, trader, trader_objects, open_page, theme
):
    trader.preferences.theme = theme
    trader.preferences.save()
    page = open_page()
    sign_in_with_theme(page, live_server.url, trader.email, theme)

    findings = []
    for visit in TRADER_PAGES:
        findings += audit(page, live_server.url + visit.path(trader_objects))
    assert_no_findings(findings)


@pytest.fixture
def mfa_user(db):
    user = UserFactory(email="mfa@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return user, secret


@pytest.mark.parametrize("theme", THEMES)
def test_mfa_pages_have_no_serious_accessibility_findings(live_server, mfa_user, open_page, theme):
    user, secret = mfa_user
    page = open_page(color_scheme=theme)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-bs-theme", theme)
    findings = [f"{page.url}: {finding}" for finding in axe_violations(page)]
    page.get_by_label("Code", exact=True).fill(current_code(secret))
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Hello, mfa@example.com")).to_be_visible()

    for visit in MFA_PAGES:
        findings += audit(page, live_server.url + visit.path({}))
    assert_no_findings(findings)


@pytest.mark.parametrize("theme", THEMES)
def test_signed_out_pages_have_no_serious_accessibility_findings(
    live_server, open_page, new_context, theme
):
    page = open_page(color_scheme=theme)
    findings = []
    for visit in ANONYMOUS_PAGES:
        findings += audit(page, live_server.url + visit.path({}))
    expect(page.locator("html")).to_have_attribute("data-bs-theme", theme)
    unwatched = new_context(color_scheme=theme).new_page()
    for visit in UNWATCHED_ANONYMOUS_PAGES:
        findings += audit(unwatched, live_server.url + visit.path({}))
    assert_no_findings(findings)


def test_axe_reports_a_missing_label_and_a_missing_text_alternative(open_page):
    page = open_page()
    page.set_content(
        '<html lang="en"><title>t</title><main><h1>Form</h1>'
        '<input type="text" name="q"><img src="data:," width="9" height="9"></main></html>'
    )
    findings = "\n".join(axe_violations(page))
    assert "label (critical)" in findings
    assert "image-alt (critical)" in findings


@pytest.fixture
def staff(db):
    user = UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    now = timezone.now()
    for hours in range(12, 0, -1):
        HealthSample.objects.create(
            recorded_at=now - timedelta(hours=hours),
            healthy=hours != 5,
            database_latency_ms=1.5 + hours % 4,
        )
    health_sample_record()
    staff_alert_raise(
        kind=StaffAlertKind.AUDIT_CHAIN_BROKEN,
        title="The activity log chain is broken (1 problem)",
        details="Row #12 was changed after it was written.",
    )
    return user


@pytest.mark.parametrize("theme", THEMES)
def test_admin_pages_have_no_serious_accessibility_findings(live_server, staff, open_page, theme):
    page = open_page(color_scheme=theme, viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/?next=/admin/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(live_server.url + reverse("admin:index"))

    findings = []
    for url in [
        reverse("admin:index"),
        reverse("admin:operations"),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[staff.pk]),
        reverse("admin:audit_healthsample_changelist"),
    ]:
        # Django's forms.css @imports widgets.css: no style-sheet preload (tests/browser/axe.py).
        findings += audit(page, live_server.url + url, waivers=ADMIN_WAIVERS, preload=False)
    assert_no_findings(findings)
