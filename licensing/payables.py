"""License invoices as a payment target at the counter (kind "license", ref = invoice number).

An invoice is owed in components, one per fee code (license fee BL-GEN, fire inspection
BL-FIRE, technology fee BL-TECH, late penalties BL-PEN ...), in invoice order: the
receipt gets one line per component paid and calls `apply_payment` per line with that
line's fee code. Paying the last cent issues or renews the license in the receipt's
transaction; a void or reversal (a negative amount) undoes exactly what the receipt line
applied and puts the license back.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from cashiering.targets import (
    InquiryHistory,
    InquiryHistoryChange,
    InquiryHistoryRecord,
    PaymentTargetType,
    TargetError,
    TargetItem,
)
from kent_cs.money import ZERO
from licensing.dossier import license_history_summary
from licensing.models import LicenseInvoice, LicenseInvoiceLine, LicenseStatus
from licensing.services.common import LicensingError
from licensing.services.invoice_index import TARGET_KIND
from licensing.services.invoices import PaymentRef, invoice_apply_payment, invoice_undo_payment


def invoice_components(lines: Iterable[LicenseInvoiceLine]) -> tuple[tuple[str, Decimal], ...]:
    """((fee code, amount due), ...) in invoice order, one entry per fee code with money due."""
    due: dict[str, Decimal] = {}
    for line in sorted(lines, key=lambda line: line.position):
        due[line.fee_code] = due.get(line.fee_code, ZERO) + line.amount_due
    return tuple((code, amount) for code, amount in due.items() if amount > 0)


def _warnings(invoice: LicenseInvoice, penalties: Decimal) -> tuple[str, ...]:
    notes = []
    if invoice.status == LicenseInvoice.Status.CANCELLED:
        notes.append(f"Cancelled: {invoice.cancelled_reason or 'not payable'}.")
    elif invoice.status == LicenseInvoice.Status.PAID:
        notes.append(f"Paid in full on {invoice.paid_on:%b %-d, %Y}.")
    if penalties:
        notes.append(f"Includes ${penalties:,.2f} in late penalties.")
    if invoice.license.status == LicenseStatus.LAPSED:
        notes.append("The license has lapsed; paying this invoice reinstates it.")
    elif invoice.license.status in (LicenseStatus.SUSPENDED, LicenseStatus.REVOKED):
        notes.append(f"The license is {invoice.license.get_status_display().lower()}.")
    if not invoice.business.is_open:
        notes.append("The business is closed.")
    return tuple(notes)


def _fee_code_of(line) -> str:
    code = getattr(line, "fee_code", None)
    return getattr(code, "code", code) or ""


def _payment_ref(receipt, line, *, undo: bool) -> PaymentRef:
    """A payment takes the receipt's business date; undoing one (a void, or a reversal,
    which passes the original receipt) happens today."""
    business_date = getattr(receipt, "business_date", None)
    if undo or not isinstance(business_date, date):
        business_date = timezone.localdate()
    return PaymentRef(
        receipt_id=getattr(receipt, "pk", None),
        receipt_number=str(receipt),
        line_no=getattr(line, "line_no", None),
        business_date=business_date,
    )


class LicenseInvoiceTarget(PaymentTargetType):
    kind = TARGET_KIND
    needs_receipt_number = True  # a license payment records the receipt that paid it
    label = "Business license invoice"

    def load(self, refs: Iterable[str], *, for_update: bool = False) -> dict[str, TargetItem]:
        found = LicenseInvoice.objects.filter(number__in=list(refs)).select_related(
            "business", "license__license_type"
        )
        if for_update:
            # Invoice rows only; the lines are locked by apply_payment, after the invoice.
            found = found.order_by("number").select_for_update(of=("self",))
        invoices = list(found)
        lines: dict[int, list[LicenseInvoiceLine]] = defaultdict(list)
        for line in LicenseInvoiceLine.objects.filter(invoice__in=invoices).only(
            "invoice_id", "position", "fee_code", "amount_due"
        ):
            lines[line.invoice_id].append(line)
        penalties = dict(
            LicenseInvoiceLine.objects.filter(invoice__in=invoices, kind=LicenseInvoiceLine.PENALTY)
            .values_list("invoice_id")
            .annotate(due=Sum("amount_due"))
        )
        items = {}
        for invoice in invoices:
            components = (
                invoice_components(lines[invoice.pk])
                if invoice.status == LicenseInvoice.Status.OPEN
                else ()
            )
            balance = sum((amount for _, amount in components), ZERO)
            first_code = (
                components[0][0]
                if components
                else (lines[invoice.pk][0].fee_code if lines[invoice.pk] else "BL-GEN")
            )
            license = invoice.license
            items[invoice.number] = TargetItem(
                kind=self.kind,
                ref=invoice.number,
                number=invoice.number,
                name=invoice.business.display_name,
                address=invoice.business.location_address,
                description=(
                    f"{invoice.description}: {license.license_type.name} {license.display_number}"
                ),
                fee_code=first_code,
                balance=balance,
                allow_overpay=False,
                warnings=_warnings(invoice, penalties.get(invoice.pk, ZERO)),
                components=components,
            )
        return items

    def apply_payment(self, *, ref: str, amount: Decimal, receipt, line) -> None:
        paid_by = _payment_ref(receipt, line, undo=amount < 0)
        fee_code = _fee_code_of(line)
        try:
            if amount > 0:
                invoice_apply_payment(
                    number=ref,
                    fee_code=fee_code,
                    amount=amount,
                    paid_by=paid_by,
                    user=getattr(receipt, "posted_by", None),
                )
            elif amount < 0:
                # The approver of the void is in the request's audit context; the status
                # change names the receipt.
                invoice_undo_payment(
                    number=ref, fee_code=fee_code, amount=-amount, paid_by=paid_by, user=None
                )
        except LicenseInvoice.DoesNotExist:
            raise TargetError(f"License invoice {ref} was not found.") from None
        except LicensingError as exc:
            raise TargetError(" ".join(exc.messages)) from None

    def inquiry_history(self, ref: str, *, user) -> InquiryHistory | None:
        """The invoice's business: every license with its status and last changes; links
        to the business's timeline and history dossier for those who may see them."""
        invoice = LicenseInvoice.objects.filter(number=ref).select_related("business").first()
        if invoice is None:
            return None
        business = invoice.business
        records = tuple(
            InquiryHistoryRecord(
                label=f"License {summary.license.display_number} · "
                f"{summary.license.license_type.name}",
                status=summary.license.get_status_display(),
                detail=f"license year {summary.license.license_year}, "
                f"expires {summary.license.expires_on:%Y-%m-%d}",
                changes=tuple(
                    InquiryHistoryChange(at=at, what=what, by=by, reason=reason)
                    for at, what, by, reason in summary.changes
                ),
            )
            for summary in license_history_summary(business_id=business.pk)
        )
        links: tuple[tuple[str, str], ...] = ()
        if user.has_perm("licensing.view_business"):
            links = (("Business page and full timeline", business.get_absolute_url()),)
            if user.has_perm("licensing.view_licensepayment"):
                links += (
                    (
                        "History dossier (PDF)",
                        reverse("licensing:business-dossier-pdf", args=[business.pk]),
                    ),
                )
        return InquiryHistory(
            title="License history",
            subject=f"{business.legal_name}, UBI {business.ubi_display}"
            + ("" if business.is_open else " (closed)"),
            records=records,
            links=links,
        )
