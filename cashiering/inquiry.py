"""Reads for the office pages: account inquiry, the payer search behind it, and the
corrections queue. Every object a view shows is fetched here with the user's scope
applied: what a user may not see is a 404, never a 403.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404

from cashiering.models import (
    ARInvoice,
    CashierSession,
    CorrectionRequest,
    PayerIndex,
    PayerNote,
    Receipt,
    ReceiptLine,
    UtilityAccount,
)
from cashiering.selectors.returns import returned_checks_for_payer
from cashiering.targets import (
    InquiryHistory,
    PaymentTargetType,
    TargetError,
    TargetItem,
    get_target_type,
)
from cashiering.targets import target_types as registered_target_types
from kent_cs.money import ZERO
from kent_cs.selectors import object_timeline

SEARCH_MIN_LENGTH = 2
SEARCH_LIMIT = 50
INQUIRY_LINES_PER_PAGE = 50
INQUIRY_NOTES_SHOWN = 100
DECIDED_PER_PAGE = 50

# The records behind cashiering's own payment targets, whose history the inquiry page
# shows. Other apps' kinds (license invoices, ...) have no timeline here until the
# registry offers a way to reach their record.
_AUDITED_RECORDS: dict[str, tuple[type[UtilityAccount] | type[ARInvoice], str]] = {
    "utility": (UtilityAccount, "number"),
    "invoice": (ARInvoice, "number"),
}


# --- receipts and sessions in the user's scope ----------------------------------------


def reversal_session_for_user(*, user: Any, session_id: str | None) -> CashierSession | None:
    """The session a reversal would post into: the one named by `session_id` if it is
    the user's own, else the user's open session. None when there is none; the service
    then says to open one (and refuses a session that is not open)."""
    sessions = CashierSession.objects.filter(cashier=user)
    if session_id:
        try:
            return sessions.get(pk=int(session_id))
        except (ValueError, CashierSession.DoesNotExist):
            return None
    return sessions.filter(status=CashierSession.Status.OPEN).first()


# --- corrections ------------------------------------------------------------------------


def _corrections() -> QuerySet[CorrectionRequest]:
    return CorrectionRequest.objects.select_related(
        "receipt",
        "receipt__session__cashier",
        "requested_by",
        "decided_by",
        "target_session",
        "reversal_receipt",
    )


def correction_get_for_decision(*, pk: int) -> CorrectionRequest:
    """A request a supervisor decides; the view has checked approve_correction."""
    try:
        return _corrections().get(pk=pk)
    except CorrectionRequest.DoesNotExist:
        raise Http404("No such correction request.") from None


@dataclass
class CorrectionQueue:
    #: True for supervisors: every request, with decision buttons on the pending ones.
    decides: bool
    pending: list[CorrectionRequest]
    decided: Page


def correction_queue(*, user: Any, page_number: Any = None) -> CorrectionQueue:
    """Supervisors: every pending request, oldest first (the longest waiting on top), then
    decided ones, newest first. Everyone else: their own requests only."""
    decides = user.has_perm("cashiering.approve_correction")
    requests = _corrections()
    if not decides:
        requests = requests.filter(requested_by=user)
    pending = list(
        requests.filter(status=CorrectionRequest.Status.PENDING).order_by("requested_at", "pk")
    )
    decided = requests.exclude(status=CorrectionRequest.Status.PENDING).order_by(
        "-decided_at", "-pk"
    )
    return CorrectionQueue(
        decides=decides,
        pending=pending,
        decided=Paginator(decided, DECIDED_PER_PAGE).get_page(page_number),
    )


# --- payer search -----------------------------------------------------------------------


def inquiry_kinds() -> list[str]:
    """Kinds a payer can be asked about: everything that carries a balance (fee items,
    priced by quantity at the counter, are not owed by anyone)."""
    return sorted(t.kind for t in registered_target_types() if not t.priced_by_quantity)


# --- account inquiry --------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentRow:
    """One receipt line paid on the payer, with its receipt's status."""

    line: ReceiptLine
    receipt: Receipt
    status: str  # "posted", "void", "reversed" or "reversal"
    status_label: str
    related: Receipt | None  # the reversal of this receipt, or the receipt it reverses
    can_open: bool  # may the user open the receipt's page

    @property
    def counts(self) -> bool:
        return self.status != "void"


@dataclass(frozen=True)
class PaymentTotals:
    count: int
    paid: Decimal  # posted lines, reversals included as negatives: what reached the payer
    voided: Decimal
    voided_count: int


@dataclass(frozen=True)
class ReturnedCheckRow:
    """A check that paid this payer and came back from the bank (NSF, closed account).

    The returned-check model arrives with its own issue; `payer_returned_checks` fills
    these rows from it and the page already lists them.
    """

    receipt: Receipt
    check_number: str
    amount: Decimal
    returned_on: date
    reason: str
    fee: Decimal | None = None


@dataclass
class PayerInquiry:
    kind: str
    ref: str
    label: str  # "Utility account", "AR invoice", ...
    number: str
    name: str
    address: str
    is_active: bool
    item: TargetItem | None  # None when the subsystem no longer has the item
    record: UtilityAccount | ARInvoice | None
    payments: Page  # the page of receipt lines, for the page links
    payment_rows: list[PaymentRow]  # the same lines with their receipts' status
    totals: PaymentTotals
    returned_checks: list[ReturnedCheckRow]
    notes: list[PayerNote]
    timeline: list = field(default_factory=list)
    #: The subsystem's own history of the payer (licensing: the business's licenses).
    history: InquiryHistory | None = None

    @property
    def balance(self) -> Decimal | None:
        return self.item.balance if self.item is not None else None

    @property
    def amount_due(self) -> Decimal | None:
        return self.item.amount_due if self.item is not None else None

    @property
    def is_credit(self) -> bool:
        return self.balance is not None and self.balance < 0

    @property
    def credit(self) -> Decimal:
        """What the payer has paid ahead (a negative balance), as a positive amount."""
        return -self.balance if self.balance is not None and self.balance < 0 else ZERO


def _target_type_or_404(kind: str) -> PaymentTargetType:
    if kind not in inquiry_kinds():
        raise Http404("No such kind of payer.")
    try:
        return get_target_type(kind)
    except TargetError:
        raise Http404("No such kind of payer.") from None


def _reversed_by(receipt: Receipt) -> Receipt | None:
    try:
        return receipt.reversed_by
    except Receipt.DoesNotExist:
        return None


def payer_payments(*, kind: str, ref: str) -> QuerySet[ReceiptLine]:
    """Every live receipt line paid on the payer, newest first. Training receipts never
    touched a balance, so they are left out."""
    return (
        ReceiptLine.objects.filter(target_kind=kind, target_ref=ref, receipt__is_training=False)
        .select_related("receipt__session", "receipt__reverses", "receipt__reversed_by")
        .order_by("-receipt__posted_at", "-receipt__number", "line_no")
    )


def payer_payment_totals(*, kind: str, ref: str) -> PaymentTotals:
    posted = Q(receipt__status=Receipt.Status.POSTED)
    voided = Q(receipt__status=Receipt.Status.VOIDED)
    totals = ReceiptLine.objects.filter(
        target_kind=kind, target_ref=ref, receipt__is_training=False
    ).aggregate(
        count=Count("pk"),
        paid=Coalesce(Sum("amount", filter=posted), ZERO),
        voided=Coalesce(Sum("amount", filter=voided), ZERO),
        voided_count=Count("pk", filter=voided),
    )
    return PaymentTotals(**totals)


def payer_returned_checks(*, kind: str, ref: str) -> list[ReturnedCheckRow]:
    """Processed returned checks that had paid this payer's items, newest first (one
    query, through the lines each returned check re-opened)."""
    return [
        ReturnedCheckRow(
            receipt=check.receipt,
            check_number=check.tender.check_number if check.tender else "",
            amount=check.amount,
            returned_on=check.returned_on,
            reason=check.get_reason_display(),
            fee=check.fee_amount,
        )
        for check in returned_checks_for_payer(kind=kind, ref=ref)
    ]


def payer_exists_or_404(*, kind: str, ref: str) -> None:
    """Notes may be written about any payer the index or its subsystem knows, only."""
    target_type = _target_type_or_404(kind)
    if PayerIndex.objects.filter(kind=kind, ref=ref).exists():
        return
    if ref not in target_type.load([ref]):
        raise Http404("No such payer.")


def payer_inquiry(*, kind: str, ref: str, user: Any, page_number: Any = None) -> PayerInquiry:
    """Everything the office says about one payer, in a fixed number of queries whatever
    the number of receipts: balance from the subsystem (through the registry), the
    payments page and totals, returned checks, notes, and the record's history."""
    target_type = _target_type_or_404(kind)
    item = target_type.load([ref]).get(ref)
    index_row = PayerIndex.objects.filter(kind=kind, ref=ref).first()
    # The subsystem's item when it still has one, else what the index remembers of it.
    source: TargetItem | PayerIndex | None = item if item is not None else index_row
    if source is None:
        raise Http404("No such payer.")

    record = None
    if kind in _AUDITED_RECORDS:
        model, key = _AUDITED_RECORDS[kind]
        record = model.objects.filter(**{key: ref}).first()

    see_all = user.has_perm("cashiering.view_all_receipts")
    totals = payer_payment_totals(kind=kind, ref=ref)
    paginator = Paginator(payer_payments(kind=kind, ref=ref), INQUIRY_LINES_PER_PAGE)
    paginator.count = totals.count  # the totals counted the lines already: no COUNT query
    page = paginator.get_page(page_number)
    rows = []
    for line in page.object_list:
        receipt = line.receipt
        if receipt.status == Receipt.Status.VOIDED:
            status, label, related = "void", "VOID", None
        elif receipt.reverses_id is not None:
            status, label, related = "reversal", f"Reversal of {receipt.reverses}", receipt.reverses
        elif (reversal := _reversed_by(receipt)) is not None:
            status, label, related = "reversed", f"Reversed by {reversal}", reversal
        else:
            status, label, related = "posted", "Posted", None
        rows.append(
            PaymentRow(
                line=line,
                receipt=receipt,
                status=status,
                status_label=label,
                related=related,
                can_open=see_all or receipt.session.cashier_id == user.pk,
            )
        )

    return PayerInquiry(
        kind=kind,
        ref=ref,
        label=target_type.label,
        number=source.number,
        name=source.name,
        address=source.address,
        is_active=index_row.is_active if index_row is not None else True,
        item=item,
        record=record,
        payments=page,
        payment_rows=rows,
        totals=totals,
        returned_checks=payer_returned_checks(kind=kind, ref=ref),
        notes=list(
            PayerNote.objects.filter(kind=kind, ref=ref).select_related("author")[
                :INQUIRY_NOTES_SHOWN
            ]
        ),
        timeline=object_timeline(record) if record is not None else [],
        history=target_type.inquiry_history(ref, user=user) if item is not None else None,
    )
