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
