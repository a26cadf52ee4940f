"""Licensing documents: the license certificate, renewal notices and a business's
complete history. Each is one template that extends `{{ base_template }}`, so it is both
an HTML print view and a PDF (kent_cs.reports); this module builds their contexts and
renders the notices batch, a PDF of one notice per page made in chunks with progress.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from kent_cs.reports import pdf_html
from licensing.models import (
    Business,
    InvoiceKind,
    License,
    LicenseInvoice,
    LicenseStatus,
    RenewalRun,
)
from licensing.selectors.history import business_history
from licensing.selectors.renewals import renewal_notice_context

CERTIFICATE_TEMPLATE = "licensing/documents/certificate.html"
NOTICES_TEMPLATE = "licensing/documents/renewal_notices.html"
HISTORY_TEMPLATE = "licensing/documents/business_history.html"
NOTICES_JOB_KIND = "licensing.renewal-notices"
# Notices laid out per WeasyPrint call: small enough for steady progress, large enough
# that the fixed cost of a render (stylesheets, fonts) is shared.
NOTICES_PER_CHUNK = 50


def _city() -> dict[str, Any]:
    return {
        "city_name": settings.CITY_NAME,
        "city_address_lines": list(settings.KENT_CITY_ADDRESS_LINES),
    }


# --- certificate ----------------------------------------------------------------------


def certificate_refusal(license: License) -> str | None:
    """Why no certificate can be printed for the license now (None: it can)."""
    number = license.display_number
    if license.status == LicenseStatus.ACTIVE:
        return None
    if license.status == LicenseStatus.PENDING:
        return (
            f"License {number} is pending payment: its certificate can be printed once its "
            "invoice is paid at the counter."
        )
    return (
        f"License {number} is {license.get_status_display().lower()}; a certificate is "
        "printed only for an active license."
    )


def certificate_context(license: License) -> dict[str, Any]:
    business = license.business
    return {
        **_city(),
        "document_title": f"Business license {license.display_number}",
        "page_class": "certificate-page",
        "license": license,
        "business": business,
        "license_type": license.license_type,
        "valid_through": license.expires_on,
    }


def certificate_filename(license: License) -> str:
    return f"business-license-{license.display_number}-{license.license_year}.pdf"


# --- renewal notices ------------------------------------------------------------------


def notice_invoices(
    *, year: int | None = None, run: RenewalRun | None = None, business: Business | None = None
) -> QuerySet[LicenseInvoice]:
    """Unpaid renewal invoices that get a notice, in mailing order (by business name)."""
    invoices = LicenseInvoice.objects.filter(
        kind=InvoiceKind.RENEWAL, status=LicenseInvoice.Status.OPEN
    )
    if year is not None:
        invoices = invoices.filter(year=year)
    if run is not None:
        invoices = invoices.filter(renewal_run=run)
    if business is not None:
        invoices = invoices.filter(business=business)
    return invoices.order_by("business__legal_name", "business_id", "year", "number")


def notices_context(invoice_ids: Sequence[int], *, title: str) -> dict[str, Any]:
    return {
        **_city(),
        "document_title": title,
        "page_class": "notice-page",
        "today": timezone.localdate(),
        "notices": [renewal_notice_context(LicenseInvoice(pk=pk)) for pk in invoice_ids],
    }


def notices_pdf(
    invoice_ids: Sequence[int],
    *,
    title: str,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[bytes, int]:
    """One PDF of the notices of these invoices, one per page; (pdf bytes, page count).

    Laid out chunk by chunk (reporting progress after each), then the pages of every
    chunk are written as one document."""
    total = len(invoice_ids)
    first = None
    pages: list = []
    if progress:
        progress(0, total)
    for start in range(0, max(total, 1), NOTICES_PER_CHUNK):
        chunk = invoice_ids[start : start + NOTICES_PER_CHUNK]
        document = pdf_html(NOTICES_TEMPLATE, notices_context(chunk, title=title)).render()
        first = first or document
        pages.extend(document.pages)
        if progress:
            progress(min(start + len(chunk), total), total)
    assert first is not None
    return first.copy(pages).write_pdf(), len(pages)


def notices_title(*, year: int | None = None, business: Business | None = None) -> str:
    if business is not None:
        return f"Renewal notices for {business.legal_name}"
    return f"Business license renewal notices {year}"


def notices_filename(*, year: int | None = None, business: Business | None = None) -> str:
    if business is not None:
        return f"renewal-notices-{business.ubi}.pdf"
    return f"renewal-notices-{year}.pdf"


# --- a business's history -------------------------------------------------------------


def history_context(business: Business) -> dict[str, Any]:
    """Everything on file about a business, for a records request: details, every
    contact (removed ones too), licenses, invoices and the full timeline, oldest first."""
    return {
        **_city(),
        "document_title": f"History of {business.legal_name}",
        "business": business,
        "contacts": list(business.contacts.order_by("-is_active", "-is_primary", "name")),
        "licenses": list(business.licenses.select_related("license_type").order_by("number")),
        "applications": list(
            business.applications.select_related("license_type").order_by("number")
        ),
        "invoices": list(business.invoices.select_related("license").order_by("year", "seq")),
        "timeline": business_history(business, newest_first=False),
        "as_of": timezone.localtime(),
    }


def history_filename(business: Business) -> str:
    return f"business-history-{business.ubi}-{timezone.localdate():%Y%m%d}.pdf"
