"""Application writes: submitting an application, department reviews, and approving
(which issues the license and its first invoice), denying or withdrawing it."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from kent_cs.audit import audit_reason
from kent_cs.numbering import next_number
from licensing.fees import fee_preview
from licensing.models import (
    TERMINAL_STATUSES,
    Application,
    Business,
    InvoiceKind,
    License,
    LicenseStatusChange,
    LicenseType,
    Review,
)
from licensing.services.common import LicensingError, S, constraint_errors, require_reason, today
from licensing.services.invoices import invoice_create
from licensing.services.licenses import LICENSE_SERIES

APPLICATION_SERIES = "license-application"


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
        constraint_errors(
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
            received_on=received_on or today(),
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
    issue_date = issue_date or today()
    with (
        constraint_errors(
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


def _application_close(
    application: Application, *, user, status: str, reason: str, what: str, audit: str
) -> Application:
    """End an application in review without a license (denied or withdrawn), with why."""
    reason = require_reason(reason, what)
    with transaction.atomic(), audit_reason(f"{audit}: {reason}"):
        locked = _lock_application_in_review(application)
        locked.status = status
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.decision_reason = reason
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    return locked


def application_deny(*, application: Application, user, reason: str) -> Application:
    return _application_close(
        application,
        user=user,
        status=Application.Status.DENIED,
        reason=reason,
        what="for the denial",
        audit="Application denied",
    )


def application_withdraw(*, application: Application, user, reason: str) -> Application:
    return _application_close(
        application,
        user=user,
        status=Application.Status.WITHDRAWN,
        reason=reason,
        what="the application is withdrawn",
        audit="Application withdrawn",
    )
