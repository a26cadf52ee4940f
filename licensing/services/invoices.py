"""Licensing invoice writes: creating an invoice from a fee quote, cancelling one, and
applying or undoing a payment from the counter (PaymentRef says where it came from)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from kent_cs.audit import audit_reason
from kent_cs.money import ZERO, to_money
from kent_cs.numbering import next_number
from licensing.fees import FeeQuote
from licensing.models import (
    Business,
    License,
    LicenseInvoice,
    LicenseInvoiceLine,
    LicensePayment,
    invoice_number,
    invoice_series,
)
from licensing.services.common import LicensingError, require_reason
from licensing.services.invoice_index import index_invoices
from licensing.services.licenses import (
    license_update_for_free_invoice,
    license_update_for_paid_invoice,
    undo_license_update,
)


def invoice_cancel(*, invoice: LicenseInvoice, user, reason: str) -> LicenseInvoice:
    reason = require_reason(reason, "for cancelling the invoice")
    with transaction.atomic(), audit_reason(f"Invoice cancelled: {reason}"):
        locked = (
            LicenseInvoice.objects.select_for_update(of=("self",))
            .select_related("business", "license")
            .get(pk=invoice.pk)
        )
        if locked.status != LicenseInvoice.Status.OPEN:
            raise LicensingError(f"Invoice {locked} is {locked.get_status_display().lower()}.")
        if locked.amount_due != locked.total:
            raise LicensingError(
                f"Invoice {locked} has payments on it; void or reverse them at the counter first."
            )
        locked.status = LicenseInvoice.Status.CANCELLED
        locked.cancelled_reason = reason
        locked.save(update_fields=["status", "cancelled_reason"])
        index_invoices([locked])
    return locked


def quote_lines(quote: FeeQuote) -> list[LicenseInvoiceLine]:
    """Unsaved invoice lines for a quote (the caller sets `invoice`)."""
    return [
        LicenseInvoiceLine(
            position=index,
            kind=line.kind,
            label=line.label,
            fee_code=line.fee_code,
            amount=line.amount,
            amount_due=line.amount,
            rule=line.rule,
            penalty_base=line.penalty_base,
        )
        for index, line in enumerate(quote.lines, start=1)
    ]


def invoice_create(
    *,
    license: License,
    business: Business,
    kind: str,
    year: int,
    quote: FeeQuote,
    issue_date: date,
    due_date: date,
    user,
    renewal_run=None,
) -> LicenseInvoice:
    """One invoice with its lines, numbered in the year's series, in the payer index. An
    invoice with nothing to pay is paid at once and acts on the license like a payment.
    Runs inside the caller's transaction (which should hold the license's lock)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoice_create() must run inside transaction.atomic().")
    seq = next_number(invoice_series(year))
    total = to_money(quote.total)
    invoice = LicenseInvoice.objects.create(
        number=invoice_number(year, seq),
        year=year,
        seq=seq,
        kind=kind,
        license=license,
        business=business,
        schedule_id=quote.schedule_id,
        issue_date=issue_date,
        due_date=due_date,
        total=total,
        amount_due=total,
        status=LicenseInvoice.Status.OPEN if total > 0 else LicenseInvoice.Status.PAID,
        paid_on=None if total > 0 else issue_date,
        renewal_run=renewal_run,
        created_by=user,
    )
    lines = quote_lines(quote)
    for line in lines:
        line.invoice = invoice
    LicenseInvoiceLine.objects.bulk_create(lines)
    if total == 0:
        license_update_for_free_invoice(
            invoice,
            license=license,
            on=issue_date,
            user=user,
            reason=f"Nothing to pay ({quote.exemption or 'no fee'})",
        )
    index_invoices([invoice])
    return invoice


@dataclass(frozen=True)
class PaymentRef:
    """Where a payment came from: the receipt and its line (for the counter's target)."""

    receipt_id: int | None
    receipt_number: str
    line_no: int | None
    business_date: date
    source: str = LicensePayment.Source.COUNTER


def invoice_apply_payment(
    *, number: str, fee_code: str, amount: Decimal, paid_by: PaymentRef, user=None
) -> LicenseInvoice:
    """Apply a payment to the invoice's `fee_code` component (its lines in order); when
    the invoice is then paid in full, issue or renew the license. Overpaying a component
    is refused. Runs in the caller's transaction (the receipt's) when there is one."""
    amount = to_money(amount)
    if amount <= 0:
        raise LicensingError("A payment must be more than zero.")
    with transaction.atomic():
        invoice = (
            LicenseInvoice.objects.select_for_update(of=("self",))
            .select_related("business", "license")
            .get(number=number)
        )
        if invoice.status != LicenseInvoice.Status.OPEN:
            raise LicensingError(
                f"Invoice {number} is {invoice.get_status_display().lower()}; nothing is due."
            )
        lines = list(
            invoice.lines.select_for_update()
            .filter(fee_code=fee_code, amount_due__gt=0)
            .order_by("position")
        )
        due = sum((line.amount_due for line in lines), ZERO)
        if not due:
            raise LicensingError(f"Invoice {number} has nothing due for {fee_code}.")
        if amount > due:
            raise LicensingError(
                f"Invoice {number} has {due} due for {fee_code}; it cannot be overpaid."
            )
        remaining, payments = amount, []
        for line in lines:
            if not remaining:
                break
            taken = min(remaining, line.amount_due)
            line.amount_due -= taken
            remaining -= taken
            payments.append(
                LicensePayment(
                    invoice=invoice,
                    line=line,
                    fee_code=fee_code,
                    amount=taken,
                    source=paid_by.source,
                    receipt_id=paid_by.receipt_id,
                    receipt_number=paid_by.receipt_number[:40],
                    receipt_line_no=paid_by.line_no,
                    business_date=paid_by.business_date,
                )
            )
        LicenseInvoiceLine.objects.bulk_update([p.line for p in payments], ["amount_due"])
        LicensePayment.objects.bulk_create(payments)
        invoice.amount_due -= amount
        fields = ["amount_due"]
        if invoice.amount_due == 0:
            invoice.status = LicenseInvoice.Status.PAID
            invoice.paid_on = paid_by.business_date
            invoice.paid_receipt = paid_by.receipt_number[:40]
            license = License.objects.select_for_update().get(pk=invoice.license_id)
            license_update_for_paid_invoice(
                invoice,
                license=license,
                on=paid_by.business_date,
                receipt=paid_by.receipt_number,
                user=user,
                reason=f"Invoice {number} paid in full on receipt {paid_by.receipt_number}",
            )
            fields += ["status", "paid_on", "paid_receipt", "license_updated"]
            fields += ["prior_status", "prior_year"]
        invoice.save(update_fields=fields)
        if invoice.status == LicenseInvoice.Status.PAID:
            index_invoices([invoice])
    return invoice


def invoice_undo_payment(
    *, number: str, fee_code: str, amount: Decimal, paid_by: PaymentRef, user=None
) -> LicenseInvoice:
    """Undo exactly what one receipt line applied (a void or reversal): the amounts due
    come back, and a license that payment issued or renewed goes back as it was."""
    amount = to_money(amount)
    if amount <= 0:
        raise LicensingError("Give the amount to undo as a positive number.")
    with transaction.atomic():
        invoice = (
            LicenseInvoice.objects.select_for_update(of=("self",))
            .select_related("business", "license")
            .get(number=number)
        )
        originals = list(
            LicensePayment.objects.select_for_update(of=("self",))
            .filter(
                invoice=invoice,
                receipt_id=paid_by.receipt_id,
                receipt_line_no=paid_by.line_no,
                fee_code=fee_code,
                reverses__isnull=True,
                reversed_by__isnull=True,
            )
            .order_by("id")
        )
        applied = sum((p.amount for p in originals), ZERO)
        if applied != amount:
            raise LicensingError(
                f"Receipt {paid_by.receipt_number} line {paid_by.line_no} applied {applied} "
                f"to {fee_code} on invoice {number}, not {amount}; nothing was undone."
            )
        lines = {
            line.pk: line
            for line in invoice.lines.select_for_update().filter(
                pk__in=[p.line_id for p in originals]
            )
        }
        for payment in originals:
            lines[payment.line_id].amount_due += payment.amount
        LicenseInvoiceLine.objects.bulk_update(list(lines.values()), ["amount_due"])
        LicensePayment.objects.bulk_create(
            LicensePayment(
                invoice=invoice,
                line_id=payment.line_id,
                fee_code=fee_code,
                amount=-payment.amount,
                source=payment.source,
                receipt_id=paid_by.receipt_id,
                receipt_number=paid_by.receipt_number[:40],
                receipt_line_no=paid_by.line_no,
                business_date=paid_by.business_date,
                reverses=payment,
            )
            for payment in originals
        )
        was_paid = invoice.status == LicenseInvoice.Status.PAID
        invoice.amount_due += amount
        if was_paid:
            invoice.status = LicenseInvoice.Status.OPEN
            invoice.paid_on = None
            invoice.paid_receipt = ""
            undo_license_update(
                invoice,
                on=paid_by.business_date,
                receipt=paid_by.receipt_number,
                user=user,
                reason=(
                    f"Receipt {paid_by.receipt_number} voided or reversed: invoice {number} "
                    "is no longer paid in full"
                ),
            )
        invoice.save(
            update_fields=[
                "amount_due",
                "status",
                "paid_on",
                "paid_receipt",
                "license_updated",
                "prior_status",
                "prior_year",
            ]
        )
        if was_paid:
            index_invoices([invoice])
    return invoice


def invoice_paid_total(invoice: LicenseInvoice) -> Decimal:
    return LicensePayment.objects.filter(invoice=invoice).aggregate(t=Sum("amount"))["t"] or ZERO
