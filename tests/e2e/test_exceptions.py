"""The exceptions dashboard in a real browser: a drawer left open from an earlier day
shows on the technician's home page and in the navigation's badge; the exceptions page
lists it, and its link leads to the drawer's page, where it is closed and counted."""

from playwright.sync_api import Page, expect

from tests.cashiering.factories import counter_setup, open_session
from tests.e2e.helpers import axe_violations, describe_violations, sign_in, watch_csp
from tests.factories import TODAY


def test_a_drawer_left_open_leads_to_the_page_that_closes_it(
    live_server, page: Page, cashier, technician
):
    counter_setup()
    session = open_session(cashier, "D1", business_date=TODAY)  # March 16: long gone
    csp = watch_csp(page)
    sign_in(page, live_server, "technician")

    # Home: the cards say what is open; the navigation's badge counts it (the drawer,
    # and its business day, which nobody closed).
    main = page.locator("main")
    card = main.locator(".card-dashboard", has_text="Drawers still open after their day")
    expect(card).to_contain_text("1")
    badge = page.locator("#exceptions-badge")
    expect(badge).to_have_text("2 open")

    page.get_by_role("link", name="Exceptions").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Exceptions")
    row = page.locator("#line-drawers_open")
    expect(row.locator("td").first).to_have_text("1")
    violations = axe_violations(page)
    assert not violations, describe_violations(violations)

    page.locator("#items-drawers_open").get_by_role("link", name="D1 (cashier)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Drawer D1 · {TODAY:%Y-%m-%d}")
    assert page.url.endswith(f"/sessions/{session.pk}/")
    expect(page.get_by_role("link", name="Close session and count drawer")).to_be_visible()
    assert csp == []
