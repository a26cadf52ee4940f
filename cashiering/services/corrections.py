"""Corrections of posted receipts: a cashier requests a void (same day, session open) or a
reversal, a supervisor approves or rejects it; approval voids the receipt or posts a
reversing receipt, and gives the targets back what they took. Payer notes."""

import uuid

from django.db import transaction
from django.utils import timezone

from cashiering.errors import CashieringError, ledger_errors
from cashiering.models import (
    CashierSession,
    CorrectionRequest,
    DepositItem,
    PayerNote,
    Receipt,
    ReceiptLine,
    ReturnedCheck,
    Tender,
)
from cashiering.selectors.balancing import CHECK_TENDER_KINDS
from cashiering.services.receipt_inputs import LineInput, check_text, field_error
from cashiering.services.receipts import net_of_change, target_items_load
from cashiering.services.sessions import number_series
from cashiering.targets import get_target_type
from kent_cs.audit import audit_reason
from kent_cs.money import ZERO
from kent_cs.numbering import next_number
from ledger.services import (
    journal_entry_reverse,
)


def correction_request(
    *,
    receipt: Receipt,
    kind: str,
    reason: str,
    user,
    target_session: CashierSession | None = None,
) -> CorrectionRequest:
    reason = reason.strip()
    if not reason:
        raise field_error("reason", "Enter the reason.")
    check_text("reason", reason)
    with transaction.atomic():
        locked = Receipt.objects.select_for_update().select_related("session").get(pk=receipt.pk)
        if locked.status != Receipt.Status.POSTED:
            raise CashieringError(f"Receipt {locked} is already void.")
        if locked.reverses_id is not None:
            raise CashieringError(f"{locked} is itself a reversal; it cannot be corrected again.")
        if hasattr(locked, "reversed_by"):
            raise CashieringError(f"Receipt {locked} has already been reversed.")
        _refuse_if_check_returned(locked)
        if kind == CorrectionRequest.Kind.REVERSAL:
            _refuse_if_check_deposited(locked)
        if CorrectionRequest.objects.filter(receipt=locked, status="pending").exists():
            raise CashieringError(f"A correction of {locked} is already waiting for approval.")
        if kind not in CorrectionRequest.Kind.values:
            raise CashieringError(f"Unknown correction kind {kind!r}.")
        # A cashier corrects only own receipts (voids and reversals alike); staff who see
        # every receipt may ask for any.
        if locked.session.cashier_id != user.pk and not user.has_perm(
            "cashiering.view_all_receipts"
        ):
            label = "void" if kind == CorrectionRequest.Kind.VOID else "reversal"
            raise CashieringError(f"You can only request a {label} of your own receipts.")
        if kind == CorrectionRequest.Kind.VOID:
            if not locked.session.is_open:
                raise CashieringError(
                    "The session has closed, so the receipt can no longer be voided; "
                    "request a reversal instead."
                )
            target_session = None
        elif kind == CorrectionRequest.Kind.REVERSAL:
            if locked.session.is_open:
                raise CashieringError("The session is still open: request a void instead.")
            if target_session is None or not target_session.is_open:
                raise field_error("session", "Open a session first: the reversal posts into it.")
            if target_session.cashier_id != user.pk:
                raise field_error("session", "The reversal posts into your own open session.")
            if target_session.is_training != locked.is_training:
                raise field_error(
                    "session", "Training receipts are reversed only in a training session."
                )
        with audit_reason(reason):
            return CorrectionRequest.objects.create(
                receipt=locked,
                kind=kind,
                reason=reason[:300],
                requested_by=user,
                target_session=target_session,
            )


def _lock_pending(correction: CorrectionRequest, user) -> CorrectionRequest:
    # `of=("self",)`: the join to the (nullable) target session is an outer join, which
    # PostgreSQL cannot lock; the receipt and sessions are locked where they are changed.
    locked = (
        CorrectionRequest.objects.select_for_update(of=("self",))
        .select_related("receipt__session", "target_session")
        .get(pk=correction.pk)
    )
    if locked.status != CorrectionRequest.Status.PENDING:
        raise CashieringError(f"This request was already {locked.get_status_display().lower()}.")
    if locked.requested_by_id == user.pk:
        raise CashieringError("You cannot approve or reject your own request.")
    if not user.has_perm("cashiering.approve_correction"):
        raise CashieringError("Only a supervisor can decide corrections.")
    return locked


def correction_reject(*, correction: CorrectionRequest, user, note: str) -> CorrectionRequest:
    note = note.strip()
    if not note:
        raise field_error("note", "Say why the request is rejected.")
    check_text("note", note)
    with transaction.atomic(), audit_reason(f"Rejected: {note}"):
        locked = _lock_pending(correction, user)
        locked.status = CorrectionRequest.Status.REJECTED
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.decision_note = note[:300]
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return locked


def correction_approve(*, correction: CorrectionRequest, user, note: str = "") -> CorrectionRequest:
    check_text("note", note)
    with transaction.atomic():
        locked = _lock_pending(correction, user)
        with audit_reason(f"{locked.get_kind_display()} approved: {locked.reason}"):
            if locked.kind == CorrectionRequest.Kind.VOID:
                _void(locked.receipt, user=user, reason=locked.reason)
            else:
                # A reversal request always names its session (a database check).
                assert locked.target_session is not None
                locked.reversal_receipt = _reverse(
                    locked.receipt, session=locked.target_session, user=user, reason=locked.reason
                )
            locked.status = CorrectionRequest.Status.APPROVED
            locked.decided_by = user
            locked.decided_at = timezone.now()
            locked.decision_note = note.strip()[:300]
            locked.save(
                update_fields=[
                    "status",
                    "decided_by",
                    "decided_at",
                    "decision_note",
                    "reversal_receipt",
                ]
            )
    return locked


def _unapply_targets(receipt: Receipt) -> None:
    lines = list(receipt.lines.all())
    refs = [LineInput(kind=line.target_kind, ref=line.target_ref) for line in lines]
    target_items_load(refs, for_update=True)  # lock in the same order as posting does
    for line in lines:
        get_target_type(line.target_kind).apply_payment(
            ref=line.target_ref, amount=-line.amount, receipt=receipt, line=line
        )


def _void(receipt: Receipt, *, user, reason: str) -> None:
    locked = Receipt.objects.select_for_update().select_related("session").get(pk=receipt.pk)
    session = CashierSession.objects.select_for_update(no_key=True).get(pk=locked.session_id)
    if not session.is_open:
        raise CashieringError(
            "The session closed before the void was approved; reject it and request a reversal."
        )
    if locked.status != Receipt.Status.POSTED:
        raise CashieringError(f"Receipt {locked} is already void.")
    if not locked.is_training:
        assert locked.journal_entry is not None  # every live receipt has its entry
        void_reason = f"Void of receipt {locked}: {reason}"
        with audit_reason(void_reason):  # what the targets give back reads as the void
            _unapply_targets(locked)
        with ledger_errors():
            locked.void_entry = journal_entry_reverse(
                entry=locked.journal_entry,
                user=user,
                reason=void_reason,
                entry_date=session.business_date,
            )
    locked.status = Receipt.Status.VOIDED
    locked.voided_at = timezone.now()
    locked.save(update_fields=["status", "void_entry", "voided_at"])


def _refuse_if_check_returned(receipt: Receipt) -> None:
    """A receipt whose check the bank returned was undone by the returned-check processing
    (its items re-opened); reversing it too would re-open them twice."""
    if ReturnedCheck.objects.filter(
        receipt=receipt, status=ReturnedCheck.Status.PROCESSED
    ).exists():
        raise CashieringError(
            f"A check on receipt {receipt} came back from the bank and was processed as a "
            "returned check; the receipt cannot be reversed as well."
        )


def _refuse_if_check_deposited(receipt: Receipt) -> None:
    """A reversal hands a check back from the funds of the session that took it; once the
    check is at the bank there is nothing to hand back."""
    item = (
        DepositItem.objects.filter(
            tender__receipt=receipt, tender__tender_type__kind__in=CHECK_TENDER_KINDS
        )
        .select_related("deposit", "tender")
        .first()
    )
    if item is not None:
        number = item.tender.check_number or item.tender.reference
        raise CashieringError(
            f"Check {number} on receipt {receipt} went to the bank in deposit "
            f"{item.deposit.number} on {item.deposit.deposit_date:%m/%d/%Y}, so it cannot be "
            "handed back by a reversal. Pay the payer back with a refund request for the "
            "credit instead."
        )


def _reverse(receipt: Receipt, *, session: CashierSession, user, reason: str) -> Receipt:
    """A new, negative receipt in an open session that undoes `receipt`."""
    original = Receipt.objects.select_for_update().get(pk=receipt.pk)
    target = CashierSession.objects.select_for_update(no_key=True).get(pk=session.pk)
    if not target.is_open:
        raise CashieringError("The session chosen for the reversal has closed; ask again.")
    if original.status != Receipt.Status.POSTED or hasattr(original, "reversed_by"):
        raise CashieringError(f"Receipt {original} was already voided or reversed.")
    _refuse_if_check_returned(original)
    # The race: a deposit of the original's session taking the check to the bank while
    # this hands it back. The deposit holds that session FOR UPDATE; waiting for it here
    # means the check below sees the deposit's items, or the deposit sees this reversal.
    CashierSession.objects.select_for_update(no_key=True).filter(pk=original.session_id).first()
    _refuse_if_check_deposited(original)
    lines = list(original.lines.select_related("fee_code"))
    tenders = list(original.tenders.select_related("tender_type__clearing_account__fund"))
    if not original.is_training:
        _unapply_targets(original)
    series = original.series
    number = next_number(number_series(series))
    entry = None
    if not original.is_training:
        assert original.journal_entry is not None  # every live receipt has its entry
        with ledger_errors():
            entry = journal_entry_reverse(
                entry=original.journal_entry,
                user=user,
                reason=f"Reversal of receipt {original} as {series}-{number}: {reason}",
                entry_date=target.business_date,
            )
    reversal = Receipt.objects.create(
        series=series,
        number=number,
        session=target,
        business_date=target.business_date,
        payer_name=original.payer_name,
        total=-original.total,
        tendered=-original.total,
        change_given=ZERO,
        is_training=original.is_training,
        idempotency_key=uuid.uuid4(),
        request_hash="reversal",
        journal_entry=entry,
        reverses=original,
        memo=f"Reversal of {original}: {reason}"[:200],
        posted_by=user,
    )
    ReceiptLine.objects.bulk_create(
        ReceiptLine(
            receipt=reversal,
            line_no=line.line_no,
            target_kind=line.target_kind,
            target_ref=line.target_ref,
            description=line.description,
            fee_code=line.fee_code,
            quantity=-line.quantity,
            unit_price=line.unit_price,
            amount=-line.amount,
        )
        for line in lines
    )
    # Money goes back out the way it came in: cash tenders net of the change given.
    Tender.objects.bulk_create(
        Tender(
            receipt=reversal,
            line_no=line_no,
            tender_type=tender.tender_type,
            amount=-amount,
            check_number=tender.check_number,
            check_payer=tender.check_payer,
            account_last4=tender.account_last4,
            card_brand=tender.card_brand,
            card_last4=tender.card_last4,
            auth_code=tender.auth_code,
            reference=tender.reference,
        )
        for line_no, (tender, amount) in enumerate(
            net_of_change(tenders, original.change_given), start=1
        )
    )
    return reversal


def payer_note_add(*, kind: str, ref: str, text: str, user) -> PayerNote:
    text = text.strip()
    if not text:
        raise field_error("text", "Write the note.")
    check_text("text", text)
    get_target_type(kind)
    return PayerNote.objects.create(kind=kind, ref=ref, text=text[:500], author=user)
