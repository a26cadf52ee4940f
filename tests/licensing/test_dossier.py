"""A business's license history dossier (PDF, print view, XLSX) built from real services,
and the license history the counter's account inquiry shows."""

import hashlib
import io
import json
import re
import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from openpyxl import load_workbook

from cashiering.models import ReceiptLine
from cashiering.services.receipt_inputs import LineInput
from kent_cs.audit import audit_actor
from kent_cs.reports import pdf_html
from licensing import dossier as dossiers
from licensing.models import (
    Business,
    LicenseInvoice,
    LicensePayment,
    LicenseStatus,
    LicenseStatusChange,
)
from licensing.renewals import renewal_invoice_create
from licensing.services.licenses import license_change_status
from licensing.services.notices import notice_run_create
from licensing.services.penalties import penalties_assess
from tests.cashiering.factories import counter_setup, open_session, post
from tests.factories import TODAY, business_day
from tests.licensing.factories import approved_license, make_business, make_license
from tests.licensing.views_support import _streams

D = Decimal
pytestmark = pytest.mark.django_db
SUSPENSION = "Fire code violation found at inspection"


def _named(user, first, last):
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])
    return user


def _pay(counter, session, invoices, cashier):
    """One receipt at the counter paying the invoices in full, in cash, as the cashier's
    request would (the request's audit context names the cashier)."""
    lines = [LineInput(kind="license", ref=i.number, amount=i.amount_due) for i in invoices]
    total = sum((i.amount_due for i in invoices), D("0"))
    with audit_actor(cashier, source="counter"):
        return post(session, lines, [counter.cash(str(total))], key=uuid.uuid4(), payer="Owner")


@pytest.fixture
def history(cashier, technician, supervisor):
    """A business with two licenses: applied for, reviewed, approved, paid at the counter
    and issued; the first renewed for 2027 and paid; the second suspended with a reason."""
    counter = counter_setup()
    _named(technician, "Terry", "Nguyen")
    _named(cashier, "Casey", "Ortiz")
    _named(supervisor, "Sam", "Okafor")
    with audit_actor(technician, source="licensing"):
        business = make_business(user=technician, legal_name="Green River Tacos LLC")
        first = approved_license(business, technician, issue_date=TODAY)
        second = approved_license(business, technician, code="HOME", issue_date=TODAY)
    with business_day(TODAY):
        session = open_session(cashier)
    receipt = _pay(counter, session, [first.invoices.get(), second.invoices.get()], cashier)
    with audit_actor(technician, source="licensing"):
        renewal = renewal_invoice_create(license=first, year=2027, user=technician)
    renewal_receipt = _pay(counter, session, [renewal], cashier)
    with audit_actor(supervisor, source="licensing"):
        license_change_status(
            license=second, to_status="suspended", user=supervisor, reason=SUSPENSION
        )
    return {
        "business": Business.objects.get(pk=business.pk),
        "licenses": [first, second],
        "receipts": [receipt, renewal_receipt],
        "renewal": renewal,
    }


def _xlsx_rows(data: bytes, sheet: str) -> list[tuple]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    return [tuple(row) for row in book[sheet].iter_rows(values_only=True)]


def _pdf_text(context) -> str:
    """The text WeasyPrint lays out on the PDF's pages (the same layout write_pdf writes)."""
    document = pdf_html(dossiers.TEMPLATE, context).render()
    found: list[str] = []

    def walk(box):
        text = getattr(box, "text", None)
        if isinstance(text, str):
            found.append(text)
        for child in getattr(box, "children", ()) or ():
            walk(child)

    for page in document.pages:
        walk(page._page_box)
    return " ".join(" ".join(found).split())


def test_the_dossier_holds_every_event_and_amount_with_its_actor_and_time(
    history, client_for, technician
):
    business = history["business"]
    first = history["licenses"][0]
    dossier = dossiers.dossier_for(business=business, user=technician)

    # Status history: created at approval, issued by payment, renewed, suspended; each
    # with its actor, reason and the receipt that caused it.
    changes = list(
        LicenseStatusChange.objects.filter(license__business=business).order_by("changed_at", "pk")
    )
    rows = dossier.section("status_history").rows
    assert [(r[1], r[2], r[3], r[4], r[6]) for r in rows] == [
        (c.license.display_number, c.action, *_labels(c), c.to_year) for c in changes
    ]
    actions = ["created", "created", "issued", "issued", "renewed", "suspended"]
    assert [r[2] for r in rows] == actions
    suspended = rows[-1]
    assert (suspended[8], suspended[11]) == (SUSPENSION, "Sam Okafor (supervisor)")
    assert {r[11] for r in rows[:2]} == {"Terry Nguyen (technician)"}
    assert {r[11] for r in rows[2:5]} == {"Casey Ortiz (cashier)"}
    assert [r[9] for r in rows[2:5]] == [
        str(history["receipts"][0]),
        str(history["receipts"][0]),
        str(history["receipts"][1]),
    ]

    # Invoices and payments: the receipts' license lines, amount for amount.
    invoices = list(LicenseInvoice.objects.filter(business=business).order_by("year", "number"))
    assert len(invoices) == 3
    invoice_rows = dossier.section("invoices").rows
    assert [(r[0], r[7], r[6]) for r in invoice_rows] == [
        (i.number, i.total, "Paid") for i in invoices
    ]
    counter_total = ReceiptLine.objects.filter(
        target_kind="license", receipt__in=history["receipts"]
    ).aggregate(total=Sum("amount"))["total"]
    assert dossier.invoiced == sum(i.total for i in invoices) == counter_total
    assert dossier.paid == counter_total and dossier.due == D("0.00")
    payment_rows = dossier.section("payments").rows
    payments = list(LicensePayment.objects.filter(invoice__business=business))
    assert len(payment_rows) == len(payments) >= 6
    assert sum(r[3] for r in payment_rows) == counter_total
    assert {r[8] for r in payment_rows} == {"Casey Ortiz (cashier)"}
    assert {r[5] for r in payment_rows} == {str(r) for r in history["receipts"]}

    # Renewal, applications, reviews, notes: who and when.
    renewal_row = dossier.section("renewals").rows[0]
    assert renewal_row[:4] == (history["renewal"].number, first.display_number, 2027, "Paid")
    assert renewal_row[7] == "Terry Nguyen (technician)"
    applications = dossier.section("applications").rows
    assert [(r[4], r[5], r[7]) for r in applications] == [
        ("Approved", "Terry Nguyen (technician)", "Terry Nguyen (technician)")
    ] * 2
    assert all(r[3] == "Terry Nguyen (technician)" for r in dossier.section("reviews").rows)
    assert any(r[2] == SUSPENSION for r in dossier.section("notes").rows)
    identity = dict(dossier.section("identity").rows)
    assert identity["Legal name"] == "Green River Tacos LLC"
    created = dossier.section("identity_changes").rows[0]
    assert (created[1], created[2], created[6]) == (
        "Business",
        "created",
        "Terry Nguyen (technician)",
    )
    people = {r[1]: r[2] for r in dossier.section("people").rows}
    assert people == {
        "cashier": "Casey Ortiz",
        "supervisor": "Sam Okafor",
        "technician": "Terry Nguyen",
    }

    # The XLSX: every section, totals equal to the invoices and payments, the digest.
    client = client_for(technician)
    xlsx = client.get(reverse("licensing:business-dossier-xlsx", args=[business.pk]))
    assert xlsx.status_code == 200
    data = xlsx.content
    invoice_sheet = _xlsx_rows(data, "Invoices")
    assert invoice_sheet[-1][0] == "Total (not cancelled)"
    assert D(str(invoice_sheet[-1][7])) == counter_total
    payment_sheet = _xlsx_rows(data, "Payments")
    assert payment_sheet[-1][1] == "Net paid" and D(str(payment_sheet[-1][3])) == counter_total
    assert len(payment_sheet) == 3 + len(payments) + 1  # title, blank, header, rows, total
    status_sheet = _xlsx_rows(data, "Status history")
    assert [row[2] for row in status_sheet[3:]] == actions
    assert status_sheet[-1][8] == SUSPENSION and status_sheet[-1][11] == "Sam Okafor (supervisor)"
    cover = {row[0]: row[1] for row in _xlsx_rows(data, "Dossier") if len(row) > 1 and row[0]}
    digest = cover["SHA-256 of the data"]
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert cover["Paid (net)"] == f"{counter_total:.2f}"
    assert cover["System"] == dossiers.system_name()
    assert cover["Exported by"] == "Terry Nguyen (technician)"

    # The digest is the SHA-256 of the canonical data, the same at every export.
    again = dossiers.dossier_for(business=business, user=technician)
    assert digest == again.sha256 == hashlib.sha256(again.canonical_json()).hexdigest()
    canonical = json.loads(again.canonical_json())
    assert canonical["format"] == dossiers.DOSSIER_FORMAT
    assert [s["key"] for s in canonical["sections"]] == list(dossiers.section_keys())

    # The PDF prints the digest, the export time, the system, every event and amount.
    pdf = client.get(reverse("licensing:business-dossier-pdf", args=[business.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert any(digest.encode() in part for part in [pdf.content, *_streams(pdf.content)])
    text = _pdf_text(dossiers.document_context(again))
    assert f"SHA-256 of the data (canonical JSON, {dossiers.DOSSIER_FORMAT}): {digest}" in text
    assert dossiers.system_name() in text
    assert "Exported " in text and "by Terry Nguyen (technician)" in text
    for change in changes:
        assert dossiers.display_value(dossiers.CHANGE_COLUMNS[0], change.changed_at) in text
    for invoice in invoices:
        assert invoice.number in text and f"{invoice.total:,.2f}" in text
    assert f"{counter_total:,.2f}" in text
    assert SUSPENSION in text and "Sam Okafor (supervisor)" in text
    assert "Casey Ortiz (cashier)" in text
    for receipt in history["receipts"]:
        assert str(receipt) in text

    # The print view is the same document in the site layout, with both downloads.
    page = client.get(reverse("licensing:business-dossier-print", args=[business.pk]))
    html = page.content.decode()
    assert digest in html and SUSPENSION in html
    assert reverse("licensing:business-dossier-xlsx", args=[business.pk]) in html


def _labels(change):
    return (
        LicenseStatus(change.from_status).label if change.from_status else "",
        LicenseStatus(change.to_status).label,
    )


def test_the_dossier_reads_in_a_constant_number_of_queries(
    history, technician, django_assert_max_num_queries
):
    business = history["business"]
    with django_assert_max_num_queries(17) as few:
        dossiers.dossier_for(business=business, user=technician)
    # Three more licenses, each applied for, reviewed, approved and invoiced: the same
    # number of queries.
    with audit_actor(technician, source="licensing"):
        for code, units in (("RENT", 4), ("CONT", None), ("PAWN", None)):
            approved_license(business, technician, code=code, units=units, issue_date=TODAY)
    with django_assert_max_num_queries(len(few.captured_queries)):
        more = dossiers.dossier_for(business=business, user=technician)
    assert len(more.section("licenses").rows) == 5


def test_the_business_page_offers_the_dossier_to_technicians_and_supervisors(
    history, client_for, technician, supervisor, cashier
):
    business = history["business"]
    for user in (technician, supervisor):
        html = client_for(user).get(business.get_absolute_url()).content.decode()
        assert reverse("licensing:business-dossier-pdf", args=[business.pk]) in html
        assert reverse("licensing:business-dossier-xlsx", args=[business.pk]) in html
    for name in ("pdf", "xlsx", "print"):
        url = reverse(f"licensing:business-dossier-{name}", args=[business.pk])
        assert client_for(cashier).get(url).status_code == 403


def test_the_account_inquiry_shows_the_business_license_history(
    history, client_for, cashier, technician, django_assert_max_num_queries
):
    business = history["business"]
    first, second = history["licenses"]
    url = reverse("cashiering:inquiry", args=["license", history["renewal"].number])

    client = client_for(cashier)
    with django_assert_max_num_queries(30):
        page = client.get(url)
    assert page.status_code == 200
    history_section = page.content.decode().split('id="subsystem-history-heading"')[1]
    history_section = history_section.split("</section>")[0]
    assert "License history" in page.content.decode()
    assert business.legal_name in history_section
    assert f"License {first.display_number}" in history_section
    assert f"License {second.display_number}" in history_section
    assert "Suspended" in history_section and SUSPENSION in history_section
    assert "renewed: license year 2026 → 2027" in history_section
    assert "Sam Okafor (supervisor)" in history_section
    # The cashier may not open the business or its dossier: no links.
    assert business.get_absolute_url() not in history_section
    assert "dossier" not in history_section.lower()
    dossier_url = reverse("licensing:business-dossier-pdf", args=[business.pk])
    assert client.get(dossier_url).status_code == 403

    technician_page = client_for(technician).get(url).content.decode()
    assert business.get_absolute_url() in technician_page
    assert dossier_url in technician_page


def test_the_inquiry_summary_reads_in_a_constant_number_of_queries(
    history, client_for, technician, django_assert_max_num_queries
):
    business = history["business"]
    url = reverse("cashiering:inquiry", args=["license", history["renewal"].number])
    client = client_for(technician)
    client.get(url)
    with django_assert_max_num_queries(40) as few:
        client.get(url)
    with audit_actor(technician, source="licensing"):
        for code, units in (("RENT", 4), ("CONT", None)):
            approved_license(business, technician, code=code, units=units, issue_date=TODAY)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url)
    assert page.content.decode().count("<td>License ") == 4


def test_penalties_and_notices_appear_with_their_rule_actor_and_the_invoice_totals(
    technician,
):
    business = make_business(legal_name="Late Filer LLC", fte_employees=D("30"))
    license = make_license(business, year=2026)
    invoice = renewal_invoice_create(license=license, year=2027, user=technician)
    penalties_assess(as_of=date(2027, 1, 1), user=None)
    invoice.refresh_from_db()
    run = notice_run_create(
        year=2027, renewal_run=None, invoice_ids=[invoice.pk], title="Notices", user=technician
    )

    dossier = dossiers.dossier_for(business=business, user=technician)
    penalties = dossier.section("penalties").rows
    assert [(r[1], r[3]) for r in penalties] == [(invoice.number, D("20.00"))]
    assert penalties[0][4].startswith("Late penalty") and penalties[0][5] == "licensing daily run"
    assert dossier.section("penalties").total[3] == D("20.00")
    fees = dossier.section("fees")
    assert fees.total[5] == invoice.total == D("333.93")
    assert (dossier.invoiced, dossier.paid, dossier.due) == (invoice.total, D("0"), invoice.total)
    notice = dossier.section("notices").rows
    assert [(r[1], r[2], r[3], r[4]) for r in notice] == [
        (invoice.number, 2027, run.pk, "technician")
    ]
    expired = dossier.section("status_history").rows[-1]
    assert (expired[4], expired[8]) == ("Expired", "License year 2026 ended on Dec 31, 2026")
