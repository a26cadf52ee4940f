"""Refunds of credit balances: a request with its documents, verification by a technician,
approval or rejection by a supervisor (posting the refund payable), and the numbered export
batch for accounts payable."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from cashiering.errors import CashieringError, ledger_errors
from cashiering.models import CounterPolicy, Receipt, RefundDocument, RefundRequest
from cashiering.selectors.refunds import PENDING, refundable_credit
from cashiering.targets import TargetError, get_target_type
from cashiering.validators import contains_card_number
from kent_cs.audit import audit_reason
from kent_cs.money import ZERO, to_money
from kent_cs.numbering import next_number
from kent_cs.uploads.files import UploadSource, read_bytes
from kent_cs.uploads.results import UploadRefused
from ledger.models import FeeCode
from ledger.services import LineSpec, journal_entry_post, net_lines

REFUND_SERIES = "refund"


EXPORT_SERIES = "refund-export"


MAX_DOCUMENTS = 5


MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


MAX_AMOUNT = Decimal("999999999.99")


# Content signatures of the documents taken: the name and the browser's type are ignored.
DOCUMENT_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def _error(field: str | None, message: str) -> CashieringError:
    return CashieringError({field: [message]} if field else message)


def _check_text(field: str, value: str) -> None:
    if contains_card_number(value):
        raise _error(field, "Do not enter card numbers here.")


@dataclass(frozen=True)
class CheckedDocument:
    file_name: str
    content_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def document_check(source: UploadSource, *, name: str) -> CheckedDocument:
    """Read one supporting document within the size limit and decide its type by content."""
    label = name or "The file"
    try:
        data = read_bytes(source, max_bytes=MAX_DOCUMENT_BYTES)
    except UploadRefused as exc:
        raise _error("documents", f"{label}: {exc.issues[0].message}") from None
    for signature, content_type in DOCUMENT_SIGNATURES:
        if data.startswith(signature):
            return CheckedDocument(
                file_name=(name or "document")[-255:], content_type=content_type, content=data
            )
    raise _error(
        "documents",
        f"{label} is not a PDF, JPEG or PNG file (its content was checked, not its name).",
    )


def documents_check(uploads: Sequence[Any]) -> list[CheckedDocument]:
    if len(uploads) > MAX_DOCUMENTS:
        raise _error("documents", f"Attach at most {MAX_DOCUMENTS} documents.")
    return [document_check(upload, name=getattr(upload, "name", "")) for upload in uploads]


def refund_request_create(
    *,
    kind: str,
    ref: str,
    payee_name: str,
    payee_address: str,
    amount: Decimal,
    reason: str,
    user: Any,
    documents: Sequence[Any] = (),
    receipt: Receipt | None = None,
) -> RefundRequest:
    """Ask for a refund of (part of) a credit, with its supporting documents."""
    if not user.has_perm("cashiering.request_refund"):
        raise CashieringError("Only an accounting technician can request refunds.")
    payee_name, payee_address, reason = payee_name.strip(), payee_address.strip(), reason.strip()
    for field, value in (
        ("payee_name", payee_name),
        ("payee_address", payee_address),
        ("reason", reason),
    ):
        _check_text(field, value)
    if not payee_name:
        raise _error("payee_name", "Enter who the refund is paid to.")
    if not payee_address:
        raise _error("payee_address", "Enter the address the check is mailed to.")
    if not reason:
        raise _error("reason", "Say why the refund is due.")
    amount = to_money(amount)
    if amount <= 0:
        raise _error("amount", "Enter an amount greater than zero.")
    if amount > MAX_AMOUNT:
        raise _error("amount", "Enter an amount of at most 999,999,999.99.")
    checked = documents_check(documents)
    if receipt is not None:
        if receipt.status != Receipt.Status.POSTED or receipt.is_training:
            raise _error(None, f"Receipt {receipt} is void or a training receipt.")
        if not receipt.lines.filter(target_kind=kind, target_ref=ref).exists():
            raise _error(None, f"Receipt {receipt} paid nothing on {ref}.")
    with transaction.atomic():
        # Locks the target: two requests at once cannot both take the same credit.
        credit = refundable_credit(kind=kind, ref=ref, receipt=receipt, for_update=True)
        if amount > credit.available:
            where = f"receipt {receipt}'s overpayment" if receipt else credit.item.description
            raise _error(
                "amount",
                f"{where} has {credit.available} available to refund "
                f"(credit {credit.credit}, already requested {credit.pending}).",
            )
        with audit_reason(f"Refund requested: {reason}"):
            refund = RefundRequest.objects.create(
                number=next_number(REFUND_SERIES),
                target_kind=kind,
                target_ref=ref,
                receipt=receipt,
                payee_name=payee_name[:120],
                payee_address=payee_address[:300],
                amount=amount,
                reason=reason[:300],
                requested_by=user,
            )
            RefundDocument.objects.bulk_create(_document(refund, doc, user) for doc in checked)
    return refund


def _document(refund: RefundRequest, doc: Any, user: Any) -> RefundDocument:
    return RefundDocument(
        request=refund,
        file_name=doc.file_name,
        content_type=doc.content_type,
        size_bytes=len(doc.content),
        sha256=doc.sha256,
        content=doc.content,
        uploaded_by=user,
    )


def refund_document_add(*, refund: RefundRequest, upload: Any, user: Any) -> RefundDocument:
    """Another document, while the request waits for its decision."""
    if not user.has_perm("cashiering.request_refund"):
        raise CashieringError("Only an accounting technician can add documents.")
    doc = document_check(upload, name=getattr(upload, "name", ""))
    with transaction.atomic():
        locked = RefundRequest.objects.select_for_update().get(pk=refund.pk)
        if locked.status not in PENDING:
            raise CashieringError("Documents can only be added before the request is decided.")
        if locked.documents.count() >= MAX_DOCUMENTS:
            raise _error("documents", f"A request holds at most {MAX_DOCUMENTS} documents.")
        document = _document(locked, doc, user)
        document.save()
        return document


def _lock(refund: RefundRequest) -> RefundRequest:
    return RefundRequest.objects.select_for_update().get(pk=refund.pk)


def refund_verify(*, refund: RefundRequest, user: Any) -> RefundRequest:
    if not user.has_perm("cashiering.verify_refund"):
        raise CashieringError("Only an accounting technician can verify refund requests.")
    with transaction.atomic(), audit_reason("Refund verified"):
        locked = _lock(refund)
        if locked.status != RefundRequest.Status.REQUESTED:
            raise CashieringError(
                f"Refund {locked.number} is {locked.get_status_display().lower()}; "
                "only a new request is verified."
            )
        if locked.requested_by_id == user.pk:
            raise CashieringError("Another technician verifies the refunds you request.")
        locked.status = RefundRequest.Status.VERIFIED
        locked.verified_by = user
        locked.verified_at = timezone.now()
        locked.save(update_fields=["status", "verified_by", "verified_at"])
    return locked


def _lock_for_decision(refund: RefundRequest, user: Any, allowed: Sequence[str]) -> RefundRequest:
    if not user.has_perm("cashiering.approve_refund"):
        raise CashieringError("Only a supervisor can approve or reject refunds.")
    locked = _lock(refund)
    if locked.requested_by_id == user.pk:
        raise CashieringError("You cannot approve or reject your own refund request.")
    if locked.status not in allowed:
        if locked.status == RefundRequest.Status.REQUESTED:
            raise CashieringError(f"Refund {locked.number} must be verified before approval.")
        raise CashieringError(
            f"Refund {locked.number} is already {locked.get_status_display().lower()}."
        )
    return locked


def refund_reject(*, refund: RefundRequest, user: Any, note: str) -> RefundRequest:
    note = note.strip()
    if not note:
        raise _error("note", "Say why the refund is rejected.")
    _check_text("note", note)
    with transaction.atomic(), audit_reason(f"Refund rejected: {note}"):
        locked = _lock_for_decision(refund, user, PENDING)
        locked.status = RefundRequest.Status.REJECTED
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.decision_note = note[:300]
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return locked


def refund_approve(
    *, refund: RefundRequest, user: Any, note: str = "", entry_date: date | None = None
) -> RefundRequest:
    """Approve: post Dr the credit's account, Cr refunds payable, and take the amount off
    the target's credit, together."""
    _check_text("note", note)
    entry_date = entry_date or timezone.localdate()
    with transaction.atomic(), audit_reason(f"Refund approved: {note.strip() or 'no note'}"):
        locked = _lock_for_decision(refund, user, (RefundRequest.Status.VERIFIED,))
        policy = CounterPolicy.current()
        if policy.refunds_payable is None:
            raise CashieringError(
                "The counter policy has no refunds payable account; ask an administrator."
            )
        target_type = get_target_type(locked.target_kind)
        item = target_type.load([locked.target_ref], for_update=True).get(locked.target_ref)
        if item is None or item.balance is None:
            raise CashieringError(f"{locked.target_ref} is no longer in its billing system.")
        credit = max(-item.balance, ZERO)
        if locked.amount > credit:
            raise CashieringError(
                f"{item.description} has only {credit} credit left; reject the request "
                "and ask for a new one."
            )
        fee_code = FeeCode.objects.get(code=item.fee_code)
        specs = [
            LineSpec(account, debit=part) for account, part in fee_code.distribute(locked.amount)
        ]
        specs.append(LineSpec(policy.refunds_payable, credit=locked.amount))
        with ledger_errors():
            locked.journal_entry = journal_entry_post(
                entry_date=entry_date,
                memo=f"Refund {locked.number} to {locked.payee_name}: {locked.reason}"[:300],
                lines=net_lines(specs),
                user=user,
                source="refund",
                source_ref=f"Refund {locked.number}",
            )
        try:
            target_type.apply_payment(
                ref=locked.target_ref, amount=-locked.amount, receipt=None, line=None
            )
        except TargetError as exc:
            raise CashieringError(str(exc)) from None
        locked.status = RefundRequest.Status.APPROVED
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.decision_note = note.strip()[:300]
        locked.save(
            update_fields=["status", "decided_by", "decided_at", "decision_note", "journal_entry"]
        )
    return locked


def refund_export(*, user: Any) -> str:
    """Mark every approved, not yet exported request as exported in a new batch; returns
    the batch id (the file is built from the batch, so it can be downloaded again)."""
    if not user.has_perm("cashiering.approve_refund") and not user.has_perm(
        "cashiering.verify_refund"
    ):
        raise CashieringError("Only the back office exports refunds.")
    with transaction.atomic():
        # Two exports at once: the second waits here and then finds nothing left.
        waiting = list(
            RefundRequest.objects.select_for_update()
            .filter(status=RefundRequest.Status.APPROVED)
            .order_by("number")
        )
        if not waiting:
            raise CashieringError("No approved refunds are waiting for export.")
        today = timezone.localdate()
        batch = f"AP-{today:%Y%m%d}-{next_number(EXPORT_SERIES):04d}"
        now = timezone.now()
        with audit_reason(f"Refunds exported to accounts payable in {batch}"):
            RefundRequest.objects.filter(pk__in=[r.pk for r in waiting]).update(
                status=RefundRequest.Status.EXPORTED, exported_at=now, export_batch=batch
            )
    return batch
