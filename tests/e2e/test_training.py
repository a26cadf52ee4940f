"""The training course in a real browser: a cashier does the cash-payment exercise in a
training session and the system checks it; the supervisor sees the completion."""

import re

import pytest
from playwright.sync_api import expect

from audit.models import TrainingCompletion
from cashiering.models import Receipt
from cashiering.payables import utility_index_rows
from cashiering.targets import index_bulk_upsert
from tests.cashiering.factories import make_account
from tests.e2e.helpers import axe_violations, describe_violations, open_menu, sign_in

ACCOUNT = "104455-01"  # Maria Lopez, 120.00 owed


@pytest.fixture
def payable(chart):
    account = make_account(ACCOUNT, balance="120.00", name="Maria Lopez")
    index_bulk_upsert(utility_index_rows([account]))
    return account


def test_cashier_completes_the_cash_payment_exercise_and_the_supervisor_sees_it(
    live_server, browser, page, cashier, supervisor, payable
):
    sign_in(page, live_server, "cashier")
    open_menu(page, "Counter").get_by_role("link", name="My training course").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Training")
    page.get_by_role("link", name="Take a cash payment with change").click()
    expect(page.get_by_role("button", name="Check my work")).to_have_count(0)
    page.get_by_role("button", name="Start exercise").click()
    expect(page.get_by_role("alert")).to_contain_text("started")

    # Step 1: a training session, from the exercise's own link.
    page.get_by_role("link", name="Open a training drawer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open a drawer")
    page.get_by_label(re.compile(r"\bDrawer\b")).select_option(label="D1 Window 1")
    for label, pieces in (("$20 bills", 5), ("$5 bills", 8), ("$1 bills", 10), ("Quarters", 40)):
        page.get_by_label(label, exact=True).fill(str(pieces))
    expect(page.get_by_label("Training session")).to_be_checked()  # ticked by the link
    page.get_by_role("button", name="Open drawer").click()
    expect(page.get_by_role("alert")).to_contain_text("open (training session)")

    # Step 2: a cash payment with change: 120.00 owed, 140.00 handed over.
    box = page.get_by_role("combobox", name="Find an account, invoice or fee")
    box.focus()
    box.press_sequentially("lope")
    expect(page.get_by_role("option").first).to_contain_text(ACCOUNT)
    page.keyboard.press("Enter")
    expect(page.get_by_label(f"Amount paid on {ACCOUNT}")).to_have_value("120.00")
    page.locator("[data-tender]").nth(0).get_by_label("Amount tendered").fill("140.00")
    expect(page.locator("[data-change]")).to_have_text("20.00")
    page.get_by_role("button", name="Post payment").click()
    expect(page.locator("article.thermal-receipt")).to_be_visible()
    receipt = Receipt.objects.get()
    assert receipt.is_training and str(receipt).startswith("T-")

    # Check my work.
    page.goto(f"{live_server.url}/audit/training/cash-payment/")
    page.get_by_role("button", name="Check my work").click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"Completed. Training receipt {receipt}: total $120.00, tendered $140.00 with cash, "
        "change given $20.00."
    )
    expect(page.get_by_role("status")).to_contain_text("Completed")
    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)
    assert TrainingCompletion.objects.get().user == cashier

    # The supervisor, in a browser of their own.
    other = browser.new_context()
    boss = other.new_page()
    sign_in(boss, live_server, "supervisor")
    open_menu(boss, "Audit").get_by_role("link", name="Training progress").click()
    row = boss.get_by_role("row", name=re.compile(r"^Casey"))
    expect(row).to_contain_text("Cashier course")
    expect(row).to_contain_text("1 of 4")
    row.get_by_role("link").click()
    cash_row = boss.get_by_role("row", name=re.compile("Take a cash payment with change"))
    expect(cash_row).to_contain_text("Completed")
    expect(cash_row).to_contain_text(f"Training receipt {receipt}")

    # Help from a training page opens the supervisor's guide at the training section.
    boss.get_by_role("link", name="Help", exact=True).click()
    expect(boss).to_have_url(f"{live_server.url}/audit/help/supervisor/#training-course")
    expect(boss.get_by_role("heading", name="Supervisor", level=2)).to_be_visible()
    expect(boss.get_by_role("heading", name="Training course", level=2)).to_be_in_viewport()
    violations = axe_violations(boss)
    assert violations == [], describe_violations(violations)
    other.close()
