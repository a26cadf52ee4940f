"""The foundation in a real browser: sign-in, each role's navigation, static files and the
Content Security Policy, lockout, and the trial balance downloads."""

from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.e2e.helpers import nav_sections, open_menu, sign_in, watch_csp

# Sections of the main navigation each role sees, in app order. Update this table when an
# app adds a section: it is the contract of who sees what.
ROLE_SECTIONS = {
    "cashier": ["Counter", "Training"],
    "technician": ["Counter", "Balancing", "Licensing", "Ledger", "Training"],
    "supervisor": ["Counter", "Balancing", "Licensing", "Ledger", "Audit"],
    "admin": ["Licensing", "Ledger", "Audit"],
}
BOOTSTRAP_CSS = "/static/vendor/bootstrap/css/bootstrap.min.css"
NAVBAR_BACKGROUND = "rgb(18, 58, 99)"  # static/css/app.css .navbar-kent


@pytest.mark.parametrize("role", list(ROLE_SECTIONS))
def test_each_role_signs_in_and_sees_its_own_navigation(role, request, live_server, page):
    user = request.getfixturevalue(role)
    sign_in(page, live_server, role)

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")
    assert nav_sections(page) == ROLE_SECTIONS[role]

    if "Audit" in ROLE_SECTIONS[role]:
        menu = open_menu(page, "Audit")
        expect(menu.get_by_role("link", name="Activity")).to_be_visible()
    else:
        expect(page.get_by_role("link", name="Activity")).to_have_count(0)
    if role in ("technician", "supervisor"):
        menu = open_menu(page, "Ledger")
        expect(menu.get_by_role("link", name="Trial balance")).to_be_visible()

    user_menu = open_menu(page, user.get_full_name() or user.get_username())
    expect(user_menu.get_by_role("button", name="Sign out")).to_be_visible()
    administration = user_menu.get_by_role("link", name="Administration")
    expect(administration).to_have_count(1 if role == "admin" else 0)


def test_static_files_are_served_and_bootstrap_styles_the_page(live_server, page, cashier):
    sign_in(page, live_server, "cashier")

    response = page.request.get(f"{live_server.url}{BOOTSTRAP_CSS}")
    assert response.status == 200
    assert "text/css" in response.headers["content-type"]
    navbar = page.locator("nav[aria-label='Main']")
    # Bootstrap lays the navbar out as a flex row; the project's stylesheet colours it.
    assert navbar.evaluate("el => getComputedStyle(el).display") == "flex"
    background = navbar.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == NAVBAR_BACKGROUND


def test_home_page_breaks_no_content_security_policy_rule(live_server, page, supervisor):
    violations = watch_csp(page)
    sign_in(page, live_server, "supervisor")
    page.wait_for_load_state("load")
    # Bootstrap's JavaScript runs under the policy: the dropdown opens.
    expect(open_menu(page, "Audit").get_by_role("link", name="Activity")).to_be_visible()
    assert violations == []

    # The check can fail: an inline script is refused, and the listener records it.
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.inlineRan = true'; document.body.append(s); }"
        )
    assert page.evaluate("() => window.inlineRan === undefined")
    assert violations


def test_repeated_wrong_passwords_make_the_username_wait_at_that_workstation(
    live_server, page, settings, cashier
):
    for _attempt in range(settings.LOGIN_FAILURE_LIMIT):
        sign_in(page, live_server, "cashier", password="not-the-password")
        expect(page.get_by_role("alert")).to_contain_text("The username or password is not right")

    sign_in(page, live_server, "cashier")  # the right password, too soon

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Too many failed sign-ins for this username from this")
    expect(alert).to_contain_text("Try again in 30 seconds")
    expect(page).to_have_url(f"{live_server.url}/login/")


@pytest.fixture
def posted_entries(chart, supervisor):
    """Three balanced entries today, in the current open period."""
    from ledger.services import LineSpec, journal_entry_post

    today = timezone.localdate()
    clearing = chart["001.101.30"]
    rows = [
        ("321.10.00", "Business license BL-2026-0001", Decimal("100.00")),
        ("321.90.00", "Fire inspection BL-2026-0001", Decimal("112.93")),
        ("322.30.00", "Pet license 4471", Decimal("30.00")),
    ]
    for code, memo, amount in rows:
        journal_entry_post(
            entry_date=today,
            memo=memo,
            lines=[
                LineSpec(clearing, debit=amount),
                LineSpec(chart[f"001.{code}"], credit=amount),
            ],
            user=supervisor,
        )
    return {"001.101.30": Decimal("242.93"), **{f"001.{c}": a for c, _m, a in rows}}


def test_technician_downloads_the_trial_balance(
    live_server, page, technician, posted_entries, tmp_path
):
    sign_in(page, live_server, "technician")
    page.goto(f"{live_server.url}/ledger/trial-balance/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Trial balance")

    with page.expect_download() as xlsx_info:
        page.get_by_role("link", name="Download XLSX").click()
    xlsx = xlsx_info.value
    assert xlsx.suggested_filename.endswith(".xlsx")
    xlsx.save_as(tmp_path / xlsx.suggested_filename)
    workbook = load_workbook(tmp_path / xlsx.suggested_filename, read_only=True)
    cells = [
        str(value)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]
    text = "\n".join(cells)
    for full_code in posted_entries:
        code = full_code.split(".", 1)[1]
        assert code in text, f"account {full_code} is missing from the workbook"
    numbers = {abs(Decimal(str(v))).quantize(Decimal("0.01")) for v in _numeric(workbook)}
    assert Decimal("242.93") in numbers
    assert Decimal("112.93") in numbers

    with page.expect_download() as pdf_info:
        page.get_by_role("link", name="Download PDF").click()
    pdf = pdf_info.value
    assert pdf.suggested_filename.endswith(".pdf")
    with open(pdf.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"


def _numeric(workbook):
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                    yield value
