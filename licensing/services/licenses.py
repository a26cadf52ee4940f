"""License status writes: the allowed transitions, changing a license's status by hand,
cancelling a license's unpaid invoices, and moving a license on when its invoice is paid
(and back when that payment is undone). License numbers come from LICENSE_SERIES."""

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from kent_cs.audit import audit_reason
from licensing.models import (
    LICENSE_TRANSITIONS,
    TERMINAL_STATUSES,
    InvoiceKind,
    License,
    LicenseInvoice,
    LicenseStatusChange,
)
from licensing.services.common import LicensingError, S, require_reason, today
from licensing.services.invoice_index import index_invoices

LICENSE_SERIES = "license"


_UNSET: Any = object()


def transition_refusal(from_status: str, to_status: str) -> str | None:
    """Why a license in `from_status` cannot be put in `to_status` by a person (or None)."""
    transition = LICENSE_TRANSITIONS.get((from_status, to_status))
    old, new = S(from_status).label.lower(), S(to_status).label.lower()
    if from_status == to_status:
        return f"The license is already {new}."
    if transition is None:
        return f"A license that is {old} cannot become {new}."
    if not transition.manual:
        return (
            f"A license that is {old} becomes {new} only through payment or the daily "
            "expiry run, not by hand."
        )
    return None


def license_transition(
    license: License,
    *,
    to_status: str,
    reason: str,
    user,
    effective_on: date,
    to_year: int | None = None,
    action: str | None = None,
    invoice: LicenseInvoice | None = None,
    receipt: str = "",
    issued_on: date | None = _UNSET,
) -> LicenseStatusChange:
    """Move a locked license to a status (and year) with its LicenseStatusChange row."""
    from_status, from_year = license.status, license.license_year
    to_year = from_year if to_year is None else to_year
    if to_status != from_status:
        transition = LICENSE_TRANSITIONS.get((from_status, to_status))
        if transition is None:
            raise LicensingError(
                f"A license that is {S(from_status).label.lower()} cannot become "
                f"{S(to_status).label.lower()}."
            )
        action = action or transition.action
    license.status = to_status
    license.license_year = to_year
    fields = ["status", "license_year"]
    if from_status != to_status:
        license.status_changed_at = timezone.now()
        fields.append("status_changed_at")
    if issued_on is not _UNSET:
        license.issued_on = issued_on
        fields.append("issued_on")
    license.save(update_fields=fields)
    return LicenseStatusChange.objects.create(
        license=license,
        action=action or "changed",
        from_status=from_status,
        to_status=to_status,
        from_year=from_year,
        to_year=to_year,
        reason=reason[:300],
        effective_on=effective_on,
        invoice=invoice,
        receipt=receipt[:40],
        changed_by=user,
    )


def license_change_status(
    *, license: License, to_status: str, user, reason: str, effective_on: date | None = None
) -> License:
    """Suspend, reinstate, revoke, close or withdraw a license, with the reason.

    Only the transitions marked manual in LICENSE_TRANSITIONS are allowed here; issuing,
    renewing, expiring and lapsing follow payments and the daily run.
    """
    reason = require_reason(reason, "for the change")
    with transaction.atomic(), audit_reason(reason):
        locked = License.objects.select_for_update().get(pk=license.pk)
        refusal = transition_refusal(locked.status, to_status)
        if refusal:
            raise LicensingError(refusal, code="transition_refused")
        license_transition(
            locked,
            to_status=to_status,
            reason=reason,
            user=user,
            effective_on=effective_on or today(),
        )
        if to_status in TERMINAL_STATUSES:
            cancel_unpaid_invoices(locked, reason=reason)
    return locked


def cancel_unpaid_invoices(license: License, *, reason: str) -> int:
    """Cancel the license's open invoices on which nothing has been paid."""
    invoices = list(
        LicenseInvoice.objects.select_for_update()
        .filter(license=license, status=LicenseInvoice.Status.OPEN)
        .select_related("business", "license")
    )
    cancelled = [i for i in invoices if i.amount_due == i.total]
    for invoice in cancelled:
        invoice.status = LicenseInvoice.Status.CANCELLED
        invoice.cancelled_reason = reason[:300]
        invoice.save(update_fields=["status", "cancelled_reason"])
    index_invoices(cancelled)
    return len(cancelled)


def license_update_for_paid_invoice(
    invoice: LicenseInvoice, *, license: License, on: date, receipt: str, user, reason: str
) -> None:
    """Issue (new) or extend (renewal) the license of a fully paid invoice, remembering
    the license's prior state on the invoice so that undoing the payment restores it.
    `license` must be locked; the caller saves the invoice."""
    invoice.prior_status = license.status
    invoice.prior_year = license.license_year
    invoice.license_updated = False
    common = {
        "reason": reason,
        "user": user,
        "effective_on": on,
        "invoice": invoice,
        "receipt": receipt,
    }
    if invoice.kind == InvoiceKind.NEW:
        if license.status != S.PENDING:
            return  # withdrawn or closed meanwhile: the money is taken, nothing to issue
        license_transition(
            license, to_status=S.ACTIVE, to_year=invoice.year, issued_on=on, **common
        )
    else:
        if license.license_year >= invoice.year:
            return  # already good for the year
        if license.status in (S.ACTIVE, S.EXPIRED):
            license_transition(
                license, to_status=S.ACTIVE, to_year=invoice.year, action="renewed", **common
            )
        elif license.status == S.LAPSED:
            license_transition(
                license, to_status=S.ACTIVE, to_year=invoice.year, action="reinstated", **common
            )
        elif license.status == S.SUSPENDED:
            license_transition(
                license,
                to_status=S.SUSPENDED,
                to_year=invoice.year,
                action="renewed while suspended",
                **common,
            )
        else:
            return  # pending, closed or revoked: a renewal does not bring it back
    invoice.license_updated = True


def license_update_for_free_invoice(
    invoice: LicenseInvoice, *, license: License, on: date, user, reason: str
) -> None:
    """Issue or extend the license of an invoice with nothing to pay (fully exempt), and
    save what the invoice remembers of the license's prior state. `license` must be locked."""
    license_update_for_paid_invoice(
        invoice, license=license, on=on, receipt="", user=user, reason=reason
    )
    invoice.save(update_fields=["license_updated", "prior_status", "prior_year"])


def undo_license_update(
    invoice: LicenseInvoice, *, on: date, receipt: str, user, reason: str
) -> None:
    """Put the license back as it was before the invoice was paid in full, if it is still
    as the payment left it. A new license suspended, revoked or closed since keeps that
    status (the invoice is simply owed again); a renewed one suspended since keeps its
    suspension and goes back to the year before."""
    if not invoice.license_updated:
        return
    license = License.objects.select_for_update().get(pk=invoice.license_id)
    prior_year = invoice.prior_year if invoice.prior_year is not None else invoice.year - 1
    common = {
        "to_year": prior_year,
        "action": "payment undone",
        "reason": reason,
        "user": user,
        "effective_on": on,
        "invoice": invoice,
        "receipt": receipt,
    }
    if license.license_year != invoice.year:
        pass  # moved on since (renewed again, or changed by hand): left as it is
    elif invoice.kind == InvoiceKind.NEW:
        if license.status == S.ACTIVE:
            license_transition(license, to_status=S.PENDING, issued_on=None, **common)
    elif license.status == S.SUSPENDED:
        license_transition(license, to_status=S.SUSPENDED, **common)
    elif license.status == S.ACTIVE:
        prior_status = invoice.prior_status or S.EXPIRED
        if prior_status == S.ACTIVE and prior_year < on.year:
            prior_status = S.EXPIRED  # its year has ended since
        license_transition(license, to_status=prior_status, **common)
    invoice.license_updated = False
    invoice.prior_status = ""
    invoice.prior_year = None
