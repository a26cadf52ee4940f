"""Refund requests: the credit available, documents checked by content, verification,
approval (never by the requester, in the service and the database), the journal entry and
balance, and the accounts-payable export."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from openpyxl import load_workbook

from cashiering.errors import CashieringError
from cashiering.models import RefundDocument, RefundRequest, UtilityAccount
from cashiering.selectors.refunds import refund_batch_file
from cashiering.services.refunds import (
    refund_approve,
    refund_export,
    refund_reject,
    refund_request_create,
    refund_verify,
)
from kent_cs.roles import Role
from tests.cashiering.factories import (
    UTILITY_RECEIVABLE,
    counter_setup,
    entry_lines,
    fire_deferred_checks,
    make_account,
    open_session,
    post,
    utility,
)
from tests.cashiering.returns_factories import technician_b
from tests.factories import make_user

D = Decimal
PAYABLE = "001.231.10"
ON = date(2026, 3, 20)
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
HTML = b"<html><script>alert(1)</script></html>"


class Upload(io.BytesIO):
    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name


@pytest.fixture
def counter(db):
    return counter_setup()


@pytest.fixture
def credit_account(counter):
    return make_account("300100-01", balance="-90.00", name="Lee Mover")


def _request(account, user, amount="30.00", documents=(), **extra):
    fields = {
        "kind": "utility",
        "ref": account.number,
        "payee_name": "Lee Mover",
        "payee_address": "77 New Rd, Auburn WA 98002",
        "amount": D(amount),
        "reason": "Closed account, final bill overpaid",
        "documents": list(documents),
        "user": user,
    }
    fields.update(extra)
    return refund_request_create(**fields)


def test_request_verify_approve_posts_and_brings_the_credit_back(
    credit_account, technician, supervisor
):
    refund = _request(credit_account, technician, documents=[Upload(PDF, "final-bill.pdf")])
    assert refund.status == RefundRequest.Status.REQUESTED
    [document] = refund.documents.all()
    assert (document.file_name, document.content_type, document.size_bytes) == (
        "final-bill.pdf",
        "application/pdf",
        len(PDF),
    )
    refund_verify(refund=refund, user=technician_b())
    approved = refund_approve(refund=refund, user=supervisor, note="OK", entry_date=ON)

    assert approved.status == RefundRequest.Status.APPROVED
    assert entry_lines(approved.journal_entry) == {
        UTILITY_RECEIVABLE: D("30.00"),
        PAYABLE: D("-30.00"),
    }
    assert UtilityAccount.objects.get(pk=credit_account.pk).balance == D("-60.00")
    fire_deferred_checks()


def test_amount_above_the_credit_available_is_refused(credit_account, technician):
    _request(credit_account, technician, amount="50.00")
    with pytest.raises(CashieringError) as caught:
        _request(credit_account, technician, amount="40.01")
    assert caught.value.message_dict["amount"] == [
        f"Utility account {credit_account.number} has 40.00 available to refund "
        "(credit 90.00, already requested 50.00)."
    ]
    _request(credit_account, technician, amount="40.00")
    assert RefundRequest.objects.count() == 2


def test_an_account_without_a_credit_has_nothing_to_refund(counter, technician):
    owing = make_account("300200-01", balance="12.00")
    with pytest.raises(CashieringError, match=r"has 0\.00 available"):
        _request(owing, technician, amount="1.00")


def test_overpayment_on_a_receipt_limits_the_request(counter, cashier, technician):
    account = make_account("300300-01", balance="100.00")
    session = open_session(cashier)
    receipt = post(session, [utility(account.number, "150.00")], [counter.cash("150.00")])
    assert UtilityAccount.objects.get(pk=account.pk).balance == D("-50.00")
    with pytest.raises(CashieringError, match=f"receipt {receipt}'s overpayment has 50.00"):
        _request(account, technician, amount="50.01", receipt=receipt)
    refund = _request(account, technician, amount="50.00", receipt=receipt)
    assert refund.receipt == receipt


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (HTML, "statement.pdf", "statement.pdf is not a PDF, JPEG or PNG file"),
        (b"", "empty.pdf", "empty.pdf: The file is empty."),
        (b"%PDF-" + b"x" * 2000, "big.pdf", "big.pdf: The file is larger than"),
    ],
)
def test_documents_are_checked_by_content_and_size(
    credit_account, technician, monkeypatch, data, name, message
):
    monkeypatch.setattr("cashiering.services.refunds.MAX_DOCUMENT_BYTES", 1024)
    with pytest.raises(CashieringError) as caught:
        _request(credit_account, technician, documents=[Upload(PDF, "ok.pdf"), Upload(data, name)])
    assert caught.value.message_dict["documents"][0].startswith(message)
    assert RefundRequest.objects.count() == 0
    assert RefundDocument.objects.count() == 0


def test_images_are_taken_and_at_most_five_documents(credit_account, technician):
    refund = _request(
        credit_account, technician, documents=[Upload(PNG, "id.png"), Upload(JPEG, "a.jpg")]
    )
    assert [d.content_type for d in refund.documents.order_by("pk")] == [
        "image/png",
        "image/jpeg",
    ]
    with pytest.raises(CashieringError, match="at most 5 documents"):
        _request(credit_account, technician, documents=[Upload(PDF, f"{i}.pdf") for i in range(6)])


def test_the_requester_neither_verifies_nor_approves(credit_account, technician, supervisor):
    both = make_user("both_roles", Role.TECHNICIAN)
    both.groups.add(Group.objects.get(name=str(Role.SUPERVISOR)))
    refund = _request(credit_account, both)
    with pytest.raises(CashieringError, match="Another technician verifies"):
        refund_verify(refund=refund, user=both)
    with pytest.raises(CashieringError, match="must be verified before approval"):
        refund_approve(refund=refund, user=supervisor, entry_date=ON)
    refund_verify(refund=refund, user=technician)
    with pytest.raises(CashieringError, match="your own refund request"):
        refund_approve(refund=refund, user=both, entry_date=ON)
    with pytest.raises(CashieringError, match="your own refund request"):
        refund_reject(refund=refund, user=both, note="Mine")
    with pytest.raises(CashieringError, match="Only a supervisor"):
        refund_approve(refund=refund, user=technician, entry_date=ON)
    # The database refuses it too.
    with pytest.raises(IntegrityError, match="refund_not_self_approved"), transaction.atomic():
        RefundRequest.objects.filter(pk=refund.pk).update(decided_by=both)
    assert UtilityAccount.objects.get(pk=credit_account.pk).balance == D("-90.00")


def test_reject_needs_a_note_and_frees_the_credit(credit_account, technician, supervisor):
    refund = _request(credit_account, technician, amount="90.00")
    with pytest.raises(CashieringError, match="Say why"):
        refund_reject(refund=refund, user=supervisor, note="  ")
    rejected = refund_reject(refund=refund, user=supervisor, note="Balance is disputed")
    assert rejected.status == RefundRequest.Status.REJECTED
    assert rejected.decision_note == "Balance is disputed"
    assert rejected.journal_entry is None
    _request(credit_account, technician, amount="90.00")  # the credit is available again


def test_approval_refused_when_the_credit_was_used_meanwhile(
    credit_account, technician, supervisor
):
    refund = _request(credit_account, technician, amount="90.00")
    refund_verify(refund=refund, user=technician_b())
    UtilityAccount.objects.filter(pk=credit_account.pk).update(balance=D("-20.00"))
    with pytest.raises(CashieringError, match=r"only 20\.00 credit left"):
        refund_approve(refund=refund, user=supervisor, entry_date=ON)
    assert RefundRequest.objects.get(pk=refund.pk).status == RefundRequest.Status.VERIFIED


def _approved(account, requester, verifier, approver, **extra):
    refund = _request(account, requester, **extra)
    refund_verify(refund=refund, user=verifier)
    return refund_approve(refund=refund, user=approver, entry_date=ON)


def test_export_marks_a_batch_and_escapes_formulas(credit_account, technician, supervisor):
    checker = technician_b()
    first = _approved(credit_account, technician, checker, supervisor, amount="30.00")
    second = _approved(
        credit_account,
        technician,
        checker,
        supervisor,
        amount="12.50",
        payee_name='=HYPERLINK("http://evil")',
        payee_address="+1 Tab Rd",
    )
    batch = refund_export(user=supervisor)
    assert batch.startswith("AP-")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == RefundRequest.Status.EXPORTED
    assert first.export_batch == second.export_batch == batch

    data, name = refund_batch_file(batch=batch, fmt="csv", reexport=False)
    assert name == f"refunds-{batch}.csv"
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == [
        "Reference",
        "Payee",
        "Address",
        "Amount",
        "GL account",
        "Reason",
        "Approved by",
        "Approved",
        "Batch",
        "Re-export",
    ]
    assert rows[1][:5] == [
        f"REFUND-{first.number}",
        "Lee Mover",
        "77 New Rd, Auburn WA 98002",
        "30.00",
        PAYABLE,
    ]
    assert rows[2][1:4] == ['\'=HYPERLINK("http://evil")', "'+1 Tab Rd", "12.50"]
    assert rows[1][8:] == [batch, "no"]

    with pytest.raises(CashieringError, match="No approved refunds"):
        refund_export(user=supervisor)

    again, again_name = refund_batch_file(batch=batch, fmt="xlsx", reexport=True)
    assert again_name == f"refunds-{batch}-reexport.xlsx"
    sheet = load_workbook(io.BytesIO(again)).active
    values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert "re-export" in values[0][0]
    data_rows = [row for row in values if row and str(row[0]).startswith("REFUND-")]
    assert [row[-1] for row in data_rows] == ["yes", "yes"]
    assert data_rows[1][1] == '\'=HYPERLINK("http://evil")'
    assert data_rows[0][3] == 30
