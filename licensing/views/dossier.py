"""A business's license history dossier: print view, PDF and XLSX (licensing.dossier).

For technicians and supervisors: the dossier holds payments as well as the business's
records, so it needs the permission to see license payments besides the business."""

from django.contrib.auth.decorators import permission_required
from django.urls import reverse

from kent_cs.reports import pdf_response, print_response, xlsx_response
from licensing import dossier as dossiers
from licensing.selectors import businesses as business_selectors
from licensing.views.common import VIEW_BUSINESS, business_crumbs

VIEW_PAYMENTS = "licensing.view_licensepayment"


def _dossier(request, pk: int) -> dossiers.Dossier:
    business = business_selectors.business_get(pk=pk)
    return dossiers.dossier_for(business=business, user=request.user)


@permission_required(VIEW_PAYMENTS, raise_exception=True)
@permission_required(VIEW_BUSINESS, raise_exception=True)
def dossier_pdf(request, pk: int):
    dossier = _dossier(request, pk)
    return pdf_response(
        dossiers.TEMPLATE,
        dossiers.document_context(dossier),
        filename=dossiers.filename(dossier.business, "pdf"),
        request=request,
    )


@permission_required(VIEW_PAYMENTS, raise_exception=True)
@permission_required(VIEW_BUSINESS, raise_exception=True)
def dossier_xlsx(request, pk: int):
    dossier = _dossier(request, pk)
    data = dossiers.dossier_xlsx(dossier)
    return xlsx_response(data, dossiers.filename(dossier.business, "xlsx"))


@permission_required(VIEW_PAYMENTS, raise_exception=True)
@permission_required(VIEW_BUSINESS, raise_exception=True)
def dossier_print(request, pk: int):
    dossier = _dossier(request, pk)
    business = dossier.business
    context = dossiers.document_context(dossier)
    context.update(
        pdf_url=reverse("licensing:business-dossier-pdf", args=[business.pk]),
        xlsx_url=reverse("licensing:business-dossier-xlsx", args=[business.pk]),
        back_url=business.get_absolute_url(),
        breadcrumbs=business_crumbs(business, ("History dossier", None)),
    )
    return print_response(request, dossiers.TEMPLATE, context)
