"""Browser tests: Playwright (sync API) driving Debian's chromium against pytest-django's
live server. Any console error, uncaught page error or failed request fails the test: a
Content-Security-Policy violation shows up as a console error.
"""

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response

# Playwright's sync API runs an event loop in this thread; Django's ORM, used by the tests
# and fixtures in the same thread, would otherwise refuse to run next to it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-gpu",
        ],
    }


@dataclass
class BrowserProblems:
    """Everything that went wrong in the watched pages, in the order it happened."""

    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)
        # Confirmation prompts (data-confirm) are answered yes, like a user going ahead.
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error on {message.location.get('url')}: {message.text}")

    def _on_request_failed(self, request: Request) -> None:
        # net::ERR_ABORTED is the browser itself cancelling a request because the page moved
        # on (a form post or reload while, say, the favicon loads): not the app failing. A
        # server error still shows as its HTTP status below; refused or reset connections
        # have other codes and still count.
        if request.failure == "net::ERR_ABORTED":
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            request = response.request
            self.problems.append(f"HTTP {response.status}: {request.method} {request.url}")


@pytest.fixture
def browser_problems() -> Iterator[BrowserProblems]:
    problems = BrowserProblems()
    yield problems
    assert problems.problems == [], "\n".join(problems.problems)


@pytest.fixture
def open_page(
    new_context: Callable[..., BrowserContext], browser_problems: BrowserProblems
) -> Callable[..., Page]:
    """A page in a new browser context (its own cookies), watched for problems."""

    def _open(**context_args) -> Page:
        context = new_context(**context_args)
        return browser_problems.watch(context.new_page())

    return _open


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _take(page: Page, name: str) -> None:
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    return _take
