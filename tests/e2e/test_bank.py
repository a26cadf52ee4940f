"""Browser test: a technician imports a bank statement, sees it matched, matches the rest
by hand and undoes a match; the pages pass axe-core and the CSP."""

import re
from datetime import date
from decimal import Decimal

from playwright.sync_api import expect

from ledger.models import BankAccount, BankMatch
from ledger.services import LineSpec, journal_entry_post
from tests.e2e.helpers import (
    axe_violations,
    describe_violations,
    open_menu,
    sign_in,
    watch_csp,
)
from tests.factories import PASSWORD

D = Decimal


def _deposit(chart, user, day: date, amount: str, number: str) -> None:
    journal_entry_post(
        entry_date=day,
        memo=f"Deposit {number}",
        lines=[
            LineSpec(chart["001.101.10"], debit=D(amount)),
            LineSpec(chart["001.101.30"], credit=D(amount)),
        ],
        user=user,
        source="deposit",
        source_ref=number,
    )


def test_bank_file_imported_matched_and_reconciled(live_server, page, chart, technician, tmp_path):
    account = BankAccount.objects.get(is_default=True)
    _deposit(chart, technician, date(2026, 3, 13), "1250.50", "D-0001")
    _deposit(chart, technician, date(2026, 3, 16), "1000.00", "D-0002")
    export = tmp_path / "march.csv"
    export.write_text(
        "Posted,Amount,Reference,Description\n"
        "2026-03-16,1250.50,D-0001,COUNTER DEPOSIT\n"
        "2026-03-17,600.00,,DEPOSIT\n"
        "2026-03-17,400.00,,DEPOSIT\n"
    )
    csp = watch_csp(page)
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server, "technician")

    open_menu(page, "Ledger").get_by_role("link", name="Import bank statement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import a bank statement")
    page.get_by_label("Statement file").set_input_files(str(export))
    page.get_by_text("For a CSV or Excel export").click()
    page.get_by_label("Bank account (CSV)").select_option(str(account.pk))
    page.get_by_label("Date column").fill("Posted")
    page.get_by_label("Amount column").fill("Amount")
    page.get_by_label("Reference column").fill("Reference")
    page.get_by_label("Description column").fill("Description")
    page.get_by_role("button", name="Import statement").click()
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("Imported march.csv")
    expect(summary).to_contain_text("3 lines, credits 2,250.50, debits 0.00")
    expect(summary).to_contain_text("1 line matched automatically")
    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)

    summary.get_by_role("link", name=re.compile("Reconcile the")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Reconcile the {account.name}")
    expect(page.locator("#matches")).to_contain_text("D-0001")
    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)

    # The deposit credited in two parts, matched by hand.
    bank_lines = page.locator("#bank-lines")
    for box in bank_lines.get_by_role("checkbox").all():
        box.check()
    page.locator("#book-lines").get_by_role("checkbox").first.check()
    page.get_by_label("Note for matching the ticked lines").fill("D-0002 in two parts")
    page.get_by_role("button", name="Match ticked lines").click()
    expect(page.get_by_text(re.compile(r"Matched 1,000\.00 \(match \d+\)\."))).to_be_visible()
    expect(page.get_by_text("Every bank line is matched.")).to_be_visible()

    manual = BankMatch.objects.get(method="manual")
    page.get_by_label(f"Reason for undoing match {manual.pk}").fill("Wrong deposit")
    page.get_by_role("button", name=f"Undo match {manual.pk}").click()
    expect(page.get_by_text(f"Match {manual.pk} undone")).to_be_visible()
    expect(page.locator("#bank-lines").get_by_role("checkbox")).to_have_count(2)
    assert csp == []


def test_file_that_does_not_add_up_is_imported_with_a_supervisors_approval(
    live_server, page, chart, technician, supervisor, tmp_path
):
    account = BankAccount.objects.get(is_default=True)
    wrong = tmp_path / "march.bai2"
    wrong.write_text(
        "01,BANK,CITY,260317,0600,F1,,,2/\n"
        "02,CITY,BANK,1,260316,2400,USD,2/\n"
        f"03,{account.number},USD/\n"
        "16,301,25000,0,BR1,DEP-1,COUNTER DEPOSIT/\n"
        "49,25000,4/\n"  # the account holds 3 records
        "98,25000,1,5/\n"
        "99,25000,1,7/\n"
    )
    csp = watch_csp(page)
    sign_in(page, live_server, "technician")
    page.goto(f"{live_server.url}/ledger/bank/import/")
    page.get_by_label("Statement file").set_input_files(str(wrong))
    page.get_by_role("button", name="Import statement").click()
    found = page.locator("#discrepancies")
    expect(found).to_contain_text("The file reads, but it does not add up.")
    expect(found).to_contain_text("counts 4 records for account")
    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)

    page.get_by_label("Statement file").set_input_files(str(wrong))
    page.get_by_label("Supervisor's username").fill("supervisor")
    page.get_by_label("Supervisor's password").fill("not-the-password")
    page.get_by_label("Reason for importing it as it is").fill("Bank confirmed the count")
    page.get_by_role("button", name="Import with discrepancy").click()
    expect(page.get_by_text("That supervisor's username or password is wrong.")).to_be_visible()

    page.get_by_label("Statement file").set_input_files(str(wrong))
    page.get_by_label("Supervisor's password").fill(PASSWORD)
    page.get_by_role("button", name="Import with discrepancy").click()
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("Imported with discrepancies, approved by supervisor")
    expect(summary).to_contain_text("0 lines matched automatically")

    summary.get_by_role("link", name=re.compile("Reconcile the")).click()
    unbalanced = page.locator("#unbalanced")
    expect(unbalanced).to_contain_text("The account trailer (49) counts 4 records")
    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)
    unbalanced.get_by_label("What explains the discrepancies").fill("Count off by one")
    unbalanced.get_by_role("button", name="Mark explained").click()
    expect(page.get_by_text(re.compile("explained. Its lines are still matched"))).to_be_visible()
    expect(page.locator("#unbalanced")).to_have_count(0)
    assert csp == []
