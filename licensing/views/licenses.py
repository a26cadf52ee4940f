"""Licenses: details with every status change, the status change form (only the changes
a person may make, each with a reason), the certificate (print view and PDF), the
renewal invoice of one license, and invoice details."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from kent_cs.reports import pdf_response, print_response
from licensing import documents
from licensing.forms import LicenseStatusForm, add_service_errors, manual_transitions
from licensing.models import RENEWAL_DUE_STATUSES, LicenseInvoice, LicenseStatus
from licensing.renewals import renewal_invoice_create
from licensing.selectors import licenses as license_selectors
from licensing.services.common import LicensingError
from licensing.services.licenses import license_change_status
from licensing.views.common import RUN_RENEWALS, VIEW_LICENSE, business_crumbs


def _license_crumbs(license, *tail) -> list:
    return business_crumbs(
        license.business, (f"License {license.display_number}", license.get_absolute_url()), *tail
    )


def _renewal_year(license, invoices) -> int | None:
    """The year a renewal invoice could be made for by hand now, if any."""
    year = license.license_year + 1
    if (
        license.status not in RENEWAL_DUE_STATUSES
        or not license.license_type.is_renewable
        or year > timezone.localdate().year + 1
        or any(i.year == year and i.status != LicenseInvoice.Status.CANCELLED for i in invoices)
    ):
        return None
    return year


@permission_required(VIEW_LICENSE, raise_exception=True)
def license_detail(request, pk: int):
    license = license_selectors.license_get(pk=pk)
    invoices = license_selectors.license_invoices(license)
    history = list(license_selectors.license_status_history(license=license))
    return render(
        request,
        "licensing/licenses/detail.html",
        {
            "license": license,
            "business": license.business,
            "history": history,
            "status_since": license_selectors.license_status_since(license, history),
            "invoices": invoices,
            "certificate_refusal": documents.certificate_refusal(license),
            "has_manual_transitions": bool(manual_transitions(license.status)),
            "renewal_year": _renewal_year(license, invoices),
            "breadcrumbs": business_crumbs(
                license.business, (f"License {license.display_number}", None)
            ),
        },
    )


@permission_required("licensing.change_license_status", raise_exception=True)
def license_status(request, pk: int):
    license = license_selectors.license_get(pk=pk)
    form = LicenseStatusForm(request.POST or None, license=license)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            license = license_change_status(
                license=license,
                to_status=data["to_status"],
                user=request.user,
                reason=data["reason"],
                effective_on=data["effective_on"],
            )
        except LicensingError as exc:
            add_service_errors(form, exc)
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"License {license.display_number} is now {license.get_status_display().lower()}.",
            )
            return redirect(license)
    return render(
        request,
        "licensing/licenses/status.html",
        {
            "form": form,
            "license": license,
            "choices": manual_transitions(license.status),
            "breadcrumbs": _license_crumbs(license, ("Change status", None)),
        },
    )


@require_POST
@permission_required(RUN_RENEWALS, raise_exception=True)
def license_renewal_invoice(request, pk: int):
    license = license_selectors.license_get(pk=pk)
    year = license.license_year + 1
    try:
        invoice = renewal_invoice_create(license=license, year=year, user=request.user)
    except LicensingError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if invoice.status == LicenseInvoice.Status.OPEN:
            messages.success(
                request,
                f"Renewal invoice {invoice.number} for {year}: ${invoice.total:,.2f}, payable at "
                f"the counter under invoice number {invoice.number}.",
            )
        else:
            messages.success(
                request, f"License {license.display_number} renewed for {year}: nothing to pay."
            )
    return redirect(license)


# --- certificate ----------------------------------------------------------------------


def _certificate(request, pk: int):
    license = license_selectors.license_get(pk=pk)
    refusal = documents.certificate_refusal(license)
    if refusal:
        messages.error(request, refusal)
    return license, refusal


@permission_required(VIEW_LICENSE, raise_exception=True)
def certificate_print(request, pk: int):
    license, refusal = _certificate(request, pk)
    if refusal:
        return redirect(license)
    context = documents.certificate_context(license)
    context.update(
        pdf_url=reverse("licensing:license-certificate-pdf", args=[license.pk]),
        back_url=license.get_absolute_url(),
        breadcrumbs=_license_crumbs(license, ("Certificate", None)),
    )
    return print_response(request, documents.CERTIFICATE_TEMPLATE, context)


@permission_required(VIEW_LICENSE, raise_exception=True)
def certificate_pdf(request, pk: int):
    license, refusal = _certificate(request, pk)
    if refusal:
        return redirect(license)
    return pdf_response(
        documents.CERTIFICATE_TEMPLATE,
        documents.certificate_context(license),
        filename=documents.certificate_filename(license),
        request=request,
    )


# --- invoices -------------------------------------------------------------------------


@permission_required("licensing.view_licenseinvoice", raise_exception=True)
def invoice_detail(request, pk: int):
    invoice = license_selectors.invoice_get(pk=pk)
    license = invoice.license
    if request.user.has_perm(VIEW_LICENSE):
        crumbs = _license_crumbs(license, (f"Invoice {invoice.number}", None))
    else:
        crumbs = [(f"Invoice {invoice.number}", None)]
    return render(
        request,
        "licensing/licenses/invoice_detail.html",
        {
            "invoice": invoice,
            "license": license,
            "business": invoice.business,
            "lines": license_selectors.invoice_lines(invoice=invoice),
            "payments": license_selectors.invoice_payments(invoice=invoice),
            "is_open": invoice.status == LicenseInvoice.Status.OPEN,
            "is_pending_license": license.status == LicenseStatus.PENDING,
            "breadcrumbs": crumbs,
        },
    )
