"""Reads of refunds: credits that may be refunded (overpaid receipts), a refund and its
documents for a user, the refund queues and the rows of an export batch file."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from cashiering.models import CounterPolicy, Receipt, RefundDocument, RefundRequest
from cashiering.targets import TargetError, TargetItem, get_target_type
from kent_cs.money import ZERO
from kent_cs.reports import DATE, MONEY, TEXT, Column, Sheet, csv_bytes, xlsx_bytes

PENDING = (RefundRequest.Status.REQUESTED, RefundRequest.Status.VERIFIED)


def _pending_total(*, kind: str, ref: str, receipt: Receipt | None = None) -> Decimal:
    requests = RefundRequest.objects.filter(status__in=PENDING)
    requests = (
        requests.filter(receipt=receipt)
        if receipt
        else requests.filter(target_kind=kind, target_ref=ref)
    )
    return requests.aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]


def receipt_overpayment(receipt: Receipt, *, kind: str, ref: str) -> Decimal:
    """What the receipt paid on (kind, ref) beyond the balance it found."""
    total = ZERO
    for line in receipt.lines.filter(target_kind=kind, target_ref=ref):
        if line.balance_before is None:
            continue
        total += max(line.amount - max(line.balance_before, ZERO), ZERO)
    return total


@dataclass(frozen=True)
class RefundableCredit:
    item: TargetItem
    credit: Decimal  # the target's credit now (a negative balance, as a positive amount)
    pending: Decimal  # already asked for, not yet decided
    receipt_limit: Decimal | None  # a receipt's overpayment, less what is asked on it

    @property
    def available(self) -> Decimal:
        available = max(self.credit - self.pending, ZERO)
        if self.receipt_limit is not None:
            available = min(available, self.receipt_limit)
        return available


def refundable_credit(
    *, kind: str, ref: str, receipt: Receipt | None = None, for_update: bool = False
) -> RefundableCredit:
    try:
        target_type = get_target_type(kind)
    except TargetError:
        raise Http404("No such kind of payer.") from None
    item = target_type.load([ref], for_update=for_update).get(ref)
    if item is None or item.balance is None:
        raise Http404("No such payer.")
    receipt_limit = None
    if receipt is not None:
        receipt_limit = max(
            receipt_overpayment(receipt, kind=kind, ref=ref)
            - _pending_total(kind=kind, ref=ref, receipt=receipt)
            - RefundRequest.objects.filter(
                receipt=receipt,
                status__in=(RefundRequest.Status.APPROVED, RefundRequest.Status.EXPORTED),
            ).aggregate(total=Coalesce(Sum("amount"), ZERO))["total"],
            ZERO,
        )
    return RefundableCredit(
        item=item,
        credit=max(-item.balance, ZERO),
        pending=_pending_total(kind=kind, ref=ref),
        receipt_limit=receipt_limit,
    )


def _refunds() -> QuerySet[RefundRequest]:
    return RefundRequest.objects.select_related(
        "receipt", "requested_by", "verified_by", "decided_by", "journal_entry"
    )


def refund_get_for_user(*, user: Any, pk: int) -> RefundRequest:
    """Refund requests are the back office's: whoever holds view_refundrequest sees every
    one (the view checks it); anyone else gets a 404."""
    if not user.has_perm("cashiering.view_refundrequest"):
        raise Http404("No such refund request.")
    try:
        return _refunds().get(pk=pk)
    except RefundRequest.DoesNotExist:
        raise Http404("No such refund request.") from None


def refund_document_get_for_user(*, user: Any, pk: int, document_id: int) -> RefundDocument:
    refund = refund_get_for_user(user=user, pk=pk)
    try:
        return RefundDocument.objects.get(pk=document_id, request=refund)
    except RefundDocument.DoesNotExist:
        raise Http404("No such document.") from None


@dataclass
class RefundQueue:
    pending: list[RefundRequest]
    approved: list[RefundRequest]
    done: list[RefundRequest]
    batches: Sequence[Mapping[str, object]]


def refund_queue(*, limit: int = 100) -> RefundQueue:
    refunds = _refunds()
    pending = list(refunds.filter(status__in=PENDING).order_by("number"))
    approved = list(refunds.filter(status=RefundRequest.Status.APPROVED).order_by("number"))
    done = list(
        refunds.filter(
            status__in=(RefundRequest.Status.REJECTED, RefundRequest.Status.EXPORTED)
        ).order_by("-decided_at", "-number")[:limit]
    )
    batches = list(
        RefundRequest.objects.filter(status=RefundRequest.Status.EXPORTED)
        .values("export_batch")
        .annotate(count=Count("pk"), total=Sum("amount"), exported_at=Max("exported_at"))
        .order_by("-exported_at")[:limit]
    )
    return RefundQueue(pending=pending, approved=approved, done=done, batches=batches)


EXPORT_COLUMNS = [
    Column("Reference", TEXT),
    Column("Payee", TEXT),
    Column("Address", TEXT),
    Column("Amount", MONEY),
    Column("GL account", TEXT),
    Column("Reason", TEXT),
    Column("Approved by", TEXT),
    Column("Approved", DATE),
    Column("Batch", TEXT),
    Column("Re-export", TEXT),
]


def refund_batch_rows(*, batch: str, reexport: bool) -> list[list]:
    """The accounts-payable lines of one export batch (a re-export is marked in each)."""
    refunds = list(
        _refunds()
        .filter(status=RefundRequest.Status.EXPORTED, export_batch=batch)
        .order_by("number")
    )
    if not refunds:
        raise Http404("No such export batch.")
    policy = CounterPolicy.objects.select_related("refunds_payable__fund").filter(pk=1).first()
    account = policy.refunds_payable.full_code if policy and policy.refunds_payable else ""
    return [
        [
            f"REFUND-{r.number}",
            r.payee_name,
            r.payee_address,
            r.amount,
            account,
            r.reason,
            r.decided_by.get_username() if r.decided_by else "",
            timezone.localtime(r.decided_at).date() if r.decided_at else None,
            batch,
            "yes" if reexport else "no",
        ]
        for r in refunds
    ]


def refund_batch_file(*, batch: str, fmt: str, reexport: bool) -> tuple[bytes, str]:
    """(content, file name) of a batch as CSV or XLSX."""
    rows = refund_batch_rows(batch=batch, reexport=reexport)
    name = f"refunds-{batch}{'-reexport' if reexport else ''}"
    if fmt == "csv":
        return csv_bytes(EXPORT_COLUMNS, rows), f"{name}.csv"
    title = f"Refunds for accounts payable, batch {batch}" + (" (re-export)" if reexport else "")
    sheet = Sheet(title="Refunds", columns=EXPORT_COLUMNS, rows=rows, title_rows=[title])
    return xlsx_bytes([sheet], title=title), f"{name}.xlsx"
