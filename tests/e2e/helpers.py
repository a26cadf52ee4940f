"""Helpers for browser tests.

sign_in(page, live_server, username)   sign in through the real form
nav_sections(page)                     the main navigation's section names
open_menu(page, name)                  open a navigation dropdown by its text
watch_csp(page)                        live list of Content Security Policy violations
axe_violations(page)                   axe-core's accessibility violations of the page
axe_violations_in_place(page)          the same, of the page as it is now (after typing)
describe_violations(violations)        readable summary for assertion messages
"""

import json
import re
from pathlib import Path

from playwright.sync_api import Locator, Page

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Waits, not assertions about speed: the machine is shared and a page may take a while.
DEFAULT_TIMEOUT_MS = 20_000


def sign_in(page: Page, live_server, username: str, password: str = PASSWORD) -> Page:
    """Sign in through the login form, as a person would; waits for the next page."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    return page


def nav_sections(page: Page) -> list[str]:
    """The section names of the main navigation bar, in order (user menu excluded)."""
    toggles = page.locator("nav[aria-label='Main'] #main-nav .navbar-nav.me-auto .dropdown-toggle")
    return [text.strip() for text in toggles.all_inner_texts()]


def open_menu(page: Page, name: str) -> Locator:
    """Open the navigation dropdown labelled `name` (Bootstrap's JavaScript must work for
    this) and return its menu."""
    toggle = page.locator("nav[aria-label='Main'] .dropdown-toggle").filter(
        has_text=re.compile(rf"^\s*{re.escape(name)}\s*$")
    )
    toggle.click()
    menu = toggle.locator("xpath=following-sibling::ul[contains(@class, 'dropdown-menu')]")
    menu.wait_for(state="visible")
    return menu


def watch_csp(page: Page) -> list[str]:
    """Start recording Content Security Policy violations of `page`; returns the live list.

    Call before the first navigation. Chromium reports each blocked script or style in the
    console; the securitypolicyviolation event catches the ones it only reports there.
    """
    seen: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            seen.append(message.text)

    page.on("console", on_console)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return seen


def axe_violations(page: Page, *, tags: list[str] | None = None) -> list[dict]:
    """Run axe-core on the page's current URL and return its violations.

    axe is injected as a script tag, which the site's CSP forbids, so it runs in a second
    context that bypasses CSP and carries the page's cookies (same signed-in user). The
    page itself is left untouched.
    """
    tags = tags or ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
    audit_context = page.context.browser.new_context(
        bypass_csp=True, storage_state=page.context.storage_state()
    )
    try:
        audit_page = audit_context.new_page()
        audit_page.set_default_timeout(DEFAULT_TIMEOUT_MS)
        audit_page.goto(page.url)
        audit_page.add_script_tag(path=str(AXE_SCRIPT))
        result = audit_page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", tags
        )
    finally:
        audit_context.close()
    return result["violations"]


def axe_violations_in_place(page: Page, *, tags: list[str] | None = None) -> list[dict]:
    """axe-core's violations of the page's DOM as it stands now: search results shown, a
    line added. axe_violations reloads the URL and would lose that state.

    The script is evaluated through the DevTools protocol, which the page's Content
    Security Policy does not govern (a script tag would be refused).
    """
    tags = tags or ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", tags
    )
    return result["violations"]


def describe_violations(violations: list[dict]) -> str:
    """A readable summary for assertion messages."""
    return json.dumps(
        [
            {
                "rule": v["id"],
                "impact": v.get("impact"),
                "help": v["help"],
                "targets": [node["target"] for node in v["nodes"]][:5],
            }
            for v in violations
        ],
        indent=2,
    )
