# ruff: noqa: RUF003 - en dashes and × are what users read (25–49 FTE)
"""License and invoice reads: lookups that authorize (404 otherwise), a license's status
history and invoices, an invoice's lines and payments, and licenses counted by status."""

from datetime import date

from django.db.models import (
    Count,
    QuerySet,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone

from licensing.models import (
    License,
    LicenseInvoice,
    LicenseInvoiceLine,
    LicensePayment,
    LicenseStatus,
    LicenseStatusChange,
)


def license_get(*, pk: int) -> License:
    return get_object_or_404(License.objects.select_related("business", "license_type"), pk=pk)


def license_status_history(*, license: License) -> QuerySet[LicenseStatusChange]:
    return license.status_changes.select_related("invoice", "changed_by").order_by(
        "changed_at", "pk"
    )


def license_status_since(license: License, history: list[LicenseStatusChange]) -> date:
    """The date the license's current status took effect: the effective date of the
    change that brought it there (a payment's business date, a run's as-of date), not the
    moment the row was written."""
    for change in reversed(history):
        if change.to_status == license.status and change.from_status != change.to_status:
            return change.effective_on
    return timezone.localtime(license.status_changed_at).date()


def invoice_get(*, pk: int) -> LicenseInvoice:
    return get_object_or_404(
        LicenseInvoice.objects.select_related("business", "license__license_type", "schedule"),
        pk=pk,
    )


def invoice_lines(*, invoice: LicenseInvoice) -> list[LicenseInvoiceLine]:
    return list(invoice.lines.order_by("position"))


def invoice_payments(*, invoice: LicenseInvoice) -> list[LicensePayment]:
    return list(invoice.payments.select_related("line").order_by("recorded_at", "pk"))


def license_counts_by_status(*, year: int | None = None) -> dict[str, int]:
    licenses = License.objects.all()
    if year is not None:
        licenses = licenses.filter(license_year=year)
    counts = dict(licenses.values_list("status").annotate(n=Count("pk")))
    return {status: counts.get(status, 0) for status in LicenseStatus.values}


def license_invoices(license: License) -> list[LicenseInvoice]:
    return list(license.invoices.order_by("-year", "-seq"))
