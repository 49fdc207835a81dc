"""axe-core (from the npm registry, node_modules/axe-core) run inside a page by the browser tests.

The source goes in through `page.evaluate`, which runs it over the DevTools protocol: the page
keeps its real Content-Security-Policy. `page.add_script_tag(path=...)` would add an inline
<script>, which that policy refuses (a console error), and a `bypass_csp` context would switch
the policy off for the very pages under test.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from playwright.sync_api import Page

AXE_JS = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
# Minor and moderate findings are advice; these two levels fail a test.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


@dataclass(frozen=True)
class Waiver:
    """One finding that is not ours to fix: a rule on one exact target selector, and why."""

    rule: str
    target: str
    reason: str


@cache
def axe_source() -> str:
    if not AXE_JS.exists():
        raise FileNotFoundError(f"{AXE_JS} is missing: run `npm ci` (make test does).")
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(
    page: Page, *, waivers: tuple[Waiver, ...] = (), preload: bool = True
) -> list[str]:
    """Run axe on the page as it stands; describe each serious or critical finding not waived.

    `preload=False` skips axe's reading of the style sheets (for css-orientation-lock): on a
    sheet with @import it applies the rules as an inline <style>, which the CSP refuses.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    results = page.evaluate(
        "async (preload) => (await window.axe.run(document, "
        "{resultTypes: ['violations'], preload})).violations",
        preload,
    )
    waived = {(waiver.rule, waiver.target) for waiver in waivers}
    found = []
    for violation in results:
        nodes = [
            node
            for node in violation["nodes"]
            if (node.get("impact") or violation["impact"]) in BLOCKING_IMPACTS
            and (violation["id"], " ".join(node["target"])) not in waived
        ]
        if nodes:
            found.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']}\n"
                + "\n".join(f"    {' '.join(node['target'])}{_why(node)}" for node in nodes)
            )
    return found


def _why(node: dict) -> str:
    """axe's own words for one node (colours and ratio for contrast), when it has them."""
    messages = [check["message"] for check in node.get("any", []) if check.get("message")]
    return f"  [{messages[0]}]" if messages else ""
