"""A supervisor reads the cashier activity report in a browser: finds it under Audit,
filters it to one cashier and one business date, sees that cashier's figures, and
downloads the same report as a PDF."""

from pathlib import Path

from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.cashiering.deposit_factories import build_day
from tests.cashiering.factories import counter_setup
from tests.e2e.helpers import (
    axe_violations,
    describe_violations,
    open_menu,
    sign_in,
    watch_csp,
)
from tests.factories import TODAY


def test_supervisor_filters_cashier_activity_and_downloads_the_pdf(
    live_server, page, cashier, cashier_b, supervisor, tmp_path: Path
):
    build_day(counter_setup(), cashier, cashier_b, supervisor)
    TOTPDevice.objects.create(user=supervisor, name="Phone", confirmed=True)
    csp = watch_csp(page)
    sign_in(page, live_server, "supervisor")
    open_menu(page, "Audit").get_by_role("link", name="Audit reports").click()
    page.get_by_role("link", name="Cashier activity").click()
    page.get_by_label("From", exact=True).fill(TODAY.isoformat())
    page.get_by_label("To", exact=True).fill(TODAY.isoformat())
    page.get_by_label("Cashier or staff member").select_option(label="Casey (cashier)")
    page.get_by_role("button", name="Show report").click()
    table = page.locator("#section-1")
    expect(table.locator("tbody tr")).to_have_count(1)
    row = table.locator("tbody tr").first
    expect(row).to_contain_text("Casey")
    expect(row).to_contain_text("300.00")  # seven sales receipts
    expect(row).to_contain_text("240.00")  # net of the void and the reversal
    expect(table).not_to_contain_text("Jordan")
    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    download = info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    assert download.suggested_filename == f"cashier-activity-{TODAY:%Y%m%d}-{TODAY:%Y%m%d}.pdf"
    assert csp == []
