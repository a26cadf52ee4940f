"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live_server.

Every test here is marked `browser` and runs on a committed database (`live_server` needs
it: the server thread has its own connection); tests/conftest.py restores the role groups
that the flush after each such test removes. Fixtures: `browser` (one Chromium per
session), `context` (fresh per test, downloads accepted), `page` (a tab in that context).
Helpers for the tests are in tests/e2e/helpers.py.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.e2e.helpers import CHROMIUM_ARGS, DEFAULT_TIMEOUT_MS

# Playwright's sync API keeps an event loop running in the test thread; Django would
# refuse ORM calls from that thread without this; tests call the ORM only between steps.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

E2E_DIR = Path(__file__).resolve().parent


def _in_e2e(item: pytest.Item) -> bool:
    return E2E_DIR in Path(item.path).parents


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _in_e2e(item):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Browser:
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=os.environ.get("KENT_CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def context(browser: Browser) -> BrowserContext:
    ctx = browser.new_context(accept_downloads=True)
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
