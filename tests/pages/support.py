"""Helpers of the page tests: what the CSP would block in a page, and re-authentication."""

from html.parser import HTMLParser
from http import HTTPStatus

from django.test import Client
from django.urls import reverse


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        line = self.getpos()[0]
        if tag == "script" and "src" not in names:
            self.problems.append(f"line {line}: <script> without src")
        if tag == "style":
            self.problems.append(f"line {line}: <style> element")
        if "style" in names:
            self.problems.append(f"line {line}: style= attribute on <{tag}>")
        self.problems.extend(
            f"line {line}: {name}= handler on <{tag}>" for name in names if name.startswith("on")
        )
        for name, value in attrs:
            if name in {"href", "src", "action", "formaction"} and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"line {line}: javascript: URL in {name}")


def inline_code(html: str) -> list[str]:
    """Every inline script, inline style and event handler attribute in `html`."""
    finder = _InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.problems


def reauthenticate(client: Client, password: str) -> None:
    """Confirm the password again, as allauth asks before MFA changes."""
    response = client.post(reverse("account_reauthenticate"), {"password": password})
    assert response.status_code == HTTPStatus.FOUND, response.content
