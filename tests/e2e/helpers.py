"""Helpers for browser tests.

sign_in(page, live_server, username)   sign in through the real form
nav_sections(page)                     the main navigation's section names
open_menu(page, name)                  open a navigation dropdown by its text
watch_csp(page)                        live list of Content Security Policy violations
axe_violations(page)                   axe-core's accessibility violations of the page
axe_violations_in_place(page)          the same, of the page as it is now (after typing)
describe_violations(violations)        readable summary for assertion messages
seed_demo_data(settings)               the demonstration data, demo mode on; demo passwords
layout_problems(page)                  page wider than the window, table actions out of view
"""

import json
import re
from io import StringIO
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
    if "/login/second-factor/" in page.url:  # supervisors and administrators
        page.get_by_label("Code from your authenticator app").fill(_code_for(username))
        with page.expect_navigation():
            page.locator("main form button[type=submit]").first.click()
    return page


def _code_for(username: str) -> str:
    """The code the user's authenticator app would show (the test shares the database)."""
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from kent_cs.two_factor import current_code

    user = get_user_model().objects.get(username=username)
    device = TOTPDevice.objects.filter(user=user).order_by("-confirmed", "pk").first()
    assert device is not None, f"{username} has no authenticator device"
    return current_code(device)


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


def seed_demo_data(settings) -> dict[str, str]:
    """Load the demonstration data (a year of receipts, balanced days, deposits, bank
    statements, returned checks, refunds, licensing) with demo mode on, so pages show the
    demo banner; returns the demo users' passwords by username."""
    from django.core.management import call_command

    from kent_cs.demo import DEMO_USERS
    from licensing.models import LicenseType
    from tests.licensing.factories import defaults

    settings.DEMO_MODE = True
    if not LicenseType.objects.exists():  # the flush after a browser test removed them
        defaults()
    call_command("seed_demo", stdout=StringIO())
    return {username: password for username, _f, _l, _r, password in DEMO_USERS}


# The links and buttons of every table's action cells: the cells under an "Actions" header,
# and any cell holding a button or a form. Each is scrolled into view vertically only (the
# window's own horizontal scroll, or a scrolling box's, is what must not be needed): the
# ones whose box is not inside the viewport and inside every box that clips it.
UNREACHABLE_TABLE_ACTIONS_JS = """() => {
  const width = window.innerWidth, height = window.innerHeight, far = [];
  const actionCells = new Set();
  for (const table of document.querySelectorAll('main table')) {
    const headers = [...table.querySelectorAll('thead th')]
      .filter(th => th.innerText.trim() === 'Actions');
    for (const cell of table.querySelectorAll('tbody td, tbody th')) {
      if (cell.querySelector('button, form')) { actionCells.add(cell); continue; }
      const box = cell.getBoundingClientRect(), middle = (box.left + box.right) / 2;
      for (const th of headers) {
        const column = th.getBoundingClientRect();
        if (middle >= column.left && middle <= column.right) actionCells.add(cell);
      }
    }
  }
  for (const cell of actionCells) {
    for (const el of cell.querySelectorAll('a, button')) {
      if (el.closest('.visually-hidden, [hidden]')) continue;
      const label = (el.innerText || el.getAttribute('aria-label') || el.tagName).trim();
      if (el.getClientRects().length === 0) { far.push(label + ' (not displayed)'); continue; }
      let box = el.getBoundingClientRect();
      // Instant: Bootstrap makes the page's scrolling smooth.
      window.scrollTo({top: window.scrollY + box.top - height / 2, behavior: 'instant'});
      box = el.getBoundingClientRect();
      const outside = box.left < 0 || box.right > width + 0.5 || box.top < 0
        || box.bottom > height + 0.5;
      let clipped = false;
      for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
        const style = getComputedStyle(up);
        if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
        const clip = up.getBoundingClientRect();
        if (box.left < clip.left - 0.5 || box.right > clip.right + 0.5) { clipped = true; break; }
      }
      if (outside || clipped) {
        far.push(`${label} at ${Math.round(box.left)}-${Math.round(box.right)}px`
          + (clipped ? ' (clipped by a scrolling box)' : ''));
      }
    }
  }
  window.scrollTo({top: 0, behavior: 'instant'});
  return far;
}"""


def layout_problems(page: Page) -> list[str]:
    """What makes the page wider than the window, or puts a table's action out of reach."""
    problems = []
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    if scroll_width > inner_width:
        problems.append(f"page is {scroll_width}px wide in a {inner_width}px window")
    far = page.evaluate(UNREACHABLE_TABLE_ACTIONS_JS)
    if far:
        problems.append(f"{len(far)} table actions out of view: {', '.join(far[:8])}")
    return problems


def main_pages(role: str) -> dict[str, str]:
    """Each role's main pages on the demonstration data: {name: path}. The balancing page is
    the open day with the most drawers; a receipt is the cashier's latest."""
    from django.db.models import Count
    from django.urls import reverse

    from cashiering.models import BusinessDay, CashierSession, Receipt
    from ledger.models import BankAccount
    from licensing.models import Application

    closed = BusinessDay.objects.filter(status=BusinessDay.Status.CLOSED).values("business_date")
    busiest = (
        CashierSession.objects.exclude(business_date__in=closed)
        .values("business_date")
        .annotate(drawers=Count("pk"))
        .order_by("-drawers", "-business_date")
        .first()
    )
    bank = BankAccount.objects.order_by("pk").first()
    application = Application.objects.order_by("-pk").first()
    receipt = Receipt.objects.filter(posted_by__username="cashier").order_by("-pk").first()
    back_office = {
        "home": reverse("home"),
        "balancing": reverse("cashiering:balancing"),
        "day balancing": reverse(
            "cashiering:day-balancing", args=[busiest["business_date"].isoformat()]
        ),
        "drawer sessions": reverse("cashiering:sessions"),
        "deposits": reverse("cashiering:deposits"),
        "returned checks": reverse("cashiering:returned-checks"),
        "refunds": reverse("cashiering:refunds"),
        "bank accounts": reverse("ledger:bank-accounts"),
        "bank reconciliation": reverse("ledger:bank-reconcile", args=[bank.pk]),
        "applications in review": reverse("licensing:application-list"),
        "application": reverse("licensing:application-detail", args=[application.pk]),
        "renewals outstanding": reverse("licensing:renewals-outstanding"),
    }
    pages = {
        "cashier": {
            "home": reverse("home"),
            "my drawer": reverse("cashiering:my-session"),
            "look up a payer": reverse("cashiering:lookup"),
            "receipt": reverse("cashiering:receipt-print", args=[receipt.pk]),
            "receipt details": reverse("cashiering:receipt-detail", args=[receipt.pk]),
        },
        "technician": back_office,
        "supervisor": {
            **back_office,
            "daily reports": reverse("cashiering:daily-reports"),
            "activity": reverse("activity"),
        },
        "admin": {
            "home": reverse("home"),
            "businesses": reverse("licensing:business-search"),
            "applications in review": reverse("licensing:application-list"),
            "renewals": reverse("licensing:renewals"),
            "chart of accounts": reverse("ledger:chart"),
            "activity": reverse("activity"),
        },
    }
    return pages[role]
