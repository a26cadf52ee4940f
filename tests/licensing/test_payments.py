"""License invoices at the counter: components, payment per component, issuing the license
in the payment's transaction, and a void or reversal putting everything back."""

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from cashiering.models import PayerIndex
from cashiering.targets import TargetError, get_target_type
from licensing.models import License, LicenseInvoice, LicensePayment, LicenseStatus
from licensing.renewals import renewal_invoice_create
from licensing.services.invoices import invoice_apply_payment, invoice_undo_payment
from tests.licensing.factories import approved_license, counter_payment, make_business, make_license

D = Decimal
pytestmark = pytest.mark.django_db
MARCH = date(2026, 3, 16)


@dataclass
class FakeReceipt:
    """What the counter passes to apply_payment: the receipt and its line."""

    pk: int
    business_date: date = MARCH
    posted_by: object = None

    def __str__(self) -> str:
        return f"R-{self.pk}"


@dataclass
class FakeLine:
    line_no: int
    fee_code: str


def target():
    return get_target_type("license")


def pay(invoice, *parts, receipt=1001):
    """Pay (fee code, amount) parts, one receipt line each, as receipt_post does."""
    with transaction.atomic():
        target().load([invoice.number], for_update=True)
        for line_no, (code, amount) in enumerate(parts, start=1):
            target().apply_payment(
                ref=invoice.number,
                amount=D(amount),
                receipt=FakeReceipt(receipt),
                line=FakeLine(line_no, code),
            )


def undo(invoice, *parts, receipt=1001):
    with transaction.atomic():
        target().load([invoice.number], for_update=True)
        for line_no, (code, amount) in enumerate(parts, start=1):
            target().apply_payment(
                ref=invoice.number,
                amount=-D(amount),
                receipt=FakeReceipt(receipt),
                line=FakeLine(line_no, code),
            )


FULL = [("BL-GEN", "100.00"), ("BL-FIRE", "112.93"), ("BL-TECH", "1.00")]


@pytest.fixture
def pending(technician):
    business = make_business(legal_name="Green River Tacos LLC", trade_name="Green River Tacos")
    license = approved_license(business, technician, issue_date=MARCH)
    return license, license.invoices.get()


def test_load_offers_the_invoice_in_components(pending):
    license, invoice = pending
    item = target().load([invoice.number])[invoice.number]
    assert item.kind == "license" and item.ref == invoice.number
    assert item.components == (
        ("BL-GEN", D("100.00")),
        ("BL-FIRE", D("112.93")),
        ("BL-TECH", D("1.00")),
    )
    assert item.balance == D("213.93")
    assert item.fee_code == "BL-GEN"
    assert not item.allow_overpay
    assert item.name == "Green River Tacos LLC (DBA Green River Tacos)"
    assert item.description == (
        f"Business license 2026 new license: General business license {license.display_number}"
    )
    row = PayerIndex.objects.get(kind="license", ref=invoice.number)
    assert row.is_active
    assert row.detail == f"Business license 2026 new license ({license.display_number})"


def test_full_payment_issues_the_license_in_the_same_transaction(pending):
    license, invoice = pending
    pay(invoice, *FULL)
    license.refresh_from_db()
    invoice.refresh_from_db()
    assert (license.status, license.issued_on, license.license_year) == ("active", MARCH, 2026)
    assert (invoice.status, invoice.amount_due, invoice.paid_receipt) == ("paid", D(0), "R-1001")
    change = license.status_changes.latest("pk")
    assert (change.action, change.from_status, change.to_status) == ("issued", "pending", "active")
    assert change.reason == f"Invoice {invoice.number} paid in full on receipt R-1001"
    assert change.invoice == invoice and change.receipt == "R-1001"
    assert not PayerIndex.objects.get(kind="license", ref=invoice.number).is_active
    assert target().load([invoice.number])[invoice.number].components == ()


def test_a_rolled_back_receipt_leaves_the_license_pending(pending):
    license, invoice = pending

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        pay(invoice, *FULL)
        assert License.objects.get(pk=license.pk).status == "active"
        raise Boom  # e.g. the receipt's journal entry failed
    license.refresh_from_db()
    invoice.refresh_from_db()
    assert license.status == "pending" and invoice.amount_due == D("213.93")
    assert not LicensePayment.objects.exists()


def test_partial_payment_applies_per_component_and_keeps_the_license_pending(pending):
    license, invoice = pending
    pay(invoice, ("BL-GEN", "100.00"), ("BL-FIRE", "12.93"))
    invoice.refresh_from_db()
    license.refresh_from_db()
    assert invoice.status == "open" and invoice.amount_due == D("101.00")
    assert license.status == "pending"
    assert target().load([invoice.number])[invoice.number].components == (
        ("BL-FIRE", D("100.00")),
        ("BL-TECH", D("1.00")),
    )
    pay(invoice, ("BL-FIRE", "100.00"), ("BL-TECH", "1.00"), receipt=1002)
    license.refresh_from_db()
    assert license.status == "active"
    assert license.status_changes.latest("pk").receipt == "R-1002"


def test_overpaying_a_component_or_a_paid_invoice_is_refused(pending):
    _, invoice = pending
    with pytest.raises(TargetError, match=r"has 100\.00 due for BL-GEN; it cannot be overpaid"):
        pay(invoice, ("BL-GEN", "100.01"))
    with pytest.raises(TargetError, match="has nothing due for BL-PEN"):
        pay(invoice, ("BL-PEN", "1.00"))
    with pytest.raises(TargetError, match="cannot be overpaid"):
        # The whole invoice on one fee code: what the counter does before it splits items.
        pay(invoice, ("BL-GEN", "213.93"))
    pay(invoice, *FULL)
    with pytest.raises(TargetError, match="is paid; nothing is due"):
        pay(invoice, ("BL-GEN", "1.00"), receipt=1003)
    with pytest.raises(TargetError, match="was not found"):
        target().apply_payment(
            ref="L2026-99999", amount=D(1), receipt=FakeReceipt(1), line=FakeLine(1, "BL-GEN")
        )


def test_void_restores_amounts_and_reverts_the_license(pending):
    license, invoice = pending
    pay(invoice, *FULL)
    undo(invoice, *FULL)
    license.refresh_from_db()
    invoice.refresh_from_db()
    assert (license.status, license.issued_on) == ("pending", None)
    assert (invoice.status, invoice.amount_due, invoice.paid_on) == ("open", D("213.93"), None)
    change = license.status_changes.latest("pk")
    assert (change.action, change.from_status, change.to_status) == (
        "payment undone",
        "active",
        "pending",
    )
    assert change.reason == (
        f"Receipt R-1001 voided or reversed: invoice {invoice.number} is no longer paid in full"
    )
    assert PayerIndex.objects.get(kind="license", ref=invoice.number).is_active
    payments = list(LicensePayment.objects.filter(invoice=invoice).order_by("pk"))
    assert [p.amount for p in payments] == [
        D("100.00"),
        D("112.93"),
        D("1.00"),
        D("-100.00"),
        D("-112.93"),
        D("-1.00"),
    ]
    assert all(p.reverses_id for p in payments[3:])
    # Undoing twice is refused (the reversal rows are one-to-one with the payments).
    with pytest.raises(TargetError, match=r"applied 0\.00 to BL-GEN"):
        undo(invoice, ("BL-GEN", "100.00"))
    # And it can be paid again.
    pay(invoice, *FULL, receipt=1002)
    license.refresh_from_db()
    assert license.status == "active"


def test_voiding_an_earlier_partial_payment_reopens_a_paid_invoice(pending):
    license, invoice = pending
    pay(invoice, ("BL-GEN", "50.00"), receipt=1001)
    pay(invoice, ("BL-GEN", "50.00"), ("BL-FIRE", "112.93"), ("BL-TECH", "1.00"), receipt=1002)
    assert License.objects.get(pk=license.pk).status == "active"
    undo(invoice, ("BL-GEN", "50.00"), receipt=1001)
    license.refresh_from_db()
    invoice.refresh_from_db()
    assert license.status == "pending" and invoice.amount_due == D("50.00")
    with pytest.raises(TargetError, match=r"applied 0\.00 to BL-GEN"):
        undo(invoice, ("BL-GEN", "49.00"), receipt=1001)
    with pytest.raises(TargetError, match=r"applied 50\.00 to BL-GEN on invoice .*, not 49\.00"):
        undo(invoice, ("BL-GEN", "49.00"), receipt=1002)


def test_renewal_payment_extends_the_year_and_a_reversal_puts_it_back(technician):
    business = make_business()
    license = make_license(business, year=2025, status=LicenseStatus.EXPIRED)
    invoice = renewal_invoice_create(license=license, year=2026, user=technician)
    assert invoice.kind == "renewal" and invoice.total == D("213.93")
    assert invoice.due_date == date(2025, 12, 31)
    item = target().load([invoice.number])[invoice.number]
    assert item.description.startswith("Business license 2026 renewal")
    pay(invoice, *FULL)
    license.refresh_from_db()
    assert (license.status, license.license_year) == ("active", 2026)
    assert license.status_changes.latest("pk").action == "renewed"
    undo(invoice, *FULL)
    license.refresh_from_db()
    assert (license.status, license.license_year) == ("expired", 2025)


def test_renewal_paid_early_keeps_an_active_license_active_for_the_new_year(technician):
    license = make_license(make_business(), year=2026)
    invoice = renewal_invoice_create(license=license, year=2027, user=technician)
    pay(invoice, *FULL, receipt=2001)
    license.refresh_from_db()
    assert (license.status, license.license_year) == ("active", 2027)
    assert license.expires_on == date(2027, 12, 31)
    change = license.status_changes.latest("pk")
    assert (change.from_year, change.to_year, change.from_status, change.to_status) == (
        2026,
        2027,
        "active",
        "active",
    )


def test_lapsed_license_is_reinstated_by_paying(technician):
    license = make_license(make_business(), year=2025, status=LicenseStatus.EXPIRED)
    invoice = renewal_invoice_create(license=license, year=2026, user=technician)
    License.objects.filter(pk=license.pk).update(status=LicenseStatus.LAPSED)
    assert "lapsed; paying this invoice reinstates it" in " ".join(
        target().load([invoice.number])[invoice.number].warnings
    )
    pay(invoice, *FULL)
    license.refresh_from_db()
    assert license.status == "active"
    assert license.status_changes.latest("pk").action == "reinstated"
    undo(invoice, *FULL)
    license.refresh_from_db()
    assert license.status == "lapsed"


def test_payment_rows_are_append_only(pending):
    _, invoice = pending
    pay(invoice, *FULL)
    for sql in (
        "UPDATE licensing_licensepayment SET amount = 1",
        "DELETE FROM licensing_licensepayment",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)


def test_service_level_payment_api(pending):
    _, invoice = pending
    paid = invoice_apply_payment(
        number=invoice.number, fee_code="BL-GEN", amount=D("100"), paid_by=counter_payment(7)
    )
    assert paid.amount_due == D("113.93")
    restored = invoice_undo_payment(
        number=invoice.number, fee_code="BL-GEN", amount=D("100"), paid_by=counter_payment(7)
    )
    assert restored.amount_due == D("213.93")
    assert LicenseInvoice.objects.get(pk=invoice.pk).status == "open"


# --- end to end through the counter --------------------------------------------------


def counter_pay(session, invoice, amount, cash):
    from cashiering.services.receipt_inputs import LineInput
    from tests.cashiering.factories import post

    counter = counter_pay.counter
    return post(
        session,
        [LineInput(kind="license", ref=invoice.number, amount=D(amount))],
        [counter.cash(cash)],
        key=uuid.uuid4(),
        payer="Green River Tacos",
    )


def receipt_parts(receipt):
    return [(line.fee_code.code, line.amount) for line in receipt.lines.order_by("line_no")]


@pytest.fixture
def counter(db):
    from tests.cashiering.factories import counter_setup

    counter_pay.counter = counter_setup()
    return counter_pay.counter


def test_paying_and_voiding_at_the_counter(counter, technician, cashier, supervisor):
    from tests.cashiering.factories import open_session, void

    session = open_session(cashier)
    license, invoice = approved_license(make_business(), technician, issue_date=MARCH), None
    invoice = license.invoices.get()
    receipt = counter_pay(session, invoice, "213.93", "220.00")
    assert receipt_parts(receipt) == [
        ("BL-GEN", D("100.00")),
        ("BL-FIRE", D("112.93")),
        ("BL-TECH", D("1.00")),
    ]
    license.refresh_from_db()
    assert (license.status, license.issued_on) == ("active", MARCH)
    assert license.status_changes.latest("pk").receipt == str(receipt)
    void(receipt, requester=cashier, approver=supervisor)
    license.refresh_from_db()
    invoice.refresh_from_db()
    assert license.status == "pending" and invoice.amount_due == D("213.93")
    assert invoice.status == "open"


def test_partial_payments_then_a_reversal_after_the_session_closed(
    counter, technician, cashier, supervisor
):
    from cashiering.services.sessions import session_close
    from tests.cashiering.factories import gl_balance, open_session, reverse

    session = open_session(cashier)
    license = approved_license(make_business(), technician, issue_date=MARCH)
    invoice = license.invoices.get()
    first = counter_pay(session, invoice, "150.00", "150.00")
    assert receipt_parts(first) == [("BL-GEN", D("100.00")), ("BL-FIRE", D("50.00"))]
    assert License.objects.get(pk=license.pk).status == "pending"
    second = counter_pay(session, invoice, "63.93", "70.00")
    assert receipt_parts(second) == [("BL-FIRE", D("62.93")), ("BL-TECH", D("1.00"))]
    assert License.objects.get(pk=license.pk).status == "active"
    accounts = counter.accounts
    assert -gl_balance("001.321.10.00", accounts) == D("100.00")
    assert -gl_balance("001.321.90.00", accounts) == D("112.93")
    assert -gl_balance("001.321.91.00", accounts) == D("1.00")

    session_close(session=session, user=cashier)
    next_day = open_session(cashier, "D2", business_date=date(2026, 3, 17))
    reverse(second, requester=cashier, approver=supervisor, session=next_day)
    license.refresh_from_db()
    invoice.refresh_from_db()
    assert license.status == "pending" and license.issued_on is None
    assert (invoice.status, invoice.amount_due) == ("open", D("63.93"))
    undone = license.status_changes.latest("pk")
    assert undone.action == "payment undone" and undone.receipt == str(second)
    assert undone.effective_on == timezone.localdate()  # when it was undone
    assert -gl_balance("001.321.90.00", accounts) == D("50.00")


def test_void_after_the_license_was_suspended_keeps_the_suspension(pending, technician):
    from licensing.services.licenses import license_change_status

    license, invoice = pending
    pay(invoice, *FULL)
    license_change_status(
        license=license, to_status=LicenseStatus.SUSPENDED, user=technician, reason="Inspection"
    )
    undo(invoice, *FULL)
    license.refresh_from_db()
    invoice.refresh_from_db()
    assert (license.status, license.issued_on) == ("suspended", MARCH)
    assert (invoice.status, invoice.amount_due) == ("open", D("213.93"))


def test_void_of_a_renewal_after_suspension_takes_back_the_year_only(technician):
    from licensing.services.licenses import license_change_status

    license = make_license(make_business(), year=2026)
    invoice = renewal_invoice_create(license=license, year=2027, user=technician)
    pay(invoice, *FULL)
    license_change_status(
        license=license, to_status=LicenseStatus.SUSPENDED, user=technician, reason="Complaint"
    )
    undo(invoice, *FULL)
    license.refresh_from_db()
    assert (license.status, license.license_year) == ("suspended", 2026)
