"""Business and contact writes: creating (with the duplicate check), updating, closing
and reopening a business; adding, changing and removing its contacts."""

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from kent_cs.audit import audit_reason
from licensing.models import (
    TERMINAL_STATUSES,
    Application,
    Business,
    Contact,
    License,
    LicenseInvoice,
)
from licensing.selectors.businesses import DuplicateMatch, business_duplicates
from licensing.services.common import (
    LicensingError,
    S,
    constraint_errors,
    constraint_name,
    require_reason,
    today,
)
from licensing.services.invoice_index import index_invoices
from licensing.services.licenses import cancel_unpaid_invoices, license_transition
from licensing.validators import address_key, normalise_naics, split_ubi


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
    if "ubi" in cleaned:
        # Typed as 9 digits, or as the state's 16 (UBI, branch, location) read into parts.
        try:
            parts = split_ubi(cleaned["ubi"])
        except ValidationError as exc:
            errors["ubi"] = exc.messages
        else:
            cleaned["ubi"] = parts.ubi
            cleaned["ubi_branch"] = parts.branch
            cleaned["ubi_location"] = parts.location
    if "naics_code" in cleaned:
        try:
            cleaned["naics_code"] = normalise_naics(cleaned["naics_code"])
        except ValidationError as exc:
            errors["naics_code"] = exc.messages
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
    cleaned.setdefault("opened_on", today())
    business = Business(**cleaned, status=Business.Status.OPEN)
    _validate_business(business)
    _check_duplicates(business, confirmed=confirm_duplicate)
    try:
        with transaction.atomic(), audit_reason("Business registered"):
            business.save()
            for contact in contacts:
                _contact_create(business, contact)
    except IntegrityError as exc:
        if constraint_name(exc) == "lic_business_open_ubi":  # registered by someone else meanwhile
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
        if constraint_name(exc) == "lic_business_open_ubi":
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
    index_invoices(invoices)


def business_close(*, business: Business, user, closed_on: date, reason: str) -> Business:
    """Close a business: its licenses close, unpaid invoices with nothing paid on them
    are cancelled, applications in review are withdrawn. Nothing is deleted."""
    reason = require_reason(reason, "the business closed")
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
            license_transition(
                license,
                to_status=S.CLOSED,
                reason=f"Business closed: {reason}",
                user=user,
                effective_on=closed_on,
            )
            cancel_unpaid_invoices(license, reason=f"Business closed: {reason}")
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
    reason = require_reason(reason, "the business reopened")
    with (
        constraint_errors(
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
