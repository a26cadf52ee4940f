"""Business licensing in a real browser: a technician takes an application through its
department reviews to approval, a cashier takes the new license's payment at the
counter, the certificate prints; a renewal run with its progress on the job page and
the renewal notices PDF; and the licensing pages checked by axe-core.

Background jobs (renewal runs, notices) are queued in the database as in production; a
test runs the queue in a worker thread of its own, while the page polls for progress.
"""

import re
import threading
import zlib
from datetime import date
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone
from playwright.sync_api import Page, expect

from cashiering.models import Receipt
from kent_cs.models import Job
from licensing.models import (
    Application,
    License,
    LicenseInvoice,
    LicensePayment,
    LicenseStatus,
    LicenseStatusChange,
    LicenseType,
    RenewalRun,
)
from licensing.renewal_runs import renewal_run_start
from licensing.services.applications import application_submit
from tests.cashiering.factories import open_session
from tests.e2e.helpers import (
    axe_violations,
    axe_violations_in_place,
    describe_violations,
    open_menu,
    sign_in,
    watch_csp,
)
from tests.licensing.factories import defaults, license_type, make_business, make_license

D = Decimal
STUB_PRINT = "window.print = () => { window.printCalls = (window.printCalls || 0) + 1; };"
_PAGE = re.compile(rb"/Type\s*/Page\b")
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


@pytest.fixture
def licensing(chart):
    """Kent's license types, fee and penalty schedules (the flush after each browser test
    removes what the data migration wrote), with the chart of accounts and the counter's
    tender types and drawers."""
    if not LicenseType.objects.exists():
        defaults()


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF: page objects in the open or in compressed object streams."""
    pages = len(_PAGE.findall(data))
    for match in _STREAM.finditer(data):
        try:
            pages += len(_PAGE.findall(zlib.decompress(match.group(1))))
        except zlib.error:
            continue
    return pages


class QueueWorker:
    """django_tasks_db's worker, in a thread, for the jobs a test starts: it takes what is
    queued, runs it, and stops when the queue is empty."""

    def __init__(self) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        self.worker = Worker(
            queue_names=["default"],
            interval=0.1,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="e2e-licensing",
            excluded_queue_names=[],
        )
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        finally:
            connections.close_all()

    def run_queue(self) -> None:
        self.thread.start()

    def join(self) -> None:
        self.thread.join(timeout=120)
        assert not self.thread.is_alive(), "The worker did not finish the queue."


def _accept_confirmations(page: Page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_application_reviewed_approved_paid_at_the_counter_and_certificate_printed(
    live_server, browser, context, page, technician, cashier, licensing
):
    today = timezone.localdate()
    business = make_business(
        technician,
        legal_name="Meeker Street Bakery LLC",
        trade_name="Meeker Street Bakery",
        fte_employees=D("8"),
        location_line1="212 W Meeker St",
    )
    application = application_submit(
        business=business,
        license_type=license_type("GEN"),
        requested_start=today,
        received_on=today,
        user=technician,
    )
    csp = watch_csp(page)
    context.add_init_script(STUB_PRINT)
    sign_in(page, live_server, "technician")

    # The application: each department's review approved with notes, then the decision.
    page.goto(f"{live_server.url}{application.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        f"Application {application.number}"
    )
    for key, department, notes in (
        ("fire", "Fire", "Extinguishers and exits inspected"),
        ("planning", "Planning and zoning", "Retail bakery permitted in DC zone"),
    ):
        card = page.locator(f"#review-{key}")
        card.get_by_label(f"{department} review notes").fill(notes)
        card.get_by_role("button", name=f"Approve {department.lower()} review").click()
        expect(page.locator(f"#review-{key}")).to_contain_text(notes)
        expect(page.locator(f"#review-{key}")).to_contain_text("Approved")
    page.get_by_role("button", name="Approve application").click()
    result = page.locator("#approval-result")
    expect(result).to_contain_text("created, pending payment")

    license = License.objects.get(business=business)
    invoice = LicenseInvoice.objects.get(license=license)
    assert (license.status, license.license_year) == (LicenseStatus.PENDING, today.year)
    assert (invoice.kind, invoice.status) == ("new", LicenseInvoice.Status.OPEN)
    assert invoice.amount_due == invoice.total > 0
    assert Application.objects.get(pk=application.pk).status == Application.Status.APPROVED
    assert list(application.reviews.values_list("status", "notes").order_by("department")) == [
        ("approved", "Extinguishers and exits inspected"),
        ("approved", "Retail bakery permitted in DC zone"),
    ]
    expect(result).to_contain_text(license.display_number)
    expect(result).to_contain_text(invoice.number)
    due = f"{invoice.amount_due:,.2f}"

    # A cashier, at a window of their own, finds the invoice by part of the name.
    open_session(cashier, business_date=today)
    counter_context = browser.new_context()
    try:
        counter = counter_context.new_page()
        counter_csp = watch_csp(counter)
        sign_in(counter, live_server, "cashier")
        counter.goto(f"{live_server.url}/counter/")
        search = counter.get_by_role("combobox", name="Find an account, invoice or fee")
        search.press_sequentially("street bak")
        expect(counter.get_by_role("option").first).to_contain_text(invoice.number)
        counter.keyboard.press("Enter")
        expect(counter.locator("[data-total-due]")).to_have_text(due)
        expect(counter.get_by_label("Payer name")).to_have_value(re.compile("Meeker Street Bakery"))
        counter.locator("[data-tender]").first.get_by_label("Amount tendered").fill(due)
        expect(counter.locator("[data-change]")).to_have_text("0.00")
        counter.get_by_role("button", name="Post payment").click()
        receipt_view = counter.locator("article.thermal-receipt")
        expect(receipt_view).to_contain_text(f"General business license {license.display_number}")
        expect(receipt_view.get_by_role("row", name="TOTAL")).to_contain_text(due)
        assert counter_csp == []
    finally:
        counter_context.close()

    # Posting the receipt issued the license: the status change and the payments were
    # written by the posting itself, which names its receipt in them.
    receipt = Receipt.objects.get()
    license.refresh_from_db()
    invoice.refresh_from_db()
    assert (license.status, license.license_year) == (LicenseStatus.ACTIVE, today.year)
    assert license.issued_on == today
    assert (invoice.status, invoice.amount_due, invoice.paid_receipt) == (
        LicenseInvoice.Status.PAID,
        D("0.00"),
        str(receipt),
    )
    assert receipt.total == invoice.total
    issued = LicenseStatusChange.objects.get(license=license, action="issued")
    assert (issued.to_status, issued.invoice_id, issued.receipt) == (
        LicenseStatus.ACTIVE,
        invoice.pk,
        str(receipt),
    )
    payments = LicensePayment.objects.filter(invoice=invoice)
    assert sum(p.amount for p in payments) == invoice.total
    assert {p.receipt_id for p in payments} == {receipt.pk}

    # The certificate: the print view, then the PDF.
    page.goto(f"{live_server.url}{license.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Active")
    page.get_by_role("link", name="Print certificate").click()
    certificate = page.locator("article.print-document")
    expect(certificate).to_contain_text(license.display_number)
    expect(certificate).to_contain_text("Meeker Street Bakery LLC")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("() => window.printCalls") == 1
    page.go_back()
    with page.expect_download() as download:
        page.get_by_role("link", name="Certificate (PDF)").click()
    pdf = download.value
    assert pdf.suggested_filename == f"business-license-{license.display_number}-{today.year}.pdf"
    with open(pdf.path(), "rb") as handle:
        data = handle.read()
    assert data.startswith(b"%PDF")
    assert pdf_pages(data) == 1
    assert csp == []


def _renewable_licenses(year: int) -> list[License]:
    """Four licenses for `year` - 1, due for `year`: three general business licenses of
    different sizes and the housing authority's rental license, which is exempt."""
    found = []
    for index, (name, fte, ownership, code) in enumerate(
        (
            ("Green River Logistics LLC", "140", "llc", "GEN"),
            ("Kent Station Coffee LLC", "6", "llc", "GEN"),
            ("Panther Lake Dental PLLC", "31.5", "llc", "GEN"),
            ("Kent Housing Authority", "5", "government", "RENT"),
        )
    ):
        business = make_business(
            legal_name=name,
            trade_name="",
            fte_employees=D(fte),
            ownership_type=ownership,
            location_line1=f"{1200 + index} Central Ave N",
        )
        found.append(
            make_license(
                business,
                code=code,
                year=year - 1,
                units=24 if code == "RENT" else None,
                issued_on=date(year - 3, 2, 1),
            )
        )
    return found


def _watch_progress(page: Page) -> None:
    """Record every value the job page's progress bar shows, from now on."""
    page.evaluate(
        """() => {
            window.progressSeen = [];
            window.stayedOnPage = true;
            const note = () => {
                const bar = document.querySelector('#job-progress [role=progressbar]');
                if (bar) window.progressSeen.push(bar.getAttribute('aria-valuenow'));
            };
            note();
            new MutationObserver(note).observe(document.querySelector('main') || document.body,
                {childList: true, subtree: true});
        }"""
    )


def test_renewal_run_progress_and_notices_pdf(live_server, page, technician, licensing):
    year = timezone.localdate().year + 1
    licenses = _renewable_licenses(year)
    csp = watch_csp(page)
    _accept_confirmations(page)
    sign_in(page, live_server, "technician")

    open_menu(page, "Licensing").get_by_role("link", name="Renewals", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Renewals for {year}")
    expect(page.locator("#renewal-summary")).to_contain_text("4 not invoiced yet")
    page.get_by_role("button", name=f"Start renewal run for {year}").click()

    # The job page, queued; the worker runs it while the page polls.
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Renewal invoices for {year}")
    bar = page.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "0")
    expect(page.locator("#job-progress")).to_contain_text("Queued")
    _watch_progress(page)
    worker = QueueWorker()
    worker.run_queue()
    expect(page.locator("#job-progress")).to_contain_text("Finished", timeout=60_000)
    worker.join()
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#job-progress")).to_contain_text("4 invoices created")
    assert page.evaluate("() => window.stayedOnPage") is True  # updated in place, by htmx
    seen = page.evaluate("() => window.progressSeen")
    assert seen[0] == "0" and seen[-1] == "100", seen

    run = RenewalRun.objects.get()
    assert (run.year, run.status, run.invoices_created, run.renewed_without_fee) == (
        year,
        RenewalRun.Status.SUCCEEDED,
        4,
        1,
    )
    invoices = LicenseInvoice.objects.filter(year=year, kind="renewal")
    assert invoices.count() == 4
    unpaid = invoices.filter(status=LicenseInvoice.Status.OPEN)
    assert unpaid.count() == 3
    exempt = License.objects.get(pk=licenses[3].pk)
    assert (exempt.status, exempt.license_year) == (LicenseStatus.ACTIVE, year)

    # The run's page, then its notices: one PDF, made in the background.
    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Renewal run #{run.pk}")
    expect(page.get_by_role("row", name="Invoices created")).to_contain_text("4")
    page.get_by_role("button", name="Print notices for this run (PDF)").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Renewal notices for")
    worker = QueueWorker()
    worker.run_queue()
    download_link = page.get_by_role("link", name=f"Download renewal-notices-{year}.pdf")
    expect(download_link).to_be_visible(timeout=60_000)
    worker.join()
    with page.expect_download() as download:
        download_link.click()
    with open(download.value.path(), "rb") as handle:
        data = handle.read()
    assert data.startswith(b"%PDF")
    assert pdf_pages(data) >= unpaid.count()
    job = Job.objects.filter(kind="licensing.renewal-notices").get()
    assert job.status == Job.Status.SUCCEEDED
    assert csp == []


def test_licensing_pages_pass_axe_and_the_content_security_policy(
    live_server, page, technician, licensing
):
    """The technician's licensing pages, in the states they are seen in (reviews
    waiting, a refused rejection, a finished run, an open renewal invoice), checked by
    axe-core (WCAG 2.1 A and AA) and watched for Content Security Policy violations.
    Every page is checked before the test fails, so one run lists every problem."""
    today = timezone.localdate()
    year = today.year + 1
    business = make_business(technician, legal_name="Valley Pawn and Jewelry LLC")
    application = application_submit(
        business=business,
        license_type=license_type("PAWN"),
        requested_start=today,
        received_on=today,
        user=technician,
    )
    licenses = _renewable_licenses(year)
    run = renewal_run_start(year=year, user=technician)
    worker = QueueWorker()
    worker.run_queue()
    worker.join()
    run.refresh_from_db()
    renewal = LicenseInvoice.objects.get(license=licenses[0], year=year)
    holder = licenses[0].business
    csp = watch_csp(page)
    found: dict[str, list[dict]] = {}

    def audit(name: str, *, in_place: bool = False) -> None:
        page.wait_for_load_state("load")
        violations = axe_violations_in_place(page) if in_place else axe_violations(page)
        if violations:
            found[name] = violations

    sign_in(page, live_server, "technician")
    pages = {
        "business search": "/licensing/businesses/?q=valley",
        "new business": "/licensing/businesses/new/",
        "business detail": holder.get_absolute_url(),
        "new application": f"/licensing/businesses/{business.pk}/apply/",
        "applications in review": "/licensing/applications/",
        "application, three reviews waiting": application.get_absolute_url(),
        "license detail": licenses[0].get_absolute_url(),
        "license status change": f"/licensing/licenses/{licenses[0].pk}/status/",
        "certificate print view": f"/licensing/licenses/{licenses[0].pk}/certificate/",
        "renewal invoice": renewal.get_absolute_url(),
        "renewals": f"/licensing/renewals/?year={year}",
        "renewal run": run.get_absolute_url(),
        "renewal run's job, finished": f"/jobs/{run.job_id}/",
        "business's notices print view": f"/licensing/businesses/{holder.pk}/notices/",
        "business history print view": f"/licensing/businesses/{holder.pk}/history/",
        "renewals outstanding": f"/licensing/renewals/outstanding/?year={year}",
        "delinquency": "/licensing/renewals/delinquency/",
        "fee preview": "/licensing/fees/preview/",
        "import": "/licensing/import/",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        audit(name)

    # Rejecting a review without saying why: refused, the error beside the notes.
    page.goto(f"{live_server.url}{application.get_absolute_url()}")
    police = page.locator("#review-police")
    police.get_by_role("button", name="Reject police review").click()
    expect(page.locator("#review-police")).to_contain_text("Pending")
    expect(
        page.locator("#review-police .invalid-feedback, #review-police [role=alert]")
    ).not_to_have_count(0)
    audit("application, refused rejection", in_place=True)

    assert found == {}, "\n".join(f"{name}: {describe_violations(v)}" for name, v in found.items())
    assert csp == []


def test_license_import_confirms_defaults_and_hands_back_the_refused_lines(
    live_server, page, technician, licensing
):
    city_file = (
        b"Business Name,UBI,NAICS,Address,ZIP,Type,Year,Status,Issue Date,Open Date,City,State,"
        b"Ownership,FTE\n"
        b"Kent Tire Inc,602-100-501-001-0001,441340,1 Main St,98032,GEN,2026,Active,2026-02-01,"
        b"2020-01-01,Kent,WA,llc,4\n"
        b"Kent Glass Inc,602100502,238150,2 Main St,98032,TIRE,2026,Active,2026-02-01,"
        b"2020-01-01,Kent,WA,llc,3\n"
    )
    upload = {"name": "city.csv", "mimeType": "text/csv", "buffer": city_file}
    csp = watch_csp(page)
    sign_in(page, live_server, "technician")
    page.goto(f"{live_server.url}/licensing/import/")

    page.get_by_label("File of license records").set_input_files(upload)
    page.get_by_label("Import the good lines only").check()
    page.get_by_label("Where the file does not say, businesses are").select_option("outside")
    page.get_by_role("button", name="Check file").click()
    expect(page.locator("#import-result")).to_contain_text("city.csv is ready to import")
    expect(page.locator("#refused-problems")).to_contain_text('"TIRE" is not a license type')
    default = page.get_by_label(
        'Column "Inside City Limits" is not in the file: every business will be recorded as '
        "outside city limits."
    )
    violations = axe_violations_in_place(page)
    assert violations == [], describe_violations(violations)

    # Import without ticking the default: nothing is written.
    page.get_by_label("File of license records").set_input_files(upload)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-result")).to_contain_text("was not imported")
    assert License.objects.count() == 0

    default.check()
    page.get_by_label("File of license records").set_input_files(upload)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-result")).to_contain_text("Imported city.csv")
    business = License.objects.get().business
    assert (business.ubi, business.ubi_branch, business.inside_city_limits) == (
        "602100501",
        "001",
        False,
    )
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the 1 refused line (CSV)").click()
    with open(download.value.path(), encoding="utf-8-sig") as handle:
        lines = handle.read().splitlines()
    assert lines[0].endswith(",Problem")
    assert lines[1].startswith("Kent Glass Inc,602100502,")
    assert csp == []
