"""Licensing writes: businesses and contacts, applications and reviews, licenses and their
status, invoices, and payments applied from the counter.

Every service validates, locks what a concurrent request could change, writes in one
transaction and records why (LicenseStatusChange rows, the pghistory context). The
counter reaches these only through licensing.payables.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from cashiering.targets import IndexRow, index_bulk_upsert
from kent_cs.audit import audit_reason
from kent_cs.money import ZERO, to_money
from kent_cs.numbering import next_number
from licensing.fees import FeeQuote, fee_preview
from licensing.models import (
    LICENSE_TRANSITIONS,
    TERMINAL_STATUSES,
    Application,
    Business,
    Contact,
    InvoiceKind,
    License,
    LicenseInvoice,
    LicenseInvoiceLine,
    LicensePayment,
    LicenseStatus,
    LicenseStatusChange,
    LicenseType,
    Review,
    invoice_number,
    invoice_series,
)
from licensing.selectors import DuplicateMatch, business_duplicates
from licensing.validators import address_key, normalise_naics, normalise_ubi

LICENSE_SERIES = "license"
APPLICATION_SERIES = "license-application"
TARGET_KIND = "license"

S = LicenseStatus


class LicensingError(ValidationError):
    """A licensing rule refused the request; the message is meant for the user."""


class DuplicateBusiness(LicensingError):
    """The business looks like one already on file.

    `matches` lists them (each with its business, for a link). When `must_confirm` is
    true the user may confirm and create it anyway; otherwise (an open business has the
    same UBI) it is refused.
    """

    def __init__(self, matches: Sequence[DuplicateMatch]):
        self.matches = list(matches)
        self.must_confirm = not any(m.blocking for m in self.matches)
        lines = [
            f"{m.business.display_name} ({m.business.ubi_display}): {m.reason}" for m in matches
        ]
        if self.must_confirm:
            head = "This may be a business already on file. Check, then confirm to add it anyway."
        else:
            head = "This business is already on file."
        super().__init__([head, *lines], code="duplicate_business")


# --- helpers --------------------------------------------------------------------------


def _constraint_name(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


@contextmanager
def _constraint_errors(messages: Mapping[str, str]) -> Iterator[None]:
    """Turn the named constraints' violations into LicensingError (wrap a whole atomic
    block: the failed transaction is rolled back before the error is raised)."""
    try:
        yield
    except IntegrityError as exc:
        name = _constraint_name(exc)
        if name is not None and name in messages:
            raise LicensingError(messages[name], code=name) from None
        raise


def _today() -> date:
    return timezone.localdate()


def _require_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise LicensingError(f"Enter the reason {what}.", code="reason_required")
    return reason[:300]


def invoice_index_row(invoice: LicenseInvoice, business: Business, license: License) -> IndexRow:
    return IndexRow(
        kind=TARGET_KIND,
        ref=invoice.number,
        number=invoice.number,
        name=business.display_name,
        address=business.location_address,
        detail=f"{invoice.description} ({license.display_number})",
        is_active=invoice.status == LicenseInvoice.Status.OPEN,
    )


def _index_invoices(invoices: Sequence[LicenseInvoice]) -> None:
    """Refresh the counter's payer index for these invoices (business and license loaded)."""
    index_bulk_upsert(invoice_index_row(i, i.business, i.license) for i in invoices)


# --- businesses and contacts ----------------------------------------------------------

BUSINESS_FIELDS = (
    "legal_name",
    "trade_name",
    "ubi",
    "ownership_type",
    "naics_code",
    "location_line1",
    "location_line2",
    "location_city",
    "location_state",
    "location_zip",
    "mailing_line1",
    "mailing_line2",
    "mailing_city",
    "mailing_state",
    "mailing_zip",
    "inside_city_limits",
    "fte_employees",
    "gross_receipts",
    "opened_on",
)


def _clean_business_data(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(BUSINESS_FIELDS)
    if unknown:
        raise TypeError(f"Not business fields: {', '.join(sorted(unknown))}")
    cleaned = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    errors: dict[str, list[str]] = {}
    for name, normalise in (("ubi", normalise_ubi), ("naics_code", normalise_naics)):
        if name in cleaned:
            try:
                cleaned[name] = normalise(cleaned[name])
            except ValidationError as exc:
                errors[name] = exc.messages
    if errors:
        raise LicensingError(errors)
    for name in ("location_state", "mailing_state"):
        if cleaned.get(name):
            cleaned[name] = cleaned[name].upper()
    return cleaned


def _validate_business(business: Business) -> None:
    try:
        business.full_clean(
            exclude=["location_key"], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        raise LicensingError(exc.message_dict) from None


def _check_duplicates(business: Business, *, confirmed: bool) -> None:
    matches = business_duplicates(
        ubi=business.ubi,
        legal_name=business.legal_name,
        trade_name=business.trade_name,
        location_line1=business.location_line1,
        location_zip=business.location_zip,
        exclude_pk=business.pk,
    )
    if any(m.blocking for m in matches) or (matches and not confirmed):
        raise DuplicateBusiness(matches)


def _open_ubi_refusal(business: Business) -> DuplicateBusiness:
    other = Business.objects.filter(ubi=business.ubi, status=Business.Status.OPEN).first()
    if other is None:  # pragma: no cover - the constraint named it, so it exists
        return DuplicateBusiness([])
    return DuplicateBusiness([DuplicateMatch(other, "an open business has the same UBI", True)])


def business_create(
    *,
    data: Mapping[str, Any],
    user,
    contacts: Sequence[Mapping[str, Any]] = (),
    confirm_duplicate: bool = False,
) -> Business:
    """Register a business. Refused when an open business has the same UBI; a closed one
    with the UBI, or a similar name at the same address, needs `confirm_duplicate`."""
    cleaned = _clean_business_data(data)
    cleaned.setdefault("opened_on", _today())
    business = Business(**cleaned, status=Business.Status.OPEN)
    _validate_business(business)
    _check_duplicates(business, confirmed=confirm_duplicate)
    try:
        with transaction.atomic(), audit_reason("Business registered"):
            business.save()
            for contact in contacts:
                _contact_create(business, contact)
    except IntegrityError as exc:
        if _constraint_name(exc) == "lic_business_open_ubi":  # registered by someone else meanwhile
            raise _open_ubi_refusal(business) from None
        raise
    return business


def business_update(
    *,
    business: Business,
    data: Mapping[str, Any],
    user,
    reason: str = "",
    confirm_duplicate: bool = False,
) -> Business:
    cleaned = _clean_business_data(data)
    try:
        with transaction.atomic(), audit_reason(reason.strip() or "Business details updated"):
            locked = Business.objects.select_for_update().get(pk=business.pk)
            before = {name: getattr(locked, name) for name in ("ubi", "legal_name", "trade_name")}
            before["key"] = locked.location_key
            for name, value in cleaned.items():
                setattr(locked, name, value)
            _validate_business(locked)
            identity_changed = before != {
                "ubi": locked.ubi,
                "legal_name": locked.legal_name,
                "trade_name": locked.trade_name,
                "key": address_key(locked.location_line1, locked.location_zip),
            }
            if identity_changed:
                _check_duplicates(locked, confirmed=confirm_duplicate)
            locked.save()
            _refresh_open_invoice_index(locked)
    except IntegrityError as exc:
        if _constraint_name(exc) == "lic_business_open_ubi":
            raise _open_ubi_refusal(business) from None
        raise
    return locked


def _refresh_open_invoice_index(business: Business) -> None:
    invoices = list(
        LicenseInvoice.objects.filter(
            business=business, status=LicenseInvoice.Status.OPEN
        ).select_related("license")
    )
    for invoice in invoices:
        invoice.business = business
    _index_invoices(invoices)


def business_close(*, business: Business, user, closed_on: date, reason: str) -> Business:
    """Close a business: its licenses close, unpaid invoices with nothing paid on them
    are cancelled, applications in review are withdrawn. Nothing is deleted."""
    reason = _require_reason(reason, "the business closed")
    with transaction.atomic(), audit_reason(f"Business closed: {reason}"):
        locked = Business.objects.select_for_update().get(pk=business.pk)
        if not locked.is_open:
            raise LicensingError(f"{locked} is already closed.")
        if closed_on < locked.opened_on:
            raise LicensingError("A business cannot close before it opened.")
        for license in (
            License.objects.select_for_update()
            .filter(business=locked)
            .exclude(status__in=TERMINAL_STATUSES)
        ):
            _license_transition(
                license,
                to_status=S.CLOSED,
                reason=f"Business closed: {reason}",
                user=user,
                effective_on=closed_on,
            )
            _cancel_unpaid_invoices(license, reason=f"Business closed: {reason}")
        now = timezone.now()
        Application.objects.filter(business=locked, status=Application.Status.IN_REVIEW).update(
            status=Application.Status.WITHDRAWN,
            decided_by=user,
            decided_at=now,
            decision_reason=f"Business closed: {reason}"[:500],
        )
        locked.status = Business.Status.CLOSED
        locked.closed_on = closed_on
        locked.closed_reason = reason
        locked.save(update_fields=["status", "closed_on", "closed_reason", "updated_at"])
    return locked


def business_reopen(*, business: Business, user, reason: str) -> Business:
    """Reopen a closed business (its licenses stay closed: it applies again)."""
    reason = _require_reason(reason, "the business reopened")
    with (
        _constraint_errors(
            {"lic_business_open_ubi": "Another open business now has this UBI; update that one."}
        ),
        transaction.atomic(),
        audit_reason(f"Business reopened: {reason}"),
    ):
        locked = Business.objects.select_for_update().get(pk=business.pk)
        if locked.is_open:
            raise LicensingError(f"{locked} is already open.")
        locked.status = Business.Status.OPEN
        locked.closed_on = None
        locked.closed_reason = ""
        locked.save(update_fields=["status", "closed_on", "closed_reason", "updated_at"])
    return locked


CONTACT_FIELDS = ("name", "role", "phone", "email", "is_primary")


def _contact_create(business: Business, data: Mapping[str, Any]) -> Contact:
    unknown = set(data) - set(CONTACT_FIELDS)
    if unknown:
        raise TypeError(f"Not contact fields: {', '.join(sorted(unknown))}")
    contact = Contact(
        business=business, **{k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    )
    try:
        contact.full_clean(exclude=["business"], validate_constraints=False)
    except ValidationError as exc:
        raise LicensingError(exc.message_dict) from None
    if contact.is_primary:
        Contact.objects.filter(business=business, is_primary=True).update(is_primary=False)
    contact.save()
    return contact


def contact_add(*, business: Business, data: Mapping[str, Any], user) -> Contact:
    with transaction.atomic(), audit_reason("Contact added"):
        locked = Business.objects.select_for_update().get(pk=business.pk)
        return _contact_create(locked, data)


def contact_update(*, contact: Contact, data: Mapping[str, Any], user) -> Contact:
    unknown = set(data) - set(CONTACT_FIELDS)
    if unknown:
        raise TypeError(f"Not contact fields: {', '.join(sorted(unknown))}")
    with transaction.atomic(), audit_reason("Contact updated"):
        Business.objects.select_for_update().get(pk=contact.business_id)
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        for name, value in data.items():
            setattr(locked, name, value.strip() if isinstance(value, str) else value)
        try:
            locked.full_clean(exclude=["business"], validate_constraints=False)
        except ValidationError as exc:
            raise LicensingError(exc.message_dict) from None
        if locked.is_primary:
            Contact.objects.filter(business_id=locked.business_id, is_primary=True).exclude(
                pk=locked.pk
            ).update(is_primary=False)
        locked.save()
    return locked


def contact_remove(*, contact: Contact, user, reason: str = "") -> Contact:
    """Contacts are kept in history: removing one marks it inactive."""
    with transaction.atomic(), audit_reason(reason.strip() or "Contact removed"):
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        locked.is_active = False
        locked.is_primary = False
        locked.save(update_fields=["is_active", "is_primary"])
    return locked


# --- applications and reviews ---------------------------------------------------------


def application_submit(
    *,
    business: Business,
    license_type: LicenseType,
    requested_start: date,
    user,
    units: int | None = None,
    notes: str = "",
    received_on: date | None = None,
) -> Application:
    """Take in an application; the reviews its license type requires are opened with it."""
    if not business.is_open:
        raise LicensingError(f"{business} is closed; reopen it before applying.")
    if not license_type.is_active:
        raise LicensingError(f"{license_type} licenses are no longer issued.")
    if license_type.unit_label and units is None:
        raise LicensingError({"units": [f"Enter the number of {license_type.unit_label}."]})
    current = (
        License.objects.filter(business=business, license_type=license_type)
        .exclude(status__in=TERMINAL_STATUSES)
        .first()
    )
    if current is not None:
        raise LicensingError(
            f"{business} already holds {license_type} license {current.display_number} "
            f"({current.get_status_display().lower()}); renew or reinstate it instead.",
            code="license_exists",
        )
    with (
        _constraint_errors(
            {
                "lic_application_one_open": (
                    f"{business} already has a {license_type} application in review."
                )
            }
        ),
        transaction.atomic(),
        audit_reason("Application received"),
    ):
        application = Application.objects.create(
            number=next_number(APPLICATION_SERIES),
            business=business,
            license_type=license_type,
            units=units,
            requested_start=requested_start,
            received_on=received_on or _today(),
            notes=notes.strip(),
            submitted_by=user,
        )
        Review.objects.bulk_create(
            Review(application=application, department=department)
            for department in license_type.review_departments
        )
    return application


def review_decide(*, review: Review, user, approved: bool, notes: str = "") -> Review:
    notes = notes.strip()
    if not approved and not notes:
        raise LicensingError({"notes": ["Say why the review is rejected."]})
    with transaction.atomic(), audit_reason(notes or "Review approved"):
        locked = Review.objects.select_for_update().select_related("application").get(pk=review.pk)
        if locked.application.status != Application.Status.IN_REVIEW:
            raise LicensingError(f"{locked.application} has already been decided.")
        if locked.status != Review.Status.PENDING:
            raise LicensingError(f"The {locked.get_department_display()} review is already done.")
        locked.status = Review.Status.APPROVED if approved else Review.Status.REJECTED
        locked.notes = notes
        locked.reviewer = user
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "notes", "reviewer", "decided_at"])
    return locked


def _lock_application_in_review(application: Application) -> Application:
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if locked.status != Application.Status.IN_REVIEW:
        raise LicensingError(f"{locked} was already {locked.get_status_display().lower()}.")
    return locked


def application_approve(
    *, application: Application, user, issue_date: date | None = None
) -> License:
    """Approve once every review is approved: the license is created (pending, numbered)
    with its invoice, payable at the counter. A license with nothing to pay is issued."""
    issue_date = issue_date or _today()
    with (
        _constraint_errors(
            {"lic_license_one_current": "The business already holds this kind of license."}
        ),
        transaction.atomic(),
        audit_reason("Application approved"),
    ):
        locked = _lock_application_in_review(application)
        reviews = list(locked.reviews.select_for_update())
        waiting = [
            r.get_department_display() for r in reviews if r.status != Review.Status.APPROVED
        ]
        if waiting:
            raise LicensingError(
                "Every review must be approved first; still open or rejected: "
                + ", ".join(waiting)
                + ".",
                code="reviews_open",
            )
        business = Business.objects.select_for_update().get(pk=locked.business_id)
        if not business.is_open:
            raise LicensingError(f"{business} is closed.")
        license_type = LicenseType.objects.get(pk=locked.license_type_id)
        fee_date = max(issue_date, locked.requested_start)
        quote = fee_preview(
            license_type=license_type,
            business=business,
            issue_date=fee_date,
            is_new=True,
            units=locked.units,
        )
        license = License.objects.create(
            number=next_number(LICENSE_SERIES),
            business=business,
            license_type=license_type,
            application=locked,
            status=S.PENDING,
            license_year=fee_date.year,
            units=locked.units,
        )
        LicenseStatusChange.objects.create(
            license=license,
            action="created",
            from_status="",
            to_status=S.PENDING,
            to_year=license.license_year,
            reason=f"{locked} approved",
            effective_on=issue_date,
            changed_by=user,
        )
        invoice_create(
            license=license,
            business=business,
            kind=InvoiceKind.NEW,
            year=fee_date.year,
            quote=quote,
            issue_date=issue_date,
            due_date=issue_date,
            user=user,
        )
        locked.status = Application.Status.APPROVED
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_by", "decided_at"])
    license.refresh_from_db()
    return license


def application_deny(*, application: Application, user, reason: str) -> Application:
    reason = _require_reason(reason, "for the denial")
    with transaction.atomic(), audit_reason(f"Application denied: {reason}"):
        locked = _lock_application_in_review(application)
        locked.status = Application.Status.DENIED
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.decision_reason = reason
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    return locked


def application_withdraw(*, application: Application, user, reason: str) -> Application:
    reason = _require_reason(reason, "the application is withdrawn")
    with transaction.atomic(), audit_reason(f"Application withdrawn: {reason}"):
        locked = _lock_application_in_review(application)
        locked.status = Application.Status.WITHDRAWN
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.decision_reason = reason
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    return locked


# --- license status -------------------------------------------------------------------

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


def _license_transition(
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
    reason = _require_reason(reason, "for the change")
    with transaction.atomic(), audit_reason(reason):
        locked = License.objects.select_for_update().get(pk=license.pk)
        refusal = transition_refusal(locked.status, to_status)
        if refusal:
            raise LicensingError(refusal, code="transition_refused")
        _license_transition(
            locked,
            to_status=to_status,
            reason=reason,
            user=user,
            effective_on=effective_on or _today(),
        )
        if to_status in TERMINAL_STATUSES:
            _cancel_unpaid_invoices(locked, reason=reason)
    return locked


# --- invoices -------------------------------------------------------------------------


def _cancel_unpaid_invoices(license: License, *, reason: str) -> int:
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
    _index_invoices(cancelled)
    return len(cancelled)


def invoice_cancel(*, invoice: LicenseInvoice, user, reason: str) -> LicenseInvoice:
    reason = _require_reason(reason, "for cancelling the invoice")
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
        _index_invoices([locked])
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
        license_update_for_paid_invoice(
            invoice,
            license=license,
            on=issue_date,
            receipt="",
            user=user,
            reason=f"Nothing to pay ({quote.exemption or 'no fee'})",
        )
        invoice.save(update_fields=["license_updated", "prior_status", "prior_year"])
    _index_invoices([invoice])
    return invoice


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
        _license_transition(
            license, to_status=S.ACTIVE, to_year=invoice.year, issued_on=on, **common
        )
    else:
        if license.license_year >= invoice.year:
            return  # already good for the year
        if license.status in (S.ACTIVE, S.EXPIRED):
            _license_transition(
                license, to_status=S.ACTIVE, to_year=invoice.year, action="renewed", **common
            )
        elif license.status == S.LAPSED:
            _license_transition(
                license, to_status=S.ACTIVE, to_year=invoice.year, action="reinstated", **common
            )
        elif license.status == S.SUSPENDED:
            _license_transition(
                license,
                to_status=S.SUSPENDED,
                to_year=invoice.year,
                action="renewed while suspended",
                **common,
            )
        else:
            return  # pending, closed or revoked: a renewal does not bring it back
    invoice.license_updated = True


def _undo_license_update(
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
            _license_transition(license, to_status=S.PENDING, issued_on=None, **common)
    elif license.status == S.SUSPENDED:
        _license_transition(license, to_status=S.SUSPENDED, **common)
    elif license.status == S.ACTIVE:
        prior_status = invoice.prior_status or S.EXPIRED
        if prior_status == S.ACTIVE and prior_year < on.year:
            prior_status = S.EXPIRED  # its year has ended since
        _license_transition(license, to_status=prior_status, **common)
    invoice.license_updated = False
    invoice.prior_status = ""
    invoice.prior_year = None


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
            _index_invoices([invoice])
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
            _undo_license_update(
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
            _index_invoices([invoice])
    return invoice


def invoice_paid_total(invoice: LicenseInvoice) -> Decimal:
    return LicensePayment.objects.filter(invoice=invoice).aggregate(t=Sum("amount"))["t"] or ZERO
